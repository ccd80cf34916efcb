#!/usr/bin/env bash
# mentorsync-tablet's command line against the real server: usage errors (exit 2) and failures
# (exit 1) name the bad input, the passphrase is taken from the environment or stdin, and the
# commands do what they say (enroll, learners, log, history by date range, edit, sync, status,
# conflicts, retry, and a clock ten years ahead through libfaketime). The happy path of the whole
# story is covered by the demo (integration.demo_story).
#
#   tablet_cli_test.sh MENTORSYNC_TABLET_BINARY MENTORSYNC_SERVER_BINARY
set -uo pipefail

TABLET="$1"
SERVER="$2"
TMP="$(mktemp -d)"
SERVER_PID=""
failures=0
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# expect EXIT_CODE PATTERN command...: runs it, checks the exit code and that stdout+stderr
# match the (extended) regular expression.
expect() {
  local want="$1" pattern="$2" out code
  shift 2
  out="$("$@" 2>&1)"
  code=$?
  if [ "$code" = "$want" ] && grep -Eq -- "$pattern" <<<"$out"; then
    echo "ok   exit $want /$pattern/: ${*:2:4}"
  else
    echo "FAIL expected exit $want and /$pattern/, got exit $code from: $*"
    sed 's/^/       /' <<<"$out" | head -n 12
    failures=$((failures + 1))
  fi
}
adm() { "$SERVER" admin "$@" --data-dir "$TMP/server"; }
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

export MENTORSYNC_PASSPHRASE="tablet test passphrase"
S=(--store "$TMP/t.db")
T() { "$TABLET" "${S[@]}" "$@"; }

# ---- the command line alone --------------------------------------------------------------
expect 0 "log-contact" "$TABLET" --help
expect 0 "--minutes N" "$TABLET" log-contact --help
expect 2 "no command given" "$TABLET"
expect 2 "unknown command 'frobnicate'" "$TABLET" "${S[@]}" frobnicate
expect 2 "unknown option --colour for 'sync'" T sync --colour
expect 2 "--learner is required" T log-absence --date 2026-11-23 --lessons 2 --status justified
expect 2 "--lessons: 'two' is not a whole number" T log-absence --learner \
  00000000-0000-4000-8000-000000000000 --date 2026-11-23 --lessons two --status justified
expect 2 "--place: 'moon' is not one of school, youth_centre" T log-contact --learner \
  00000000-0000-4000-8000-000000000000 --at 2026-11-23T10:00 --minutes 5 --place moon
expect 2 "--learner: 'Anna' is not an id" T history --learner Anna
expect 2 "--store FILE is required" env -u MENTORSYNC_STORE "$TABLET" learners
expect 2 "exactly one of --keep-current" T resolve --record 00000000-0000-4000-8000-000000000000 \
  --field notes --keep-current --take-other
expect 1 "no store at .*: enroll this tablet first" T learners

# ---- against the server ------------------------------------------------------------------
adm init >/dev/null
MUNI=$(adm add-municipality --name "CLI novads" | field municipality_id)
CENTRE=$(adm add-institution --name "CLI centrs" --municipality "$MUNI" --kind youth_centre | field institution_id)
MENTOR=$(adm add-user --role mentor --name "CLI Mentore" --institution "$CENTRE" | field user_id)
OTHER=$(adm add-user --role mentor --name "Cits Mentors" --institution "$CENTRE" | field user_id)
LEARNER=$(adm add-learner --name "CLI Skolnieks" --birth-year 2011 --school "$CENTRE" \
  --municipality "$MUNI" --grade 8 --education general | field learner_id)
FOREIGN=$(adm add-learner --name "Cita Skolniece" --birth-year 2012 --school "$CENTRE" \
  --municipality "$MUNI" --grade 7 --education general | field learner_id)
adm assign --learner "$LEARNER" --mentor "$MENTOR" --start-date 2026-09-01 >/dev/null
adm assign --learner "$FOREIGN" --mentor "$OTHER" >/dev/null
# The log exists before the server starts: the wait below reads it at once (with pipefail a
# missing file would end this script).
: >"$TMP/server.log"
"$SERVER" serve --data-dir "$TMP/server" --listen 127.0.0.1:0 --threads 2 2>"$TMP/server.log" &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 300); do
  PORT="$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$TMP/server.log" | head -n1)"
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { echo "FAIL the server did not start"; cat "$TMP/server.log"; exit 1; }
URL="http://127.0.0.1:$PORT"

expect 2 "--server: 'ftp://x' is not an http" T enroll --server ftp://x --code abc --weak-kdf
expect 1 "refused the code" T enroll --server "$URL" --code WRONG-CODE --weak-kdf
CODE=$(adm enroll-code --user "$MENTOR" | field code)
expect 0 "enrolled 'CLI tablet' as device .* for mentor $MENTOR" \
  env MENTORSYNC_ENROLL_CODE="$CODE" "$TABLET" "${S[@]}" enroll --server "$URL" --label "CLI tablet" --weak-kdf
expect 1 "already enrolled" T enroll --server "$URL" --code "$CODE" --weak-kdf
expect 1 "wrong passphrase" env MENTORSYNC_PASSPHRASE=wrong "$TABLET" "${S[@]}" unlock
expect 0 "unlocked .*0 records" T unlock
# The passphrase from stdin when the environment has none.
expect 0 "unlocked" bash -c "printf '%s\n' '$MENTORSYNC_PASSPHRASE' | env -u MENTORSYNC_PASSPHRASE '$TABLET' --store '$TMP/t.db' unlock"
expect 1 "no passphrase" bash -c "env -u MENTORSYNC_PASSPHRASE '$TABLET' --store '$TMP/t.db' unlock </dev/null"

expect 1 "shorter than 8" env MENTORSYNC_NEW_PASSPHRASE=short "$TABLET" "${S[@]}" change-passphrase
expect 1 "wrong passphrase" env MENTORSYNC_PASSPHRASE=wrong MENTORSYNC_NEW_PASSPHRASE="another passphrase" \
  "$TABLET" "${S[@]}" change-passphrase
# Both passphrases from stdin, one per line.
expect 0 "opens with the new passphrase" bash -c "printf '%s\n%s\n' '$MENTORSYNC_PASSPHRASE' 'another passphrase' | env -u MENTORSYNC_PASSPHRASE '$TABLET' --store '$TMP/t.db' change-passphrase"
expect 1 "wrong passphrase" T unlock
expect 0 "opens with the new passphrase" env MENTORSYNC_PASSPHRASE="another passphrase" \
  MENTORSYNC_NEW_PASSPHRASE="$MENTORSYNC_PASSPHRASE" "$TABLET" "${S[@]}" change-passphrase
expect 0 "no learners on this tablet yet" T learners
expect 0 "synced: sent 0 .*received [1-9]" T sync
expect 0 "$LEARNER  CLI Skolnieks" T learners
expect 1 "learner $FOREIGN is not on this tablet" T log-absence --learner "$FOREIGN" \
  --date 2026-11-23 --lessons 2 --status unjustified
expect 1 "contacts.starts_at" T log-contact --learner "$LEARNER" --at "2026-13-45T10:00" \
  --minutes 30 --place school
expect 1 "contacts.duration_min" T log-contact --learner "$LEARNER" --at "2026-11-23T10:00" \
  --minutes 9999 --place school
expect 0 "logged absence" T log-absence --learner "$LEARNER" --date 2026-11-20 --lessons 1 \
  --status justified --justification doctor --source school
expect 0 "logged absence" T log-absence --learner "$LEARNER" --date 2026-11-23 --lessons 3 \
  --status unjustified
OUT=$(printf 'Synthetic notes read from stdin.\n' | T log-contact --learner "$LEARNER" \
  --at 2026-11-23T10:00 --minutes 30 --place school --topics learning,family --notes -)
CONTACT=$(awk '/^logged contact/ {print $3}' <<<"$OUT")
[ -n "$CONTACT" ] || { echo "FAIL log-contact printed no id: $OUT"; failures=$((failures + 1)); }
expect 0 "notes: Synthetic notes read from stdin" T history --learner "$LEARNER"
expect 0 "from 2026-11-21 to 2026-11-23: 2 records" T history --learner "$LEARNER" --from 2026-11-21 --to 2026-11-23
expect 0 "from 2026-11-01 to 2026-11-20: 1 record$" T history --learner "$LEARNER" --from 2026-11-01 --to 2026-11-20
expect 0 "waiting: +3 changes" T status
expect 0 "changed duration_min, next_steps of contacts record $CONTACT" T edit --id "$CONTACT" \
  --set duration_min=50 --set "next_steps=Meet again on Friday"
expect 1 "contacts.duration_min" T edit --id "$CONTACT" --set duration_min=ten
expect 1 "no record 00000000-0000-4000-8000-000000000000" T edit \
  --id 00000000-0000-4000-8000-000000000000 --set lessons=2
expect 2 "--set: 'lessons' is not FIELD=VALUE" T edit --id "$CONTACT" --set lessons
expect 0 "50 min, school, individual; topics: learning, family.*next steps: Meet again on Friday" \
  T history --learner "$LEARNER" --from 2026-11-23
expect 0 "syncing: sent 4" T sync
expect 0 "waiting: +0 changes" T status
expect 0 "\"pending_changes\": 0," T status --json
expect 0 "no open conflicts" T conflicts
expect 1 "no open conflict on field notes" T resolve --record "$CONTACT" --field notes --keep-current
expect 0 "0 refused changes go to the server again with the next sync" T retry

# ---- a tablet whose clock ran ten years ahead (libfaketime moves the tablet's clock only) ----
if ! command -v faketime >/dev/null; then
  echo "FAIL faketime is not installed (scripts/setup.sh installs it)"
  failures=$((failures + 1))
else
  # faketime preloads libfaketime ahead of everything; in a sanitized build ASan would refuse to
  # start unless it came first, so its link-order check is off for these runs only.
  AHEAD=(env FAKETIME_DONT_FAKE_MONOTONIC=1
    "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
    faketime -f +3650d "$TABLET" "${S[@]}")
  expect 0 "logged absence" "${AHEAD[@]}" log-absence --learner "$LEARNER" --date 2026-11-24 \
    --lessons 2 --status unjustified
  expect 1 "stale_timestamp.*this device's clock is 10 years ahead of the server's" \
    "${AHEAD[@]}" sync --attempts 1
  expect 0 "clock: +WARNING: 10 years ahead of the server's" T status
  # The clock is right again. The next edit is still stamped ten years ahead (the clock never
  # goes below its highest stamp); the server refuses both, the sync re-dates and resends them.
  expect 0 "logged absence" T log-absence --learner "$LEARNER" --date 2026-11-25 --lessons 1 \
    --status justified --justification doctor
  expect 0 "2 changes were re-dated because this tablet's clock was 10 years ahead of the server's" \
    T sync
  expect 0 "clock: +in step with the server" T status
  expect 0 "waiting: +0 changes" T status
  expect 0 "\"redated\": 0," T status --json
  expect 0 "from 2026-11-24 to 2026-11-25: 2 records" T history --learner "$LEARNER" \
    --from 2026-11-24 --to 2026-11-25
fi

kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
code=$?
SERVER_PID=""
[ "$code" = 0 ] || { echo "FAIL the server exited with $code"; failures=$((failures + 1)); }
expect 2 "--attempts: expected 1 to 100" T sync --attempts 0
expect 1 "sync: network" T sync --attempts 1

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
