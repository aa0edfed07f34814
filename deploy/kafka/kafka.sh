#!/usr/bin/env bash
# Real Apache Kafka (KRaft) on 127.0.0.1, without Docker.
#
#   deploy/kafka/kafka.sh fetch              resolve the broker jars from Maven Central (cached)
#   deploy/kafka/kafka.sh up [--cluster|--secure]     start one combined broker+controller
#                                            (three with --cluster; SASL_SSL + ACLs with --secure)
#   deploy/kafka/kafka.sh down [--cluster|--secure]   stop it cleanly (SIGTERM, then wait)
#   deploy/kafka/kafka.sh status [--cluster|--secure] print what runs, exit 1 when nothing does
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
#   BRINK_KAFKA_SECURE_PORT, BRINK_KAFKA_MTLS_PORT, BRINK_KAFKA_SECURE_CONTROLLER_PORT
#                                         --secure: SASL_SSL (9093), mutual-TLS (9094) and
#                                         controller (9194) ports
#   BRINK_KAFKA_SECURE_USERS              --secure: SCRAM users made at first start
#                                         ("admin ingest enrichment alerting publisher reader")
#
# --secure (docs/security.md, "Secure deployment"): a broker in $BRINK_KAFKA_HOME/secure/ whose
# clients must use SASL_SSL with SCRAM-SHA-512 (port above) or TLS with a client certificate
# (mutual-TLS port); the StandardAuthorizer denies what no ACL allows (deploy/kafka/acls.sh
# grants each service its share). At first start the script makes, under secure/tls/, a CA,
# the broker's certificate and one client certificate per user (openssl, keytool), and under
# secure/secrets/ one random password per user (mode 600); the SCRAM users are written into
# the storage when it is formatted. A certificate's CN is its Kafka user (User:ingest), so the
# ACLs are the same over either port. secure/admin.properties is a client config for Kafka's
# tools; secure/env/<user>.env the BRINK_* variables a service needs to connect as <user>.
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
secure_port=${BRINK_KAFKA_SECURE_PORT:-9093}
mtls_port=${BRINK_KAFKA_MTLS_PORT:-9094}
secure_controller_port=${BRINK_KAFKA_SECURE_CONTROLLER_PORT:-9194}
read -r -a secure_users <<<"${BRINK_KAFKA_SECURE_USERS:-admin ingest enrichment alerting publisher reader}"
sdir=$home/secure

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

# ---------------------------------------------------------------- --secure
# make_cert NAME CN [SAN]: a key and a certificate signed by the CA, in $sdir/tls/NAME.{key,crt}
make_cert() {
  local name=$1 cn=$2 san=${3:-} t=$sdir/tls
  [[ -f $t/$name.crt ]] && return 0
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$t/$name.key" -subj "/CN=$cn" -out "$t/$name.csr" 2>/dev/null
  local ext=$t/$name.ext
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"
    [[ -n $san ]] && echo "subjectAltName=$san"
  } >"$ext"
  openssl x509 -req -in "$t/$name.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial \
    -days 825 -sha256 -extfile "$ext" -out "$t/$name.crt" 2>/dev/null
  rm -f "$t/$name.csr" "$ext"
  chmod 600 "$t/$name.key"
}

secret() {  # secret NAME -> the random secret in $sdir/secrets/NAME (made once)
  local f=$sdir/secrets/$1
  if [[ ! -s $f ]]; then
    (umask 077 && openssl rand -hex 24 >"$f")
  fi
  cat "$f"
}

# make_secure_material: CA, broker and client certificates, keystores, passwords (all once)
make_secure_material() {
  local t=$sdir/tls
  mkdir -p "$t" "$sdir/secrets" "$sdir/env"
  chmod 700 "$sdir/secrets" "$t" "$sdir/env"
  if [[ ! -f $t/ca.crt ]]; then
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout "$t/ca.key" -subj "/CN=Brink test CA" -days 825 -sha256 \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out "$t/ca.crt" 2>/dev/null
    chmod 600 "$t/ca.key"
  fi
  make_cert broker broker "IP:127.0.0.1,DNS:localhost"
  local store_pw
  store_pw=$(secret keystore)
  if [[ ! -f $t/broker.p12 ]]; then
    openssl pkcs12 -export -in "$t/broker.crt" -inkey "$t/broker.key" -certfile "$t/ca.crt" \
      -name broker -passout "pass:$store_pw" -out "$t/broker.p12"
    chmod 600 "$t/broker.p12"
  fi
  if [[ ! -f $t/truststore.p12 ]]; then
    keytool -importcert -noprompt -alias brink-ca -file "$t/ca.crt" -storetype PKCS12 \
      -keystore "$t/truststore.p12" -storepass "$store_pw" >/dev/null 2>&1
  fi
  local u
  for u in "${secure_users[@]}"; do
    make_cert "$u" "$u"
    secret "$u" >/dev/null
    cat >"$sdir/env/$u.env" <<EOF
# Connect to the --secure broker as $u with SCRAM-SHA-512 over TLS (written by kafka.sh).
BRINK_BOOTSTRAP_SERVERS=127.0.0.1:$secure_port
BRINK_SECURITY_PROTOCOL=SASL_SSL
BRINK_SASL_MECHANISM=SCRAM-SHA-512
BRINK_SASL_USERNAME=$u
BRINK_SASL_PASSWORD=$(secret "$u")
BRINK_SSL_CAFILE=$t/ca.crt
EOF
    cat >"$sdir/env/$u-mtls.env" <<EOF
# Connect to the --secure broker as $u with a client certificate (mutual TLS).
BRINK_BOOTSTRAP_SERVERS=127.0.0.1:$mtls_port
BRINK_SECURITY_PROTOCOL=SSL
BRINK_SSL_CAFILE=$t/ca.crt
BRINK_SSL_CERTFILE=$t/$u.crt
BRINK_SSL_KEYFILE=$t/$u.key
EOF
    chmod 600 "$sdir/env/$u.env" "$sdir/env/$u-mtls.env"
  done
  (umask 077 && cat >"$sdir/admin.properties" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(secret admin)";
ssl.truststore.type=PEM
ssl.truststore.location=$t/ca.crt
EOF
  )
}

write_secure_config() {  # the broker's config; every listener is TLS, clients must authenticate
  local dir=$sdir/node t=$sdir/tls store_pw
  store_pw=$(secret keystore)
  mkdir -p "$dir/data"
  (umask 077 && cat >"$dir/server.properties" <<EOF
# Written by deploy/kafka/kafka.sh up --secure; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$secure_controller_port
listeners=SASL_SSL://127.0.0.1:$secure_port,MTLS://127.0.0.1:$mtls_port,CONTROLLER://127.0.0.1:$secure_controller_port
advertised.listeners=SASL_SSL://127.0.0.1:$secure_port,MTLS://127.0.0.1:$mtls_port
controller.listener.names=CONTROLLER
listener.security.protocol.map=SASL_SSL:SASL_SSL,MTLS:SSL,CONTROLLER:SSL
# The broker talks to itself and to its controller with its own certificate (User:broker).
inter.broker.listener.name=MTLS
ssl.keystore.type=PKCS12
ssl.keystore.location=$t/broker.p12
ssl.keystore.password=$store_pw
ssl.key.password=$store_pw
ssl.truststore.type=PKCS12
ssl.truststore.location=$t/truststore.p12
ssl.truststore.password=$store_pw
ssl.enabled.protocols=TLSv1.3,TLSv1.2
ssl.client.auth=none
listener.name.mtls.ssl.client.auth=required
listener.name.controller.ssl.client.auth=required
# A certificate's CN is its user name: CN=ingest -> User:ingest, as with SCRAM.
ssl.principal.mapping.rules=RULE:^CN=([a-zA-Z0-9._-]+)\$/\$1/,DEFAULT
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
# A failed login is answered a second later (default 100 ms), the connection closed right
# after the answer: password guessing slows down.
connection.failed.authentication.delay.ms=1000
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:broker
log.dirs=$dir/data
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Topics are created by the admin or by a service allowed CREATE on its own names.
auto.create.topics.enable=false
log.retention.hours=168
EOF
  )
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
      -t "$cluster_id" -c "$dir/server.properties" "${format_extra[@]}" >"$dir/format.log" 2>&1 \
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
secure=false
[[ ${1:-} == --cluster ]] && cluster=true
[[ ${1:-} == --secure ]] && secure=true
format_extra=()

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
    elif $secure; then
      command -v openssl >/dev/null || { log "openssl is required for --secure"; exit 1; }
      command -v keytool >/dev/null || { log "keytool (JDK) is required for --secure"; exit 1; }
      make_secure_material
      write_secure_config
      for u in "${secure_users[@]}"; do  # SCRAM users are written into the fresh storage
        format_extra+=(--add-scram "SCRAM-SHA-512=[name=$u,password=$(secret "$u")]")
      done
      start_node "$sdir/node" "$secure_port"
      wait_ready "$sdir/node" "$secure_port"
      echo "127.0.0.1:$secure_port"
    else
      write_config "$home/single/node" 1 "$port" "$controller_port" \
        "1@127.0.0.1:$controller_port" 1 1
      start_node "$home/single/node" "$port"
      wait_ready "$home/single/node" "$port"
      echo "127.0.0.1:$port"
    fi
    ;;
  down)
    if $secure; then
      stop_dir "$sdir/node"
    elif $cluster; then
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
    $secure && dirs=("$sdir/node")
    rc=0
    for d in "${dirs[@]}"; do
      if running "$d"; then echo "running: $d (pid $(cat "$d/kafka.pid"))"; else echo "stopped: $d"; rc=1; fi
    done
    exit $rc
    ;;
  tool)
    fetch
    tool_config=()
    if [[ ${1:-} == --secure ]]; then  # as the admin user over TLS: --command-config for the tool
      shift
      tool_config=(--command-config "$sdir/admin.properties")
    fi
    name=${1:?tool name}
    shift
    case $name in
      topics) main=org.apache.kafka.tools.TopicCommand ;;
      console-producer) main=org.apache.kafka.tools.ConsoleProducer ;;
      console-consumer) main=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
      consumer-groups) main=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
      api-versions) main=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
      acls) main=org.apache.kafka.tools.AclCommand ;;
      configs) main=kafka.admin.ConfigCommand ;;
      *) log "unknown tool $name"; exit 2 ;;
    esac
    heap="-Xms64m -Xmx256m" KAFKA_LOG_DIR=/tmp java_run "$main" "${tool_config[@]}" "$@"
    ;;
  *)
    sed -n '2,41p' "$0"
    exit 2
    ;;
esac
