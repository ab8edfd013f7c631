#!/usr/bin/env bash
# Builds the libFuzzer drivers of tests/fuzz with clang in build-fuzz (-Dfuzz=true: coverage,
# ASan, UBSan that aborts) and runs each for a bounded time on its corpus, tests/fuzz/corpus/<name>
# (read only; what the run adds goes to build-fuzz/fuzz-out/<name>/new), one at a time at the
# lowest priority. docs/operations.md, "Fuzzing", says more.
#
# Usage: scripts/fuzz.sh [--seconds N] [--merge] [--build DIR] [name...]
#   --seconds N  how long each fuzzer runs (default 30; scripts/test.sh passes $FUZZ_SECONDS)
#   --build DIR  the build directory (default build-fuzz), e.g. to leave a long run's binaries
#                alone while working on the code
#   --merge      afterwards, minimise the corpus: its named seeds plus the fewest inputs found
#                by fuzzing (earlier and in this run) that reach new edges; for the long runs
#   name         sig-msg, api-body, sdp-answer, rtcp-feedback (default: all)
# Prints per fuzzer: runs, exec/s, coverage (cov: edges, ft: features), corpus size, findings;
# then "fuzz: N clean, M failed". Exits non-zero on any crash, leak, timeout or out-of-memory
# (the reproducer stays in <build>/fuzz-out/<name>/; run the driver on it to see the report).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

ALL=(sig-msg api-body sdp-answer rtcp-feedback)
seconds=30
merge=0
BUILD=build-fuzz
names=()
while (($#)); do
  case "$1" in
  --seconds)
    seconds=${2:?--seconds needs a number}
    shift 2
    ;;
  --merge)
    merge=1
    shift
    ;;
  --build)
    BUILD=${2:?--build needs a directory}
    shift 2
    ;;
  -h | --help)
    sed -n '2,15p' "$0"
    exit 0
    ;;
  *)
    names+=("$1")
    shift
    ;;
  esac
done
((${#names[@]})) || names=("${ALL[@]}")
for n in "${names[@]}"; do
  [[ " ${ALL[*]} " == *" $n "* ]] || { echo "fuzz: unknown fuzzer $n (${ALL[*]})"; exit 2; }
done

started=$(date +%s)
RT=/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a
if ! command -v clang >/dev/null || [[ ! -f $RT ]]; then
  bash scripts/setup-debian.sh --fuzz || { echo "fuzz: setup failed"; exit 1; }
fi

if [[ -f $BUILD/build.ninja ]]; then
  meson configure "$BUILD" -Dfuzz=true >/dev/null
else
  CC=clang meson setup "$BUILD" -Dfuzz=true -Dwerror=true -Dbuildtype=debugoptimized >/dev/null
fi || { echo "fuzz: meson setup failed"; exit 1; }
targets=()
for n in "${names[@]}"; do targets+=("tests/fuzz/fuzz-$n"); done
ninja -C "$BUILD" -j2 "${targets[@]}" >"$BUILD/fuzz-build.log" 2>&1 ||
  { tail -30 "$BUILD/fuzz-build.log"; echo "fuzz: build failed"; exit 1; }
built=$(date +%s)

# Leaks are findings; tests/lsan.supp holds only libraries' one-time allocations. A smaller ASan
# quarantine keeps each fuzzer's memory modest on a shared machine.
export ASAN_OPTIONS="quarantine_size_mb=64:detect_leaks=1:symbolize=1"
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# --merge: the corpus becomes its named seeds plus the fewest inputs (of the corpus's earlier
# additions, hash-named, and this run's) that reach every edge the seeds do not. Edges only
# (-use_counters=0), not libFuzzer's finer features, so that the corpus stays small enough to
# commit (a few hundred KiB at most).
is_found() { [[ $(basename "$1") =~ ^[0-9a-f]{40}$ ]]; } # libFuzzer's names: SHA-1 of the input
merge_corpus() { # name, binary, out dir
  local n=$1 bin=$2 out=$3 dir="tests/fuzz/corpus/$1" min f found=0
  min=$(mktemp -d)
  mkdir -p "$out/old"
  for f in "$dir"/*; do
    if is_found "$f"; then cp "$f" "$out/old/"; else cp "$f" "$min/"; fi
  done
  if nice -n 19 "$bin" -merge=1 -use_counters=0 -timeout=10 -rss_limit_mb=2048 "$min" \
    "$out/old" "$out/new" >"$out/merge.log" 2>&1; then
    for f in "$dir"/*; do is_found "$f" && rm -f "$f"; done
    for f in "$min"/*; do is_found "$f" && cp "$f" "$dir/" && found=$((found + 1)); done
    echo "fuzz-$n: corpus now $(find "$dir" -type f | wc -l) inputs, $found of them found by" \
      "fuzzing, $(cat "$dir"/* | wc -c) bytes"
  else
    echo "fuzz-$n: merge failed (see $out/merge.log)"
  fi
  rm -rf "$min"
}

clean=0
failed=0
stat() { grep -E "^stat::$1:" "$2" | awk '{print $2}' | tail -1; }
for n in "${names[@]}"; do
  bin=$BUILD/tests/fuzz/fuzz-$n
  out=$BUILD/fuzz-out/$n
  rm -rf "$out"
  mkdir -p "$out/new"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$out/")
  [[ -f tests/fuzz/$n.dict ]] && args+=(-dict="tests/fuzz/$n.dict")
  nice -n 19 "$bin" "${args[@]}" "$out/new" "tests/fuzz/corpus/$n" >"$out/log" 2>&1
  rc=$?
  runs=$(stat number_of_executed_units "$out/log")
  eps=$(stat average_exec_per_sec "$out/log")
  added=$(stat new_units_added "$out/log")
  # the last status line: "#N DONE cov: X ft: Y corp: C/Sb ..."
  last=$(grep -E '^#[0-9]+[[:space:]].*cov: ' "$out/log" | tail -1)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$last")
  findings=$(find "$out" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | wc -l)
  verdict=ok
  if [[ $rc -ne 0 || $findings -gt 0 ]]; then
    verdict=FAILED
    failed=$((failed + 1))
  else
    clean=$((clean + 1))
  fi
  printf 'fuzz-%-14s %-6s runs %-9s exec/s %-7s cov %-5s ft %-5s corpus %-12s new %-6s findings %s\n' \
    "$n" "$verdict" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${added:-?}" \
    "$findings"
  if [[ $verdict != ok ]]; then
    echo "--- $out/log (end), exit status $rc:"
    grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "$out/log" | tail -40
    ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* 2>/dev/null
    echo "---"
  elif ((merge)); then
    merge_corpus "$n" "$bin" "$out"
  fi
done
echo "fuzz: build $((built - started)) s, runs $(($(date +%s) - built)) s"
echo "fuzz: $clean clean, $failed failed"
((failed == 0))
