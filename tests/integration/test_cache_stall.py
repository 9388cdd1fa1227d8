"""A stalled session cache across the end of worker processes (issue #23, item 1).

memcached or redis stopped with SIGSTOP accepts connections and never answers: every cache call
then stays blocked on its helper thread after the handshake has given up on it (one second).
These tests leave such calls running while the worker process that started them goes away —
a graceful restart, MaxConnectionsPerChild, a stop — and let the cache answer again at several
moments around it, under the sanitizer build too. Handshakes must complete (full), restarts and
the stop must finish, and no worker may crash or touch freed memory (apache.py fails the test
on any sanitizer report or crash line).
"""
from __future__ import annotations

import os
import signal
import ssl
import threading
import time

import pytest

import apache
import clients
from cache_servers import CacheServer

TLS13 = {"min_version": ssl.TLSVersion.TLSv1_3}
PARALLEL = 4   # handshakes started together while the cache is stalled: calls left blocked


def start(factory, cache: CacheServer, port: int, pki, extra: str = "") -> apache.Apache:
    a = factory(f"TLSSessionCache {cache.spec}\n{extra}" + apache.tls_site(port, pki.leaves["p256"]),
                start=False, extra_modules=(cache.module,))
    a.add_file("index.html", b"hello\n")
    a.start()
    return a


def hop(port: int, ctx, session=None) -> clients.Exchange:
    x = clients.exchange(port, ctx, session=session)
    assert x.response.status == 200, x.response
    return x


def parallel_hops(port: int, ctx, session, n: int = PARALLEL) -> list:
    """n handshakes at once, each offering `session` (so each asks the cache); all complete."""
    results, errors = [], []

    def one():
        try:
            results.append(hop(port, ctx, session))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(results) == n
    return results


class Stall:
    """SIGSTOP / SIGCONT of the cache server; always resumed at the end."""

    def __init__(self, cache: CacheServer):
        self.cache = cache
        self.stopped = False

    def stop(self):
        os.kill(self.cache.proc.pid, signal.SIGSTOP)
        self.stopped = True

    def resume(self):
        if self.stopped:
            os.kill(self.cache.proc.pid, signal.SIGCONT)
            self.stopped = False


@pytest.fixture(params=["memcache", "redis"])
def cache(request):
    c = CacheServer(request.param).start()
    yield c
    c.close()


def test_stalled_calls_across_graceful_restarts(cache, apache_factory, pki):
    port = apache.free_port()
    a = start(apache_factory, cache, port, pki)
    ctx = clients.context(pki.root_ca, **TLS13)
    session = hop(port, ctx).session
    stall = Stall(cache)
    try:
        # The cache answers again at different moments around the old children's exit: before,
        # during and after it.
        for delay in (None, 0.0, 0.05, 0.2, 1.0):
            stall.stop()
            mark = a.log_mark()
            parallel_hops(port, ctx, session)
            a.wait_for_log(r"TLSSessionCache .*no answer in time", since=mark)
            if delay is None:
                a.graceful()
            else:
                resumer = threading.Timer(delay, stall.resume)
                resumer.start()
                a.graceful()
                resumer.join()
            stall.resume()
            session = hop(port, ctx).session
    finally:
        stall.resume()
    assert not a.crash_lines(), a.crash_lines()


def test_stalled_calls_when_children_reach_max_connections(cache, apache_factory, pki):
    port = apache.free_port()
    a = start(apache_factory, cache, port, pki, extra="MaxConnectionsPerChild 3\n")
    ctx = clients.context(pki.root_ca, **TLS13)
    session = hop(port, ctx).session
    stall = Stall(cache)
    try:
        for delay in (0.0, 0.3):
            stall.stop()
            parallel_hops(port, ctx, session, n=3)   # the child's last connections
            time.sleep(delay)
            stall.resume()
            session = hop(port, ctx).session   # a new child
    finally:
        stall.resume()
    assert not a.crash_lines(), a.crash_lines()


def test_stalled_calls_do_not_hold_a_stop(cache, apache_factory, pki):
    port = apache.free_port()
    a = start(apache_factory, cache, port, pki)
    ctx = clients.context(pki.root_ca, **TLS13)
    session = hop(port, ctx).session
    stall = Stall(cache)
    try:
        stall.stop()
        parallel_hops(port, ctx, session)
        pid = a.pid
        began = time.monotonic()
        a.stop()   # fails the test on sanitizer reports and crash lines
        took = time.monotonic() - began
        assert not apache.Apache._alive(pid)
        assert took < apache.STOP_TIMEOUT, f"stop took {took:.1f}s with cache calls blocked"
    finally:
        stall.resume()
