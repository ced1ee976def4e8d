#!/usr/bin/env bash
# Bring up a Redis server (Debian's redis-server, 7.0 here) natively, for anymq's tests and CI.
#
#   compose/redis.sh start     install redis-server with apt-get if missing (root only), start it
#                              on 127.0.0.1:6379 and wait until it answers PING (no-op if already
#                              up; if a server it did not start already answers there, use it)
#   compose/redis.sh stop      stop the server this script started (SHUTDOWN, then SIGTERM)
#   compose/redis.sh restart   stop + start: the append-only file keeps every confirmed send, so
#                              a restart under load shows what a real restart loses (nothing)
#   compose/redis.sh status    exit 0 if our server is up and answering, 1 if nothing listens,
#                              2 if the port is held by a server this script did not start
#
# Persistence: appendonly yes with appendfsync everysec (Redis's default for AOF) and no RDB
# snapshots. Data, pid file and log: <repo>/.cache/redis/ (git-ignored).
#
# Environment overrides (all optional):
#   ANYMQ_REDIS_DIR      data/pid/log directory     (default <repo>/.cache/redis, -<port> if not 6379)
#   ANYMQ_REDIS_PORT     port                       (default 6379)
#   ANYMQ_REDIS_TIMEOUT  seconds to wait for start  (default 30)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REDIS_PORT="${ANYMQ_REDIS_PORT:-6379}"
if [ "$REDIS_PORT" = 6379 ]; then default_dir="$REPO_ROOT/.cache/redis"; else default_dir="$REPO_ROOT/.cache/redis-$REDIS_PORT"; fi
REDIS_DIR="${ANYMQ_REDIS_DIR:-$default_dir}"
REDIS_TIMEOUT="${ANYMQ_REDIS_TIMEOUT:-30}"
PIDFILE="$REDIS_DIR/redis.pid"
LOGFILE="$REDIS_DIR/redis.log"

log() { printf '[redis.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
answers() { [ "$(cli PING 2>/dev/null)" = PONG ]; }
# shellcheck disable=SC2016  # $1 expands in the inner bash
port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$REDIS_PORT" 2>/dev/null; }

our_pid() {
    [ -s "$PIDFILE" ] || return 1
    local pid; pid="$(tr -dc '0-9' <"$PIDFILE")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    # a recycled pid must not be mistaken for ours: check it is a redis-server on our port
    local cmd; cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    case "$cmd" in *redis-server*":$REDIS_PORT"*) echo "$pid" ;; *) return 1 ;; esac
}

install_if_missing() {
    command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && return 0
    [ "$(id -u)" = 0 ] || die "redis-server is not installed and we are not root: apt-get install redis-server"
    log "installing Debian's redis-server with apt-get (one-off)"
    # Keep the package's own service from starting a second server on 6379 (see rabbitmq.sh).
    local added_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# temporary, added by anymq compose/redis.sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    local rc=0
    {
        export DEBIAN_FRONTEND=noninteractive
        apt-cache show redis-server >/dev/null 2>&1 || apt-get update -qq
        apt-get install -y -qq --no-install-recommends redis-server >"${TMPDIR:-/tmp}/anymq-redis-apt.log" 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server \
                    >"${TMPDIR:-/tmp}/anymq-redis-apt.log" 2>&1; }
    } || rc=$?
    [ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d
    if [ "$rc" != 0 ]; then
        tail -n 30 "${TMPDIR:-/tmp}/anymq-redis-apt.log" >&2 || true
        die "apt-get install redis-server failed (rc=$rc)"
    fi
}

cmd_start() {
    if our_pid >/dev/null && answers; then
        log "already running: pid $(our_pid), redis://127.0.0.1:$REDIS_PORT/0"
        return 0
    fi
    install_if_missing
    if ! our_pid >/dev/null; then
        if port_open; then
            answers || die "127.0.0.1:$REDIS_PORT is taken by a process that does not answer PING.
       Free the port or set ANYMQ_REDIS_PORT."
            log "WARNING: a Redis this script did not start answers on 127.0.0.1:$REDIS_PORT: using it;"
            log "  stop/restart won't touch it"
            return 0
        fi
        mkdir -p "$REDIS_DIR"
        rm -f "$PIDFILE"
        log "starting redis-server on 127.0.0.1:$REDIS_PORT (data and log in $REDIS_DIR)"
        # --daemonize no under setsid/nohup with exec: $! is the server's pid (as sqs.sh does)
        setsid nohup redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" \
            --appendonly yes --appendfsync everysec --save '' --protected-mode yes \
            --logfile "$LOGFILE" --daemonize no >>"$REDIS_DIR/stdout.log" 2>&1 </dev/null &
        echo $! >"$PIDFILE"
    fi
    local pid; pid="$(tr -dc '0-9' <"$PIDFILE")"
    local deadline=$(( $(date +%s) + REDIS_TIMEOUT ))
    # PING answers LOADING while the append-only file is replayed: wait for PONG
    until answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$LOGFILE" >&2 || true
            rm -f "$PIDFILE"
            die "redis-server exited during startup (log above, $LOGFILE)"
        fi
        [ "$(date +%s)" -lt "$deadline" ] || die "redis-server did not answer within ${REDIS_TIMEOUT}s (pid $pid)"
        sleep 0.1
    done
    log "up: pid $pid, redis://127.0.0.1:$REDIS_PORT/0"
}

cmd_stop() {
    local pid
    if ! pid="$(our_pid)"; then
        log "not running (no live redis-server from $PIDFILE)"
        rm -f "$PIDFILE"
        return 0
    fi
    log "stopping redis-server pid $pid"
    cli SHUTDOWN >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
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
        if answers; then
            echo "running: redis-server pid $pid redis://127.0.0.1:$REDIS_PORT/0 log=$LOGFILE"
            return 0
        fi
        echo "starting or unhealthy: redis-server pid $pid does not answer PING"
        return 1
    fi
    if port_open; then
        echo "not ours: 127.0.0.1:$REDIS_PORT is held by a process this script did not start"
        return 2
    fi
    echo "not running"
    return 1
}

case "${1:-}" in
    start)   cmd_start ;;
    stop)    cmd_stop ;;
    restart) our_pid >/dev/null || ! port_open || die "127.0.0.1:$REDIS_PORT is held by a server this script did not start: not restarting it"
             cmd_stop; cmd_start ;;
    status)  cmd_status ;;
    *) echo "usage: $0 {start|stop|restart|status}" >&2; exit 2 ;;
esac
