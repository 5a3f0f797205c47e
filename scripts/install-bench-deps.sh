#!/usr/bin/env bash
# Installs what bench/ needs to build beyond Rust: rdkafka's `cmake-build`
# feature compiles the bundled librdkafka, which needs cmake and a C/C++
# compiler, and (as configured by rdkafka-sys) the libcurl headers; the OpenSSL
# headers for rdkafka's `ssl` feature (the SASL_SSL scenario).
# Debian/Ubuntu only; run as root (or with sudo available).
set -euo pipefail

packages=(cmake build-essential libcurl4-openssl-dev libssl-dev pkg-config)

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-bench-deps: all present (${packages[*]})"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-bench-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi

echo "install-bench-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
echo "install-bench-deps: done. Build with: cd bench && cargo build --release"
