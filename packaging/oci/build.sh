#!/usr/bin/env bash
# Builds saker's OCI image without a registry or a Containerfile: a root
# filesystem of the static binary, busybox (for the userspace-driver
# example's init container, which copies saker into the workload's pod) and
# the packaged configuration and rules, imported with `podman import`.
#   packaging/oci/build.sh     -> localhost/saker:<version>
# The image runs as user saker (uid 1000). saker carries file capabilities
# for what the modern eBPF driver needs (CAP_BPF, CAP_PERFMON, and
# CAP_SYS_PTRACE + CAP_DAC_READ_SEARCH for /proc), so no root is needed
# inside; the runtime's bounding set must allow them (--privileged, or
# --cap-add of the same), or the kernel refuses to run it. Kernels before
# 5.11 charge BPF memory to RLIMIT_MEMLOCK: give the container
# `--ulimit memlock=-1` there (CAP_SYS_RESOURCE is left out: runtimes that
# withhold it would then refuse the binary everywhere).
# HOST_ROOT=/host: mount the host's /proc, /etc and /run under /host.
set -euo pipefail
cd "$(dirname "$0")/../.."
packaging/deb/build.sh >/dev/null
version=$(sed -n 's/^Version: //p' target/debian/stage/DEBIAN/control)
stage=target/debian/stage
rootfs=target/oci/rootfs
rm -rf "$rootfs"
mkdir -p "$rootfs"/{usr/bin,bin,etc,tmp,host,var/log/saker}
chmod 1777 "$rootfs/tmp"
cp -a "$stage/usr/bin/saker" "$rootfs/usr/bin/saker"
cp -L /bin/busybox "$rootfs/bin/busybox"
cp -a "$stage/etc/saker" "$rootfs/etc/saker"
cat >"$rootfs/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/busybox
saker:x:1000:1000:saker:/tmp:/bin/busybox
nobody:x:65534:65534:nobody:/nonexistent:/bin/busybox
P
cat >"$rootfs/etc/group" <<'G'
root:x:0:
saker:x:1000:
nogroup:x:65534:
G
chown 1000:1000 "$rootfs/var/log/saker"
setcap cap_bpf,cap_perfmon,cap_sys_ptrace,cap_dac_read_search+ep "$rootfs/usr/bin/saker"
image="localhost/saker:$version"
tar --xattrs --xattrs-include='security.capability' -C "$rootfs" -c . |
	podman import -q \
		--change 'USER=1000' \
		--change 'ENV=HOST_ROOT=/host' \
		--change 'ENTRYPOINT=["/usr/bin/saker"]' \
		--change 'CMD=["detect","-c","/etc/saker/saker.yaml"]' \
		--change 'EXPOSE=8765' \
		- "$image" >/dev/null
echo "$image"
