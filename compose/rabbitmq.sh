#!/usr/bin/env bash
# Bring up a real RabbitMQ node natively (no Docker) for anymq's tests and CI.
#
#   compose/rabbitmq.sh start     install Debian's rabbitmq-server if missing, start, wait until AMQP answers
#                                 (no-op if up; if a broker it did not start answers on the port: warn, use it)
#   compose/rabbitmq.sh stop      stop the node this script started (no-op if not running)
#   compose/rabbitmq.sh restart   stop + start, prints the time taken (used by fault tests)
#   compose/rabbitmq.sh status    exit 0 if our node is up and answering AMQP, 1 if nothing listens,
#                                 2 if the port is held by a process this script did not start
#   compose/rabbitmq.sh ctl ARGS  run rabbitmqctl against our node (e.g. `ctl list_queues name messages`)
#   compose/rabbitmq.sh logs      print the tail of the node's log
#
# The node is `anymq@localhost`, runs as root from the Debian package's binaries, and keeps ALL
# its state under <repo>/.cache/rabbitmq/ (git-ignored): config, Erlang cookie, mnesia/quorum/
# stream data, logs, pid file. AMQP 0-9-1 on 127.0.0.1:5672 (guest/guest, loopback only),
# management UI/API on 127.0.0.1:15672 only if enabled (see below), Erlang distribution on 127.0.0.1:25672, epmd on
# 127.0.0.1:4369. The system's own rabbitmq-server service is never started or used.
#
# Environment overrides (all optional):
#   ANYMQ_RABBITMQ_DIR      state directory          (default <repo>/.cache/rabbitmq, or
#                           <repo>/.cache/rabbitmq-PORT for another port)
#   ANYMQ_RABBITMQ_PORT     AMQP port                (default 5672; mgmt = port+10000, dist = port+20000,
#                           node anymq-PORT@localhost when not 5672)
#   ANYMQ_RABBITMQ_PLUGINS  comma-separated plugins  (default none; e.g. rabbitmq_management,
#                           which adds ~1 s to boot and ~5 s to every stop)
#   ANYMQ_RABBITMQ_TIMEOUT  seconds to wait for boot (default 60)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RMQ_PORT="${ANYMQ_RABBITMQ_PORT:-5672}"
# A second node (another port) gets its own state folder by default: sharing the first one's
# pid file would make `stop` or `restart` act on the wrong node.
RMQ_DEFAULT_DIR="$REPO_ROOT/.cache/rabbitmq"
[ "$RMQ_PORT" = 5672 ] || RMQ_DEFAULT_DIR="$REPO_ROOT/.cache/rabbitmq-$RMQ_PORT"
RMQ_DIR="${ANYMQ_RABBITMQ_DIR:-$RMQ_DEFAULT_DIR}"
RMQ_MGMT_PORT=$((RMQ_PORT + 10000))
RMQ_DIST_PORT=$((RMQ_PORT + 20000))
RMQ_STREAM_PORT=$((RMQ_PORT - 120))   # 5552 for 5672
RMQ_PLUGINS="${ANYMQ_RABBITMQ_PLUGINS:-}"
RMQ_TIMEOUT="${ANYMQ_RABBITMQ_TIMEOUT:-60}"
RMQ_NODE="anymq@localhost"
[ "$RMQ_PORT" = 5672 ] || RMQ_NODE="anymq-$RMQ_PORT@localhost"   # a second node needs its own name
RMQ_SBIN=/usr/lib/rabbitmq/bin          # the package's real scripts (not the /usr/sbin su-wrappers)
RMQ_PIDFILE="$RMQ_DIR/rabbitmq.pid"
RMQ_LOGDIR="$RMQ_DIR/log"

log() { printf '[rabbitmq.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

# Everything the server and the CLI need to find *our* node and *our* files.
rmq_env() {
    export HOME="$RMQ_DIR"                       # Erlang cookie lives in $HOME/.erlang.cookie
    export RABBITMQ_NODENAME="$RMQ_NODE"
    export RABBITMQ_USE_LONGNAME=false
    export RABBITMQ_CONF_ENV_FILE="$RMQ_DIR/rabbitmq-env.conf"   # ignore /etc/rabbitmq/rabbitmq-env.conf
    export RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq.conf"
    export RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_DIR/advanced.config"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins"
    export RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia"
    export RABBITMQ_LOG_BASE="$RMQ_LOGDIR"
    export RABBITMQ_PID_FILE="$RMQ_PIDFILE"
    export RABBITMQ_DIST_PORT="$RMQ_DIST_PORT"
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export ERL_EPMD_ADDRESS=127.0.0.1            # epmd (started by erl on demand) on loopback only
}

ctl() { rmq_env; "$RMQ_SBIN/rabbitmqctl" -n "$RMQ_NODE" "$@"; }

# A real AMQP 0-9-1 handshake: send the protocol header, expect a method frame
# (type 1 = Connection.Start) back. Pure bash, no client library needed.
amqp_ping() {
    # shellcheck disable=SC2016  # $1 expands in the inner bash
    timeout 3 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "AMQP\x00\x00\x09\x01" >&3
        b=$(head -c 1 <&3 | od -An -tu1 | tr -d " ")
        exec 3>&-
        [ "$b" = 1 ]' _ "$RMQ_PORT" 2>/dev/null
}

# shellcheck disable=SC2016
port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

our_pid() {
    [ -s "$RMQ_PIDFILE" ] || return 1
    local pid; pid="$(tr -dc '0-9' <"$RMQ_PIDFILE")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    # make sure the pid really is the BEAM started on our state dir (HOME=$RMQ_DIR shows up as
    # `-home $RMQ_DIR` on its command line), not a recycled pid or another checkout's node
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$RMQ_DIR" || return 1
    echo "$pid"
}

is_running() { our_pid >/dev/null && amqp_ping; }

log_tail() {
    local f
    for f in "$RMQ_LOGDIR"/*.log "$RMQ_LOGDIR"/erl_crash.dump "$RMQ_DIR"/erl_crash.dump; do
        [ -f "$f" ] || continue
        log "---- last lines of $f ----"
        tail -n 40 "$f" >&2 || true
    done
}

install_if_missing() {
    if [ -x "$RMQ_SBIN/rabbitmq-server" ] && [ -x "$RMQ_SBIN/rabbitmqctl" ]; then
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "rabbitmq-server is not installed and we are not root: apt-get install rabbitmq-server"
    log "installing Debian's rabbitmq-server with apt-get (one-off, ~30 s)"
    # Keep the package's own service (init.d script / systemd unit) from starting a second node
    # on 5672: a policy-rc.d that denies every start. Debian's container images already ship one
    # (exit 101); if this machine doesn't, we add one only for the duration of the install.
    local added_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# temporary, added by anymq compose/rabbitmq.sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    local rc=0
    {
        export DEBIAN_FRONTEND=noninteractive
        if ! apt-cache show rabbitmq-server >/dev/null 2>&1; then
            apt-get update -qq
        fi
        apt-get install -y -qq --no-install-recommends rabbitmq-server >"${TMPDIR:-/tmp}/anymq-rabbitmq-apt.log" 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq --no-install-recommends rabbitmq-server \
                    >"${TMPDIR:-/tmp}/anymq-rabbitmq-apt.log" 2>&1; }
    } || rc=$?
    [ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d
    if [ "$rc" != 0 ]; then
        tail -n 30 "${TMPDIR:-/tmp}/anymq-rabbitmq-apt.log" >&2 || true
        die "apt-get install rabbitmq-server failed (rc=$rc)"
    fi
    # If the package's service did start anyway (e.g. a real systemd), stop it: it would hold 5672.
    if command -v pgrep >/dev/null && pgrep -u rabbitmq -f 'beam.*rabbit' >/dev/null 2>&1; then
        log "the package started its own service; stopping it (we run our own node)"
        (systemctl stop rabbitmq-server || service rabbitmq-server stop) >/dev/null 2>&1 || true
    fi
}

write_config() {
    mkdir -p "$RMQ_DIR" "$RMQ_LOGDIR" "$RMQ_DIR/mnesia"
    : >"$RMQ_DIR/rabbitmq-env.conf"
    cat >"$RMQ_DIR/rabbitmq.conf" <<EOF
# generated by compose/rabbitmq.sh -- edits are overwritten on start
listeners.tcp.default = 127.0.0.1:$RMQ_PORT
loopback_users.guest = true
management.tcp.ip = 127.0.0.1
management.tcp.port = $RMQ_MGMT_PORT
# only used if the rabbitmq_stream plugin is enabled (stream protocol; AMQP stream queues don't need it)
stream.listeners.tcp.1 = 127.0.0.1:$RMQ_STREAM_PORT
log.file.level = info
log.console = false
# CI disks can be small; the default 50MB limit is fine, stay explicit
disk_free_limit.absolute = 50MB
EOF
    if [ -n "$RMQ_PLUGINS" ]; then
        printf '[%s].\n' "$RMQ_PLUGINS" >"$RMQ_DIR/enabled_plugins"
    else
        printf '[].\n' >"$RMQ_DIR/enabled_plugins"
    fi
}

cmd_start() {
    if is_running; then
        log "already running: node $RMQ_NODE pid $(our_pid), amqp://guest:guest@127.0.0.1:$RMQ_PORT/"
        return 0
    fi
    install_if_missing
    if our_pid >/dev/null; then
        # our BEAM is alive but AMQP does not answer yet (still booting, or wedged): wait for it
        log "node process $(our_pid) exists but AMQP does not answer yet; waiting"
        wait_ready "$(now)"
        return 0
    fi
    if port_open "$RMQ_PORT"; then
        if amqp_ping; then
            log "WARNING: an AMQP broker this script did not start (another checkout's node, or the"
            log "  system service) already answers on 127.0.0.1:$RMQ_PORT: using it; stop/restart won't touch it"
            return 0
        fi
        die "127.0.0.1:$RMQ_PORT is taken by a process this script did not start and that does not
       speak AMQP. Free the port or set ANYMQ_RABBITMQ_PORT."
    fi
    write_config
    rm -f "$RMQ_PIDFILE"
    local t0; t0="$(now)"
    log "starting node $RMQ_NODE (state in $RMQ_DIR)"
    rmq_env
    # -detached: erl daemonises itself, so the node outlives this shell.
    (cd "$RMQ_DIR" && "$RMQ_SBIN/rabbitmq-server" -detached) >"$RMQ_LOGDIR/startup.out" 2>&1 \
        || { cat "$RMQ_LOGDIR/startup.out" >&2; die "rabbitmq-server -detached failed"; }
    wait_ready "$t0"
}

wait_ready() {
    local t0="$1" deadline=$(( $(date +%s) + RMQ_TIMEOUT ))
    while :; do
        if amqp_ping && our_pid >/dev/null; then
            # The AMQP listener opens only after all core boot steps ran, so a Connection.Start
            # means the broker is usable. Plugins start after the listeners: with plugins, also
            # wait for await_startup (costs ~1.3 s of CLI boot, so skipped without plugins).
            if [ -z "$RMQ_PLUGINS" ] || ctl -q await_startup --timeout 30 >/dev/null 2>&1; then
                log "up in $(elapsed "$t0") s: node $RMQ_NODE pid $(our_pid), amqp://guest:guest@127.0.0.1:$RMQ_PORT/" \
                    "$( [ -n "$RMQ_PLUGINS" ] && echo "(plugins: $RMQ_PLUGINS)")"
                return 0
            fi
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log_tail
            [ -s "$RMQ_LOGDIR/startup.out" ] && { log "---- startup.out ----"; cat "$RMQ_LOGDIR/startup.out" >&2; }
            die "node $RMQ_NODE did not answer AMQP on 127.0.0.1:$RMQ_PORT within ${RMQ_TIMEOUT}s (logs in $RMQ_LOGDIR; the node may still be booting: 'compose/rabbitmq.sh stop' ends it)"
        fi
        sleep 0.5
    done
}

cmd_stop() {
    local pid
    if ! pid="$(our_pid)"; then
        log "not running (no live node from $RMQ_PIDFILE)"
        rm -f "$RMQ_PIDFILE"
        return 0
    fi
    local t0; t0="$(now)"
    log "stopping node $RMQ_NODE pid $pid"
    # SIGTERM makes RabbitMQ (>= 3.8) shut down gracefully, same as `rabbitmqctl stop` (stops the
    # listeners, flushes message stores / Ra logs, halts), ~1.3 s faster since no CLI VM boots.
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$(( $(date +%s) + 60 ))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "pid $pid still alive after 60 s; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 1
            break
        fi
        sleep 0.2
    done
    rm -f "$RMQ_PIDFILE"
    log "stopped in $(elapsed "$t0") s"
}

cmd_status() {
    local pid
    if pid="$(our_pid)"; then
        if amqp_ping; then
            echo "running: node $RMQ_NODE pid $pid amqp://guest:guest@127.0.0.1:$RMQ_PORT/ state=$RMQ_DIR"
            [ -n "$RMQ_PLUGINS" ] && echo "management: http://127.0.0.1:$RMQ_MGMT_PORT/ (guest/guest)"
            return 0
        fi
        echo "starting or unhealthy: node $RMQ_NODE pid $pid does not answer AMQP on 127.0.0.1:$RMQ_PORT"
        return 1
    fi
    if port_open "$RMQ_PORT"; then
        echo "not ours: 127.0.0.1:$RMQ_PORT is held by a process this script did not start"
        return 2
    fi
    echo "not running"
    return 1
}

cmd_restart() {
    local t0; t0="$(now)"
    if ! our_pid >/dev/null && port_open "$RMQ_PORT"; then
        die "127.0.0.1:$RMQ_PORT is held by a broker this script did not start: not restarting it"
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
    ctl)     shift; ctl "$@" ;;
    logs)    log_tail ;;
    *) echo "usage: $0 {start|stop|restart|status|ctl ARGS...|logs}" >&2; exit 2 ;;
esac
