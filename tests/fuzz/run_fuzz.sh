#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time: the ctest entries fuzz.<name> (label "fuzz").
#
#   run_fuzz.sh FUZZER SEED_DIR BUILD_DIR SECONDS [DICT]
#
# The target reads SEED_DIR (the corpus in the repository, never written) and BUILD_DIR/corpus/
# NAME (what earlier runs found, kept between runs), and writes new inputs to the latter. A
# crash, leak, timeout (10 s per input) or out-of-memory (2 GiB) stops it with a non-zero exit;
# the input that caused it is left in BUILD_DIR/artifacts/NAME/ and this script says how to
# replay it. MENTORSYNC_FUZZ_SECONDS in the environment overrides SECONDS. A run that has not
# ended twice its time (plus two minutes for reading the corpus) later is killed and fails: a
# hang outside any one input, e.g. at exit.
set -euo pipefail
fuzzer="$1"
seeds="$2"
build="$3"
seconds="${MENTORSYNC_FUZZ_SECONDS:-$4}"
dict="${5:-}"
name="$(basename "$fuzzer")"
name="${name#fuzz_}"
corpus="$build/corpus/$name"
artifacts="$build/artifacts/$name"
mkdir -p "$corpus" "$artifacts"

args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
      -artifact_prefix="$artifacts/")
if [ -n "$dict" ]; then args+=(-dict="$dict"); fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
timeout -k 10 $((seconds * 2 + 120)) "$fuzzer" "${args[@]}" "$corpus" "$seeds" || status=$?
if [ "$status" -ne 0 ]; then
  echo "fuzz.$name: FAILED (exit $status). Reproducer(s):" >&2
  ls -1 "$artifacts" >&2 || true
  echo "replay one with: $fuzzer $artifacts/<file>" >&2
fi
exit "$status"
