#!/usr/bin/python3
"""`make memcheck`: Apache with the module in one process (apache2 -X) under valgrind memcheck,
a few TLS handshakes and requests (curl, TLS 1.2 and 1.3, a refused handshake, a client that
resets), then a clean stop. Fails if valgrind reports a "definitely lost" block allocated in a
frame of the module (mod_tls.so, i.e. our C++ and the Rust bridge linked into it).

Usage: scripts/memcheck.py [path/to/mod_tls.so]   (default build/mod_tls.so)
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
if len(sys.argv) > 1:
    os.environ["MOD_TLS_SO"] = os.path.abspath(sys.argv[1])

import apache  # noqa: E402
import clients  # noqa: E402
import pki as pki_mod  # noqa: E402


def main() -> int:
    p = pki_mod.make_pki()
    port = apache.free_port()
    a = apache.Apache(apache.tls_site(port, p.leaves["p256"]), log_level="info")
    a.add_file("index.html", b"memcheck\n")
    vg_log = a.root / "logs" / "valgrind.log"
    os.chmod(a.root / "logs", 0o777)
    cmd = ["valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite",
           "--num-callers=40", f"--log-file={vg_log}", apache.APACHE2, "-X", "-f",
           str(a.conf_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=a._env(), start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not apache.is_listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                print(f"apache2 under valgrind did not come up; see {vg_log}, {a.error_log_path}")
                return 2
            time.sleep(0.5)
        results = []
        for args in (["--tlsv1.3"], ["--tlsv1.2", "--tls-max", "1.2"]):
            r = clients.curl(port, ("/", "/", "/missing"), cacert=p.root_ca, args=args,
                             timeout=120)
            results.append(r.returncode)
        clients.s_client(port, ["-alpn", "nothing-we-serve"], timeout=120)  # no ALPN overlap
        s = socket.create_connection(("127.0.0.1", port), timeout=60)  # garbage, then reset
        s.sendall(os.urandom(300))
        time.sleep(1)
        s.close()
        if any(rc != 0 for rc in results):
            print(f"requests under valgrind failed: {results}")
            return 2
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = vg_log.read_text(errors="replace")
    blocks = re.split(r"\n==\d+== \n", text)
    ours = [b for b in blocks if "definitely lost" in b and "mod_tls.so" in b]
    summary = re.findall(r"definitely lost: .*", text)
    print(f"valgrind log: {vg_log}\n" + "\n".join(summary[-1:]))
    if ours:
        print("definitely lost in the module's frames:\n" + "\n\n".join(ours))
        return 1
    if "ERROR SUMMARY" not in text:
        print("valgrind did not finish its report")
        return 2
    print("memcheck: no definite leak from mod_tls.so")
    shutil.rmtree(a.root, ignore_errors=True)  # kept for inspection when it fails
    shutil.rmtree(p.dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
