#!/usr/bin/env bash
# Fuzzes our WebSocket read path with cargo-fuzz (issue 19): the target `read_path`
# (fuzz/fuzz_targets/read_path.rs) feeds client byte streams through the read-ahead socket
# and tungstenite's frame reader and through plain tungstenite, which must agree.
#
#   scripts/fuzz.sh [SECONDS]        # default 1800 (the 30-minute run issue 19 asks for)
#
# cargo-fuzz needs nightly features; on the stable toolchain RUSTC_BOOTSTRAP=1 allows them for
# this build only (the fuzz crate is outside the main workspace, so nothing else needs them).
# Installs cargo-fuzz with `cargo install` when it is missing. The corpus grows in
# fuzz/corpus/read_path/ and a finding lands in fuzz/artifacts/read_path/ (both ignored by
# git); replay one with `RUSTC_BOOTSTRAP=1 cargo fuzz run read_path <file>`, then add it to
# tests/read_path/main.rs's named cases once fixed.
#
# libFuzzer's bounds: an allocation of 16 MiB or more (a frame is at most 64 KiB here) or an RSS
# over 1 GiB is a finding; an input takes at most 10 s. FUZZ_ARGS adds libFuzzer options
# (e.g. FUZZ_ARGS='-seed=1' to replay a run's choices).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-1800}
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
mkdir -p fuzz/corpus/read_path
echo "fuzzing read_path for ${seconds} s"
# shellcheck disable=SC2086 # FUZZ_ARGS is split on spaces on purpose
cargo fuzz run read_path fuzz/corpus/read_path -- \
    -max_total_time="$seconds" -malloc_limit_mb=16 -rss_limit_mb=1024 -timeout=10 \
    -print_final_stats=1 ${FUZZ_ARGS:-}
echo "ok: read_path fuzzed ${seconds} s without a finding"
