#!/usr/bin/env bash
# Configures and builds one build tree. Usage: scripts/build.sh [release|asan|tsan] [cmake args...]
#   release (default): build/       Release, -Werror, tests and tools
#   asan:              build-asan/  Debug with AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan:              build-tsan/  ThreadSanitizer, only the test suites that cross
#                                   threads outside CAF (see tests/CMakeLists.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-release}
[[ $# -gt 0 ]] && shift
case "$mode" in
  release) dir=build; args=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan) dir=build-asan; args=(-DCMAKE_BUILD_TYPE=Debug -DEMBEDRT_SANITIZERS=ON) ;;
  tsan) dir=build-tsan
        args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBEDRT_TSAN=ON -DEMBEDRT_BUILD_TOOLS=OFF) ;;
  *) echo "usage: scripts/build.sh [release|asan|tsan] [cmake args...]" >&2; exit 2 ;;
esac
jobs=${EMBEDRT_JOBS:-$(nproc)}
# ccache, where installed, makes rebuilds of several checkouts cheap (optional).
if command -v ccache >/dev/null 2>&1; then
  args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
fi
cmake -S . -B "$dir" -G Ninja -DEMBEDRT_WERROR=ON "${args[@]}" "$@" >/dev/null
cmake --build "$dir" -j "$jobs"
