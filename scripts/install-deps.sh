#!/usr/bin/env bash
# Installs exactly the Debian packages embedrt needs to build, test, run and benchmark.
# Idempotent: prints nothing and touches nothing when everything is already present.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config   # toolchain
  libcaf-dev                         # CAF 0.17.6 actors (core + io)
  libcurl4-openssl-dev               # HTTP client (multi interface)
  nlohmann-json3-dev                 # JSON for config, requests and small bodies
  libsimdjson-dev                    # JSON for the float-heavy response path
  libcpp-httplib-dev                 # the bundled mock upstream
  libbenchmark-dev                   # Google Benchmark for bench/
  libhiredis-dev                     # Redis client: budget shared across processes
  prometheus-cpp-dev                 # metrics: registry, text exposition
  libcivetweb-dev                    # HTTP server of --metrics-listen (/metrics, /healthz)
  prometheus                         # promtool: tests check the exposition text
  redis-server                       # the shared-budget tests start their own Redis
  clang-format                       # style check (.clang-format)
  nginx-light openssl                # TLS (HTTP/1.1 + HTTP/2) front for integration.tls_upstream;
                                     # also the static upstream of bench/ baseline cells
  clang-14 libclang-rt-14-dev        # fuzz targets: libFuzzer + ASan/UBSan (scripts/fuzz.sh)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq >/dev/null
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
