"""Fixtures of the mod_tls integration suite.

pki              session: the test PKI (pki.py) in a 0755 directory under /tmp
apache_factory   function: apache_factory(body, start=True, **Apache kwargs) -> started Apache;
                 every server it made is stopped after the test (sanitizer reports fail the test)
module_apache_factory  the same, but servers live for the whole test module
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import apache as apache_mod  # noqa: E402
import pki as pki_mod  # noqa: E402



@pytest.fixture(scope="session")
def pki():
    p = pki_mod.make_pki()
    yield p
    shutil.rmtree(p.dir, ignore_errors=True)


def _pool(request):
    apache_mod.require_module()
    pool = apache_mod.ApachePool()
    failed_before = request.session.testsfailed
    yield pool
    # keep the ServerRoots (config, logs) for inspection when a test using them failed
    pool.keep_roots = request.session.testsfailed > failed_before
    pool.close()


@pytest.fixture
def apache_factory(request):
    yield from _pool(request)


@pytest.fixture(scope="module")
def module_apache_factory(request):
    yield from _pool(request)
