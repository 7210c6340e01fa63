#!/usr/bin/env python3
# The ELF vmlinux inside a bzImage (Debian's vmlinuz: an xz or gzip payload),
# for its BTF: the guest harness builds the legacy eBPF probe of each guest
# kernel on the host with `saker driver build --kind ebpf --btf vmlinux`.
#   tests/guest/extract-vmlinux.py VMLINUZ OUT
import sys, lzma, gzip, zlib
data = open(sys.argv[1], 'rb').read()
out = None
for magic, fn in ((b'\xfd7zXZ\x00', 'xz'), (b'\x28\xb5\x2f\xfd', 'zstd'), (b'\x1f\x8b\x08\x00', 'gz')):
    i = data.find(magic)
    while i >= 0 and out is None:
        try:
            if fn == 'xz':
                d = lzma.LZMADecompressor()
                cand = d.decompress(data[i:])
            elif fn == 'gz':
                d = zlib.decompressobj(31)
                cand = d.decompress(data[i:])
            else:
                break
            if cand[:4] == b'\x7fELF':
                out = cand
        except Exception:
            pass
        i = data.find(magic, i + 1)
    if out:
        break
if not out:
    sys.exit("no ELF payload found in " + sys.argv[1])
open(sys.argv[2], 'wb').write(out)
