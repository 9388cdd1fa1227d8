"""Reads Apache httpd configuration files the way httpd does, keeping every line's text.

A file becomes a list of Line objects (blank, comment, directive, section open/close), each with
its line numbers and raw text, so a converter can replace single lines and print the rest
unchanged. Include/IncludeOptional are followed in httpd's order (globs sorted, directories
read recursively); the result is the list of files in the order httpd reads them.
"""
from __future__ import annotations

import glob
import os
import re
import shlex
from dataclasses import dataclass, field

INCLUDE_DIRECTIVES = ("include", "includeoptional")


@dataclass
class Line:
    kind: str                 # "blank", "comment", "directive", "open", "close"
    first: int                # first physical line number (1-based)
    last: int                 # last physical line number (continuations)
    raw: str                  # the physical lines, newlines included
    name: str = ""            # directive or section name, as written
    args: list[str] = field(default_factory=list)
    scopes: tuple = ()        # enclosing sections, outermost first: (name, args) tuples

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def text(self) -> str:
        """The logical line as written (continuations joined), without indentation."""
        return " ".join(part.strip().rstrip("\\").strip() for part in self.raw.splitlines())

    @property
    def indent(self) -> str:
        return self.raw[: len(self.raw) - len(self.raw.lstrip(" \t"))]


@dataclass
class ConfigFile:
    path: str
    lines: list[Line]
    # Where it was included: the sections around the Include line (outermost first) and the line.
    outer_scopes: tuple = ()
    included_at: tuple[str, int] | None = None


@dataclass
class Problem:
    path: str
    line: int
    message: str


def split_args(text: str) -> list[str]:
    """Splits directive arguments as httpd does: whitespace, with "..." or '...' quoting."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    lexer.escape = ""
    try:
        return list(lexer)
    except ValueError:  # an unbalanced quote: httpd would keep the rest as one word
        return text.split()


def parse_text(text: str) -> list[Line]:
    """Splits one file's text into logical lines with their enclosing sections."""
    physical = text.splitlines(keepends=True)
    lines: list[Line] = []
    stack: list[tuple[str, tuple]] = []
    i = 0
    while i < len(physical):
        first = i
        raw = physical[i]
        logical = raw.rstrip("\r\n")
        # A line ending in a backslash continues on the next one.
        while logical.endswith("\\") and i + 1 < len(physical):
            i += 1
            raw += physical[i]
            logical = logical[:-1] + physical[i].rstrip("\r\n")
        i += 1
        stripped = logical.strip()
        scopes = tuple(stack)
        if not stripped:
            lines.append(Line("blank", first + 1, i, raw, scopes=scopes))
        elif stripped.startswith("#"):
            lines.append(Line("comment", first + 1, i, raw, scopes=scopes))
        elif stripped.startswith("</"):
            name = stripped[2:].rstrip(">").strip()
            if stack and stack[-1][0].lower() == name.lower():
                stack.pop()
            lines.append(Line("close", first + 1, i, raw, name=name, scopes=tuple(stack)))
        elif stripped.startswith("<"):
            body = stripped[1:]
            if body.endswith(">"):
                body = body[:-1]
            name, _, rest = body.partition(" ")
            if "\t" in name:
                name, _, more = name.partition("\t")
                rest = more + " " + rest
            args = split_args(rest)
            lines.append(Line("open", first + 1, i, raw, name=name, args=args, scopes=scopes))
            stack.append((name, tuple(args)))
        else:
            parts = stripped.split(None, 1)
            args = split_args(parts[1]) if len(parts) > 1 else []
            lines.append(Line("directive", first + 1, i, raw, name=parts[0], args=args,
                              scopes=scopes))
    return lines


_VAR = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


class ConfigReader:
    """Reads a main configuration file and everything it includes."""

    def __init__(self, server_root: str | None = None, defines: dict[str, str] | None = None):
        self.server_root = server_root
        self.defines = dict(defines or {})
        self.files: list[ConfigFile] = []
        self.problems: list[Problem] = []
        self._seen: set[str] = set()

    def read(self, path: str) -> list[ConfigFile]:
        path = os.path.abspath(path)
        if self.server_root is None:
            self.server_root = default_server_root(path)
        self._read_file(path, depth=0, outer=(), at=None)
        return self.files

    def _expand(self, value: str) -> str:
        def repl(m: re.Match) -> str:
            name = m.group(1)
            if name in self.defines:
                return self.defines[name]
            return os.environ.get(name, m.group(0))
        return _VAR.sub(repl, value)

    def _read_file(self, path: str, depth: int, outer: tuple, at) -> None:
        if depth > 32:
            self.problems.append(Problem(path, 0, "Include nested more than 32 levels; stopped"))
            return
        real = os.path.realpath(path)
        if real in self._seen:
            return  # httpd would loop; reading a file once is enough for a migration
        self._seen.add(real)
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            lines = parse_text(f.read())
        config = ConfigFile(path, lines, outer, at)
        self.files.append(config)
        for line in lines:
            if line.kind != "directive":
                continue
            if line.key == "serverroot" and line.args and depth == 0:
                self.server_root = self._expand(line.args[0])
            elif line.key == "define" and line.args:
                self.defines[line.args[0]] = line.args[1] if len(line.args) > 1 else ""
            elif line.key in INCLUDE_DIRECTIVES and line.args:
                self._include(config, line, depth, outer + line.scopes)

    def _include(self, config: ConfigFile, line: Line, depth: int, scopes: tuple) -> None:
        optional = line.key == "includeoptional"
        pattern = self._expand(line.args[0])
        if "${" in pattern:
            self.problems.append(Problem(config.path, line.first,
                                         f"{line.name} {line.args[0]}: unknown variable, not followed"))
            return
        if not os.path.isabs(pattern):
            pattern = os.path.join(self.server_root or os.path.dirname(config.path), pattern)
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern))
            if not matches and not optional:
                self.problems.append(Problem(config.path, line.first,
                                             f"Include {line.args[0]}: no file matches"))
            for match in matches:
                self._include_path(match, depth, scopes, (config.path, line.first))
        elif os.path.exists(pattern):
            self._include_path(pattern, depth, scopes, (config.path, line.first))
        elif not optional:
            self.problems.append(Problem(config.path, line.first,
                                         f"Include {line.args[0]}: {pattern} does not exist"))

    def _include_path(self, path: str, depth: int, scopes: tuple, at) -> None:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs.sort()
                for name in sorted(names):
                    self._include_path(os.path.join(root, name), depth, scopes, at)
            return
        try:
            self._read_file(path, depth + 1, scopes, at)
        except OSError as e:
            self.problems.append(Problem(path, 0, f"cannot read: {e.strerror}"))


def default_server_root(config_path: str) -> str:
    """Debian's ServerRoot for files below /etc/apache2*, else the file's directory."""
    parts = os.path.abspath(config_path).split(os.sep)
    if len(parts) > 2 and parts[1] == "etc" and parts[2].startswith("apache2"):
        return os.sep.join(parts[:3])
    return os.path.dirname(os.path.abspath(config_path))
