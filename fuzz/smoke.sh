#!/usr/bin/env bash
# Runs every fuzz target in fuzz/fuzz_targets/ for a fixed time, each on a
# temporary copy of its committed seed corpus (fuzz/corpus/<target>/seed-*),
# so nothing is written into the repository except crash artifacts, which
# cargo-fuzz keeps in fuzz/artifacts/<target>/ (ignored by git).
#
#   fuzz/smoke.sh [SECONDS_PER_TARGET]     (default 30)
#
# Needs a nightly toolchain (CARGO_FUZZ_TOOLCHAIN, default "nightly");
# installs cargo-fuzz if it is missing. Exits non-zero if any target finds a
# crash, a panic, a timeout (a single input over 60 s) or runs out of memory.
set -euo pipefail

secs="${1:-30}"
toolchain="${CARGO_FUZZ_TOOLCHAIN:-nightly}"
fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$fuzz_dir/.."

if ! cargo "+$toolchain" fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

targets=()
for src in "$fuzz_dir"/fuzz_targets/*.rs; do
    [ -e "$src" ] && targets+=("$(basename "$src" .rs)")
done
if [ "${#targets[@]}" -eq 0 ]; then
    echo "no fuzz targets in $fuzz_dir/fuzz_targets" >&2
    exit 1
fi

cargo "+$toolchain" fuzz build

failed=()
for target in "${targets[@]}"; do
    corpus="$work/$target"
    mkdir -p "$corpus"
    if [ -d "$fuzz_dir/corpus/$target" ]; then
        find "$fuzz_dir/corpus/$target" -maxdepth 1 -type f -name 'seed-*' -exec cp {} "$corpus/" \;
    fi
    echo "=== $target: ${secs}s on $(find "$corpus" -type f | wc -l) seeds"
    if ! cargo "+$toolchain" fuzz run "$target" "$corpus" -- \
        -max_total_time="$secs" -timeout=60 -print_final_stats=1; then
        echo "=== $target FAILED (see fuzz/artifacts/$target/)" >&2
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "failed: ${failed[*]}" >&2
    exit 1
fi
echo "all ${#targets[@]} targets ran ${secs}s without a finding"
