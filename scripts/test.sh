#!/usr/bin/env bash
# The project's whole check: formatting, lints, every test, and each fuzz
# target for a few seconds (scripts/fuzz.sh runs them longer). CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# About a minute of fuzzing in all (7 targets), after their build.
./scripts/fuzz.sh --seconds "${SAKER_FUZZ_SECONDS:-8}"
