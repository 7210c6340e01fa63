#!/usr/bin/env bash
# Builds saker's Debian package from this checkout, with no packaging tool
# beyond dpkg-deb:
#   packaging/deb/build.sh            -> target/debian/saker_<version>_amd64.deb
# The binary is the static release build (crt-static: runs on any x86_64
# distribution), the configuration and rules are conffiles under /etc/saker,
# the man pages and completions are generated from the binary's own flags.
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$PWD
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
[ -n "$version" ] || { echo "build.sh: no workspace version in Cargo.toml" >&2; exit 1; }
target=x86_64-unknown-linux-gnu
RUSTFLAGS="-C target-feature=+crt-static" cargo build --locked --release --target "$target" -p saker
bin="target/$target/release/saker"

out="$root/target/debian"
stage="$out/stage"
rm -rf "$stage"
mkdir -p "$stage/DEBIAN"
d() { install -d "$stage/$1"; }
f() { install -D -m "$1" "$2" "$stage/$3"; }

strip -o "$out/saker" "$bin"
f 755 "$out/saker" usr/bin/saker

# Configuration: saker's documented defaults, with the packaged rules.
f 644 crates/config/saker.yaml etc/saker/saker.yaml
python3 - "$stage/etc/saker/saker.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
rules = "rules_files:\n  - /etc/saker/saker_rules.yaml\n  - /etc/saker/rules.d\n"
for old, new in [("rules_files: []\n", rules),
                 ("filename: ./saker_events.txt", "filename: /var/log/saker/events.txt")]:
    if old not in s:
        sys.exit(f"build.sh: {old.strip()!r} not found in crates/config/saker.yaml")
    s = s.replace(old, new, 1)
open(p, "w").write(s)
PY
f 644 rules/saker_rules.yaml etc/saker/saker_rules.yaml
d etc/saker/rules.d
f 644 packaging/deb/saker.service lib/systemd/system/saker.service
f 644 packaging/deb/saker.logrotate etc/logrotate.d/saker

# Man pages and completions, from the flags.
"$out/saker" generate man "$out/man"
for page in "$out"/man/*.1; do
	gzip -9n -c "$page" > "$out/$(basename "$page").gz"
	f 644 "$out/$(basename "$page").gz" "usr/share/man/man1/$(basename "$page").gz"
done
"$out/saker" generate completions bash > "$out/saker.bash"
"$out/saker" generate completions zsh > "$out/_saker"
"$out/saker" generate completions fish > "$out/saker.fish"
f 644 "$out/saker.bash" usr/share/bash-completion/completions/saker
f 644 "$out/_saker" usr/share/zsh/vendor-completions/_saker
f 644 "$out/saker.fish" usr/share/fish/vendor_completions.d/saker.fish

f 644 packaging/deb/copyright usr/share/doc/saker/copyright
f 644 README.md usr/share/doc/saker/README.md
f 644 kernel/LICENSE.md usr/share/doc/saker/kernel-LICENSE.md

for s in postinst prerm postrm; do
	install -m 755 "packaging/deb/$s" "$stage/DEBIAN/$s"
done
cat > "$stage/DEBIAN/conffiles" <<CONF
/etc/saker/saker.yaml
/etc/saker/saker_rules.yaml
/etc/logrotate.d/saker
CONF
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CTRL
Package: saker
Version: $version
Architecture: amd64
Maintainer: saker developers <maintainers@saker.invalid>
Installed-Size: $size
Section: admin
Priority: optional
Recommends: logrotate
Suggests: dkms, linux-headers-amd64
Homepage: https://github.com/saker-dev/saker
Description: runtime security and system-call capture (Falco rules, sysdig captures)
 saker takes system-call events from the kernel (modern eBPF by default),
 rebuilds processes, files, sockets, users and containers in memory,
 evaluates Falco-compatible rules on every event and sends alerts to
 stdout, files, syslog, HTTP, NATS and programs, with Prometheus metrics.
 It reads and writes the .scap captures sysdig and Falco use.
CTRL
deb="$out/saker_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
