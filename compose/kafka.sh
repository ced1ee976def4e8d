#!/usr/bin/env bash
# compose/kafka.sh: run REAL Apache Kafka (KRaft, no ZooKeeper) natively, without
# Docker, for anymq's tests and CI. Works from any cwd, idempotent.
#
# Usage:
#   compose/kafka.sh fetch                     download Kafka's jars (Maven Central, via mvn)
#   compose/kafka.sh start [single|cluster]    start and wait until it serves (default: single)
#   compose/kafka.sh stop [single|cluster|all] [--clean]
#                                              stop what this script started (default: single,
#                                              like start); --clean also wipes that mode's
#                                              data and logs
#   compose/kafka.sh stop-node N               stop cluster broker N (1..3), e.g. for a fault test
#   compose/kafka.sh start-node N              start cluster broker N again and wait until it serves
#   compose/kafka.sh status                    what runs; exit 0 if some broker runs, 3 if none
#
# Ports (all on 127.0.0.1). Single and cluster SHARE ports, so only one of them runs
# at a time: `start cluster` refuses while single runs and vice versa (stop the other
# first; tests/kafka/test_cluster_fault.py does exactly that).
#   single : broker 9092, controller 9192           (1 combined broker+controller node, id 1)
#            bootstrap: 127.0.0.1:9092
#   cluster: brokers 9092 9093 9094 (nodes 1 2 3), controllers 9192 9193 9194
#            bootstrap: 127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094
#            3 combined broker+controller nodes, static 3-voter KRaft quorum, so any
#            ONE node can be stopped and the cluster keeps serving (quorum 2 of 3;
#            default.replication.factor=3, min.insync.replicas=2).
# A port already taken by a process this script did not start makes `start` fail.
#
# Kafka version: pinned in compose/kafka/pom.xml (<kafka.version>); the script reads it there.
#
# Everything lives under <repo>/.cache/kafka/ (git-ignored):
#   m2/                local Maven repository used by `fetch`
#   lib/               the jars (+ .kafka-version stamp); `fetch` skips if the version matches
#   single/  cluster/  config/<node>.properties, data/<node>/, logs/<node>.log, run/<node>.pid
#
# Environment (all optional):
#   KAFKA_START_TIMEOUT   seconds to wait for readiness (default 90 single, 150 cluster:
#                         3 JVMs on 2 busy cores took up to 48 s here)
#   KAFKA_STOP_TIMEOUT    seconds to wait for a clean exit before SIGKILL (default 60)
#   KAFKA_HEAP_OPTS       JVM heap per broker (default "-Xms128m -Xmx512m")
#   KAFKA_JVM_OPTS        extra JVM flags per broker
#   KAFKA_PYTHON          python with aiokafka for the readiness check (default: repo
#                         .venv/bin/python if it has aiokafka, else python3); without
#                         aiokafka the check uses Kafka's own Java BrokerApiVersionsCommand
#   KAFKA_READY_CHECK     auto (default) | python | java: force one readiness check
#   ANYMQ_KAFKA_CACHE     cache directory (default <repo>/.cache/kafka)
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd -P)"
KAFKA_DIR="$SCRIPT_DIR/kafka"
POM="$KAFKA_DIR/pom.xml"
CACHE="${ANYMQ_KAFKA_CACHE:-$REPO_ROOT/.cache/kafka}"
LIB="$CACHE/lib"
M2="$CACHE/m2"

HOST=127.0.0.1
SINGLE_PORT=9092
SINGLE_CONTROLLER_PORT=9192
CLUSTER_PORTS=(9092 9093 9094)
CLUSTER_CONTROLLER_PORTS=(9192 9193 9194)
# Fixed KRaft cluster ids (base64 of 16 bytes) so formatting is reproducible.
SINGLE_CLUSTER_ID="YW55bXEta2Fma2Etc25nbA"
CLUSTER_CLUSTER_ID="YW55bXEta2Fma2EtY2xzdA"

START_TIMEOUT="${KAFKA_START_TIMEOUT:-}"   # default: 90 s single, 150 s cluster
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-60}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
EXTRA_JVM_OPTS="${KAFKA_JVM_OPTS:-}"

log() { printf 'kafka: %s\n' "$*"; }
die() { printf 'kafka: ERROR: %s\n' "$*" >&2; exit 1; }

now() { printf '%s' "${EPOCHREALTIME:-$(date +%s.%N)}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

kafka_version() {
  local v
  v="$(sed -n 's:.*<kafka\.version>\([^<]*\)</kafka\.version>.*:\1:p' "$POM" | head -n1)"
  [[ -n "$v" ]] || die "cannot read <kafka.version> from $POM"
  printf '%s' "$v"
}

# Serialise concurrent invocations (e.g. two test jobs calling start at once).
take_lock() {
  mkdir -p "$CACHE"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE/kafka-sh.lock"
    flock -w 600 9 || die "timed out waiting for $CACHE/kafka-sh.lock (another kafka.sh still running?)"
  fi
}

# ---------------------------------------------------------------- fetch

jars_present() {
  local v="$1"
  [[ -f "$LIB/.kafka-version" && "$(cat "$LIB/.kafka-version")" == "$v" \
     && -f "$LIB/kafka_2.13-$v.jar" && -f "$LIB/kafka-server-$v.jar" && -f "$LIB/kafka-tools-$v.jar" ]]
}

run_mvn() {
  local out="$1"; shift
  # (sed: mvn -q still prints bare colour escapes; drop them and blank lines)
  mvn -B -q -Dstyle.color=never "$@" -f "$POM" -Dmaven.repo.local="$M2" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$out" 2>&1 \
    | sed -u 's/\x1b\[[0-9;]*m//g' | { grep -v '^[[:space:]]*$' || true; }
}

# fetch [quiet]: "quiet" says nothing when the jars are already there (used by start).
fetch() {
  local v t0 tmp
  v="$(kafka_version)"
  if jars_present "$v"; then
    [[ "${1:-}" == quiet ]] || log "jars for Apache Kafka $v already in $LIB"
    return 0
  fi
  command -v java >/dev/null 2>&1 || die "java not found (Kafka $v needs Java 17+)"
  command -v mvn >/dev/null 2>&1 || die "mvn not found (apt-get install maven); it downloads Kafka's jars"
  t0="$(now)"
  log "fetching jars for Apache Kafka $v with Maven… (into $LIB)"
  mkdir -p "$CACHE" "$M2"
  tmp="$CACHE/lib.tmp.$$"
  rm -rf "$tmp"
  # A second try with -U: Maven caches failed look-ups (*.lastUpdated) in the local repo,
  # which would otherwise keep failing after a network hiccup.
  if ! run_mvn "$tmp"; then
    log "mvn failed; retrying once with -U"
    rm -rf "$tmp"
    if ! run_mvn "$tmp" -U; then
      rm -rf "$tmp"
      die "mvn could not download Kafka $v's jars from Maven Central (see the Maven output above)"
    fi
  fi
  [[ -f "$tmp/kafka_2.13-$v.jar" ]] || { rm -rf "$tmp"; die "mvn ran but kafka_2.13-$v.jar is missing in $tmp"; }
  printf '%s\n' "$v" >"$tmp/.kafka-version"
  rm -rf "$LIB"
  mv "$tmp" "$LIB"
  log "fetched $(find "$LIB" -name '*.jar' | wc -l) jars for Apache Kafka $v in $(elapsed "$t0")s"
}

# ---------------------------------------------------------------- layout helpers

# node names: single -> "kafka"; cluster -> node1 node2 node3
mode_nodes() {
  case "$1" in
    single) echo kafka ;;
    cluster) echo node1 node2 node3 ;;
  esac
}
node_id() { if [[ "$2" == kafka ]]; then echo 1; else echo "${2#node}"; fi; }
node_port() {
  if [[ "$1" == single ]]; then echo "$SINGLE_PORT"; else echo "${CLUSTER_PORTS[$(($(node_id "$1" "$2") - 1))]}"; fi
}
node_controller_port() {
  if [[ "$1" == single ]]; then echo "$SINGLE_CONTROLLER_PORT"; else echo "${CLUSTER_CONTROLLER_PORTS[$(($(node_id "$1" "$2") - 1))]}"; fi
}
pid_file() { echo "$CACHE/$1/run/$2.pid"; }
conf_file() { echo "$CACHE/$1/config/$2.properties"; }
data_dir() { echo "$CACHE/$1/data/$2"; }
log_file() { echo "$CACHE/$1/logs/$2.log"; }
bootstrap() {
  local m="$1" n out=""
  for n in $(mode_nodes "$m"); do out+="${out:+,}$HOST:$(node_port "$m" "$n")"; done
  echo "$out"
}

# True if pid is a live process (a zombie whose parent has not reaped it counts as dead).
pid_alive() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st="$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null || true)"
  [[ "$st" != Z ]]
}

# Prints the pid if the node's pid file names a live kafka.Kafka process that
# runs this node's config (guards against stale pid files and reused pids).
node_pid() {
  local pf pid cmd
  pf="$(pid_file "$1" "$2")"
  [[ -f "$pf" ]] || return 1
  pid="$(cat "$pf" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmd" == *kafka.Kafka*"$(conf_file "$1" "$2")"* ]] || return 1
  echo "$pid"
}

running_nodes() {
  local n out=""
  for n in $(mode_nodes "$1"); do
    if node_pid "$1" "$n" >/dev/null; then out+="${out:+ }$n"; fi
  done
  echo "$out"
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# ---------------------------------------------------------------- config

write_config() {
  local mode="$1" node="$2" id port cport rf minisr voters="" i
  id="$(node_id "$mode" "$node")"
  port="$(node_port "$mode" "$node")"
  cport="$(node_controller_port "$mode" "$node")"
  if [[ "$mode" == single ]]; then
    rf=1; minisr=1; voters="1@$HOST:$SINGLE_CONTROLLER_PORT"
  else
    rf=3; minisr=2
    for i in 0 1 2; do voters+="${voters:+,}$((i + 1))@$HOST:${CLUSTER_CONTROLLER_PORTS[$i]}"; done
  fi
  mkdir -p "$(dirname "$(conf_file "$mode" "$node")")"
  cat >"$(conf_file "$mode" "$node")" <<EOF
# Generated by compose/kafka.sh ($mode, $node) on every start; edit the script, not this file.
# TEST broker settings: tuned for fast tests on a small machine, not for production.
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://$HOST:$port,CONTROLLER://$HOST:$cport
advertised.listeners=PLAINTEXT://$HOST:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$(data_dir "$mode" "$node")

# Small thread pools: the machine has 2 cores and runs other brokers too.
num.network.threads=2
num.io.threads=4
background.threads=4
num.replica.fetchers=1
num.recovery.threads.per.data.dir=1

# Topics are created explicitly by the code under test.
auto.create.topics.enable=false
delete.topic.enable=true
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$minisr
unclean.leader.election.enable=false

# Internal topics sized for this $mode setup (fewer partitions = faster first use).
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$minisr
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$minisr

# Fast tests: no initial rebalance delay, short session timeouts allowed,
# retention/compaction checked every second from the start. Segment sizes stay
# at Kafka's default: topics that need small segments set segment.bytes themselves.
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
log.retention.check.interval.ms=1000
log.initial.task.delay.ms=0
log.cleaner.backoff.ms=1000
EOF
}

# ---------------------------------------------------------------- start / readiness

java_tool() {
  # shellcheck disable=SC2086
  java 9>&- -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2-tools.properties" -cp "$LIB/*" "$@"
}

format_storage() {
  local mode="$1" node="$2" cid out
  local dd; dd="$(data_dir "$mode" "$node")"
  [[ -f "$dd/meta.properties" ]] && return 0
  if [[ "$mode" == single ]]; then cid="$SINGLE_CLUSTER_ID"; else cid="$CLUSTER_CLUSTER_ID"; fi
  mkdir -p "$dd"
  if ! out="$(java_tool kafka.tools.StorageTool format --ignore-formatted \
               -t "$cid" -c "$(conf_file "$mode" "$node")" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "formatting storage for $mode/$node failed"
  fi
}

launch_node() {
  local mode="$1" node="$2" lf pf
  lf="$(log_file "$mode" "$node")"
  pf="$(pid_file "$mode" "$node")"
  mkdir -p "$(dirname "$lf")" "$(dirname "$pf")"
  [[ -f "$lf" ]] && mv -f "$lf" "$lf.1"
  # setsid: own session, so the broker outlives the shell that started it.
  # The inner shell writes its own pid, then execs java under that same pid.
  # 9>&-: the broker must not inherit take_lock's lock.
  # shellcheck disable=SC2086,SC2016,SC2094
  KAFKA_PID_FILE="$pf" setsid bash -c 'echo $$ >"$KAFKA_PID_FILE"; exec "$@"' kafka-"$mode"-"$node" \
    java $HEAP_OPTS -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      $EXTRA_JVM_OPTS \
      -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
      -Dkafka.logs.dir="$(dirname "$lf")" \
      -cp "$LIB/*" kafka.Kafka "$(conf_file "$mode" "$node")" \
      </dev/null >"$lf" 2>&1 9>&- &
  local i
  for i in $(seq 1 50); do [[ -s "$pf" ]] && break; sleep 0.1; done
}

pick_python() {
  local p
  for p in "${KAFKA_PYTHON:-}" "$REPO_ROOT/.venv/bin/python" python3; do
    [[ -n "$p" ]] || continue
    command -v "$p" >/dev/null 2>&1 || [[ -x "$p" ]] || continue
    if "$p" -c 'import aiokafka' >/dev/null 2>&1; then echo "$p"; return 0; fi
  done
  return 1
}

# Prints the broker ids that the cluster reports as alive (metadata), sorted,
# one line, e.g. "1 2 3"; prints nothing if it does not answer.
probe_brokers_python() {
  "$1" - "$2" <<'PY' 2>/dev/null || true
import asyncio, sys
from aiokafka.client import AIOKafkaClient

async def main(bootstrap):
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(client.bootstrap(), 10)
        print(" ".join(str(b) for b in sorted(b.nodeId for b in client.cluster.brokers())))
    finally:
        await client.close()

asyncio.run(main(sys.argv[1]))
PY
}

probe_brokers_java() {
  java_tool org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "$1" 2>/dev/null \
    | sed -n 's/^[^ ]* (id: \([0-9]*\) .*/\1/p' | sort -n | tr '\n' ' ' | sed 's/ $//' || true
}

# wait_ready MODE "NODES TO WATCH" "EXPECTED BROKER IDS"
wait_ready() {
  local mode="$1" watch="$2" want="$3" deadline py="" n ids="" all_open timeout
  if [[ "$mode" == single ]]; then timeout="${START_TIMEOUT:-90}"; else timeout="${START_TIMEOUT:-150}"; fi
  deadline=$(( $(date +%s) + timeout ))
  case "${KAFKA_READY_CHECK:-auto}" in
    auto) py="$(pick_python || true)" ;;
    python) py="$(pick_python)" || die "KAFKA_READY_CHECK=python but no python with aiokafka found" ;;
    java) py="" ;;
    *) die "KAFKA_READY_CHECK must be auto, python or java" ;;
  esac
  while :; do
    for n in $watch; do
      if ! node_pid "$mode" "$n" >/dev/null; then
        echo "---- last lines of $(log_file "$mode" "$n") ----" >&2
        tail -n 40 "$(log_file "$mode" "$n")" >&2 || true
        die "$mode broker $n exited during startup (log: $(log_file "$mode" "$n"))"
      fi
    done
    all_open=1
    for n in $watch; do
      port_open "$HOST" "$(node_port "$mode" "$n")" || { all_open=0; break; }
    done
    if (( all_open )); then
      if [[ -n "$py" ]]; then ids="$(probe_brokers_python "$py" "$(bootstrap "$mode")")"
      else ids="$(probe_brokers_java "$(bootstrap "$mode")")"; fi
      local ok=1 w
      for w in $want; do [[ " $ids " == *" $w "* ]] || ok=0; done
      if (( ok )) && [[ -n "$ids" ]]; then return 0; fi
    fi
    if (( $(date +%s) >= deadline )); then
      for n in $watch; do
        echo "---- last lines of $(log_file "$mode" "$n") ----" >&2
        tail -n 30 "$(log_file "$mode" "$n")" >&2 || true
      done
      die "$mode not ready after ${timeout}s (brokers answering: '${ids}', want: '$want'; readiness check: ${py:+aiokafka via $py}${py:-java BrokerApiVersionsCommand}). Logs under $CACHE/$mode/logs"
    fi
    sleep 0.5
  done
}

other_mode() { if [[ "$1" == single ]]; then echo cluster; else echo single; fi; }

refuse_if_other_running() {
  local other r
  other="$(other_mode "$1")"
  r="$(running_nodes "$other")"
  if [[ -n "$r" ]]; then
    die "the $other Kafka is running ($r) on the same ports; stop it first: $0 stop $other"
  fi
}

# start_nodes MODE "NODES" ; starts the given nodes (if not running) and waits.
start_nodes() {
  local mode="$1" nodes="$2" t0 n to_start="" port cport v want=""
  t0="$(now)"
  refuse_if_other_running "$mode"
  for n in $nodes; do
    if ! node_pid "$mode" "$n" >/dev/null; then to_start+="${to_start:+ }$n"; fi
  done
  if [[ "$nodes" == "$(mode_nodes "$mode")" ]]; then
    for n in $(mode_nodes "$mode"); do want+="${want:+ }$(node_id "$mode" "$n")"; done
  else
    for n in $nodes; do want+="${want:+ }$(node_id "$mode" "$n")"; done
  fi
  if [[ -z "$to_start" ]]; then
    wait_ready "$mode" "$nodes" "$want"
    log "$mode already running and answering on $(bootstrap "$mode")$([[ "$mode" == cluster && "$nodes" != "$(mode_nodes cluster)" ]] && echo " (node(s) $nodes)")"
    return 0
  fi
  fetch quiet
  command -v java >/dev/null 2>&1 || die "java not found (Kafka needs Java 17+)"
  for n in $to_start; do
    for port in "$(node_port "$mode" "$n")" "$(node_controller_port "$mode" "$n")"; do
      if port_open "$HOST" "$port"; then
        die "port $HOST:$port is already in use by a process this script did not start (for $mode/$n); free it first"
      fi
    done
  done
  v="$(kafka_version)"
  log "starting $mode ($to_start) Kafka $v…"
  local fpids=() fp
  for n in $to_start; do
    write_config "$mode" "$n"
    format_storage "$mode" "$n" &   # one JVM each, in parallel (first start only)
    fpids+=("$!")
  done
  for fp in "${fpids[@]}"; do wait "$fp" || die "formatting $mode storage failed (see above)"; done
  for n in $to_start; do launch_node "$mode" "$n"; done
  wait_ready "$mode" "$nodes" "$want"
  if [[ "$mode" == cluster && "$nodes" != "$(mode_nodes cluster)" ]]; then
    log "cluster node(s) $to_start ready on $(for n in $to_start; do printf '%s:%s ' "$HOST" "$(node_port cluster "$n")"; done| sed 's/ $//') in $(elapsed "$t0")s"
  else
    log "ready on $(bootstrap "$mode") in $(elapsed "$t0")s"
  fi
}

# ---------------------------------------------------------------- stop

# stop_nodes MODE "NODES": SIGTERM to all given running nodes at once (so a KRaft
# quorum stays up while the brokers shut down), wait, SIGKILL only on timeout.
stop_nodes() {
  local mode="$1" nodes="$2" n pid pids=() names=() t0 deadline alive
  t0="$(now)"
  for n in $nodes; do
    if pid="$(node_pid "$mode" "$n")"; then
      pids+=("$pid"); names+=("$n")
    else
      rm -f "$(pid_file "$mode" "$n")"
    fi
  done
  if (( ${#pids[@]} == 0 )); then
    log "$mode: nothing running${nodes:+ ($nodes)}"
    return 0
  fi
  log "stopping $mode (${names[*]})…"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  deadline=$(( $(date +%s) + STOP_TIMEOUT ))
  while :; do
    alive=()
    for pid in "${pids[@]}"; do pid_alive "$pid" && alive+=("$pid"); done
    (( ${#alive[@]} == 0 )) && break
    if (( $(date +%s) >= deadline )); then
      log "WARNING: ${alive[*]} still running after ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "${alive[@]}" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 0.2
  done
  for n in "${names[@]}"; do rm -f "$(pid_file "$mode" "$n")"; done
  log "stopped $mode (${names[*]}) in $(elapsed "$t0")s"
}

# ---------------------------------------------------------------- status

status() {
  local mode n pid port any=0 st
  for mode in single cluster; do
    for n in $(mode_nodes "$mode"); do
      port="$(node_port "$mode" "$n")"
      if pid="$(node_pid "$mode" "$n")"; then
        any=1
        if port_open "$HOST" "$port"; then st="answering"; else st="not answering yet"; fi
        log "$mode/$n: running (pid $pid) on $HOST:$port, $st"
      elif [[ -f "$(pid_file "$mode" "$n")" ]]; then
        log "$mode/$n: not running (stale pid file)"
      fi
    done
  done
  if (( any == 0 )); then
    log "nothing running (version $(kafka_version); jars $(jars_present "$(kafka_version)" && echo present || echo "not fetched"))"
    return 3
  fi
  return 0
}

# ---------------------------------------------------------------- main

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

check_node_arg() {
  [[ "${1:-}" =~ ^[1-3]$ ]] || die "node must be 1, 2 or 3 (got '${1:-}')"
}

main() {
  local cmd="${1:-}"; shift || true
  case "$cmd" in
    fetch)
      take_lock; fetch ;;
    start)
      local mode="${1:-single}"
      [[ "$mode" == single || "$mode" == cluster ]] || die "start: mode must be single or cluster (got '$mode')"
      take_lock; start_nodes "$mode" "$(mode_nodes "$mode")" ;;
    stop)
      local mode=single clean=0 a m
      for a in "$@"; do
        case "$a" in
          --clean) clean=1 ;;
          single|cluster|all) mode="$a" ;;
          *) die "stop: unknown argument '$a'" ;;
        esac
      done
      take_lock
      if [[ "$mode" == all && -z "$(running_nodes single)$(running_nodes cluster)" ]]; then
        log "nothing running"
      fi
      for m in single cluster; do
        [[ "$mode" == all || "$mode" == "$m" ]] || continue
        if [[ "$mode" == all && -z "$(running_nodes "$m")" ]]; then
          rm -f "$CACHE/$m"/run/*.pid 2>/dev/null || true
        else
          stop_nodes "$m" "$(mode_nodes "$m")"
        fi
        if (( clean )) && [[ -d "$CACHE/$m" ]]; then rm -rf "${CACHE:?}/$m"; log "wiped $CACHE/$m"; fi
      done
      ;;
    stop-node)
      check_node_arg "${1:-}"; take_lock; stop_nodes cluster "node$1" ;;
    start-node)
      check_node_arg "${1:-}"
      take_lock
      [[ -n "$(running_nodes cluster)" ]] \
        || die "the cluster is not running; start-node restarts one node of a running cluster. Use: $0 start cluster"
      start_nodes cluster "node$1" ;;
    status)
      status ;;
    -h|--help|help|"")
      usage ;;
    *)
      usage >&2; die "unknown command '$cmd'" ;;
  esac
}

main "$@"; exit $?
