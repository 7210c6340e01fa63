#!/usr/bin/env bash
# Fetches the guest kernels the kernel-side drivers are tested on, with their
# matching headers, into $SAKER_GUEST_DIR (default: target/guest):
#   bookworm  Debian 12's 6.1 (the machine's own apt sources)
#   bullseye  Debian 11's 5.10 (a bullseye source with its own lists and
#             cache, so the machine's bookworm setup is left untouched)
# Only the kernel image, header and kbuild packages are taken, with
# `apt-get download` + `dpkg-deb -x`: no install scripts run, nothing is
# installed on the host. Idempotent: a kernel already extracted is kept.
#
# Result, per kernel: $SAKER_GUEST_DIR/kernels/<release>/{vmlinuz,modules/,headers/}
# and $SAKER_GUEST_DIR/kernels/<name>.release naming the release.
set -euo pipefail

cd "$(dirname "$0")/../.."
dir="${SAKER_GUEST_DIR:-$PWD/target/guest}"
mkdir -p "$dir/kernels" "$dir/debs"

bullseye="$dir/apt-bullseye"
bullseye_opts=(
	-o "Dir::State::Lists=$bullseye/lists"
	-o "Dir::Etc::sourcelist=$bullseye/sources.list"
	-o "Dir::Etc::sourceparts=-"
	-o "Dir::Cache=$bullseye/cache"
	-o "Dir::State::status=/dev/null"
	-o "APT::Get::List-Cleanup=0"
)

# The image package the meta package `linux-image-amd64` points at.
image_package() {
	apt-cache "$@" show linux-image-amd64 2>/dev/null |
		sed -n 's/^Depends: \(linux-image-[0-9][^ ]*-amd64\).*/\1/p' | head -1
}

# Downloads and extracts one kernel; $1 = name, then apt options.
fetch() {
	local name=$1
	shift
	local image release
	image=$(image_package "$@")
	if [ -z "$image" ]; then
		echo "fetch-kernels: no linux-image-amd64 in the $name sources" >&2
		return 1
	fi
	release=${image#linux-image-}
	local out="$dir/kernels/$release"
	if [ -f "$out/.complete" ]; then
		echo "$release" > "$dir/kernels/$name.release"
		echo "fetch-kernels: $name $release (cached)"
		return 0
	fi
	# The headers of the flavour, the common headers and kbuild of this version.
	local hdr="linux-headers-$release"
	local common kbuild
	common=$(apt-cache "$@" show "$hdr" | sed -n "s/^Depends: .*\(linux-headers-[0-9.-]*-common\).*/\1/p" | head -1)
	kbuild=$(apt-cache "$@" show "$hdr" | sed -n "s/^Depends: .*\(linux-kbuild-[0-9.]*\).*/\1/p" | head -1)
	local version
	version=$(apt-cache "$@" show "$image" | sed -n 's/^Version: //p' | head -1)
	echo "fetch-kernels: $name $release ($version): $image $hdr $common $kbuild"
	local debs="$dir/debs/$name"
	rm -rf "$debs" "$out"
	mkdir -p "$debs" "$out"
	(cd "$debs" && apt-get -o APT::Sandbox::User=root "$@" download "$image=$version" "$hdr=$version" "$common=$version" "$kbuild=$version" >/dev/null)
	local root="$out/root"
	for deb in "$debs"/*.deb; do
		dpkg-deb -x "$deb" "$root"
	done
	ln -sfn "root/boot/vmlinuz-$release" "$out/vmlinuz"
	ln -sfn "root/lib/modules/$release" "$out/modules"
	ln -sfn "root/usr/src/linux-headers-$release" "$out/headers"
	# The headers' symlinks to kbuild and the common tree are absolute;
	# make them point inside the extracted root.
	find "$root/usr/src" -maxdepth 2 -type l | while read -r l; do
		local target
		target=$(readlink "$l")
		case "$target" in
		/*) ln -sfn "$root$target" "$l" ;;
		esac
	done
	rm -f "$root/lib/modules/$release/build" "$root/lib/modules/$release/source"
	ln -sfn "$root/usr/src/linux-headers-$release" "$root/lib/modules/$release/build"
	[ -f "$out/vmlinuz" ] || { echo "fetch-kernels: $image has no vmlinuz" >&2; return 1; }
	rm -rf "$debs"
	touch "$out/.complete"
	echo "$release" > "$dir/kernels/$name.release"
}

# bookworm: the machine's own sources (lists refreshed by setup).
fetch bookworm

# bullseye: its own sources, lists and cache.
mkdir -p "$bullseye/lists/partial" "$bullseye/cache/archives/partial"
cat > "$bullseye/sources.list" <<EOF
deb http://deb.debian.org/debian bullseye main
deb http://deb.debian.org/debian-security bullseye-security main
EOF
if [ -z "$(find "$bullseye/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null)" ]; then
	apt-get "${bullseye_opts[@]}" update -qq
fi
fetch bullseye "${bullseye_opts[@]}"
