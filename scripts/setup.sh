#!/usr/bin/env bash
# Installs everything saker needs to build and test on Debian 12, idempotently:
# the C toolchain for the kernel-side code, the libraries libbpf-sys links,
# and the real tools the tests compare against (sysdig reads and writes .scap).
set -euo pipefail

# clang/llvm: BPF programs; libelf/zlib: libbpf-sys builds libbpf against them;
# libbpf-dev/bpftool: BPF headers and vmlinux.h from BTF; sysdig 0.29.3: the
# oracle for capture files; strace: the reference tracer in benchmarks;
# nats-server (JetStream), rsyslog and prometheus: the real receivers the
# outputs and metrics tests start (saker-outputs, saker-metrics); python3:
# scripts/fuzz.sh makes the fuzzers' seeds from ../shared/data with it;
# qemu-system-x86, busybox-static and cpio: the guests that test the
# kernel-side drivers on other kernels (tests/guest/run); man-db and
# libcap2-bin: the Debian package's and OCI image's tests (man, setcap) and
# saker detect as a non-root user; podman, runc and containerd (with ctr):
# the OCI image's test and the real runtimes whose containers the container
# metadata tests start (images made offline from busybox-static).
packages=(
	build-essential pkg-config
	clang-19 llvm-19
	libelf-dev zlib1g-dev
	libbpf-dev bpftool
	sysdig
	strace
	nats-server rsyslog prometheus
	python3
	qemu-system-x86 busybox-static cpio
	man-db libcap2-bin podman runc containerd
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "setup: installing ${missing[*]}"
	$sudo apt-get update -qq
	# sysdig recommends Falco's DKMS module, which cannot build without headers and is not needed.
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Kubernetes manifests' validator (the schemas of every Kubernetes
# version, from PyPI); `kubectl kustomize` renders them (the machine's kubectl).
command -v kubernetes-validate >/dev/null || pip install -q --break-system-packages kubernetes-validate 2>/dev/null ||
	pip install -q kubernetes-validate
command -v kubectl >/dev/null || { echo "setup: kubectl not found (it renders deploy/kubernetes)" >&2; exit 1; }

if command -v rustup >/dev/null; then
	rustup component add rustfmt clippy >/dev/null 2>&1 || true
	# The fuzz targets (fuzz/, scripts/fuzz.sh) build on nightly with cargo-fuzz.
	rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
fi
command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust from https://rustup.rs" >&2; exit 1; }
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked
echo "setup: ok"
