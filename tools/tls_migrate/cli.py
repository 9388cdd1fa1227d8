"""Command line of tls-migrate: read, convert, print the converted files and the summary."""
from __future__ import annotations

import argparse
import sys

from .apache_config import ConfigReader
from .convert import Converter, Note

DEFAULT_CONFIG = "/etc/apache2/apache2.conf"


def _summary(notes: list[Note], problems) -> list[str]:
    out = ["", "# ==== tls-migrate summary " + "=" * 60]
    none = [n for n in notes if n.kind == "none"]
    check = [n for n in notes if n.kind == "check"]
    if none:
        out.append("# mod_ssl directives with no mod_tls equivalent (left as comments above):")
        for n in none:
            out.append(f"#   {n.path}:{n.line}: {n.text}")
            out.append(f"#       {n.reason}")
    else:
        out.append("# Every mod_ssl directive has a mod_tls equivalent.")
    if check:
        out.append("# Converted, but check:")
        for n in check:
            where = f"{n.path}:{n.line}: {n.text}" if n.path else n.text
            out.append(f"#   {where}")
            out.append(f"#       {n.reason}")
    for p in problems:
        out.append(f"# warning: {p.path}:{p.line}: {p.message}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tls-migrate",
        description="Print the mod_tls equivalent of an Apache configuration that uses mod_ssl. "
                    "Include and IncludeOptional are followed; nothing is written.")
    parser.add_argument("config", nargs="?", default=DEFAULT_CONFIG,
                        help=f"the main configuration file (default {DEFAULT_CONFIG})")
    parser.add_argument("-d", "--server-root", metavar="SERVERROOT",
                        help="resolve relative Include paths against this directory "
                             "(default: ServerRoot, else /etc/apache2 for files below it, else "
                             "the file's directory)")
    args = parser.parse_args(argv)

    reader = ConfigReader(server_root=args.server_root)
    try:
        files = reader.read(args.config)
    except OSError as e:
        print(f"tls-migrate: cannot read {args.config}: {e.strerror}", file=sys.stderr)
        return 2
    converter = Converter(files)
    results = converter.run()

    out = sys.stdout
    out.write(f"# tls-migrate: the mod_tls equivalent of {files[0].path}\n")
    out.write("# Files appear in the order Apache reads them; files without mod_ssl directives "
              "are only named.\n")
    for result in results:
        if result.changed:
            out.write(f"\n# ==== {result.path}\n")
            out.write(result.text)
        else:
            out.write(f"\n# ==== {result.path}: no mod_ssl directives, unchanged\n")
    out.write("\n".join(_summary(converter.notes, reader.problems)) + "\n")
    return 0
