#!/usr/bin/env bash
# Builds every fuzz target (tests/fuzz/*.cpp) with clang-14, libFuzzer, ASan and UBSan
# in build-fuzz/, then runs each one for a bounded time. Fails when any target finds a
# crash, a leak, undefined behaviour, a timeout or a broken property.
#
# Usage: scripts/fuzz.sh [seconds-per-target] [target...]   (default: 60 s, every target)
#   EMBEDRT_FUZZ_RSS_MB     memory limit per target (default 2048)
#   EMBEDRT_FUZZ_TIMEOUT    seconds one input may take (default 10)
#   EMBEDRT_FUZZ_MAX_LEN    longest input tried, bytes (default 8192)
#
# Seeds: tests/fuzz/corpus/<target>/ (read only); tests/fuzz/<target>.dict, when present,
# is the target's libFuzzer dictionary. New inputs go to
# build-fuzz/corpus/<target>/, kept between runs. Findings: build-fuzz/findings/<target>/
# (crash-*, leak-*, timeout-*, oom-*; those of an earlier run move to
# build-fuzz/findings-old/). Replay one with build-fuzz/fuzz/fuzz-<target> FILE; once
# fixed, copy it into the seed corpus so ctest fuzz.<target> keeps it fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
[[ $# -gt 0 ]] && shift
if ! [[ $seconds =~ ^[0-9]+$ ]] || [[ $seconds -lt 1 ]]; then
  echo "usage: scripts/fuzz.sh [seconds-per-target] [target...]" >&2
  exit 2
fi
./scripts/install-deps.sh

dir=build-fuzz
# -O1 with line tables: symbolized reports at a fraction of a full -O2 -g build's time.
# Assertions stay on (no NDEBUG).
args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only"
      -DCMAKE_CXX_COMPILER=clang++-14 -DEMBEDRT_FUZZ=ON -DEMBEDRT_BUILD_TESTS=OFF
      -DEMBEDRT_BUILD_TOOLS=OFF -DEMBEDRT_WERROR=OFF)
if command -v ccache >/dev/null 2>&1; then
  args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
fi
cmake -S . -B "$dir" -G Ninja "${args[@]}" >/dev/null
cmake --build "$dir" -j "${EMBEDRT_JOBS:-$(nproc)}"

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for src in tests/fuzz/*.cpp; do
    targets+=("$(basename "$src" .cpp)")
  done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=()
for target in "${targets[@]}"; do
  bin=$dir/fuzz/fuzz-$target
  if [[ ! -x $bin ]]; then
    echo "fuzz: no binary for target '$target' ($bin)" >&2
    failed+=("$target")
    continue
  fi
  work=$dir/corpus/$target
  findings=$dir/findings/$target
  seeds=tests/fuzz/corpus/$target
  # Findings of an earlier run move aside, so this run's verdict is its own.
  if compgen -G "$findings/*" >/dev/null; then
    old=$dir/findings-old/$target-$(date +%Y%m%d-%H%M%S)
    mkdir -p "$old"
    mv "$findings"/* "$old"/
  fi
  mkdir -p "$work" "$findings"
  corpora=("$work")
  [[ -d $seeds ]] && corpora+=("$seeds")
  options=()
  [[ -f tests/fuzz/$target.dict ]] && options+=(-dict="tests/fuzz/$target.dict")
  log=$dir/findings/$target.log
  echo "fuzz: $target for ${seconds}s (log: $log)"
  # -max_total_time bounds the run; `timeout` is the backstop if it hangs anyway.
  set +e
  timeout --kill-after=10 $((seconds + 120)) "$bin" \
    -max_total_time="$seconds" -rss_limit_mb="${EMBEDRT_FUZZ_RSS_MB:-2048}" \
    -timeout="${EMBEDRT_FUZZ_TIMEOUT:-10}" -max_len="${EMBEDRT_FUZZ_MAX_LEN:-8192}" \
    -artifact_prefix="$findings/" -print_final_stats=1 ${options[@]+"${options[@]}"} \
    "${corpora[@]}" >"$log" 2>&1
  rc=$?
  set -e
  grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" \
    | sed 's/^/  /' || true
  if [[ $rc -ne 0 ]] || compgen -G "$findings/*" >/dev/null; then
    echo "fuzz: $target FAILED (exit $rc); findings in $findings:" >&2
    ls "$findings" >&2 || true
    grep -E -m 20 'ERROR|runtime error|property violated|SUMMARY' "$log" >&2 || true
    failed+=("$target")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: findings in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each without findings"
