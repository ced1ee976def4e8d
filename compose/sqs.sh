#!/usr/bin/env bash
# Bring up an SQS + SNS compatible server (moto in server mode) natively, for anymq's tests and CI.
#
#   compose/sqs.sh start     install moto[server] with pip if moto_server is missing, start it on
#                            127.0.0.1:4566, wait until it answers HTTP (no-op if already up; if a
#                            server it did not start already answers HTTP there, warn and use it)
#   compose/sqs.sh stop      stop the moto_server this script started (no-op if not running)
#   compose/sqs.sh restart   stop + start (moto keeps everything in memory: a restart wipes all state)
#   compose/sqs.sh status    exit 0 if our moto_server is up and answering, 1 if nothing listens,
#                            2 if the port is held by a server this script did not start
#   compose/sqs.sh reset     wipe all moto state without restarting (POST /moto-api/reset)
#
# Endpoint http://127.0.0.1:4566 for every service (SQS, SNS, ...); any region (use us-east-1) and
# any credentials (e.g. AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test). Account id 123456789012.
# pid file and log: <repo>/.cache/sqs/ (git-ignored).
#
# Environment overrides (all optional):
#   ANYMQ_SQS_DIR      pid/log directory            (default <repo>/.cache/sqs)
#   ANYMQ_SQS_PORT     port                         (default 4566)
#   ANYMQ_MOTO_VERSION moto version to pip-install  (default 5.2.1, the version the machine image ships)
#   ANYMQ_SQS_TIMEOUT  seconds to wait for startup  (default 30)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SQS_DIR="${ANYMQ_SQS_DIR:-$REPO_ROOT/.cache/sqs}"
SQS_PORT="${ANYMQ_SQS_PORT:-4566}"
MOTO_VERSION="${ANYMQ_MOTO_VERSION:-5.2.1}"
SQS_TIMEOUT="${ANYMQ_SQS_TIMEOUT:-30}"
PIDFILE="$SQS_DIR/moto.pid"
LOGFILE="$SQS_DIR/moto.log"
URL="http://127.0.0.1:$SQS_PORT"
PY="${PYTHON:-python3}"

log() { printf '[sqs.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

# 0 if something answers HTTP on the port (any status code counts: it is a web server).
# /moto-api/ is moto's static dashboard page: cheap (unlike /moto-api/data.json, which dumps all state).
http_ok() {
    "$PY" - "$URL" <<'EOF' 2>/dev/null
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=3).read(1)
except urllib.error.HTTPError:
    pass
except Exception:
    sys.exit(1)
EOF
}

# shellcheck disable=SC2016  # $1 expands in the inner bash
port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$SQS_PORT" 2>/dev/null; }

our_pid() {
    [ -s "$PIDFILE" ] || return 1
    local pid; pid="$(tr -dc '0-9' <"$PIDFILE")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    # a recycled pid must not be mistaken for ours: check it is a moto server on our port
    local cmd; cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    case "$cmd" in *moto*"-p $SQS_PORT"*) echo "$pid" ;; *) return 1 ;; esac
}

moto_cmd() {
    # moto_server on PATH, and moto with its server extras (flask, flask_cors) importable by $PY
    # (cheap find_spec check: `moto_server --help` would import all of flask, 1-3 s)
    command -v moto_server >/dev/null 2>&1 || return 1
    "$PY" -c 'import importlib.util as u, sys
sys.exit(0 if all(u.find_spec(m) for m in ("moto", "flask", "flask_cors", "werkzeug")) else 1)' 2>/dev/null \
        || return 1
    echo moto_server
}

install_if_missing() {
    if moto_cmd >/dev/null; then
        local v; v="$("$PY" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || echo '?')"
        [ "$v" = "$MOTO_VERSION" ] || log "note: using installed moto $v (pinned version is $MOTO_VERSION)"
        return 0
    fi
    log "moto_server not found: pip install 'moto[server]==$MOTO_VERSION' (one-off)"
    "$PY" -m pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2 \
        || die "pip install moto[server]==$MOTO_VERSION failed"
    hash -r
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash >/dev/null 2>&1 || true; fi   # new shim
    moto_cmd >/dev/null || die "moto_server still not runnable after pip install (PATH=$PATH)"
}

cmd_start() {
    if our_pid >/dev/null && http_ok; then
        log "already running: pid $(our_pid), $URL"
        return 0
    fi
    install_if_missing
    local t0; t0="$(now)"
    if ! our_pid >/dev/null; then
        if port_open; then
            if http_ok; then
                log "WARNING: a server this script did not start (another checkout's moto_server, or"
                log "  localstack) already answers on $URL: using it; stop/restart/reset won't touch it"
                return 0
            fi
            die "127.0.0.1:$SQS_PORT is taken by a process this script did not start and that does not
       answer HTTP. Free the port or set ANYMQ_SQS_PORT."
        fi
        mkdir -p "$SQS_DIR"
        rm -f "$PIDFILE"
        : >"$LOGFILE"
        log "starting moto_server on $URL (log $LOGFILE)"
        # setsid + nohup: the server outlives this shell and its terminal; moto keeps state in memory.
        # exec keeps the pid: subshell -> setsid (no fork, not a group leader) -> moto_server (a pyenv
        # shim execs the real python), so $! is the server's pid.
        # compose/moto_fifo.py is moto_server with AWS's FIFO message-group rule restored
        # (moto 5.2 hands one group to two receivers at once; see that file).
        setsid nohup "$PY" "$REPO_ROOT/compose/moto_fifo.py" -H 127.0.0.1 -p "$SQS_PORT" \
            >>"$LOGFILE" 2>&1 </dev/null &
        echo $! >"$PIDFILE"
    fi
    local pid; pid="$(tr -dc '0-9' <"$PIDFILE")"
    local deadline=$(( $(date +%s) + SQS_TIMEOUT ))
    until http_ok; do
        # plain liveness here: until the exec chain finishes, /proc/PID/cmdline is still this script's
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$LOGFILE" >&2 || true
            rm -f "$PIDFILE"
            die "moto_server exited during startup (log above, $LOGFILE)"
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            tail -n 30 "$LOGFILE" >&2 || true
            die "moto_server did not answer on $URL within ${SQS_TIMEOUT}s (pid $pid; 'compose/sqs.sh stop' ends it)"
        fi
        sleep 0.2
    done
    log "up in $(elapsed "$t0") s: pid $(our_pid), $URL (SQS+SNS, region us-east-1, any credentials)"
}

cmd_stop() {
    local pid
    if ! pid="$(our_pid)"; then
        log "not running (no live moto_server from $PIDFILE)"
        rm -f "$PIDFILE"
        return 0
    fi
    log "stopping moto_server pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$(( $(date +%s) + 10 ))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "pid $pid still alive after 10 s; SIGKILL"
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
        if http_ok; then
            echo "running: moto_server pid $pid $URL log=$LOGFILE"
            return 0
        fi
        echo "starting or unhealthy: moto_server pid $pid does not answer on $URL"
        return 1
    fi
    if port_open; then
        echo "not ours: 127.0.0.1:$SQS_PORT is held by a process this script did not start"
        return 2
    fi
    echo "not running"
    return 1
}

cmd_reset() {
    our_pid >/dev/null || die "not running"
    "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/moto-api/reset", method="POST"), timeout=10).read()' "$URL"
    log "moto state reset"
}

case "${1:-}" in
    start)   cmd_start ;;
    stop)    cmd_stop ;;
    restart) our_pid >/dev/null || ! port_open || die "127.0.0.1:$SQS_PORT is held by a server this script did not start: not restarting it"
             cmd_stop; cmd_start ;;
    status)  cmd_status ;;
    reset)   cmd_reset ;;
    *) echo "usage: $0 {start|stop|restart|status|reset}" >&2; exit 2 ;;
esac
