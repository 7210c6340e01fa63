#!/usr/bin/env bash
# The OCI image, run as the Kubernetes manifests run it (as root, by
# scripts/test.sh): built with packaging/oci/build.sh, started with podman,
# privileged, with the host's /proc, /etc, /run and /sys/kernel/btf mounted
# and HOST_ROOT=/host. It must run as uid 1000 with only its file
# capabilities, alert on `cat /etc/shadow` on the host, and alert on the same
# action in a second container, naming that container (its metadata from
# podman's Docker API on the host's socket).
set -euo pipefail
cd "$(dirname "$0")/../.."
say() { echo "oci-test: $*"; }
fail() { echo "oci-test: FAILED: $*" >&2; exit 1; }
# This host's podman: runc and cgroupfs, rlimits under the VM's hard limits
# (../shared/notes/containers.md).
podman_run() {
	podman --runtime runc --cgroup-manager=cgroupfs run --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$@"
}

image=$(packaging/oci/build.sh | tail -1)
say "built $image ($(podman image inspect -f '{{.Size}}' "$image") bytes)"

# A second container's image: busybox with an /etc/shadow of its own.
victim_fs=$(mktemp -d)
mkdir -p "$victim_fs"/{bin,etc}
cp -L /bin/busybox "$victim_fs/bin/busybox"
for a in sh cat sleep; do ln -s busybox "$victim_fs/bin/$a"; done
echo 'root:*:19000:0:99999:7:::' >"$victim_fs/etc/shadow"
echo 'root:x:0:0:root:/root:/bin/sh' >"$victim_fs/etc/passwd"
tar -C "$victim_fs" -c . | podman import -q - localhost/saker-oci-victim:1 >/dev/null
rm -rf "$victim_fs"

name="saker-oci-test-$$"
victim="saker-oci-victim-$$"
# podman's Docker API, where saker finds containers' metadata (under
# HOST_ROOT: /host/run/podman/podman.sock).
mkdir -p /run/podman
# a socket left by an earlier service would be found before the new one
rm -f /run/podman/podman.sock
podman --runtime runc --cgroup-manager=cgroupfs system service --time=0 unix:///run/podman/podman.sock &
service=$!
cleanup() {
	podman rm -f "$name" "$victim" >/dev/null 2>&1 || true
	kill "$service" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 300); do
	[ -S /run/podman/podman.sock ] && break
	sleep 0.1
done
[ -S /run/podman/podman.sock ] || fail "podman's API service made no socket"
# saker runs as uid 1000 in the image: it reaches the runtime's socket
# through the socket's group, as a Docker user through the docker group
# (docker.sock is 0660 root:docker; podman makes its socket 0600).
chmod g+rw /run/podman/podman.sock
socket_gid=$(stat -c %g /run/podman/podman.sock)
podman_run -d --name "$name" --privileged --group-add "$socket_gid" \
	-v /proc:/host/proc:ro -v /etc:/host/etc:ro -v /run:/host/run:ro -v /sys/kernel/btf:/sys/kernel/btf:ro \
	"$image" detect -c /etc/saker/saker.yaml -o json_output=true -o webserver.enabled=false \
	-o syslog_output.enabled=false -p "container=%container.name image=%container.image.repository" >/dev/null

rule='"rule":"Credential file read by untrusted program"'
host_alert=""
for _ in $(seq 1 120); do
	host_alert=$(podman logs "$name" 2>/dev/null | grep "$rule" | grep '"container.id":"host"' | head -1 || true)
	[ -n "$host_alert" ] && break
	[ "$(podman inspect -f '{{.State.Running}}' "$name")" = true ] || break
	cat /etc/shadow >/dev/null
	sleep 0.5
done
[ -n "$host_alert" ] || { podman logs "$name" | tail -20 >&2; fail "no alert for cat /etc/shadow on the host"; }
say "host alert: $(cut -c1-150 <<<"$host_alert")"

pid=$(podman inspect -f '{{.State.Pid}}' "$name")
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
capeff=$(awk '/^CapEff:/ {print $2}' "/proc/$pid/status")
[ "$uid" = 1000 ] || fail "saker runs as uid $uid in the image, not 1000"
# It starts with its file capabilities (CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE,
# CAP_PERFMON, CAP_BPF) and, once the driver is attached, keeps only
# CAP_SYS_PTRACE (19) and CAP_BPF (39).
[ "$capeff" = 0000008000080000 ] || fail "saker's effective capabilities are $capeff"
say "saker runs as uid $uid with CapEff $capeff"

podman_run -d --name "$victim" localhost/saker-oci-victim:1 /bin/sh -c \
	'while true; do cat /etc/shadow >/dev/null; sleep 0.5; done' >/dev/null
victim_id=$(podman inspect -f '{{.Id}}' "$victim" | cut -c1-12)
container_alert=""
for _ in $(seq 1 60); do
	container_alert=$(podman logs "$name" 2>/dev/null | grep "$rule" | grep "\"container.id\":\"$victim_id\"" |
		grep "\"container.name\":\"$victim\"" | head -1 || true)
	[ -n "$container_alert" ] && break
	sleep 0.5
done
[ -n "$container_alert" ] || { podman logs "$name" | tail -5 >&2; fail "no alert naming container $victim ($victim_id)"; }
say "container alert: $(cut -c1-200 <<<"$container_alert")"
say "ok"
