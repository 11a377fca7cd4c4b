#!/usr/bin/env bash
# Peak resident memory of the server under a burst of concurrent wrong-password logins for
# one user (issue 8, item 2). Usage:
#   bench/login_burst.sh [path/to/pingyi] [concurrent logins, default 200]
# Starts the binary on a fresh SQLite database on 127.0.0.1:18089, fires the logins at
# once with curl, and prints the answers by status and the peak RSS (VmHWM) of the server.
set -euo pipefail
BIN=${1:-target/release/pingyi}
N=${2:-200}
PORT=18089
DIR=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT
DATABASE_URL="sqlite://$DIR/pingyi.db" PINGYI_BIND="127.0.0.1:$PORT" \
  PINGYI_ADMIN_PASSWORD="bench-admin-password" PINGYI_LOG=warn \
  "$BIN" serve >"$DIR/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "RSS before: $(grep VmRSS /proc/$PID/status | awk '{print $2}') kB"
seq "$N" | xargs -P "$N" -I{} curl -s -o /dev/null -w '%{http_code}\n' \
  -H 'Content-Type: application/json' \
  -d '{"username":"admin","password":"wrong password {}"}' \
  "http://127.0.0.1:$PORT/api/v1/auth/login" | sort | uniq -c
echo "peak RSS (VmHWM): $(grep VmHWM /proc/$PID/status | awk '{print $2}') kB"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"username":"admin","password":"bench-admin-password"}' \
  "http://127.0.0.1:$PORT/api/v1/auth/login")
echo "the right password afterwards, same client: $code"
