#!/usr/bin/env bash
# run_fuzzers.sh BUILD_DIR [SECONDS] [TARGET...] — runs each libFuzzer target for SECONDS (default 20) of fuzzing,
# starting from its committed seeds (corpus/<target>) and regression inputs (regressions/<target>).
#
# New corpus entries go to a scratch directory, never into the committed seeds. A crash, leak, sanitizer report,
# timeout (10 s per input) or out-of-memory (2 GiB) stops that target; its input is saved as
# BUILD_DIR/fuzz_artifacts/<target>/crash-<sha1> and the script exits 1 after running the other targets.
# Reproduce with: BUILD_DIR/tests/fuzz/fuzz_<target> <that file>. Targets default to all five.
# BBO_FUZZ_SEED=S fixes libFuzzer's seed and BBO_FUZZ_RUNS=N stops after N inputs (SECONDS still caps the time):
# with both, a run explores the same inputs on every machine (CI uses this, so that it cannot fail at random;
# fuzz without them to look for new bugs).
set -uo pipefail

build=${1:?usage: run_fuzzers.sh BUILD_DIR [SECONDS] [TARGET...]}
seconds=${2:-20}
shift $(( $# >= 2 ? 2 : 1 ))
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(study_config search_space params storage_url run_report)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=()
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/fuzz_$t
  if [[ ! -x $bin ]]; then
    echo "run_fuzzers.sh: $bin not built (configure with -DBBO_FUZZ=ON, build target bbo_fuzzers)" >&2
    failed+=("$t (not built)")
    continue
  fi
  work=$(mktemp -d "${TMPDIR:-/tmp}/bbo_fuzz_${t}_XXXXXX")
  artifacts=$build/fuzz_artifacts/$t
  mkdir -p "$artifacts"
  seeds=("$here/corpus/$t")
  [[ -d $here/regressions/$t ]] && seeds+=("$here/regressions/$t")
  log=$build/fuzz_artifacts/$t.log
  echo "== fuzz_$t: ${seconds}s"
  extra=()
  [[ -n ${BBO_FUZZ_SEED:-} ]] && extra+=("-seed=$BBO_FUZZ_SEED")
  [[ -n ${BBO_FUZZ_RUNS:-} ]] && extra+=("-runs=$BBO_FUZZ_RUNS")
  "$bin" "$work" "${seeds[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "${extra[@]}" >"$log" 2>&1
  status=$?
  grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | tr '\n' ' '
  echo "(corpus: $(ls "$work" | wc -l) new inputs)"
  if [[ $status -ne 0 ]]; then
    echo "run_fuzzers.sh: fuzz_$t failed (status $status); log $log:" >&2
    grep -E 'ERROR|FUZZ PROPERTY|runtime error|SUMMARY|Test unit written' "$log" | head -20 >&2
    failed+=("$t")
  fi
  rm -rf "$work"
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "run_fuzzers.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "run_fuzzers.sh: no crash, leak or sanitizer report in ${seconds}s per target"
