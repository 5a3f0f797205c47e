#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 60)
#
# Installs cargo-fuzz from crates.io when it is missing. cargo-fuzz passes
# nightly-only flags (-Zsanitizer=address); RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept them. Corpora grow in fuzz/corpus/<target> (kept
# between runs, not committed), seeded from fuzz/seeds/<target>. A crash
# stops the script with a non-zero status; its input is in
# fuzz/artifacts/<target>/ and `cargo fuzz run <target> <file>` replays it.
set -euo pipefail

seconds="${1:-60}"
case "$seconds" in
  ''|*[!0-9]*) echo "usage: $0 [seconds per target]" >&2; exit 2 ;;
esac
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

targets=(broker_request client_response record_batches segment_recovery)
echo "fuzz.sh: building ${#targets[@]} targets" >&2
cargo fuzz build

for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  echo "fuzz.sh: $target for ${seconds}s" >&2
  # -rss_limit_mb: an input that makes the code hold more than 1 GiB is a
  # finding (unbounded allocation), not an environment problem.
  cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=1024 -malloc_limit_mb=1024 \
    -timeout=10 -print_final_stats=1
done
echo "fuzz.sh: no crash in ${#targets[@]} targets x ${seconds}s" >&2
