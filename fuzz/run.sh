#!/usr/bin/env bash
# Fuzzing campaign: builds every target with nightly (cargo-fuzz, release with debug assertions
# and overflow checks, no sanitizer: see README.md), then runs each target for SECONDS, one after another
# (one fuzz process at a time), and prints per target: executions, exec/s, coverage (cov and ft
# from libFuzzer's last status line), corpus files and bytes, crashes.
#
#   fuzz/run.sh SECONDS [TARGET...]        (default: every target)
#
# New corpus inputs go to fuzz/corpus/<target>/ (fuzz/seeds/<target>/ is read too); a crash,
# leak, timeout or out-of-memory input goes to fuzz/artifacts/<target>/. Limits: 10 s per input,
# 2 GB of RSS (also the malloc limit: an allocation over it is a crash). Environment: FUZZ_ARGS,
# extra libFuzzer flags (e.g. FUZZ_ARGS="-max_len=65536"); FUZZ_SANITIZER, cargo-fuzz's
# sanitizer (default none; address for AddressSanitizer, at about half the speed).
set -uo pipefail
cd "$(dirname "$0")"
FUZZ=$(pwd)
SECONDS_PER_TARGET=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
TARGETS=("$@")
if [ $# -eq 0 ]; then TARGETS=(envelope wire sync change csv policy); fi
FLAGS=(--fuzz-dir "$FUZZ" --debug-assertions --sanitizer "${FUZZ_SANITIZER:-none}")
BUILD=(cargo +nightly fuzz build "${FLAGS[@]}")
# Only csv needs the node crate; the others build without it (a change to node/ rebuilds only
# csv, which takes long: the node crate in one codegen unit).
features() { if [ "$1" = csv ]; then echo --features=csv; else echo --no-default-features; fi; }
for t in "${TARGETS[@]}"; do
  "${BUILD[@]}" "$(features "$t")" "$t" || { echo "build of $t failed" >&2; exit 1; }
done
mkdir -p logs
SUMMARY=()
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t" "seeds/$t" "artifacts/$t"
  log="logs/$t.log"
  before=$(find "artifacts/$t" -type f | wc -l)
  echo "== $t: ${SECONDS_PER_TARGET}s" >&2
  # One libFuzzer process (no -jobs/-workers: those fork children that log elsewhere).
  # shellcheck disable=SC2086
  cargo +nightly fuzz run "${FLAGS[@]}" "$(features "$t")" "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1
  rc=$?
  after=$(find "artifacts/$t" -type f | wc -l)
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  files=$(find "corpus/$t" -type f | wc -l)
  bytes=$(find "corpus/$t" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  crashes=$((after - before))
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    status=1
    echo "!! $t: exit $rc, see fuzz/$log and fuzz/artifacts/$t/" >&2
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" >&2 || true
  fi
  SUMMARY+=("$(printf '%-9s executions %-10s exec/s %-7s cov %-6s ft %-7s corpus %5s files %9s bytes  crashes %s' \
    "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$files" "$bytes" "$crashes")")
done
printf '%s\n' "${SUMMARY[@]}"
exit $status
