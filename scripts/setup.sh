#!/usr/bin/env bash
# Installs everything saker needs to build and test on Debian 12, idempotently:
# the C toolchain for the kernel-side code, the libraries libbpf-sys links,
# and the real tools the tests compare against (sysdig reads and writes .scap).
set -euo pipefail

# clang/llvm: BPF programs; libelf/zlib: libbpf-sys builds libbpf against them;
# libbpf-dev/bpftool: BPF headers and vmlinux.h from BTF; sysdig 0.29.3: the
# oracle for capture files; strace: the reference tracer in benchmarks;
# nats-server (JetStream), rsyslog and prometheus: the real receivers the
# outputs and metrics tests start (saker-outputs, saker-metrics);
# qemu-system-x86, busybox-static and cpio: the guests that test the
# kernel-side drivers on other kernels (tests/guest/run); podman, runc and
# containerd (with ctr): the real runtimes whose containers the container
# metadata tests start (images made offline from busybox-static).
packages=(
	build-essential pkg-config
	clang-19 llvm-19
	libelf-dev zlib1g-dev
	libbpf-dev bpftool
	sysdig
	strace
	nats-server rsyslog prometheus
	qemu-system-x86 busybox-static cpio
	podman runc containerd
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

if command -v rustup >/dev/null; then
	rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust from https://rustup.rs" >&2; exit 1; }
echo "setup: ok"
