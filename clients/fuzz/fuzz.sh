#!/usr/bin/env bash
# Schemathesis over every operation of openapi/openapi.json, as an administrator, against
# the release server on a fresh SQLite file holding the demo data (so that ids resolve).
#
#   pip install -r clients/fuzz/requirements.txt
#   cargo build --release && bash clients/fuzz/fuzz.sh [MAX_EXAMPLES] [SEED]
#
# Checks: no 5xx, every status, content type, header and body as the document says, 405
# for undeclared methods, schema-violating requests refused, requests without a valid
# token refused, created things found and deleted ones gone. Not checked: that every
# schema-valid request is accepted (a body can name an org that is not there: 422 by design).
# Sign-out operations are left out: they would end the token the run uses.
set -euo pipefail

max_examples="${1:-25}"
seed="${2:-1}"
binary="$(realpath "${PINGYI_BINARY:-$(dirname "$0")/../../target/release/pingyi}")"
cd "$(dirname "$0")/../.."
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export PINGYI_ADMIN_PASSWORD="fuzz-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export DATABASE_URL="sqlite://$work/pingyi.db"

"$binary" demo >"$work/demo.log"
PINGYI_BIND="127.0.0.1:$port" PINGYI_LOG_FORMAT=json "$binary" serve >"$work/server.log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || {
    echo "FAIL: the server did not become ready; its log:" >&2
    cat "$work/server.log" >&2
    exit 1
}

token="$(curl -fsS "http://127.0.0.1:$port/api/v1/auth/login" \
    -H 'Content-Type: application/json' \
    -d "{\"username\": \"admin\", \"password\": \"$PINGYI_ADMIN_PASSWORD\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"

status=0
schemathesis --config-file clients/fuzz/schemathesis.toml run openapi/openapi.json \
    --url "http://127.0.0.1:$port" \
    --header "Authorization: Bearer $token" \
    --exclude-path-regex '^/api/v1/auth/logout' \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,unsupported_method,ignored_auth,use_after_free,ensure_resource_availability \
    --max-examples "$max_examples" \
    --seed "$seed" \
    --workers 2 || status=$?
# actix logs requests it cannot parse (the fuzzer sends some) at ERROR too: only a request
# the server failed, or a panic, fails the run.
if grep -q '"request failed"\|panicked' "$work/server.log"; then
    echo "FAIL: the server failed a request or panicked ($work/server.log)" >&2
    exit 1
fi
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
rm -rf "$work"
exit "$status"
