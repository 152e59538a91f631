#!/usr/bin/env bash
# The checker's long soak (docs/testing.md, "The checker"): seeds one after another for
# [minutes] (default 30), each a run of CHECKER_RUN_SECONDS (default 30) of operations and
# faults on 3 instances and one Redis; the result goes to docs/checker-soak.md.
#   bash scripts/checker-soak.sh [minutes]
# Environment: CHECKER_FIRST_SEED (default: a fresh one), CHECKER_RUN_SECONDS,
# CHECKER_STRICT=1 (known holes fail too), CHECKER_REPORT (default docs/checker-soak.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export CHECKER_MINUTES=${1:-${CHECKER_MINUTES:-30}}
export CHECKER_REPORT=${CHECKER_REPORT:-$PWD/docs/checker-soak.md}
echo "checker soak: $CHECKER_MINUTES min, report in $CHECKER_REPORT"
cargo test --test checker soak::soak -- --ignored --exact --nocapture
