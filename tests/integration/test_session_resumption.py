"""Session resumption (issue #7): TLSSessionCache on Apache's socache providers — shared by the
worker processes of one server (shmcb, the default) and by two Apache instances standing for two
machines (memcached, redis) — and TLSSessionTicketKeys shared by two instances without any cache,
its rotation and its startup checks; a cache that goes down does not stop handshakes.

Clients: Python ssl sessions and `openssl s_client -sess_out/-sess_in`, TLS 1.2 and 1.3. Which
worker process served a connection and whether the server saw it resumed come from a log format
with %P and %{SSL_SESSION_RESUMED}x, keyed by the client's port.
"""
from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import time

import pytest

import apache
import clients
from cache_servers import CacheServer

VERSIONS = {"TLSv1.2": {"max_version": ssl.TLSVersion.TLSv1_2},
            "TLSv1.3": {"min_version": ssl.TLSVersion.TLSv1_3}}
S_CLIENT_VERSION = {"TLSv1.2": "-tls1_2", "TLSv1.3": "-tls1_3"}
RESUME_LOG = ('LogFormat "%{remote}p %P %{SSL_SESSION_RESUMED}x %{SSL_PROTOCOL}x %{local}p" '
              'resume\n'
              'CustomLog "logs/resume.log" resume\n')


def body(port: int, pki, *, cache: str | None = None, keys=None, extra: str = "") -> str:
    out = RESUME_LOG + extra
    if cache:
        out += f"TLSSessionCache {cache}\n"
    if keys:
        out += f"TLSSessionTicketKeys {keys}\n"
    return out + apache.tls_site(port, pki.leaves["p256"])


def server(factory, text: str, **kw) -> apache.Apache:
    """A started Apache serving an index page."""
    a = factory(text, start=False, **kw)
    a.add_file("index.html", b"hello\n")
    a.start()
    return a


def served(a: apache.Apache, port: int, client_port: int, since: int,
           timeout: float = 10.0) -> tuple[int, str]:
    """(worker pid, SSL_SESSION_RESUMED) of the request from client_port to server port `port`,
    logged after offset `since` (a.log_file_mark("resume.log") taken right before that
    connection). The kernel reuses a client port for another server port at once and for the
    same one once the old connection is gone, so the port alone can name an older line."""
    deadline = time.monotonic() + timeout
    while True:
        for line in a.log_file("resume.log", since).splitlines():
            f = line.split()
            if len(f) >= 5 and f[0] == str(client_port) and f[4] == str(port):
                return int(f[1]), f[2]
        if time.monotonic() > deadline:
            raise AssertionError(f"no resume.log line for {client_port} -> {port} since "
                                 f"offset {since}")
        time.sleep(0.05)


def hop(a: apache.Apache, port: int, ctx, session=None):
    """One request on a new connection offering `session`; checks that the server's
    SSL_SESSION_RESUMED agrees with the client. Returns (exchange, worker pid)."""
    since = a.log_file_mark("resume.log")
    x = clients.exchange(port, ctx, session=session)
    assert x.response.status == 200, x.response
    pid, flag = served(a, port, x.client_port, since)
    assert flag == ("Resumed" if x.session_reused else "Initial"), (flag, x.session_reused)
    return x, pid


def s_client_hop(port: int, version: str, pki, sess_file, sess_in: bool) -> bool:
    """openssl s_client: one HTTP/1.0 request; saves its session to sess_file and, with
    sess_in, offers the saved one first. True if it reports the session reused."""
    args = [S_CLIENT_VERSION[version], "-ign_eof", "-sess_out", str(sess_file)]
    if sess_in:
        args += ["-sess_in", str(sess_file)]
    p = clients.s_client(port, args, input=b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n",
                         cafile=pki.root_ca, timeout=30)
    assert re.search(r"^(New|Reused), ", p.stdout, re.M), p.stdout
    assert "HTTP/1.1 " in p.stdout, p.stdout
    return bool(re.search(r"^Reused, ", p.stdout, re.M))


def across(servers, pki, version: str, rounds: int = 3) -> list[bool]:
    """Python: a session from servers[0], then reconnects alternating over the servers, each
    offering the newest session. Returns the reused flag of each reconnect."""
    ctx = clients.context(pki.root_ca, **VERSIONS[version])
    a0, p0 = servers[0]
    x, _ = hop(a0, p0, ctx)
    assert not x.session_reused
    session, seen = x.session, []
    for i in range(rounds * len(servers)):
        a, p = servers[(i + 1) % len(servers)]
        x, _ = hop(a, p, ctx, session)
        seen.append(x.session_reused)
        session = x.session or session
    return seen


def s_client_across(tmp_path, pki, version, port_a, port_b) -> tuple[bool, bool]:
    sess = tmp_path / f"s_client-{version}.pem"
    assert not s_client_hop(port_a, version, pki, sess, sess_in=False)
    first = s_client_hop(port_b, version, pki, sess, sess_in=True)
    second = s_client_hop(port_a, version, pki, sess, sess_in=True)
    return first, second


# ---- one server, several worker processes (default shmcb cache) --------------------------------

@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_resumes_across_worker_processes(version, apache_factory, pki):
    """Two worker processes, each with its own listening socket (ListenCoresBucketsRatio: the
    kernel spreads connections over them): every reconnect resumes, also those served by another
    process than the one that issued the session; server-status counts the resumptions."""
    t, u = apache.free_ports(2)
    a = server(apache_factory,
        body(t, pki, extra="StartServers 2\nMinSpareThreads 50\nListenCoresBucketsRatio 1\n"
                           "ExtendedStatus On\n")
        + apache.plain_site(u, extra="<Location /server-status>\n    SetHandler server-status\n"
                                     "</Location>"),
        extra_modules=("socache_shmcb", "status"))
    assert "mod_socache_shmcb is not loaded" not in a.error_log()

    def counters():
        r = clients.curl_plain(u, "/server-status?auto")
        return {k: int(v) for k, v in apache.status_counters(r.body.decode()).items()
                if k.startswith("TLSHandshakes")}

    before = counters()
    ctx = clients.context(pki.root_ca, **VERSIONS[version])
    x, first_pid = hop(a, t, ctx)
    session, issuer = x.session, first_pid
    pids, crossed, n = {first_pid}, 0, 40
    for _ in range(n):
        x, pid = hop(a, t, ctx, session)
        assert x.session_reused, f"reconnect not resumed (pid {pid}, session from {issuer})"
        pids.add(pid)
        crossed += pid != issuer
        if version == "TLSv1.3":   # a TLS 1.3 session is single-use: the next one comes from pid
            session, issuer = x.session, pid
    assert len(pids) >= 2, f"all connections reached one process {pids}; the test proves little"
    assert crossed >= 1, pids
    deadline = time.monotonic() + 10
    while True:
        d = {k: v - before.get(k, 0) for k, v in counters().items()}
        if d.get("TLSHandshakesCompleted", 0) >= n + 1 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert d.get("TLSHandshakesResumed") == n, d


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_cache_none_never_resumes(version, apache_factory, pki):
    t = apache.free_port()
    a = server(apache_factory, body(t, pki, cache="none"), extra_modules=("socache_shmcb",))
    assert not any(across([(a, t)], pki, version, rounds=2))


def test_explicit_shmcb_spec_is_used(apache_factory, pki):
    """`TLSSessionCache shmcb:path(bytes)`: the provider's own argument, as for SSLSessionCache
    (shmcb uses anonymous shared memory where it can; the path is its fallback)."""
    t = apache.free_port()
    a = apache_factory("", start=False)
    shm = a.root / "run" / "tls-sessions"
    a.write_config(body(t, pki, cache=f"shmcb:{shm}(256000)",
                        extra="StartServers 2\nMinSpareThreads 50\nListenCoresBucketsRatio 1\n"))
    a.add_file("index.html", b"hello\n")
    a.start()
    assert all(across([(a, t)], pki, "TLSv1.3", rounds=6))


def test_default_without_shmcb_warns_and_caches_per_process(apache_factory, pki):
    """Without mod_socache_shmcb the default cache is per process: one startup warning, and a
    reconnect to the (only) process still resumes."""
    t = apache.free_port()
    a = apache_factory(body(t, pki, extra="ServerLimit 1\n"), start=False)
    # The harness loads mod_socache_shmcb for every server; not this one.
    text, n = re.subn(r"<IfModule !socache_shmcb_module>\n[^\n]*\n</IfModule>\n", "",
                      a.config_text)
    assert n == 1
    a.conf_path.write_text(text)
    a.add_file("index.html", b"hello\n")
    a.start()
    a.wait_for_log(r"mod_socache_shmcb is not loaded.*TLSSessionCache")
    assert all(across([(a, t)], pki, "TLSv1.2", rounds=2))


# ---- two instances sharing memcached / redis ---------------------------------------------------

@pytest.fixture(params=["memcache", "redis"])
def cluster(request, apache_factory, pki):
    """A cache server and two Apache instances (two 'machines') using it."""
    cache = CacheServer(request.param).start()
    try:
        t1, t2 = apache.free_ports(2)
        a = server(apache_factory, body(t1, pki, cache=cache.spec), extra_modules=(cache.module,))
        b = server(apache_factory, body(t2, pki, cache=cache.spec), extra_modules=(cache.module,))
        yield cache, (a, t1), (b, t2)
    finally:
        cache.close()


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_cluster_instances_resume_each_others_sessions(version, cluster, pki, tmp_path):
    cache, (a, t1), (b, t2) = cluster
    seen = across([(a, t1), (b, t2)], pki, version, rounds=3)
    assert all(seen), seen
    assert s_client_across(tmp_path, pki, version, t1, t2) == (True, True)
    for s in (a, b):
        assert "TLSSessionCache" not in s.error_log(), s.error_log()


def test_cluster_without_shared_cache_does_not_resume(apache_factory, pki):
    """Control: two instances with their own shmcb caches do not resume each other's sessions."""
    t1, t2 = apache.free_ports(2)
    a = server(apache_factory, body(t1, pki), extra_modules=("socache_shmcb",))
    b = server(apache_factory, body(t2, pki), extra_modules=("socache_shmcb",))
    ctx = clients.context(pki.root_ca, **VERSIONS["TLSv1.2"])
    x, _ = hop(a, t1, ctx)
    y, _ = hop(b, t2, ctx, x.session)
    assert not y.session_reused


# ---- a cache that goes down --------------------------------------------------------------------

def cache_errors(a, since):
    return [l for l in a.error_log(since).splitlines()
            if "TLSSessionCache" in l and ("failed" in l or "failing" in l)]


@pytest.mark.parametrize("kind", ["memcache", "redis"])
def test_cache_down_means_full_handshakes_and_one_error_line(kind, apache_factory, pki):
    cache = CacheServer(kind).start()
    try:
        t = apache.free_port()
        a = server(apache_factory, body(t, pki, cache=cache.spec), extra_modules=(cache.module,))
        ctx = clients.context(pki.root_ca, **VERSIONS["TLSv1.2"])
        x, _ = hop(a, t, ctx)
        x, _ = hop(a, t, ctx, x.session)
        assert x.session_reused, "resumption through the cache works before the outage"

        mark = a.log_mark()
        cache.stop()
        pids = set()
        for _ in range(12):
            y, pid = hop(a, t, ctx, x.session)   # bounded by the client's socket timeout
            assert not y.session_reused
            pids.add(pid)
        lines = cache_errors(a, mark)
        assert 1 <= len(lines) <= len(pids), "\n".join(lines)

        # Back up (same port): resumption works again, and the log says so.
        cache.start()
        deadline, ok = time.monotonic() + 60, False
        while time.monotonic() < deadline and not ok:
            y, _ = hop(a, t, ctx)
            z, _ = hop(a, t, ctx, y.session)
            ok = z.session_reused
            time.sleep(0.5)
        assert ok, "no resumption after the cache came back"
        a.wait_for_log(r"TLSSessionCache .*works again", since=mark)
        assert len(cache_errors(a, mark)) <= len(pids) + 1
    finally:
        cache.close()


def test_stalled_cache_does_not_hold_handshakes(apache_factory, pki):
    """A memcached that accepts connections but never answers (stopped with SIGSTOP): handshakes
    still complete (full), with one error line; when it answers again, resumption comes back."""
    cache = CacheServer("memcache").start()
    try:
        t = apache.free_port()
        a = server(apache_factory, body(t, pki, cache=cache.spec), extra_modules=(cache.module,))
        ctx = clients.context(pki.root_ca, **VERSIONS["TLSv1.3"])
        x, _ = hop(a, t, ctx)
        mark = a.log_mark()
        os.kill(cache.proc.pid, signal.SIGSTOP)
        try:
            pids = set()
            for _ in range(6):
                y, pid = hop(a, t, ctx, x.session)   # the client's timeout bounds each one
                assert not y.session_reused
                pids.add(pid)
            lines = cache_errors(a, mark)
            assert 1 <= len(lines) <= len(pids), "\n".join(lines)
            assert "no answer in time" in lines[0], lines[0]
        finally:
            os.kill(cache.proc.pid, signal.SIGCONT)
        deadline, ok = time.monotonic() + 60, False
        while time.monotonic() < deadline and not ok:
            y, _ = hop(a, t, ctx)
            z, _ = hop(a, t, ctx, y.session)
            ok = z.session_reused
            time.sleep(0.5)
        assert ok, "no resumption after the cache answered again"
    finally:
        cache.close()


# ---- shared ticket keys -------------------------------------------------------------------------

def new_key() -> str:
    return subprocess.run(["openssl", "rand", "-base64", "32"], capture_output=True, text=True,
                          check=True, timeout=10).stdout.strip()


def key_file(path, keys, mode=0o600):
    path.write_text("# session ticket keys: the first encrypts\n" + "\n".join(keys) + "\n")
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_shared_ticket_keys_resume_across_instances_without_cache(version, apache_factory, pki,
                                                                   tmp_path):
    k = new_key()
    t1, t2, t3 = apache.free_ports(3)
    a = apache_factory("", start=False)
    keys = key_file(a.root / "conf" / "tickets.key", [k])
    a.write_config(body(t1, pki, cache="none", keys=keys))
    a.add_file("index.html", b"hello\n")
    a.start()
    b = server(apache_factory, body(t2, pki, cache="none", keys=keys))
    other = key_file(a.root / "conf" / "other.key", [new_key()])
    c = server(apache_factory, body(t3, pki, cache="none", keys=other))
    assert all(across([(a, t1), (b, t2)], pki, version, rounds=3))
    assert s_client_across(tmp_path, pki, version, t1, t2) == (True, True)
    # Control: an instance with another key cannot read the tickets.
    assert not any(across([(a, t1), (c, t3)], pki, version, rounds=1)[0::2])


def graceful(a: apache.Apache) -> None:
    mark = a.log_mark()
    subprocess.run([apache.APACHE2, "-f", str(a.conf_path), "-k", "graceful"], check=True,
                   capture_output=True, env=a._env(), timeout=60)
    a.wait_for_log(r"resuming normal operations", since=mark, timeout=30)


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_ticket_key_rotation(version, apache_factory, pki):
    """Prepending a key (graceful restart) keeps old tickets valid while new tickets use the new
    key; once the old key is removed, tickets made with it no longer resume."""
    old, new = new_key(), new_key()
    t = apache.free_port()
    a = apache_factory("", start=False)
    keys = key_file(a.root / "conf" / "tickets.key", [old])
    a.write_config(body(t, pki, cache="none", keys=keys))
    a.add_file("index.html", b"hello\n")
    a.start()
    ctx = clients.context(pki.root_ca, **VERSIONS[version])
    x, _ = hop(a, t, ctx)
    old_session = x.session

    key_file(keys, [new, old])
    graceful(a)
    y, _ = hop(a, t, ctx, old_session)
    assert y.session_reused, "a ticket of the old key resumes after rotation"
    fresh, _ = hop(a, t, ctx)                 # a ticket under the new key

    key_file(keys, [new])
    graceful(a)
    z, _ = hop(a, t, ctx, fresh.session)
    assert z.session_reused, "a ticket of the new key resumes"
    w, _ = hop(a, t, ctx, old_session)
    assert not w.session_reused, "the removed key's tickets no longer resume"


# ---- startup checks --------------------------------------------------------------------------

def config_error(a: apache.Apache, directive: str) -> str:
    r = a.config_test()
    text = r.stdout + r.stderr
    assert r.returncode != 0, text
    assert apache.mentions_location(text, a.conf_path, a.line_of(directive)), text
    return text


@pytest.mark.parametrize("mode", [0o640, 0o604])
def test_ticket_key_file_readable_by_others_stops_startup(mode, pki):
    t = apache.free_port()
    a = apache.Apache()
    try:
        keys = key_file(a.root / "conf" / "tickets.key", [new_key()], mode=mode)
        a.write_config(body(t, pki, keys=keys))
        text = config_error(a, "TLSSessionTicketKeys")
        assert "chmod 600" in text and str(keys) in text and oct(mode)[2:] in text, text
    finally:
        a.cleanup()


@pytest.mark.parametrize("content, expect", [
    ("not base64 at all!", "line 2: not a base64 key"),
    ("AAAAAAAAAAAAAAAAAAAAAA==", "line 2: a key must be 32 bytes, this one is 16"),
    ("", "holds no key"),
])
def test_malformed_ticket_key_file_stops_startup(content, expect, pki):
    t = apache.free_port()
    a = apache.Apache()
    try:
        keys = a.root / "conf" / "tickets.key"
        keys.write_text("# comment\n" + content + "\n")
        os.chmod(keys, 0o600)
        a.write_config(body(t, pki, keys=keys))
        text = config_error(a, "TLSSessionTicketKeys")
        assert expect in text and str(keys) in text, text
    finally:
        a.cleanup()


def test_unknown_cache_provider_stops_startup(pki):
    t = apache.free_port()
    a = apache.Apache(body(t, pki, cache="nosuch:whatever"), extra_modules=("socache_shmcb",))
    try:
        text = config_error(a, "TLSSessionCache")
        assert "'nosuch' is not a loaded session cache provider" in text, text
        assert "shmcb" in text, text
    finally:
        a.cleanup()


def test_bad_cache_argument_stops_startup(pki):
    """The provider's complaint about its argument, at the directive's line."""
    t = apache.free_port()
    a = apache.Apache(body(t, pki, cache="shmcb:/tmp/x(not-a-size)"))
    try:
        text = config_error(a, "TLSSessionCache")
        assert "TLSSessionCache: 'shmcb:/tmp/x(not-a-size)': " in text, text
    finally:
        a.cleanup()


def test_cache_directives_are_main_server_only(pki):
    t = apache.free_port()
    a = apache.Apache(RESUME_LOG + apache.tls_site(t, pki.leaves["p256"],
                                                   extra="TLSSessionCache none"))
    try:
        text = config_error(a, "TLSSessionCache")
        assert "cannot occur within <VirtualHost> section" in text, text
    finally:
        a.cleanup()
