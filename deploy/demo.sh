#!/usr/bin/env bash
# Brink's demo: the three services as background processes beside the local Kafka.
#
#   deploy/demo.sh          start (or reuse) ingest, enrichment, alerting and the console, wait until
#                           each is healthy, publish seeds/, show the alerts as they arrive, say
#                           what next (the console's URL among it)
#   deploy/demo.sh stop     stop what this script started (by its pid files), nothing else
#   deploy/demo.sh status   show which of them run
#
# When the `prometheus` binary is installed (`make tools`), the demo also runs Prometheus on
# 127.0.0.1:9090 with deploy/prometheus's local scrape config and Brink's alert rules.
#
# `make demo` runs `make setup kafka-up` first; `make down` runs `deploy/demo.sh stop`.
# Logs, pid files and state live in $BRINK_DEMO_DIR (default .cache/demo, git-ignored).
#
# Topics: a demo run that starts the services picks a fresh prefix (demo-<time>.) and keeps it in
# $BRINK_DEMO_DIR/env for as long as they run, so every cold run shows the seeds flowing through
# from scratch. A second `make demo` while they run reuses them: the seeds are published again,
# ingest recognises them as duplicates, and the alerts shown are those raised so far (read from
# the beginning of the alerts topic). `make down` then `make demo` starts afresh.
#
# Settings (environment): BRINK_BOOTSTRAP_SERVERS (127.0.0.1:9092), BRINK_DEMO_DIR,
# BRINK_DEMO_PORTS ("9101 9102 9103": ingest, enrichment, alerting /metrics and /healthz),
# BRINK_DEMO_HTTP_PORT (8080: ingest's POST /articles), BRINK_DEMO_CONSOLE_PORT (9104: the analyst
# console's pages, API and /metrics), BRINK_DEMO_START_TIMEOUT (180 s per
# service), BRINK_DEMO_WAIT (120 s at most for the first alert), BRINK_DEMO_IDLE (stop showing
# alerts after this many quiet seconds, 10), BRINK_DEMO_PUBLISH (what to publish, seeds/),
# BRINK_DEMO_PROMETHEUS_PORT (9090; "off": no Prometheus).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
demo=${BRINK_DEMO_DIR:-$repo/.cache/demo}
py=${BRINK_DEMO_PYTHON:-$repo/.venv/bin/python}
brink=("$py" -m services.cli)
services=(ingest enrichment alerting)
# While a demo runs, its env file holds its topic prefix and ports: status, stop and a second run
# use those, whatever this shell says.
# shellcheck disable=SC1091
[[ -f $demo/env ]] && source "$demo/env"
read -r -a ports <<<"${BRINK_DEMO_PORTS:-9101 9102 9103}"
http_port=${BRINK_DEMO_HTTP_PORT:-8080}
start_timeout=${BRINK_DEMO_START_TIMEOUT:-180}
first_wait=${BRINK_DEMO_WAIT:-120}
idle=${BRINK_DEMO_IDLE:-10}
publish=${BRINK_DEMO_PUBLISH:-seeds/}
prom_port=${BRINK_DEMO_PROMETHEUS_PORT:-9090}
console_port=${BRINK_DEMO_CONSOLE_PORT:-9104}
# The console reads what the pipeline writes; it is started after the three, and stopped with them.
managed=("${services[@]}" console prometheus)
export BRINK_BOOTSTRAP_SERVERS=${BRINK_BOOTSTRAP_SERVERS:-127.0.0.1:9092}

if [[ -t 1 ]]; then
  bold=$'\e[1m' dim=$'\e[2m' red=$'\e[31m' green=$'\e[32m' off=$'\e[0m'
else
  bold='' dim='' red='' green='' off=''
fi
say() { printf '%s==>%s %s\n' "$bold" "$off" "$*"; }
fail() { printf '%sdemo: %s%s\n' "$red" "$*" "$off" >&2; exit 1; }

port_of() {  # port_of SERVICE
  local i
  [[ $1 == console ]] && echo "$console_port"
  for i in "${!services[@]}"; do
    if [[ ${services[$i]} == "$1" ]]; then echo "${ports[$i]}"; fi
  done
}

# What the command line of NAME's process contains, to tell it from a process reusing its pid.
signature() {
  if [[ $1 == prometheus ]]; then echo "--config.file=$demo/prometheus.yml"; else echo "-m services.$1"; fi
}

# pid of NAME when it runs from this demo dir (the pid file's process is that program), else "".
demo_pid() {
  local name=$1 pidf=$demo/$1.pid pid
  [[ -f $pidf ]] || return 0
  pid=$(cat "$pidf")
  if [[ -n $pid ]] && live "$pid" &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(signature "$name")"; then
    echo "$pid"
  fi
}

healthy() { http_ok "http://127.0.0.1:$1/healthz"; }  # healthy PORT

http_ok() {  # http_ok URL -> 0 when it answers 2xx
  local url=$1
  if command -v curl >/dev/null; then
    curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null
  else
    "$py" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$url" \
      2>/dev/null
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# live PID -> 0 while the process exists and is not a zombie waiting to be reaped.
live() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

start_service() {  # start_service NAME PORT
  local name=$1 port=$2 log=$demo/$1.log
  if port_open "$port"; then
    local knob=BRINK_DEMO_PORTS
    [[ $name == console ]] && knob=BRINK_DEMO_CONSOLE_PORT
    fail "port $port (for $name) is taken by a process the demo did not start; stop it or set $knob"
  fi
  if [[ $name == ingest ]] && port_open "$http_port"; then
    fail "port $http_port (ingest's HTTP API) is taken; stop that process or set BRINK_DEMO_HTTP_PORT"
  fi
  mkdir -p "$demo/state/$name"
  printf '\n=== %s: started by deploy/demo.sh at %s ===\n' "$name" "$(date -u +%FT%TZ)" >>"$log"
  rm -f "$demo/$name.pid"
  # Own session (setsid): Ctrl-C on the demo leaves the services running until `make down`.
  # The inner shell writes its pid and execs Python, so the pid file names the service itself.
  # shellcheck disable=SC2016  # $$ and $@ are the inner shell's
  BRINK_METRICS_PORT=$port BRINK_HTTP_PORT=$http_port BRINK_STATE_DIR=$demo/state/$name \
    setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$demo/$name.pid" \
    "$py" -m "services.$name" >>"$log" 2>&1 </dev/null &
  local deadline=$((SECONDS + 10))
  until [[ -s $demo/$name.pid ]]; do
    ((SECONDS < deadline)) || fail "$name did not start; see $log"
    sleep 0.1
  done
}

wait_healthy() {  # wait_healthy NAME PORT
  local name=$1 port=$2 deadline=$((SECONDS + start_timeout))
  until healthy "$port"; do
    if [[ -z $(demo_pid "$name") ]]; then
      printf '\n%s%s exited during start; last lines of %s:%s\n' "$red" "$name" "$demo/$name.log" "$off" >&2
      tail -n 40 "$demo/$name.log" >&2
      echo "(the other services keep running; \`make down\` stops them)" >&2
      exit 1
    fi
    if ((SECONDS > deadline)); then
      printf '\n%s%s not healthy after %ss; last lines of %s:%s\n' "$red" "$name" "$start_timeout" \
        "$demo/$name.log" "$off" >&2
      tail -n 40 "$demo/$name.log" >&2
      echo "(the other services keep running; \`make down\` stops them)" >&2
      exit 1
    fi
    sleep 0.5
  done
}

# Prometheus beside the demo (optional): the local config with the demo's ports, Brink's rules.
start_prometheus() {
  prom_url=""
  [[ $prom_port == off ]] && return 0
  if ! command -v prometheus >/dev/null; then
    echo "    prometheus  not installed (make tools installs it); skipped"
    return 0
  fi
  if [[ -z $(demo_pid prometheus) ]]; then
    if port_open "$prom_port"; then
      echo "    prometheus  port $prom_port is taken; skipped (set BRINK_DEMO_PROMETHEUS_PORT)"
      return 0
    fi
    sed -e "s#127.0.0.1:9101#127.0.0.1:${ports[0]}#; s#127.0.0.1:9102#127.0.0.1:${ports[1]}#" \
      -e "s#127.0.0.1:9103#127.0.0.1:${ports[2]}#; s#127.0.0.1:9104#127.0.0.1:${console_port}#" \
      -e "s#^  - rules.yml#  - $repo/deploy/prometheus/rules.yml#" \
      deploy/prometheus/prometheus-local.yml >"$demo/prometheus.yml"
    # shellcheck disable=SC2016  # $$ and $@ are the inner shell's
    setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$demo/prometheus.pid" \
      prometheus --config.file="$demo/prometheus.yml" --storage.tsdb.path="$demo/prometheus" \
      --web.listen-address="127.0.0.1:$prom_port" >>"$demo/prometheus.log" 2>&1 </dev/null &
  fi
  local deadline=$((SECONDS + 30))
  until http_ok "http://127.0.0.1:$prom_port/-/ready"; do
    if ((SECONDS > deadline)) || { [[ -s $demo/prometheus.pid ]] && [[ -z $(demo_pid prometheus) ]]; }; then
      echo "    prometheus  did not start; see ${demo#"$repo"/}/prometheus.log (skipped)"
      return 0
    fi
    sleep 0.3
  done
  prom_url="http://127.0.0.1:$prom_port"
  printf '    %-11s %sready%s    pid %s  %s/alerts  %slog %s%s\n' prometheus "$green" "$off" \
    "$(demo_pid prometheus)" "$prom_url" "$dim" "${demo#"$repo"/}/prometheus.log" "$off"
}

stop() {
  local name pid
  local -A pids=()
  for name in "${managed[@]}"; do
    pid=$(demo_pid "$name")
    if [[ -n $pid ]]; then
      pids[$name]=$pid
      kill -TERM "$pid" 2>/dev/null || true
    fi
    rm -f "$demo/$name.pid"
  done
  for name in "${managed[@]}"; do
    pid=${pids[$name]:-}
    [[ -n $pid ]] || continue
    for _ in $(seq 1 150); do
      live "$pid" || break
      sleep 0.2
    done
    if live "$pid"; then
      echo "demo: $name ($pid) did not stop in 30 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "demo: stopped $name ($pid)"
  done
  rm -f "$demo/env"
  [[ ${#pids[@]} -gt 0 ]] || echo "demo: no demo service was running"
}

# At a glance: for each service, whether it runs and is healthy, its consumer lag (records not
# yet processed, all partitions) and what it has done so far, read from its own /metrics.
status() {
  local name pid port rc=0 metrics
  for name in "${managed[@]}"; do
    pid=$(demo_pid "$name")
    if [[ -z $pid ]]; then
      if [[ $name != prometheus ]]; then
        echo "stopped: $name"
        rc=1
      fi
      continue
    fi
    if [[ $name == prometheus ]]; then
      echo "running: prometheus (pid $pid) http://127.0.0.1:$prom_port/alerts"
      continue
    fi
    port=$(port_of "$name")
    if ! healthy "$port"; then
      echo "running: $name (pid $pid) ${red}unhealthy${off}: curl http://127.0.0.1:$port/healthz"
      rc=1
      continue
    fi
    metrics=$(curl -fsS --max-time 3 "http://127.0.0.1:$port/metrics" 2>/dev/null || true)
    printf 'running: %-10s (pid %s) %shealthy%s, %s\n' "$name" "$pid" "$green" "$off" "$(
      awk -v svc="$name" '
        function add(key, v) { sum[key] += v }
        $1 ~ "^brink_" svc "_consumer_lag\\{" { add("lag", $2) }
        $1 ~ "^brink_" svc "_dead_lettered_total" { add("dead letters", $2) }
        $1 ~ "^brink_ingest_published_total$" { add("articles out", $2) }
        $1 ~ "^brink_enrichment_articles_total" { add("articles out", $2) }
        $1 ~ "^brink_alerting_articles_total$" { add("articles in", $2) }
        $1 ~ "^brink_alerting_alerts_total" { add("alerts", $2) }
        $1 ~ "^brink_console_records_total$" { add("records in", $2) }
        END {
          n = split("lag|articles in|articles out|records in|alerts|dead letters", keys, "|")
          for (i = 1; i <= n; i++) if (keys[i] in sum) out = out sprintf("%s%s %d", out ? ", " : "", keys[i], sum[keys[i]])
          print out
        }' <<<"$metrics"
    )"
  done
  return $rc
}

# Show alerts as they arrive: from the beginning of the alerts topic, until `idle` seconds pass
# without a new line after the first alert (or `first_wait` seconds with none). Ctrl-C ends it.
show_alerts() {
  local out=$demo/alerts.out reader="" tailer="" size last_size=0 last_change=$SECONDS start=$SECONDS
  : >"$out"
  # Unbuffered: the reader is stopped with SIGTERM, and what it printed must already be in $out.
  # Colours and width of this terminal, although it writes to a file.
  local tty_env=(PYTHONUNBUFFERED=1)
  [[ -t 1 ]] && tty_env+=(FORCE_COLOR=1 "COLUMNS=$(tput cols 2>/dev/null || echo 100)")
  tail -n +1 -f --pid=$$ "$out" &
  tailer=$!
  local stopped_by_user=0
  trap 'stopped_by_user=1' INT TERM
  while ((!stopped_by_user)); do
    if [[ -z $reader ]] || ! kill -0 "$reader" 2>/dev/null; then
      # (Re)start the reader: it ends by itself only when it cannot see the topic yet.
      env "${tty_env[@]}" "${brink[@]}" alerts --from-beginning --follow >>"$out" 2>&1 </dev/null &
      reader=$!
    fi
    sleep 1 || true
    size=$(stat -c %s "$out")
    if ((size != last_size)); then
      last_size=$size
      last_change=$SECONDS
    fi
    if ((size > 0 && SECONDS - last_change >= idle)); then break; fi
    if ((size == 0 && SECONDS - start >= first_wait)); then
      printf '%sno alert within %ss; the services logs may say why (%s/*.log)%s\n' \
        "$red" "$first_wait" "$demo" "$off" >&2
      break
    fi
  done
  kill "$reader" 2>/dev/null || true
  wait "$reader" 2>/dev/null || true
  sleep 0.3  # let tail print the last lines
  kill "$tailer" 2>/dev/null || true
  wait "$tailer" 2>/dev/null || true
  trap - INT TERM
  [[ -s $out ]]
}

demo() {
  mkdir -p "$demo"
  [[ -x $py ]] || fail "$py missing: run \`make setup\` (make demo does)"
  [[ ${#ports[@]} -eq 3 ]] || fail "BRINK_DEMO_PORTS needs three ports (ingest enrichment alerting)"
  local name port running=() started=()
  for name in "${services[@]}"; do
    [[ -n $(demo_pid "$name") ]] && running+=("$name")
  done
  if [[ ${#running[@]} -gt 0 && -f $demo/env ]]; then
    say "reusing the demo services already running (${running[*]}), topics prefixed '$BRINK_TOPIC_PREFIX'"
  else
    stop >/dev/null  # leftovers of a half-started demo
    BRINK_TOPIC_PREFIX="demo-$(date -u +%Y%m%d-%H%M%S)."
    cat >"$demo/env" <<EOF
export BRINK_TOPIC_PREFIX=$BRINK_TOPIC_PREFIX
export BRINK_DEMO_PORTS="${ports[*]}" BRINK_DEMO_HTTP_PORT=$http_port BRINK_DEMO_PROMETHEUS_PORT=$prom_port
export BRINK_DEMO_CONSOLE_PORT=$console_port
EOF
    say "fresh demo pipeline: topics prefixed '$BRINK_TOPIC_PREFIX' on $BRINK_BOOTSTRAP_SERVERS"
  fi
  export BRINK_TOPIC_PREFIX
  local t0=$SECONDS
  for name in "${services[@]}"; do
    port=$(port_of "$name")
    if [[ -z $(demo_pid "$name") ]]; then
      start_service "$name" "$port"
      started+=("$name")
    fi
  done
  for name in "${services[@]}"; do
    port=$(port_of "$name")
    printf '    %-11s ' "$name"
    wait_healthy "$name" "$port"
    printf '%shealthy%s  pid %s  http://127.0.0.1:%s/metrics  %slog %s%s\n' "$green" "$off" \
      "$(demo_pid "$name")" "$port" "$dim" "${demo#"$repo"/}/$name.log" "$off"
  done
  if [[ -z $(demo_pid console) ]]; then
    start_service console "$console_port"
    started+=(console)
  fi
  printf '    %-11s ' console
  wait_healthy console "$console_port"
  printf '%shealthy%s  pid %s  http://127.0.0.1:%s/  %slog %s%s\n' "$green" "$off" \
    "$(demo_pid console)" "$console_port" "$dim" "${demo#"$repo"/}/console.log" "$off"
  [[ ${#started[@]} -gt 0 ]] && say "services up in $((SECONDS - t0)) s"
  start_prometheus

  say "publishing $publish (the bad/ inputs go to the dead-letter topic, as they should)"
  "${brink[@]}" publish "$publish"

  say "alerts as they arrive (stops after ${idle}s without a new one; Ctrl-C to stop sooner)"
  local shown=0
  show_alerts && shown=1

  local p=${BRINK_TOPIC_PREFIX} prom_line
  if [[ -n $prom_url ]]; then
    prom_line="  Prometheus  $prom_url  (Brink's own alert rules: $prom_url/alerts)"
  else
    prom_line="  Prometheus  prometheus --config.file=deploy/prometheus/prometheus-local.yml"
  fi
  cat <<EOF

${bold}Brink is running${off} (topics prefixed '$p'; stop everything with ${bold}make down${off}).
  console     ${bold}http://127.0.0.1:$console_port/${off}  (live alerts, evidence highlighted, explain, silences; docs/console.md)
  metrics     http://127.0.0.1:${ports[0]}/metrics  (ingest)
              http://127.0.0.1:${ports[1]}/metrics  (enrichment)
              http://127.0.0.1:${ports[2]}/metrics  (alerting)
              http://127.0.0.1:$console_port/metrics  (console)
  logs        ${demo#"$repo"/}/{ingest,enrichment,alerting,console}.log
  your own    BRINK_TOPIC_PREFIX=$p .venv/bin/brink publish FILE|DIR|-
  articles    curl -X POST http://127.0.0.1:$http_port/articles -H 'Content-Type: application/json' \\
                -d '{"title": "...", "text": "..."}'
  alerts      BRINK_TOPIC_PREFIX=$p .venv/bin/brink alerts --from-beginning --follow
              (or: source ${demo#"$repo"/}/env, then plain .venv/bin/brink ...)
$prom_line
  more        docs/operations.md (dashboards, alert rules, docker compose, scaling)
EOF
  ((shown)) || exit 1
}

case ${1:-demo} in
  demo | start) demo ;;
  stop) stop ;;
  status) status ;;
  *)
    sed -n '2,8p' "$0"
    exit 2
    ;;
esac
