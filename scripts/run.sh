#!/usr/bin/env bash
# The main job on a fresh machine: installs the dependencies, builds Release, starts the
# bundled mock upstream (embedrt-mock) on a free loopback port, embeds the sample corpus
# with the CLI and prints its summary.
#
# Usage: scripts/run.sh [--input FILE] [--output FILE] [any `embedrt embed` option]
# With OPENAI_BASE_URL or --base-url set, the real upstream is used instead of the mock.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
build_log=$(mktemp)
if ! ./scripts/build.sh release >"$build_log" 2>&1; then
  cat "$build_log" >&2
  exit 2
fi
rm -f "$build_log"

input=examples/corpus.jsonl
output=build/corpus.embeddings.jsonl
args=()
use_mock=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --input) input=$2; shift 2 ;;
    --output) output=$2; shift 2 ;;
    --base-url|--base-url=*) use_mock=0; args+=("$1"); [[ $1 == --base-url ]] && { args+=("$2"); shift; }; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ -n "${OPENAI_BASE_URL:-}" ]] && use_mock=0

mock_pid=
cleanup() { [[ -n "$mock_pid" ]] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null; true; }
trap cleanup EXIT

if [[ $use_mock == 1 ]]; then
  fifo=$(mktemp -u)
  mkfifo "$fifo"
  # --max-seconds bounds the mock even if this script is killed.
  ./build/embedrt-mock --port 0 --dimension 1536 --max-seconds 600 >"$fifo" 2>/dev/null &
  mock_pid=$!
  read -r announce <"$fifo"
  rm -f "$fifo"
  base_url=${announce##* }
  echo "run.sh: mock upstream at $base_url" >&2
  args+=(--base-url "$base_url")
fi

echo "run.sh: embedding $input -> $output" >&2
./build/embedrt embed --input "$input" --output "$output" "${args[@]}"
