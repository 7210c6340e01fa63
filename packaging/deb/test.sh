#!/usr/bin/env bash
# The Debian package, as a user meets it (run as root by scripts/test.sh):
# built, installed with dpkg -i, `saker --version` and `man saker`, the unit
# checked by systemd-analyze, the unit's ExecStart line run by hand with only
# the unit's capabilities raises an alert for `cat /etc/shadow`, and dpkg -r
# removes the package but keeps the conffiles (dpkg --purge then removes them).
set -euo pipefail
cd "$(dirname "$0")/../.."
say() { echo "deb-test: $*"; }
fail() { echo "deb-test: FAILED: $*" >&2; exit 1; }

deb=$(packaging/deb/build.sh | tail -1)
say "built $deb ($(du -h "$deb" | cut -f1))"
dpkg --purge saker >/dev/null 2>&1 || true
dpkg -i "$deb" >/dev/null
trap 'dpkg --purge saker >/dev/null 2>&1 || true' EXIT

saker --version | grep -q "saker" || fail "saker --version"
say "$(saker --version | head -1)"
man -w saker >/dev/null || fail "no man page"
MANWIDTH=80 man saker 2>/dev/null | grep -q "saker-detect" || fail "man saker does not list the subcommands"
man -w saker-detect >/dev/null || fail "no saker-detect man page"
[ -s /usr/share/bash-completion/completions/saker ] || fail "no bash completions"
unit=/lib/systemd/system/saker.service
systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit"

# The unit's command line, with exactly the unit's capability bounding set.
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing || true
out=$(mktemp -d)
# shellcheck disable=SC2086
setpriv --bounding-set "-all,$caps" --inh-caps "-all,$caps" --ambient-caps "-all,$caps" -- $exec_start \
	-o webserver.enabled=false -o json_output=true >"$out/alerts" 2>"$out/err" &
pid=$!
rule='"rule":"Credential file read by untrusted program"'
for _ in $(seq 1 120); do
	grep -q "$rule" "$out/alerts" && break
	kill -0 "$pid" 2>/dev/null || break
	cat /etc/shadow >/dev/null
	sleep 0.5
done
grep CapEff "/proc/$pid/status" 2>/dev/null | sed 's/^/deb-test: saker /' || true
kill -INT "$pid" 2>/dev/null || true
wait "$pid" || true
grep -q "$rule" "$out/alerts" || { cat "$out/err" "$out/alerts" >&2; fail "no alert for cat /etc/shadow from: $exec_start"; }
say "alert: $(grep -m1 "$rule" "$out/alerts" | cut -c1-160)"

dpkg -r saker >/dev/null
[ ! -e /usr/bin/saker ] || fail "dpkg -r left /usr/bin/saker"
[ -f /etc/saker/saker.yaml ] || fail "dpkg -r removed the conffile /etc/saker/saker.yaml"
dpkg --purge saker >/dev/null
[ ! -e /etc/saker/saker.yaml ] || fail "dpkg --purge left /etc/saker/saker.yaml"
say "ok"
