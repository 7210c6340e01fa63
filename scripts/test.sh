#!/usr/bin/env bash
# The project's whole check: formatting, lints, every test. CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
