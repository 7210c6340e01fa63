#!/usr/bin/env bash
# The project's whole check: formatting, lints, every test, each fuzz
# target for a few seconds (scripts/fuzz.sh runs them longer), the Debian
# package installed and run, the OCI image run with podman, the Kubernetes
# manifests validated, then the kernel drivers in QEMU guests with Debian's
# 6.1 and 5.10 kernels. CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# About a minute of fuzzing in all (7 targets), after their build.
./scripts/fuzz.sh --seconds "${SAKER_FUZZ_SECONDS:-8}"
packaging/deb/test.sh
packaging/oci/test.sh
deploy/kubernetes/test.sh
tests/guest/run
