#!/usr/bin/env bash
# The oracle as CI runs it: its self-test, then the differential run on 2,000 mutated
# objects (seed 1) against the conformance runner in debug mode (built by `cargo test`;
# built here if not). Exits 1 below 100% accept/refuse agreement, or when fewer than 99%
# of the objects both refuse name the same first field up to what the apiserver leaves
# unnamed (compare.py --min-fields); 2 when the runner fails. Takes a few seconds once the
# runner is built.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 tests/oracle/selftest.py
cargo build --quiet --example conformance
python3 tests/oracle/compare.py --crate . --seed 1 --limit 2000 --examples 1 --min-fields 99 \
    --runner "cargo run --quiet --example conformance --"
