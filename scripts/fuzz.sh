#!/usr/bin/env bash
# Runs saker's fuzz targets (cargo-fuzz, libFuzzer, on the nightly toolchain):
#
#   scripts/fuzz.sh [MINUTES] [TARGET...]     # MINUTES per target (default 1), every target by default
#   scripts/fuzz.sh --seconds 8               # what scripts/test.sh runs: each target briefly
#
# Targets (bodies in crates/fuzzing/src/lib.rs): capture_reader (plain and
# gzip captures: reader, state, formats), capture_reader_gzip (the gzip path,
# cut streams too), event_params (one raw event: view, parameters, every
# field), filter (parser, compiler, evaluation), rules (YAML rules loader and
# the engine's compiler), output_format (-p formats and alert encoders),
# config (configuration files and -o overrides).
#
# Each run starts from seeds made from ../shared/data (copied, split or
# extracted into fuzz/corpus/TARGET, which is not committed) plus what earlier
# runs kept there. A crash stops the run with its input in
# fuzz/artifacts/TARGET/; once fixed, copy that input to
# fuzz/regressions/TARGET/ and `cargo test -p saker-fuzzing` replays it for
# good. Installs the nightly toolchain and cargo-fuzz first if missing.
# Prints, per target, the corpus size and how long it ran clean.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
if [ "${1:-}" = "--seconds" ]; then
	seconds=$2
	shift 2
elif [ -n "${1:-}" ] && [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; then
	seconds=$(awk "BEGIN { printf \"%d\", $1 * 60 }")
	shift
fi
all=(capture_reader capture_reader_gzip event_params filter rules output_format config)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

# The toolchain and cargo-fuzz, idempotently.
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked

data=../shared/data
[ -d "$data" ] || { echo "fuzz: $data not found (the shared data sits beside the repository)" >&2; exit 1; }
python3 - "$data" fuzz/corpus <<'PY'
# Seeds: whole inputs and pieces of them, so that mutations start close to
# the many shapes the real files hold.
import gzip, os, re, struct, sys, hashlib
data, out = sys.argv[1], sys.argv[2]
def put(target, blob):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(blob, str):
        blob = blob.encode()
    name = "seed-" + hashlib.sha1(blob).hexdigest()[:16]
    p = os.path.join(d, name)
    if not os.path.exists(p):
        with open(p, "wb") as f:
            f.write(blob)
caps = sorted(os.path.join(data, "captures", c) for c in os.listdir(os.path.join(data, "captures")))
seen_types = set()
for c in caps:
    raw = open(c, "rb").read()
    plain = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    put("capture_reader", raw)
    put("capture_reader", plain[:128 << 10])
    put("capture_reader_gzip", plain[:64 << 10])
    # Event blocks of version 2 (0x216, 0x217 flagged, 0x221/0x222 large): one seed per event type.
    i = 0
    while i + 12 <= len(plain):
        btype, blen = struct.unpack_from("<II", plain, i)
        if blen < 12 or i + blen > len(plain):
            break
        if btype in (0x216, 0x217, 0x221, 0x222):
            skip = 6 if btype in (0x217, 0x222) else 2
            ev = plain[i + 8 + skip:i + blen - 4]
            if len(ev) >= 26:
                elen, etype = struct.unpack_from("<IH", ev, 16)
                if etype not in seen_types and elen <= len(ev):
                    seen_types.add(etype)
                    put("event_params", ev[:elen])
        i += blen
rules_dir = os.path.join(data, "rules")
rule_texts = [open(os.path.join(rules_dir, r), encoding="utf-8").read() for r in sorted(os.listdir(rules_dir))]
rule_texts.append(open("rules/saker_rules.yaml", encoding="utf-8").read())
for text in rule_texts:
    # Each top-level item alone, and runs of 20 items (lists and macros before their users).
    items = re.split(r"(?m)^(?=- )", text)
    for it in items:
        if it.strip():
            put("rules", it)
    for k in range(0, len(items), 20):
        put("rules", "".join(items[k:k + 20]))
    for m in re.finditer(r"(?m)^\s+condition:\s*(.+)$", text):
        c = m.group(1).strip()
        if c not in (">", "|", ">-", "|-"):
            put("filter", c)
    for m in re.finditer(r"(?m)^\s+output:\s*(.+)$", text):
        put("output_format", m.group(1).strip().strip('"'))
put("output_format", "%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.args")
put("config", open("crates/config/saker.yaml", encoding="utf-8").read())
put("config", "json_output: true\nhttp_output:\n  enabled: true\n  url: http://127.0.0.1:2801/\n\0webserver.enabled=false\npriority=notice")
PY

# Sizes: captures are large inputs; texts are small.
max_len() {
	case $1 in
	capture_reader) echo 131072 ;;
	capture_reader_gzip) echo 65536 ;;
	rules) echo 65536 ;;
	*) echo 8192 ;;
	esac
}

cargo +nightly fuzz build --fuzz-dir fuzz
status=0
summary=()
for t in "${targets[@]}"; do
	mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t" fuzz/logs
	log="fuzz/logs/$t.log"
	start=$(date +%s)
	if cargo +nightly fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" -- \
		-max_total_time="$seconds" -max_len="$(max_len "$t")" -rss_limit_mb=2048 -timeout=60 \
		-print_final_stats=1 >"$log" 2>&1; then
		result="0 crashes"
	else
		result="FAILED (see $log; the input is in fuzz/artifacts/$t/)"
		status=1
		tail -n 40 "$log" >&2
	fi
	ran=$(($(date +%s) - start))
	files=$(find "fuzz/corpus/$t" -type f | wc -l)
	bytes=$(du -sk "fuzz/corpus/$t" | cut -f1)
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
	summary+=("$(printf '| %s | %s s | %s | %s files, %s KiB | %s |' "$t" "$ran" "$execs" "$files" "$bytes" "$result")")
done
echo
echo "| target | ran | executions | corpus | result |"
echo "| --- | --- | --- | --- | --- |"
printf '%s\n' "${summary[@]}"
exit $status
