# shellcheck shell=bash disable=SC2034 # it sets variables for the sourcing script
# The admin console's browser tests (sourced by scripts/test, not executed). Needs tools.sh.
#
# The browser is Debian's `chromium`, installed from the distribution's packages when missing:
# a test tool's own browser download does not work on these machines. The console's dev
# dependencies (playwright-core, typescript, axe-core; console/package-lock.json) are installed
# once per lock file into the tool cache; nothing the console serves needs them.

CHROMIUM_BIN=${CANOPY_CHROMIUM:-/usr/bin/chromium}

# ensure_chromium: installs Debian's chromium when missing (as root, or through sudo).
ensure_chromium() {
  [[ -x $CHROMIUM_BIN ]] && return 0
  log "installing chromium from Debian's packages"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo -n)
  if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2 \
    || { "${sudo[@]}" apt-get update >&2 \
      && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2; }; }; then
    die "could not install chromium (apt-get install chromium); the browser tests need it at $CHROMIUM_BIN"
  fi
  [[ -x $CHROMIUM_BIN ]] || die "chromium installed but $CHROMIUM_BIN is missing; set CANOPY_CHROMIUM"
}

# ensure_console_node_modules: sets CONSOLE_NODE_MODULES, keyed by the lock file's hash.
ensure_console_node_modules() {
  local lock_hash dir
  lock_hash=$(sha256sum console/package-lock.json | cut -c1-16)
  dir="$TOOLS_DIR/console-node-$lock_hash"
  if [[ ! -d $dir/node_modules ]]; then
    log "installing the console's dev dependencies (npm ci) into $dir"
    new_staging_dir ".tmp-console-node-$lock_hash"
    cp console/package.json console/package-lock.json "$STAGING/"
    (cd "$STAGING" && npm ci --no-audit --no-fund --no-update-notifier --loglevel=error >&2) \
      || die "npm ci of console/package-lock.json failed"
    rm -rf -- "$dir"
    mv -T "$STAGING" "$dir" 2>/dev/null || [[ -d $dir/node_modules ]] || die "could not publish $dir"
  fi
  CONSOLE_NODE_MODULES="$dir/node_modules"
}

# browser_tests: type-checks the console's scripts, builds the local server and runs the
# browser tests against it (console/tests/). Screenshots go to target/console-screenshots.
browser_tests() {
  local locked=()
  [[ -f Cargo.lock ]] && locked=(--locked)
  "$CONSOLE_NODE_MODULES/.bin/tsc" -p console/tsconfig.json || return 1
  cargo build -p canopy-local "${locked[@]}" --quiet || return 1
  CANOPY_LOCAL_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/canopy-local" CANOPY_CHROMIUM="$CHROMIUM_BIN" \
    CANOPY_CONSOLE_NODE_MODULES="$CONSOLE_NODE_MODULES" \
    CANOPY_CONSOLE_ARTIFACTS="$ROOT/target/console-screenshots" \
    node --test --test-concurrency=1 console/tests/ || return 1
  log "browser screenshots: $ROOT/target/console-screenshots"
}
