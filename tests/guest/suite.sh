# The tests run inside each guest (by tests/guest/init); exit code 0 when all
# pass. Each prints SAKER-TEST-BEGIN/END lines the host reports.
fail=0
t() {
	name=$1
	shift
	echo "SAKER-TEST-BEGIN $name"
	"$@"
	r=$?
	echo "SAKER-TEST-END $name rc=$r"
	[ "$r" -eq 0 ] || fail=1
}

# The modern probe loads (every program of the default syscall set) and the
# marker workload's parameters are right; its event sequence is printed for
# the host to compare with its own.
markers() {
	SAKER_MARKER_SEQUENCE=/tmp/markers.seq /tests/markers --test-threads=1 marker_workload
	r=$?
	echo "SAKER-SEQ-BEGIN"
	cat /tmp/markers.seq 2>/dev/null
	echo "SAKER-SEQ-END"
	return $r
}
t markers markers

# Every program of the probe loads (each syscall's), and a child making
# many syscalls gets events with exactly their table layouts.
t layouts /tests/layouts --test-threads=1

# Each CO-RE access with several kernel layouts has, in this kernel's BTF,
# exactly the variant the table says for this kernel.
t core_variants /tests/core_variants --test-threads=1 --nocapture

# saker detect with Falco's stable rules raises "Read sensitive file
# untrusted" for `cat /etc/shadow`.
detect_shadow() {
	/bin/saker detect -r /rules/falco_rules.yaml -o json_output=true -o webserver.enabled=false \
		-o syslog_output.enabled=false >/tmp/alerts.json 2>/tmp/detect.err &
	pid=$!
	# Until the probe is attached nothing is seen: read the file again every
	# half second until the alert comes (or two minutes pass; TCG is slow).
	i=0
	while [ $i -lt 240 ] && ! grep -q '"rule":"Read sensitive file untrusted"' /tmp/alerts.json; do
		kill -0 $pid 2>/dev/null || break
		cat /etc/shadow >/dev/null
		sleep 0.5
		i=$((i + 1))
	done
	kill -INT $pid 2>/dev/null
	wait $pid
	cat /tmp/detect.err
	grep '"rule":"Read sensitive file untrusted"' /tmp/alerts.json | grep -q '"fd.name":"/etc/shadow"' || {
		echo "no alert for cat /etc/shadow; alerts:"
		cat /tmp/alerts.json
		return 1
	}
	grep '"rule":"Read sensitive file untrusted"' /tmp/alerts.json | head -1
}
t detect_shadow detect_shadow

exit $fail
