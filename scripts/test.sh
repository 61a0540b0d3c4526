#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test through CTest.
# Usage: scripts/test.sh [--asan|--tsan] [ctest args...]
#   --asan   the ASan+UBSan build (build-asan/) instead of the Release build (build/)
#   --tsan   the ThreadSanitizer build (build-tsan/): only the suites that cross threads
#            outside CAF; any report fails the test (suppressions: tests/tsan.supp)
# Exits non-zero on any failure, and when no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
mode=release
case ${1:-} in
  --asan) mode=asan; shift ;;
  --tsan) mode=tsan; shift ;;
esac
./scripts/build.sh "$mode"
dir=build
[[ $mode != release ]] && dir=build-$mode
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp}
cd "$dir"
# Suites labelled "wallclock" (several runtimes and a real Redis against wall-clock
# bounds) run alone afterwards and get one retry: a failure twice in a row fails.
ctest --output-on-failure --no-tests=error -j "${EMBEDRT_TEST_JOBS:-2}" -LE wallclock "$@"
ctest --output-on-failure --no-tests=ignore -L wallclock --repeat until-pass:2 "$@"
