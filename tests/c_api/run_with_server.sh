#!/usr/bin/env bash
# ctest fixture for the C ABI sync test: bootstraps a server data directory through the admin
# command line (a municipality, a youth centre, a mentor with an assigned learner, enrollment
# codes), starts `mentorsync-server` on 127.0.0.1 with an ephemeral port, runs the C test
# binary with what it needs on its command line, and stops the server however the test ends.
#
# usage: run_with_server.sh SERVER_BINARY TEST_BINARY
set -euo pipefail
server=$1
test_binary=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/ms_c_api_sync.XXXXXX")
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

data="$work/server"
admin() { "$server" admin "$@" --data-dir "$data"; }
# The value of a string field of the admin command's one-line JSON answer.
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

admin init >/dev/null
municipality=$(admin add-municipality --name "Testa novads" | field municipality_id)
centre=$(admin add-institution --name "Jauniešu centrs" --municipality "$municipality" \
  --kind youth_centre | field institution_id)
mentor=$(admin add-user --role mentor --name "Mentore A" --institution "$centre" | field user_id)
learner=$(admin add-learner --name "Skolēns Viens" --birth-year 2011 --school "$centre" \
  --municipality "$municipality" --grade 8 --education general | field learner_id)
admin assign --learner "$learner" --mentor "$mentor" >/dev/null
code_a=$(admin enroll-code --user "$mentor" | field code)
code_b=$(admin enroll-code --user "$mentor" | field code)
for v in municipality centre mentor learner code_a code_b; do
  [[ -n "${!v}" ]] || { echo "bootstrap failed: no $v" >&2; exit 2; }
done

# The log exists before the server starts: the wait below reads it at once (with pipefail a
# missing file would end this script).
: >"$work/server.log"
"$server" --listen 127.0.0.1:0 --data-dir "$data" 2>"$work/server.log" &
pid=$!
port=""
for _ in $(seq 1 400); do
  port=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$work/server.log" | head -1)
  [[ -n "$port" ]] && break
  kill -0 "$pid" 2>/dev/null || { echo "the server exited:" >&2; cat "$work/server.log" >&2; exit 2; }
  sleep 0.05
done
[[ -n "$port" ]] || { echo "the server did not report a port:" >&2; cat "$work/server.log" >&2; exit 2; }

"$test_binary" "http://127.0.0.1:$port" "$code_a" "$code_b" "$learner" "$work"
