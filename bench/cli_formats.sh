#!/usr/bin/env bash
# Main-job throughput per output format: `embedrt embed` on N lines (default 50,000)
# of 1536-d vectors from embedrt-mock on 127.0.0.1, vectors/s and peak RSS for jsonl,
# jsonl-base64 and npy (median of REPS runs). Uses an existing build (default build/,
# or EMBEDRT_BENCH_BUILD_DIR); builds nothing, installs nothing, stops the mock on exit.
#
#   bench/cli_formats.sh                 # 50,000 lines, 3 repetitions per format
#   EMBEDRT_BENCH_LINES=10000 EMBEDRT_BENCH_REPS=1 bench/cli_formats.sh
#
# Extra arguments are passed to `embedrt embed` (e.g. --embedrt.http_pool.workers=2).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${EMBEDRT_BENCH_BUILD_DIR:-build}
lines=${EMBEDRT_BENCH_LINES:-50000}
reps=${EMBEDRT_BENCH_REPS:-3}
formats=(${EMBEDRT_BENCH_FORMATS:-jsonl jsonl-base64 npy})
for f in "$build/embedrt" "$build/embedrt-mock"; do
  [[ -x $f ]] || { echo "cli_formats: missing $f (./scripts/build.sh release)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/embedrt-cli-bench-XXXXXX)
mock_pid=
cleanup() {
  [[ -n $mock_pid ]] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$build/embedrt-mock" --dimension 1536 --report /dev/null >"$work/mock.out" 2>&1 &
mock_pid=$!
for _ in $(seq 50); do
  grep -q listening "$work/mock.out" 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/.*listening on //p' "$work/mock.out")
[[ -n $url ]] || { echo "cli_formats: the mock did not start" >&2; exit 2; }

awk -v n="$lines" 'BEGIN { for (i = 0; i < n; i++)
  printf "{\"id\":\"doc-%d\",\"text\":\"passage %d about resilient embedding jobs\"}\n", i, i }' \
  >"$work/in.jsonl"

echo "embedrt embed: $lines lines, 1536-d, embedrt-mock on 127.0.0.1, median of $reps"
echo "(load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores)"
printf '| format | vectors/s (median) | runs | peak RSS MiB | output MiB |\n'
printf '|---|---:|---|---:|---:|\n'
for fmt in "${formats[@]}"; do
  rates=()
  rss=0
  size=0
  for _ in $(seq "$reps"); do
    rm -f "$work"/out*
    /usr/bin/time -f "%M" -o "$work/time.txt" \
      "$build/embedrt" embed --input "$work/in.jsonl" --output "$work/out.$fmt" \
      --output-format "$fmt" --base-url "$url" --no-progress \
      --embedrt.endpoint.api_key_env=EMBEDRT_BENCH_NO_KEY "$@" 2>"$work/err.txt" || {
      cat "$work/err.txt" >&2
      exit 1
    }
    rates+=("$(awk '/vectors\/s:/ { print $2 }' "$work/err.txt")")
    r=$(tail -1 "$work/time.txt")
    ((r > rss)) && rss=$r
    size=$(du -cm "$work"/out* | tail -1 | cut -f1)
  done
  median=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  printf '| %s | %s | %s | %d | %s |\n' "$fmt" "$median" "${rates[*]}" $((rss / 1024)) "$size"
done
