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
#
# Builds with debug assertions and overflow checks on (`--debug-assertions`,
# and fuzz/Cargo.toml's profile forces both even under `-O`): an integer
# overflow is a finding. The sanitizer is FUZZ_SANITIZER, default "none":
# the crate is #![forbid(unsafe_code)], and AddressSanitizer makes the
# targets that do Diffie-Hellman about four times slower (see
# fuzz/README.md); FUZZ_SANITIZER=address runs them under ASan. A target
# with a dictionary (fuzz/dicts/<target>.dict) gets it.
set -euo pipefail

secs="${1:-30}"
toolchain="${CARGO_FUZZ_TOOLCHAIN:-nightly}"
sanitizer="${FUZZ_SANITIZER:-none}"
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

flags=(--sanitizer "$sanitizer" --debug-assertions)
cargo "+$toolchain" fuzz build "${flags[@]}"

failed=()
summary=()
for target in "${targets[@]}"; do
    corpus="$work/$target"
    mkdir -p "$corpus"
    if [ -d "$fuzz_dir/corpus/$target" ]; then
        find "$fuzz_dir/corpus/$target" -maxdepth 1 -type f -name 'seed-*' -exec cp {} "$corpus/" \;
    fi
    echo "=== $target: ${secs}s on $(find "$corpus" -type f | wc -l) seeds"
    args=(-max_total_time="$secs" -timeout=60 -print_final_stats=1)
    if [ -e "$fuzz_dir/dicts/$target.dict" ]; then
        args+=(-dict="$fuzz_dir/dicts/$target.dict")
    fi
    log="$work/$target.log"
    status=0
    cargo "+$toolchain" fuzz run "${flags[@]}" "$target" "$corpus" -- "${args[@]}" 2>&1 |
        tee "$log" || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    summary+=("$(printf '%-14s %10s runs %8s exec/s' "$target" "${runs:-?}" "${rate:-?}")")
    if [ "$status" -ne 0 ]; then
        echo "=== $target FAILED (see fuzz/artifacts/$target/)" >&2
        failed+=("$target")
    fi
done

printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
    echo "failed: ${failed[*]}" >&2
    exit 1
fi
echo "all ${#targets[@]} targets ran ${secs}s without a finding"
