#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test through CTest.
# Usage: scripts/test.sh [--asan] [ctest args...]
#   --asan   the ASan+UBSan build (build-asan/) instead of the Release build (build/)
# Exits non-zero on any failure, and when no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
mode=release
if [[ ${1:-} == --asan ]]; then
  mode=asan
  shift
fi
./scripts/build.sh "$mode"
dir=build
[[ $mode == asan ]] && dir=build-asan
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
cd "$dir"
ctest --output-on-failure --no-tests=error -j "${EMBEDRT_TEST_JOBS:-2}" "$@"
