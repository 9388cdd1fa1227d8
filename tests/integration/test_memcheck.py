"""`make memcheck` as a test (issue #10): apache2 -X with the module under valgrind memcheck,
TLS 1.2/1.3 handshakes and requests, a refused handshake and a garbage client; no "definitely
lost" block from mod_tls.so. Skipped under the sanitizer run (ASan and valgrind do not mix)."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

import apache


@pytest.mark.slow
def test_valgrind_finds_no_leak_from_the_module():
    if apache.sanitizer_mode():
        pytest.skip("valgrind cannot run the ASan build; the ASan run checks memory itself")
    if not shutil.which("valgrind"):
        pytest.fail("valgrind missing (Debian package valgrind)")
    apache.require_module()
    script = apache.REPO_ROOT / "scripts" / "memcheck.py"
    proc = subprocess.run([sys.executable, str(script), apache.mod_tls_so()],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-5000:]
