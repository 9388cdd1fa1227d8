#!/bin/bash
# usage: scripts/run.sh start|stop BUILD_DIR      (called by `make run` / `make stop`)
#
# start: makes a local test CA and a `localhost` certificate (once), writes a private ServerRoot in
#        BUILD_DIR/run and starts Debian's /usr/sbin/apache2 with BUILD_DIR/mod_tls.so serving
#        https://localhost:8443/. /etc/apache2 is never read or touched. A server left running by an
#        earlier `make run` is stopped first.
# stop:  stops that server; not an error when none is running.
#
# Apache's workers run as www-data and may not be able to enter the checkout (e.g. /root/x, mode 700),
# so everything they read while serving (the document root, the runtime dir) lives in $demo below.
# Config, certificates, keys and logs stay in BUILD_DIR/run: the root parent opens those at startup.
set -euo pipefail

usage() { echo "usage: $0 start|stop BUILD_DIR" >&2; exit 2; }
(($# == 2)) || usage
action=$1
build=$(realpath -m -- "$2")

port=8443
apache=/usr/sbin/apache2
modules=/usr/lib/apache2/modules
run=$build/run
conf=$run/conf/httpd.conf
pki=$run/pki
logs=$run/logs
error_log=$logs/error.log
# Shared by every checkout (port 8443 is one per machine), so `make run` finds the server an earlier
# `make run` left running even after `make clean` removed its build directory.
if ((EUID == 0)); then demo=/var/tmp/mod_tls-demo; else demo=/var/tmp/mod_tls-demo-$EUID; fi
pidfile=$demo/httpd.pid

# Prints the pid of the running demo server, or fails.
running_pid() {
  local pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == apache2 ]] || return 1
  echo "$pid"
}

# Runs a command silently; shows its output only when it fails.
quiet() {
  local out
  out=$("$@" 2>&1) || { echo "$out" >&2; echo "failed: $*" >&2; return 1; }
}

port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

stop_server() {
  local pid i
  if ! pid=$(running_pid); then
    echo "mod_tls demo server is not running."
    return 0
  fi
  # -k stop reads the pid file named in the config; if that config is gone or no longer loads
  # (e.g. after `make clean`), signal the pid directly.
  "$apache" -f "$conf" -k stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    # The daemonised parent leads its own process group, which holds its workers too.
    echo "apache2 (pid $pid) did not exit within 10 s; killing its process group." >&2
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL -- "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  echo "mod_tls demo server (pid $pid) stopped."
}

# A directory in world-writable /var/tmp that we create and own, never one planted by someone else.
make_demo_dir() {
  mkdir -p "$demo"
  if [[ -L $demo || ! -d $demo || $(stat -c %u "$demo") != "$EUID" ]]; then
    echo "refusing to use $demo: not a directory owned by uid $EUID" >&2
    exit 1
  fi
  chmod 755 "$demo"
  mkdir -p "$demo/htdocs" "$demo/runtime"
  chmod 755 "$demo/htdocs" "$demo/runtime"
  cat >"$demo/htdocs/index.html" <<'EOF'
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>mod_tls</title></head>
<body>
<h1>It works over TLS.</h1>
<p>This page is served by Debian's Apache httpd with <strong>mod_tls</strong>: the TLS handshake and
record protection are done by <strong>rustls</strong>, a memory-safe TLS library, not by OpenSSL.</p>
</body>
</html>
EOF
  chmod 644 "$demo/htdocs/index.html"
}

# Test CA (10 years) and a localhost certificate signed by it (1 year), ECDSA P-256. The CA is kept
# so a browser or curl that trusts it once keeps working; the leaf is renewed when within a day
# of expiry.
make_pki() {
  mkdir -p "$pki"
  chmod 700 "$pki"
  if [[ ! -s $pki/ca.pem || ! -s $pki/ca.key ]]; then
    quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/ca.key"
    quiet openssl req -x509 -new -sha256 -days 3650 -key "$pki/ca.key" -out "$pki/ca.pem" \
      -subj "/O=mod_tls local test/CN=mod_tls local test CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -addext "subjectKeyIdentifier=hash"
    rm -f "$pki/localhost.pem"   # a new CA needs a new leaf
  fi
  if [[ ! -s $pki/localhost.pem || ! -s $pki/localhost.key ]] \
     || ! openssl x509 -checkend 86400 -noout -in "$pki/localhost.pem" >/dev/null 2>&1; then
    quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/localhost.key"
    quiet openssl req -new -sha256 -key "$pki/localhost.key" -subj "/CN=localhost" \
      -out "$pki/localhost.csr"
    quiet openssl x509 -req -sha256 -days 365 -in "$pki/localhost.csr" \
      -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
      -out "$pki/localhost.pem" -extfile <(printf '%s\n' \
        "basicConstraints = critical, CA:FALSE" \
        "keyUsage = critical, digitalSignature" \
        "extendedKeyUsage = serverAuth" \
        "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1" \
        "subjectKeyIdentifier = hash" \
        "authorityKeyIdentifier = keyid")
    rm -f "$pki/localhost.csr"
  fi
}

write_config() {
  local listen="Listen 127.0.0.1:$port"
  # IPv6 loopback only when the kernel has ::1 configured.
  if grep -qs '^0\{31\}1 ' /proc/net/if_inet6; then
    listen+=$'\n'"Listen [::1]:$port"
  fi
  local types="TypesConfig /etc/mime.types"
  # mod_headers (for the nosniff header, as the packaged default-tls.conf sends it) where this apache2 has it.
  local headers=""
  [[ -f $modules/mod_headers.so ]] && headers="LoadModule headers_module $modules/mod_headers.so"
  [[ -r /etc/mime.types ]] || types="TypesConfig /dev/null"$'\n'"AddType text/html .html"
  mkdir -p "$run/conf" "$logs"
  cat >"$conf.new" <<EOF
# Written by scripts/run.sh for \`make run\`; rewritten on every start.
ServerRoot "$run"
ServerName localhost
DefaultRuntimeDir "$demo/runtime"
PidFile "$pidfile"
$listen

LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule mime_module $modules/mod_mime.so
LoadModule dir_module $modules/mod_dir.so
$headers
# Built into Debian's apache2; loaded only for a build where they are not.
<IfModule !log_config_module>
    LoadModule log_config_module $modules/mod_log_config.so
</IfModule>
<IfModule !unixd_module>
    LoadModule unixd_module $modules/mod_unixd.so
</IfModule>
LoadModule tls_module "$build/mod_tls.so"

User www-data
Group www-data

TLSEngine $port
TLSCertificate "$pki/localhost.pem" "$pki/localhost.key"
TLSProtocol default
# As the packaged tls.conf: the server's suite order (the built-in default is the client's).
TLSHonorClientOrder off
<IfModule mod_headers.c>
    # As the packaged default-tls.conf, but without its HSTS header: HSTS is per host name, not
    # per port, so a browser trusting this test CA would then refuse http:// on every port of
    # localhost (other development servers) for as long as max-age says.
    Header always set X-Content-Type-Options "nosniff"
</IfModule>

ErrorLog "$error_log"
LogLevel info
LogFormat "%h %l %u %t \"%r\" %>s %b \"%{User-Agent}i\"" combined
CustomLog "$logs/access.log" combined

$types
DirectoryIndex index.html
DocumentRoot "$demo/htdocs"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "$demo/htdocs">
    Require all granted
</Directory>
EOF
  mv "$conf.new" "$conf"
}

# Prints the error log lines written since byte offset $1 (the last 30 of them).
log_since() {
  [[ -f $error_log ]] || return 0
  echo "--- $error_log (since this start) ---" >&2
  tail -c +"$(($1 + 1))" "$error_log" | tail -n 30 >&2
}

start_server() {
  [[ -f $build/mod_tls.so ]] || { echo "$build/mod_tls.so is missing: run \`make\` first." >&2; exit 1; }
  [[ -x $apache ]] || { echo "$apache is missing: run \`make setup\` as root." >&2; exit 1; }
  make_demo_dir
  make_pki
  write_config
  if running_pid >/dev/null; then
    echo "Stopping the mod_tls demo server from an earlier \`make run\`."
    stop_server >/dev/null
  fi
  if port_answers; then
    echo "Port $port is in use by another program; stop it and retry." >&2
    exit 1
  fi

  local offset=0 out pid i
  [[ -f $error_log ]] && offset=$(stat -c %s "$error_log")
  if ! out=$("$apache" -f "$conf" -k start 2>&1); then
    echo "apache2 failed to start:" >&2
    [[ -n $out ]] && echo "$out" >&2
    log_since "$offset"
    exit 1
  fi
  [[ -n $out ]] && echo "$out"
  local up=0
  for ((i = 0; i < 100; i++)); do
    if pid=$(running_pid) && port_answers; then up=1; break; fi
    sleep 0.1
  done
  if ((!up)); then
    echo "apache2 did not come up on port $port within 10 s." >&2
    log_since "$offset"
    exit 1
  fi
  if ! curl -sS -o /dev/null --max-time 10 --cacert "$pki/ca.pem" "https://localhost:$port/"; then
    echo "apache2 (pid $pid) is listening on port $port, but an HTTPS request to it failed." >&2
    echo "It is left running for inspection; \`make stop\` stops it." >&2
    log_since "$offset"
    exit 1
  fi
  cat <<EOF

mod_tls demo server is running (apache2 pid $pid).
  URL:        https://localhost:$port/
  test CA:    $pki/ca.pem
  try:        curl --cacert $pki/ca.pem https://localhost:$port/
  error log:  $error_log
  stop with:  make stop
EOF
}

case $action in
  start) start_server ;;
  stop) stop_server ;;
  *) usage ;;
esac
