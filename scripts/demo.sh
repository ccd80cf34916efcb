#!/usr/bin/env bash
# The MentorSync demo: one working day of a mentoring programme, told end to end with the real
# pieces. It installs what the build needs (Debian 12, scripts/setup.sh), builds the sync server
# and the tablet tool, starts the server on loopback with a fresh data directory, sets up a
# municipality, two youth centres, three mentors and five learners, and enrolls three tablets
# (mentorsync-tablet, built only on the client SDK's C ABI). The tablets log a day of meetings and
# absences offline - two mentors edit the same record - sync at the end of the day, and the
# coordinator looks at the merged records, the conflict waiting for review and each tablet's
# sync status on the server. The server is then stopped cleanly.
#
#   scripts/demo.sh              setup, build (build/), run
#   scripts/demo.sh --no-build   run with binaries already built (see the variables below)
#
# Everything it writes goes to build/demo-data/ (or $MENTORSYNC_DEMO_DATA), emptied at the start
# of every run, so it can be run again and again. The demo checks its own story as it goes (the
# merged values, the one conflict, nothing left to sync) and exits 1 if the system did not
# behave as told; ctest runs it that way (tests/CMakeLists.txt, label integration).
#
# Variables: MENTORSYNC_SERVER_BIN, MENTORSYNC_TABLET_BIN (binaries for --no-build),
# MENTORSYNC_DEMO_DATA (the data directory), MENTORSYNC_DEMO_WEAK_KDF=1 (cheap passphrase
# stretching, for the test only: the demo otherwise uses the production cost).
# All names and records are synthetic.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build"
DATA="${MENTORSYNC_DEMO_DATA:-$BUILD/demo-data}"
BUILD_IT=1
case "${1:-}" in
  "") ;;
  --no-build) BUILD_IT=0 ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "demo.sh: unknown argument '$1' (try --help)" >&2
    exit 2
    ;;
esac

# ---- build ------------------------------------------------------------------------------------
if [ "$BUILD_IT" = 1 ]; then
  "$ROOT/scripts/setup.sh"   # prints its own "==> setup: ..." lines
  echo "==> configure ($BUILD)"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  echo "==> build the sync server and the tablet tool"
  cmake --build "$BUILD" --target mentorsync-server mentorsync-tablet
  SERVER="$BUILD/server/mentorsync-server"
  TABLET="$BUILD/examples/mentorsync-tablet"
else
  SERVER="${MENTORSYNC_SERVER_BIN:?--no-build needs MENTORSYNC_SERVER_BIN}"
  TABLET="${MENTORSYNC_TABLET_BIN:?--no-build needs MENTORSYNC_TABLET_BIN}"
fi
for bin in "$SERVER" "$TABLET"; do
  [ -x "$bin" ] || { echo "demo.sh: $bin is missing or not executable" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "demo.sh: python3 is needed (scripts/setup.sh installs it)" >&2; exit 1; }

START_SECONDS=$SECONDS
rm -rf "$DATA"
mkdir -p "$DATA/tablets" "$DATA/views"
SRV_DATA="$DATA/server"
SERVER_PID=""

# Stops the server we started if the demo ends early (never any other process).
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# ---- presentation helpers ---------------------------------------------------------------------
if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD="" PLAIN=""; fi
act() { printf '\n%s=== %s ===%s\n' "$BOLD" "$*" "$PLAIN"; }
say() { printf '%s\n' "$*" | fold -s -w 96; }
indent() { sed 's/^/    /'; }
die() { echo "demo.sh: the story went wrong: $*" >&2; exit 1; }

# The administrators' command line (it prints one JSON object per line).
# The admin commands' operational log lines (JSON, stderr) go to admin.log, not into the story;
# when a command fails, its last lines are shown.
adm() {
  "$SERVER" admin "$@" --data-dir "$SRV_DATA" 2>>"$DATA/admin.log" && return 0
  local rc=$?
  tail -n 5 "$DATA/admin.log" >&2
  return "$rc"
}
# One field of a one-line JSON answer.
# One string field of a one-line JSON answer (the ids and codes the admin commands print).
field() {
  local v
  v=$(sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p")
  [ -n "$v" ] || die "the admin command did not answer with $1"
  printf '%s\n' "$v"
}

# Each mentor's tablet is a store file with its own (demo) passphrase, given in the environment
# as an app would take it from the keystore: never on the command line.
declare -A PASS=([anna]="demo-anna-passphrase" [bruno]="demo-bruno-passphrase" [dace]="demo-dace-passphrase")
tablet() {
  local who="$1"
  shift
  MENTORSYNC_PASSPHRASE="${PASS[$who]}" "$TABLET" --store "$DATA/tablets/$who.db" "$@"
}
# A tablet command whose output is shown, indented, under the name of the tablet.
show_tablet() {
  local who="$1"
  tablet "$@" | sed "s/^/    [$who] /"
}

TODAY="$(date +%F)"
YESTERDAY="$(date -d yesterday +%F)"

# ---- act 1 ------------------------------------------------------------------------------------
act "Act 1: the coordinator sets up the programme on the server"
say "The sync server keeps the programme's records in an encrypted SQLite database. The \
coordinator creates it and starts the server on this machine's loopback address; tablets will \
talk to it over HTTP here (over TLS in a real deployment)."
adm init >/dev/null
# The log exists before the server starts: the wait below reads it at once (with pipefail a
# missing file would end this script).
: >"$DATA/server.log"
"$SERVER" serve --data-dir "$SRV_DATA" --listen 127.0.0.1:0 --threads 2 2>"$DATA/server.log" &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 200); do
  PORT="$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$DATA/server.log" | head -n1)"
  [ -n "$PORT" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DATA/server.log" >&2; die "the server did not start"; }
  sleep 0.1
done
[ -n "$PORT" ] || die "the server did not report its port within 20 s"
URL="http://127.0.0.1:$PORT"
say "    server listening at $URL (data in $SRV_DATA)"
echo
say "Then the organisations, people and cases (all names are made up):"
MUNI=$(adm add-municipality --name "Ezerkrastu novads" | field municipality_id)
SCHOOL=$(adm add-institution --name "Ezerkrastu pamatskola" --municipality "$MUNI" --kind school | field institution_id)
ZILE=$(adm add-institution --name "Jauniešu centrs Zīle" --municipality "$MUNI" --kind youth_centre | field institution_id)
KAMENE=$(adm add-institution --name "Jauniešu centrs Kamene" --municipality "$MUNI" --kind youth_centre | field institution_id)
ANNA=$(adm add-user --role mentor --name "Anna Paraugs" --institution "$ZILE" | field user_id)
BRUNO=$(adm add-user --role mentor --name "Bruno Izdomāts" --institution "$ZILE" | field user_id)
DACE=$(adm add-user --role mentor --name "Dace Piemēra" --institution "$KAMENE" | field user_id)
learner() {
  adm add-learner --name "$1" --birth-year "$2" --grade "$3" --education "$4" \
    --school "$SCHOOL" --municipality "$MUNI" | field learner_id
}
ELIZA=$(learner "Elīza Testa" 2011 8 general)
GUSTAVS=$(learner "Gustavs Fiktīvais" 2010 9 general)
ILZE=$(learner "Ilze Demo" 2012 7 general)
JANIS=$(learner "Jānis Sintētiskais" 2008 2 vocational)
KATRINA=$(learner "Katrīna Izgudrota" 2011 8 general)
assign() { adm assign --learner "$1" --mentor "$2" --centre "$3" "${@:4}" >/dev/null; }
assign "$ELIZA" "$ANNA" "$ZILE"
assign "$GUSTAVS" "$ANNA" "$ZILE"
assign "$GUSTAVS" "$BRUNO" "$ZILE" --shared   # co-mentored: both mentors see and edit his records
assign "$ILZE" "$BRUNO" "$ZILE"
assign "$JANIS" "$DACE" "$KAMENE"
assign "$KATRINA" "$DACE" "$KAMENE"
cat <<EOF | indent
Ezerkrastu novads (municipality), learners from Ezerkrastu pamatskola
  Jauniešu centrs Zīle     mentor Anna Paraugs:     Elīza Testa, Gustavs Fiktīvais (shared with Bruno)
                           mentor Bruno Izdomāts:   Ilze Demo, Gustavs Fiktīvais (shared with Anna)
  Jauniešu centrs Kamene   mentor Dace Piemēra:     Jānis Sintētiskais, Katrīna Izgudrota
EOF

# ---- act 2 ------------------------------------------------------------------------------------
act "Act 2: morning - three tablets are enrolled and receive their learners"
say "Each mentor gets a one-time enrollment code from the coordinator (shown to nobody else) and \
enrolls a tablet with it. The tablet creates its own encrypted store, protected by the mentor's \
passphrase, and its own signing keys; the code cannot be used again."
WEAK=()
[ "${MENTORSYNC_DEMO_WEAK_KDF:-0}" = 1 ] && WEAK=(--weak-kdf)
enroll() {
  local who="$1" user="$2" label="$3" code
  code=$(adm enroll-code --user "$user" | field code)
  MENTORSYNC_ENROLL_CODE="$code" show_tablet "$who" enroll --server "$URL" --label "$label" "${WEAK[@]}"
}
enroll anna "$ANNA" "Zīle tablet 1 (Anna)"
enroll bruno "$BRUNO" "Zīle tablet 2 (Bruno)"
enroll dace "$DACE" "Kamene tablet (Dace)"
echo
say "At the centre, on Wi-Fi, each tablet syncs once and receives exactly its own mentor's \
learners - and nobody else's:"
for who in anna bruno dace; do
  tablet "$who" sync --quiet >/dev/null
  show_tablet "$who" learners
done
[ "$(tablet dace learners | grep -c .)" = 2 ] || die "Dace's tablet should hold exactly her two learners"
echo
say "Anna enters yesterday's meeting with Gustavs, which she had not logged yet, and syncs it \
before leaving; Bruno, who co-mentors Gustavs, syncs too and now has it."
out=$(tablet anna log-contact --learner "$GUSTAVS" --at "${YESTERDAY}T16:00" --minutes 40 \
  --place youth_centre --topics learning,attendance --next-steps "Check the maths homework plan")
echo "$out" | sed 's/^/    [anna] /'
SHARED=$(echo "$out" | awk '/^logged contact/ {print $3}')
show_tablet anna sync --quiet
show_tablet bruno sync --quiet
[[ "$(tablet bruno history --learner "$GUSTAVS" --json)" == *"$SHARED"* ]] || die "Bruno's tablet did not receive the shared contact"

# ---- act 3 ------------------------------------------------------------------------------------
act "Act 3: the working day - the tablets are offline"
say "From here until the end of the day no tablet talks to the server: the mentors meet \
learners at schools, at home and outdoors, and everything is written to the tablet's \
encrypted store first."
echo
say "Anna (Zīle) meets Elīza at school, notes two missed lessons from the e-journal, and \
corrects yesterday's meeting with Gustavs: it lasted 50 minutes, and the next step changed."
show_tablet anna log-contact --learner "$ELIZA" --at "${TODAY}T09:30" --minutes 45 --place school \
  --topics learning,attendance --notes "Talked about the two missed maths lessons." \
  --next-steps "Meet again next Tuesday"
show_tablet anna log-absence --learner "$ELIZA" --date "$TODAY" --lessons 2 --status unjustified \
  --source e_journal
show_tablet anna edit --id "$SHARED" --set duration_min=50 --set "next_steps=Meet the class teacher on Friday"
echo
say "Bruno (Zīle) takes Ilze's group outdoors, records a doctor's note for her absence, and - \
not knowing about Anna's change - edits the same meeting with Gustavs: he adds the family topic \
and writes a different next step."
show_tablet bruno log-contact --learner "$ILZE" --at "${TODAY}T11:00" --minutes 90 --place outdoors \
  --form group --topics friends,leisure
show_tablet bruno log-absence --learner "$ILZE" --date "$TODAY" --lessons 6 --status justified \
  --justification doctor --source school
show_tablet bruno edit --id "$SHARED" --set 'topics=["learning","attendance","family"]' \
  --set "next_steps=Invite his mother to the centre"
echo
say "Dace (Kamene) visits Jānis at home and calls Katrīna, whose three missed lessons she \
discussed with her parents today."
show_tablet dace log-contact --learner "$JANIS" --at "${TODAY}T13:15" --minutes 60 --place home \
  --topics career,wellbeing --follow-up "$(date -d '+7 days' +%F)"
show_tablet dace log-contact --learner "$KATRINA" --at "${TODAY}T15:30" --minutes 20 --place phone \
  --topics attendance,family --risk
show_tablet dace log-absence --learner "$KATRINA" --date "$TODAY" --lessons 3 --status unjustified \
  --source mentor --parents-contacted "$TODAY"
echo
say "Before syncing, Anna's tablet knows what is still only on the tablet:"
show_tablet anna status
show_tablet anna history --learner "$ELIZA" --from "$TODAY" --to "$TODAY"

# ---- act 4 ------------------------------------------------------------------------------------
act "Act 4: end of the day - each centre's tablets sync"
say "Back on the centres' Wi-Fi, each tablet sends its day and receives what the others sent \
(one progress line per exchange with the server)."
echo "  Jauniešu centrs Zīle:"
show_tablet anna sync
show_tablet bruno sync
echo "  Jauniešu centrs Kamene:"
show_tablet dace sync
echo
say "Anna syncs once more to receive Bruno's edits of the shared meeting. Both changed the next \
step at the same time: the tablets keep the later edit and hold the other one for review. \
Nothing is lost."
show_tablet anna sync --quiet
show_tablet anna conflicts
for who in anna bruno dace; do
  tablet "$who" status --json | grep -q '"pending_changes": 0,' ||
    die "$who's tablet still has changes to send"
done

# ---- act 5 ------------------------------------------------------------------------------------
act "Act 5: the coordinator's view on the server"
V="$DATA/views"
adm list-devices >"$V/devices.jsonl"
adm list-users >"$V/users.jsonl"
adm conflicts >"$V/conflicts.jsonl"
for l in "$GUSTAVS" "$ELIZA" "$ILZE" "$JANIS" "$KATRINA"; do adm show-learner --learner "$l"; done >"$V/records.jsonl"
# One python3 run turns the admin commands' JSON lines into the tables below (and checks that
# the server holds what the story says); python3 starts slowly on a busy machine.
python3 - "$V" "$SHARED" "$GUSTAVS" "$TODAY" <<'PY' || die "the server's view differs from the story (see above)"
import json, sys, time
views, shared, gustavs, today = sys.argv[1:5]
load = lambda name: [json.loads(line) for line in open(f"{views}/{name}.jsonl") if line.strip()]
devices, users, conflicts, records = (load(n) for n in ("devices", "users", "conflicts", "records"))
label = {d["node"]: d["label"] for d in devices}
name = {u["user_id"]: u["name"] for u in users}
learner_name = {r["id"]: r["fields"]["name"] for r in records if r["collection"] == "learners"}

with open(f"{views}/merged.txt", "w") as out:
    order = {"learners": 0, "assignments": 1}
    for r in sorted((r for r in records if r["learner_id"] == gustavs),
                    key=lambda r: order.get(r["collection"], 2)):
        f = r["fields"]
        if r["collection"] == "learners":
            print(f"learner   {f['name']}, born {f['birth_year']}, grade {f['grade']}", file=out)
        elif r["collection"] == "assignments":
            print(f"case      {f['status']} since {f['start_date']}, mentor {name.get(f['mentor_id'], '?')}",
                  file=out)
        elif r["collection"] == "contacts":
            print(f"meeting   {f['starts_at'].replace('T', ' ')}, {f['place']}"
                  + (" (the shared meeting)" if r["id"] == shared else ""), file=out)
            for field in ("duration_min", "topics", "next_steps"):
                value = f.get(field)
                value = ", ".join(value) if isinstance(value, list) else value
                by = label.get(r["stamps"][field]["node"], "the server")
                print(f"            {field:<13} {value!s:<38} last written by {by}", file=out)

with open(f"{views}/today.txt", "w") as out:
    day = {}
    for r in records:
        f = r["fields"]
        when = f.get("starts_at", f.get("date", ""))
        if r["collection"] == "contacts" and when.startswith(today):
            text = f"meeting {when[11:]}, {f['duration_min']} min, {f['place']}"
            day.setdefault(r["learner_id"], []).append(text + (", risk flagged" if f.get("risk_flag") else ""))
        elif r["collection"] == "absences" and when == today:
            day.setdefault(r["learner_id"], []).append(f"absence: {f['lessons']} lesson(s), {f['status']}")
    for learner, items in day.items():
        print(f"{learner_name.get(learner, learner):<20} " + "; ".join(sorted(items)), file=out)

with open(f"{views}/conflicts.txt", "w") as out:
    for c in conflicts:
        print(f"{c['collection']} {c['row']}, field {c['field']}:", file=out)
        print(f"    current: {c['winner']['value']!r:<38} from {label.get(c['winner']['node'], '?')}", file=out)
        print(f"    waiting: {c['loser']['value']!r:<38} from {label.get(c['loser']['node'], '?')}", file=out)
    print(f"({len(conflicts)} open conflict{'s' if len(conflicts) != 1 else ''})", file=out)

with open(f"{views}/devices.txt", "w") as out:
    fmt = lambda ms: time.strftime("%H:%M:%S UTC", time.gmtime(ms / 1000)) if ms else "never"
    print(f"{'device':<24}{'mentor':<18}{'enrolled':<15}{'last seen by the server':<26}state", file=out)
    for d in devices:
        print(f"{d['label']:<24}{name.get(d['user_id'], '?'):<18}{fmt(d['enrolled_ms']):<15}"
              f"{fmt(d['last_seen_ms']):<26}{'revoked' if d['revoked'] else 'active'}", file=out)

# The story's claims, checked against the server.
merged = next(r for r in records if r["id"] == shared)["fields"]
problems = []
if merged["duration_min"] != 50: problems.append("the shared meeting's duration is not Anna's 50")
if merged["topics"] != ["learning", "attendance", "family"]: problems.append("Bruno's topics are missing")
if merged["next_steps"] != "Invite his mother to the centre": problems.append("the later next step did not win")
if len(conflicts) != 1 or conflicts[0]["field"] != "next_steps": problems.append("not exactly one conflict, on next_steps")
if len(devices) != 3 or any(d["last_seen_ms"] is None for d in devices): problems.append("a device never synced")
for p in problems: print("  check failed:", p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

say "The merged records of Gustavs, the co-mentored learner (admin show-learner). Anna's and \
Bruno's edits of yesterday's meeting were merged field by field: the duration is Anna's \
correction, the topics are Bruno's, and the next step is the later of the two:"
indent <"$V/merged.txt"
echo
say "Everything the tablets logged today, per learner, as the server now holds it:"
indent <"$V/today.txt"
echo
say "The conflict waiting for review (admin conflicts): the next step Anna wrote lost to \
Bruno's later edit. A mentor or the coordinator decides which one stands:"
indent <"$V/conflicts.txt"
echo
say "Per-device sync status (admin list-devices): every tablet, whose it is, and when the server \
last heard from it; and each tablet's own view of its last sync:"
indent <"$V/devices.txt"
for who in anna bruno dace; do
  tablet "$who" status | grep -E '^(waiting|last sync|clock):' | sed "s/^/    [$who] /"
done

# ---- act 6 ------------------------------------------------------------------------------------
act "Act 6: the review - Anna settles the conflict"
say "Anna talks to Bruno; they agree to keep both steps. She writes the combined text on her \
tablet and syncs; Bruno's tablet receives the decision, and the server has nothing left to \
review."
show_tablet anna resolve --record "$SHARED" --field next_steps \
  --value "Meet the class teacher on Friday, then invite his mother to the centre"
show_tablet anna sync --quiet
show_tablet bruno sync --quiet
show_tablet bruno conflicts
[ -z "$(adm conflicts)" ] || die "the server still has an open conflict after the resolution"
echo "    [server] open conflicts: 0"

# ---- the end ----------------------------------------------------------------------------------
act "The end: the server stops cleanly"
kill -TERM "$SERVER_PID"
status=0
wait "$SERVER_PID" || status=$?
SERVER_PID=""
[ "$status" = 0 ] || die "the server exited with $status after SIGTERM"
say "    SIGTERM -> the server finished its requests and exited with code 0."
say "The whole day took $((SECONDS - START_SECONDS)) s. The data stays in $DATA (server log: \
$DATA/server.log) until the next run of scripts/demo.sh replaces it."
