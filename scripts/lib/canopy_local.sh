# shellcheck shell=bash
# The local server as the benchmarks run it (sourced by scripts/bench and scripts/soak). Needs
# tools.sh and services.sh (and DynamoDB Local started, for the dynamodb store).

CANOPY_LOCAL_PID=
CANOPY_LOCAL_PORT=

# start_canopy_local BIN STORE DATA_DIR LOG: canopy-local on a free loopback port, one region,
# RUST_LOG=warn, on its embedded store in DATA_DIR or on the DynamoDB Local at $DYNAMODB_PORT
# (table canopy-bench, which the server creates). Sets CANOPY_LOCAL_PID and CANOPY_LOCAL_PORT.
start_canopy_local() {
  local bin=$1 store=$2 data=$3 log=$4 store_env=()
  CANOPY_LOCAL_PORT=$(free_port)
  mkdir -p "$data"
  if [[ $store == dynamodb ]]; then
    # DynamoDB Local keeps one database per access key: a fixed one, in a fresh in-memory server.
    store_env=(CANOPY_STORE=dynamodb "CANOPY_DYNAMODB_ENDPOINT=http://127.0.0.1:$DYNAMODB_PORT"
      CANOPY_TABLE=canopy-bench AWS_ACCESS_KEY_ID=canopybench AWS_SECRET_ACCESS_KEY=canopybench
      AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true)
  fi
  # --pdeathsig: the server stops even if the shell is killed before its EXIT trap runs. One
  # region, as every earlier run measured (the second would only add an idle listener).
  env "${store_env[@]}" CANOPY_LISTEN="127.0.0.1:$CANOPY_LOCAL_PORT" CANOPY_TWO_REGIONS=0 CANOPY_DATA_DIR="$data" \
    RUST_LOG=warn setpriv --pdeathsig TERM "$bin" </dev/null >"$log" 2>&1 &
  CANOPY_LOCAL_PID=$!
  wait_for_http "canopy-local ($store store)" "http://127.0.0.1:$CANOPY_LOCAL_PORT/atlassian-connect.json" \
    "$CANOPY_LOCAL_PID" "$log" 60
}
