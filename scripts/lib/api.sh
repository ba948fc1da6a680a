# shellcheck shell=bash
# The `api` step of scripts/test (sourced, not executed; needs tools.sh and services.sh):
# schemathesis generates requests from the committed OpenAPI document (docs/openapi.json, kept
# current by local/tests/black_box/server.rs) and sends them to the real canopy-local binary with a dev
# tenant's admin context JWT. Checks: no 5xx, and every answer (status, content type, body)
# conforms to the document. Prints the number of generated cases. Before it, api_items.py
# creates one item of each content kind and checks those answers against their schemas.

# Cases per operation and per phase; bounds the step to a few minutes on 2 busy cores.
API_MAX_EXAMPLES=${CANOPY_API_MAX_EXAMPLES:-5}
# Fixed, so a failure reproduces; override to explore.
API_SEED=${CANOPY_API_SEED:-20261122}
API_PID=

stop_api_server() {
  [[ -n $API_PID ]] || return 0
  local pid=$API_PID
  API_PID=
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# run_api_tests RUN_DIR
run_api_tests() {
  local dir=$1/api port base log token status cases
  mkdir -p "$dir"
  log=$dir/canopy-local.log
  cargo build --quiet -p canopy-local "${locked[@]}" || return 1
  port=$(free_port)
  base="http://127.0.0.1:$port"
  # One region: a generated migration request would move the tenant away mid-run (421 from then
  # on); the residency routes still answer by the document with one region (400 unknown_region).
  CANOPY_LISTEN=127.0.0.1:$port CANOPY_TWO_REGIONS=0 CANOPY_DATA_DIR=$dir/data RUST_LOG=warn \
    setpriv --pdeathsig TERM "${CARGO_TARGET_DIR:-target}/debug/canopy-local" </dev/null >"$log" 2>&1 &
  API_PID=$!
  wait_for_http canopy-local "$base/openapi.json" "$API_PID" "$log" 60
  token=$(curl --silent --fail --request POST --header "content-type: application/json" "$base/dev/install" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["contextJwt"])') || {
    stop_api_server
    return 1
  }
  status=0
  "${SCHEMATHESIS_BIN%/*}/python" scripts/lib/api_items.py "$ROOT/docs/openapi.json" "$base" "$token" || status=1
  # Dev routes play Atlassian (they install tenants and rotate secrets): not part of the API.
  # From the run dir: schemathesis keeps a cache (.schemathesis/) in its working directory.
  (cd "$dir" && "$SCHEMATHESIS_BIN" run "$ROOT/docs/openapi.json" --url "$base" \
    --header "Authorization: JWT $token" \
    --exclude-tag dev \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "$API_MAX_EXAMPLES" --seed "$API_SEED" --workers 1 --no-shrink \
    --suppress-health-check all \
    --report ndjson --report-ndjson-path "$dir/events.ndjson" \
    --output-truncate true) >"$dir/schemathesis.log" 2>&1 || status=$?
  stop_api_server
  cat "$dir/schemathesis.log"
  cases=$(grep -Eo '[0-9]+ generated' "$dir/schemathesis.log" | tail -n 1)
  printf '==== api: %s test cases against %s operations\n' "${cases:-unknown}" \
    "$(python3 -c 'import json; d=json.load(open("docs/openapi.json")); print(sum(1 for p in d["paths"].values() for m in p if not any(t == "dev" for t in p[m].get("tags", []))))')"
  if ((status != 0)); then
    printf 'canopy-local log (last 40 lines):\n' >&2
    tail -n 40 "$log" >&2
  fi
  return "$status"
}
