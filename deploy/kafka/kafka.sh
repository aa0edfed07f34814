#!/usr/bin/env bash
# Real Apache Kafka (KRaft) on 127.0.0.1, without Docker.
#
#   deploy/kafka/kafka.sh fetch              resolve the broker jars from Maven Central (cached)
#   deploy/kafka/kafka.sh up [--cluster]     start one combined broker+controller (or three)
#   deploy/kafka/kafka.sh down [--cluster]   stop it cleanly (SIGTERM, then wait)
#   deploy/kafka/kafka.sh status [--cluster] print what runs, exit 1 when nothing does
#   deploy/kafka/kafka.sh stop-node N        stop node N of the cluster (for failure tests)
#   deploy/kafka/kafka.sh start-node N       start it again and wait until it is ready
#   deploy/kafka/kafka.sh tool NAME ARGS...  run a Kafka CLI tool: topics, console-producer,
#                                            console-consumer, consumer-groups, api-versions
#
# Everything lives under $BRINK_KAFKA_HOME (default: <repo>/.cache/kafka, git-ignored):
# libs/ (jars), single/ and cluster/nodeN/ (config, data, log, pid). Data survives `down`;
# `up` twice leaves one broker; `fetch` twice downloads once.
#
# Environment (all optional; the defaults are the ports and folders above):
#   BRINK_KAFKA_HOME                      where config, data, logs and pid files live
#   BRINK_KAFKA_LIBS                      the jars (default $BRINK_KAFKA_HOME/libs); point a second
#                                         home at the first one's libs to share one download
#   BRINK_KAFKA_PORT, BRINK_KAFKA_CONTROLLER_PORT          single node (9092, 9193)
#   BRINK_KAFKA_CLUSTER_PORTS, BRINK_KAFKA_CLUSTER_CONTROLLER_PORTS
#                                         the cluster's three ports each, space-separated
#                                         ("19092 19093 19094", "19192 19193 19194")
#   BRINK_KAFKA_HEAP                      JVM heap options (-Xms256m -Xmx1g)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
home=${BRINK_KAFKA_HOME:-$repo/.cache/kafka}
libs=${BRINK_KAFKA_LIBS:-$home/libs}
port=${BRINK_KAFKA_PORT:-9092}
controller_port=${BRINK_KAFKA_CONTROLLER_PORT:-9193}
read -r -a cluster_ports <<<"${BRINK_KAFKA_CLUSTER_PORTS:-19092 19093 19094}"
read -r -a cluster_controller_ports <<<"${BRINK_KAFKA_CLUSTER_CONTROLLER_PORTS:-19192 19193 19194}"
if ((${#cluster_ports[@]} != 3 || ${#cluster_controller_ports[@]} != 3)); then
  printf 'kafka: BRINK_KAFKA_CLUSTER_PORTS and BRINK_KAFKA_CLUSTER_CONTROLLER_PORTS need 3 ports each\n' >&2
  exit 2
fi
heap=${BRINK_KAFKA_HEAP:--Xms256m -Xmx1g}

log() { printf 'kafka: %s\n' "$*" >&2; }

fetch() {
  local stamp=$libs/.pom.sha256 want
  want=$(sha256sum "$here/pom.xml" | cut -d' ' -f1)
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || { log "Maven (mvn) is required to fetch the broker jars"; exit 1; }
  log "resolving org.apache.kafka:kafka_2.13 and its runtime dependencies from Maven Central"
  rm -rf "$libs.tmp"
  mkdir -p "$home" "$(dirname "$libs")"
  if ! mvn -q -B -ntp -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs.tmp" >"$home/mvn.log" 2>&1; then
    cat "$home/mvn.log" >&2
    log "Maven could not resolve the broker jars (log above, also in $home/mvn.log)"
    exit 1
  fi
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  echo "$want" >"$stamp"
}

java_run() {  # java_run MAIN_CLASS ARGS...
  local main=$1
  shift
  local java=(java)
  [[ -n ${exec_java:-} ]] && java=(exec java)
  # shellcheck disable=SC2086
  "${java[@]}" $heap -cp "$libs/*" \
    -Dlog4j2.configurationFile="$here/log4j2.properties" \
    -Dkafka.logs.dir="${KAFKA_LOG_DIR:-$home}" \
    "$main" "$@"
}

# write_config DIR NODE_ID BROKER_PORT CONTROLLER_PORT VOTERS REPLICATION MIN_ISR
write_config() {
  local dir=$1 id=$2 bport=$3 cport=$4 voters=$5 rf=$6 isr=$7
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
# Written by deploy/kafka/kafka.sh; edit the script, not this file.
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$bport
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=3
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
# Consumers join at once: tests and the demo start and stop groups often.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
EOF
}

running() {  # running DIR -> 0 when the pid in DIR/kafka.pid is alive
  local pidf=$1/kafka.pid
  [[ -f $pidf ]] && kill -0 "$(cat "$pidf")" 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_node() {  # start_node DIR BROKER_PORT
  local dir=$1 bport=$2
  if running "$dir"; then
    log "already running (pid $(cat "$dir/kafka.pid"), port $bport)"
    return 0
  fi
  if port_open "$bport"; then
    log "port $bport is taken by another process; set BRINK_KAFKA_PORT or stop it"
    exit 1
  fi
  if [[ ! -f $dir/data/meta.properties ]]; then
    local cluster_id
    cluster_id=$(cat "$dir/../cluster.id" 2>/dev/null || true)
    if [[ -z $cluster_id ]]; then
      cluster_id=$(java_run kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
      echo "$cluster_id" >"$dir/../cluster.id"
    fi
    java_run kafka.tools.StorageTool format --ignore-formatted \
      -t "$cluster_id" -c "$dir/server.properties" >"$dir/format.log" 2>&1 \
      || { cat "$dir/format.log" >&2; exit 1; }
  fi
  # exec in a subshell: $! is then the JVM's own pid, so `down` signals the broker itself.
  (KAFKA_LOG_DIR=$dir exec_java=1 java_run kafka.Kafka "$dir/server.properties") \
    >"$dir/kafka.out" 2>&1 </dev/null &
  echo $! >"$dir/kafka.pid"
}

wait_ready() {  # wait_ready DIR BROKER_PORT
  local dir=$1 bport=$2 deadline=$((SECONDS + ${BRINK_KAFKA_START_TIMEOUT:-90}))
  until grep -q "Kafka Server started" "$dir/kafka.out" 2>/dev/null && port_open "$bport"; do
    if ! running "$dir"; then
      log "broker in $dir exited during start; last lines of its log:"
      tail -n 30 "$dir/kafka.out" >&2
      exit 1
    fi
    if ((SECONDS > deadline)); then
      log "broker on port $bport did not start in time; see $dir/kafka.out"
      exit 1
    fi
    sleep 0.3
  done
  log "ready on 127.0.0.1:$bport (pid $(cat "$dir/kafka.pid"), data in $dir/data)"
}

stop_dir() {  # stop_dir DIR
  local dir=$1
  running "$dir" || { rm -f "$dir/kafka.pid"; return 0; }
  local pid
  pid=$(cat "$dir/kafka.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "broker $pid did not stop in 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/kafka.pid"
  log "stopped $dir"
}

cluster_voters() {
  local v="" i
  for i in 0 1 2; do v+="${v:+,}$((i + 1))@127.0.0.1:${cluster_controller_ports[$i]}"; done
  echo "$v"
}

cmd=${1:-}
shift || true
cluster=false
[[ ${1:-} == --cluster ]] && cluster=true

case $cmd in
  fetch) fetch ;;
  up)
    fetch
    if $cluster; then
      voters=$(cluster_voters)
      for i in 0 1 2; do
        write_config "$home/cluster/node$((i + 1))" $((i + 1)) "${cluster_ports[$i]}" \
          "${cluster_controller_ports[$i]}" "$voters" 3 2
        start_node "$home/cluster/node$((i + 1))" "${cluster_ports[$i]}"
      done
      for i in 0 1 2; do wait_ready "$home/cluster/node$((i + 1))" "${cluster_ports[$i]}"; done
      echo "127.0.0.1:${cluster_ports[0]},127.0.0.1:${cluster_ports[1]},127.0.0.1:${cluster_ports[2]}"
    else
      write_config "$home/single/node" 1 "$port" "$controller_port" \
        "1@127.0.0.1:$controller_port" 1 1
      start_node "$home/single/node" "$port"
      wait_ready "$home/single/node" "$port"
      echo "127.0.0.1:$port"
    fi
    ;;
  down)
    if $cluster; then
      # In parallel: stopped one by one, the last node loses its controller quorum and hangs.
      for i in 1 2 3; do stop_dir "$home/cluster/node$i" & done
      wait
    else
      stop_dir "$home/single/node"
    fi
    ;;
  stop-node) stop_dir "$home/cluster/node${1:?node number}" ;;
  start-node)
    n=${1:?node number}
    start_node "$home/cluster/node$n" "${cluster_ports[$((n - 1))]}"
    wait_ready "$home/cluster/node$n" "${cluster_ports[$((n - 1))]}"
    ;;
  status)
    dirs=("$home/single/node")
    $cluster && dirs=("$home/cluster/node1" "$home/cluster/node2" "$home/cluster/node3")
    rc=0
    for d in "${dirs[@]}"; do
      if running "$d"; then echo "running: $d (pid $(cat "$d/kafka.pid"))"; else echo "stopped: $d"; rc=1; fi
    done
    exit $rc
    ;;
  tool)
    fetch
    name=${1:?tool name}
    shift
    case $name in
      topics) main=org.apache.kafka.tools.TopicCommand ;;
      console-producer) main=org.apache.kafka.tools.ConsoleProducer ;;
      console-consumer) main=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
      consumer-groups) main=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
      api-versions) main=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
      *) log "unknown tool $name"; exit 2 ;;
    esac
    heap="-Xms64m -Xmx256m" KAFKA_LOG_DIR=/tmp java_run "$main" "$@"
    ;;
  *)
    sed -n '2,25p' "$0"
    exit 2
    ;;
esac
