# shellcheck shell=bash
# Local servers the tests talk to (sourced by scripts/test, not executed). Needs tools.sh.

DYNAMODB_PID=
DYNAMODB_PORT=
S3_PID=
S3_PORT=

# A port free on every interface: DynamoDB Local has no bind option and listens on all of them.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'
}

# running PID: alive and not yet a zombie.
running() {
  local state
  [[ -r /proc/$1/stat ]] && read -r _ _ state _ <"/proc/$1/stat" 2>/dev/null && [[ $state != Z ]]
}

# wait_for_http NAME URL PID LOG SECONDS: any HTTP answer counts as up.
wait_for_http() {
  local name=$1 url=$2 pid=$3 log=$4 seconds=$5
  local deadline=$((SECONDS + seconds))
  until curl --silent --output /dev/null --max-time 1 "$url"; do
    running "$pid" || service_failed "$name exited before answering on $url" "$log"
    ((SECONDS < deadline)) || service_failed "$name did not answer on $url within $seconds s" "$log"
    sleep 0.1
  done
  # A server that lost its port to another process exits: make sure the answer was its own.
  running "$pid" || service_failed "$name exited (was its port taken?)" "$log"
}

service_failed() {
  printf 'error: %s; last lines of %s:\n' "$1" "$2" >&2
  tail -n 40 "$2" >&2 || true
  exit 1
}

# start_dynamodb_local JAR WORK_DIR: sets DYNAMODB_PID and DYNAMODB_PORT.
start_dynamodb_local() {
  local jar=$1 dir=$2 log=$2/dynamodb-local.log
  DYNAMODB_PORT=$(free_port)
  # JVM flags from TOOLCHAIN.md (-Xmx stops it growing past 300 MB). 90 s to answer: a JVM start
  # on a loaded 2-core machine has been seen to take over 30 s. The parent-death signal
  # stops it even when this shell dies without running its EXIT trap (SIGKILL).
  (cd "$dir" && exec setpriv --pdeathsig TERM java -Xms64m -Xmx512m -XX:TieredStopAtLevel=1 \
    -Djava.library.path="${jar%/*}/DynamoDBLocal_lib" -jar "$jar" \
    -inMemory -port "$DYNAMODB_PORT" -disableTelemetry) </dev/null >"$log" 2>&1 &
  DYNAMODB_PID=$!
  wait_for_http "DynamoDB Local" "http://127.0.0.1:$DYNAMODB_PORT/" "$DYNAMODB_PID" "$log" 90
}

# Safe to call more than once and when nothing was started.
stop_dynamodb_local() {
  [[ -n $DYNAMODB_PID ]] || return 0
  local pid=$DYNAMODB_PID i
  DYNAMODB_PID=
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    running "$pid" || break
    sleep 0.1
  done
  running "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

# start_s3s_fs BIN WORK_DIR: sets S3_PID, S3_PORT, S3_ACCESS_KEY, S3_SECRET_KEY. Always with keys:
# without them s3s-fs accepts anonymous requests and would check no signature.
start_s3s_fs() {
  local bin=$1 dir=$2/s3 log=$2/s3s-fs.log
  mkdir -p "$dir"
  S3_PORT=$(free_port)
  S3_ACCESS_KEY=canopytest$RANDOM$RANDOM
  S3_SECRET_KEY=secret$RANDOM$RANDOM$RANDOM
  setpriv --pdeathsig TERM "$bin" --host 127.0.0.1 --port "$S3_PORT" \
    --access-key "$S3_ACCESS_KEY" --secret-key "$S3_SECRET_KEY" "$dir" </dev/null >"$log" 2>&1 &
  S3_PID=$!
  wait_for_http "s3s-fs" "http://127.0.0.1:$S3_PORT/" "$S3_PID" "$log" 20
}

stop_s3s_fs() {
  [[ -n $S3_PID ]] || return 0
  local pid=$S3_PID
  S3_PID=
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
