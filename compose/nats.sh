#!/usr/bin/env bash
# Bring up a NATS server with JetStream natively (no Docker) for anymq's tests and CI.
#
#   compose/nats.sh start     install Debian's nats-server if missing, start it with JetStream, wait
#                             until /healthz?js-enabled-only=true answers (no-op if up; if a server it
#                             did not start already answers on the port: warn, use it)
#   compose/nats.sh stop      stop the server this script started (no-op if not running)
#   compose/nats.sh restart   stop + start, prints the time taken (JetStream data survives it)
#   compose/nats.sh status    exit 0 if our server is up and healthy, 1 if nothing listens,
#                             2 if the port is held by a process this script did not start
#   compose/nats.sh logs      print the tail of the server's log
#
# Clients on nats://127.0.0.1:4222 (no auth, loopback only), monitoring on http://127.0.0.1:8222
# (client port + 4000). JetStream keeps its data, and the pid file and log live, under
# <repo>/.cache/nats/ (git-ignored).
#
# Environment overrides (all optional):
#   ANYMQ_NATS_PORT     client port               (default 4222; monitoring = port + 4000)
#   ANYMQ_NATS_DIR      state directory           (default <repo>/.cache/nats, or
#                       <repo>/.cache/nats-PORT for another port)
#   ANYMQ_NATS_TIMEOUT  seconds to wait for start (default 30)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NATS_PORT="${ANYMQ_NATS_PORT:-4222}"
NATS_HTTP_PORT=$((NATS_PORT + 4000))
NATS_DEFAULT_DIR="$REPO_ROOT/.cache/nats"
[ "$NATS_PORT" = 4222 ] || NATS_DEFAULT_DIR="$REPO_ROOT/.cache/nats-$NATS_PORT"
NATS_DIR="${ANYMQ_NATS_DIR:-$NATS_DEFAULT_DIR}"
NATS_TIMEOUT="${ANYMQ_NATS_TIMEOUT:-30}"
PIDFILE="$NATS_DIR/nats-server.pid"
LOGFILE="$NATS_DIR/nats-server.log"
HEALTH="http://127.0.0.1:$NATS_HTTP_PORT/healthz?js-enabled-only=true"
PY="${PYTHON:-python3}"

log() { printf '[nats.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

# shellcheck disable=SC2016  # $1 expands in the inner bash
port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# The server's INFO line: any NATS server greets a new connection with it.
nats_ping() {
    # shellcheck disable=SC2016
    timeout 3 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        line=$(head -c 4 <&3)
        exec 3>&-
        [ "$line" = "INFO" ]' _ "$NATS_PORT" 2>/dev/null
}

# JetStream enabled and ready (the monitoring endpoint of our server).
healthy() {
    "$PY" - "$HEALTH" <<'EOF' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=3).read()
EOF
}

our_pid() {
    [ -s "$PIDFILE" ] || return 1
    local pid; pid="$(tr -dc '0-9' <"$PIDFILE")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    # a recycled pid or another checkout's server must not be taken for ours
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$NATS_DIR/jetstream" || return 1
    echo "$pid"
}

install_if_missing() {
    command -v nats-server >/dev/null 2>&1 && return 0
    [ "$(id -u)" = 0 ] || die "nats-server is not installed and we are not root: apt-get install nats-server"
    log "installing Debian's nats-server with apt-get (one-off)"
    if ! apt-cache show nats-server >/dev/null 2>&1; then
        apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nats-server \
        >"${TMPDIR:-/tmp}/anymq-nats-apt.log" 2>&1 \
        || { tail -n 30 "${TMPDIR:-/tmp}/anymq-nats-apt.log" >&2; die "apt-get install nats-server failed"; }
    # the package may start its own service on 4222: we run our own server
    (systemctl stop nats-server || service nats-server stop) >/dev/null 2>&1 || true
}

cmd_start() {
    if our_pid >/dev/null && healthy; then
        log "already running: pid $(our_pid), nats://127.0.0.1:$NATS_PORT"
        return 0
    fi
    install_if_missing
    local t0; t0="$(now)"
    if ! our_pid >/dev/null; then
        if port_open "$NATS_PORT"; then
            if nats_ping; then
                log "WARNING: a NATS server this script did not start already answers on"
                log "  127.0.0.1:$NATS_PORT: using it (it needs JetStream); stop/restart won't touch it"
                return 0
            fi
            die "127.0.0.1:$NATS_PORT is taken by a process this script did not start and that does not
       speak NATS. Free the port or set ANYMQ_NATS_PORT."
        fi
        mkdir -p "$NATS_DIR/jetstream"
        rm -f "$PIDFILE"
        : >"$LOGFILE"
        log "starting nats-server -js on 127.0.0.1:$NATS_PORT (state in $NATS_DIR)"
        # setsid + nohup: the server outlives this shell; exec keeps the pid, so $! is the server's.
        setsid nohup nats-server -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_HTTP_PORT" \
            -js -sd "$NATS_DIR/jetstream" -n "anymq-$NATS_PORT" \
            >>"$LOGFILE" 2>&1 </dev/null &
        echo $! >"$PIDFILE"
    fi
    local pid; pid="$(tr -dc '0-9' <"$PIDFILE")"
    local deadline=$(( $(date +%s) + NATS_TIMEOUT ))
    until healthy; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$LOGFILE" >&2 || true
            rm -f "$PIDFILE"
            die "nats-server exited during startup (log above, $LOGFILE)"
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            tail -n 30 "$LOGFILE" >&2 || true
            die "nats-server did not become healthy within ${NATS_TIMEOUT}s (pid $pid; 'compose/nats.sh stop' ends it)"
        fi
        sleep 0.1
    done
    log "up in $(elapsed "$t0") s: pid $(our_pid), nats://127.0.0.1:$NATS_PORT (JetStream, monitoring :$NATS_HTTP_PORT)"
}

cmd_stop() {
    local pid
    if ! pid="$(our_pid)"; then
        log "not running (no live nats-server from $PIDFILE)"
        rm -f "$PIDFILE"
        return 0
    fi
    log "stopping nats-server pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$(( $(date +%s) + 20 ))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "pid $pid still alive after 20 s; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    rm -f "$PIDFILE"
    log "stopped"
}

cmd_status() {
    local pid
    if pid="$(our_pid)"; then
        if healthy; then
            echo "running: nats-server pid $pid nats://127.0.0.1:$NATS_PORT monitoring=http://127.0.0.1:$NATS_HTTP_PORT state=$NATS_DIR"
            return 0
        fi
        echo "starting or unhealthy: nats-server pid $pid is not healthy on $HEALTH"
        return 1
    fi
    if port_open "$NATS_PORT"; then
        echo "not ours: 127.0.0.1:$NATS_PORT is held by a process this script did not start"
        return 2
    fi
    echo "not running"
    return 1
}

cmd_restart() {
    local t0; t0="$(now)"
    if ! our_pid >/dev/null && port_open "$NATS_PORT"; then
        die "127.0.0.1:$NATS_PORT is held by a server this script did not start: not restarting it"
    fi
    cmd_stop
    cmd_start
    log "restart took $(elapsed "$t0") s"
}

case "${1:-}" in
    start)   cmd_start ;;
    stop)    cmd_stop ;;
    restart) cmd_restart ;;
    status)  cmd_status ;;
    logs)    tail -n 40 "$LOGFILE" ;;
    *) echo "usage: $0 {start|stop|restart|status|logs}" >&2; exit 2 ;;
esac
