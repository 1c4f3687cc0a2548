#!/usr/bin/env bash
# Fuzzes the REST API with Schemathesis against its own OpenAPI document.
#
#   scripts/fuzz-api.sh            # build, seed a local database, serve, fuzz, clean up
#
# 1. Installs a pinned Schemathesis into a venv in the cache folder (once).
# 2. Builds frontdesk, starts a local database of its own (a private XDG_STATE_HOME, so
#    a database you left running with `frontdesk localdb start` is not touched), seeds
#    the demo data at the demo clock and serves the API on a free local port.
# 3. Runs Schemathesis with an admin token, bounded in time, checking that no response
#    is a 5xx and that every response matches the schema the document gives for it.
#    Any failure fails the script.
#
# Knobs: FUZZ_MAX_EXAMPLES (default 50 per operation), FUZZ_TIMEOUT (seconds, default
# 300), FUZZ_SEED (default 1, for reproducible runs), FUZZ_CLIENTS (default 200),
# FUZZ_CHECKS (default not_a_server_error,response_schema_conformance; "all" for every
# check). Extra arguments go to `st run`.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION="4.32.5"
MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-50}"
TIME_LIMIT="${FUZZ_TIMEOUT:-300}"
SEED="${FUZZ_SEED:-1}"
CHECKS="${FUZZ_CHECKS:-not_a_server_error,response_schema_conformance}"
CLIENTS="${FUZZ_CLIENTS:-200}"

log() { printf '[fuzz-api] %s\n' "$*" >&2; }

# --- 1. Schemathesis in a cached venv ----------------------------------------------------
cache="${XDG_CACHE_HOME:-$HOME/.cache}/frontdesk/schemathesis-${SCHEMATHESIS_VERSION}"
st="$cache/bin/st"
if ! "$st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into $cache"
  rm -rf "$cache"
  python3 -m venv "$cache"
  "$cache/bin/python" -m pip install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$st" --version >&2

# --- 2. Build, database, demo data, server ------------------------------------------------
log "building frontdesk"
# The binary `cargo test` built for the integration tests: after the README's test
# command this is a no-op, where `cargo build --bin` would rebuild much of the dependency
# tree with the features resolved without dev-dependencies.
cargo test --quiet --no-run
bin="${CARGO_TARGET_DIR:-target}/debug/frontdesk"

work="$(mktemp -d "${TMPDIR:-/tmp}/frontdesk-fuzz.XXXXXX")"
server_pid=""
db_started=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n "$db_started" ]]; then
    "$bin" localdb stop >/dev/null 2>&1 || true
  fi
  if [[ $rc -ne 0 && -f "$work/server.log" ]]; then
    log "last lines of the server log:"
    tail -n 40 "$work/server.log" >&2 || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT INT TERM

# Everything the commands read comes from here, not from a .env or a shell's leftovers.
export XDG_STATE_HOME="$work/state"
export FRONTDESK_NOW="2026-11-25T10:00:00Z"
export FRONTDESK_PLANNER="rules"
export OPENAI_API_KEY=""
export DATABASE_NAME="frontdesk_fuzz"
export JWT_SECRET_KEY="fuzz-$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
export FRONTDESK_ENCRYPTION_KEY="$(python3 -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())')"
export FRONTDESK_LOG_FORMAT="human"
export RUST_LOG="${RUST_LOG:-warn}"
# The fuzzer sends far more than a person would: lift the rate limits for this run.
cat >"$work/fuzz.toml" <<'EOF'
[api]
per_token_per_minute = 1000000
per_ip_per_minute = 1000000
EOF
export FRONTDESK_CONFIG="$work/fuzz.toml"

log "starting a local database"
MONGODB_URL="$("$bin" localdb start)"
db_started=1
export MONGODB_URL
log "seeding the demo data ($CLIENTS clients)"
"$bin" seed --clients "$CLIENTS" --reset >/dev/null

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
base="http://127.0.0.1:$port"
"$bin" serve --local-db --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  if curl -fsS "$base/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    log "the server exited"
    exit 1
  fi
  sleep 0.2
done
curl -fsS "$base/readyz" >/dev/null
token="$("$bin" token --role admin --sub fuzz --ttl 2h)"
log "serving on $base"

# --- 3. Fuzz ------------------------------------------------------------------------------
log "schemathesis: up to $MAX_EXAMPLES examples per operation, at most ${TIME_LIMIT}s"
set +e
timeout --kill-after=10 "$TIME_LIMIT" "$st" run "$base/api/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks "$CHECKS" \
  --max-examples "$MAX_EXAMPLES" \
  --seed "$SEED" \
  --workers 1 \
  --request-timeout 30 \
  --no-color \
  --report junit --report-dir "$work/report" \
  "$@"
rc=$?
set -e
if [[ $rc -eq 124 || $rc -eq 137 ]]; then
  log "schemathesis did not finish within ${TIME_LIMIT}s"
  exit 1
fi
if [[ $rc -ne 0 ]]; then
  log "schemathesis found failures (exit $rc)"
  exit "$rc"
fi
log "no server errors and no schema mismatches"
