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

# The legacy eBPF probe (--driver ebpf), built on the host for this kernel
# from its BTF: the marker workload with every parameter asserted, and the
# modern probe's event sequence (the host compares it with its own too).
ebpf_markers() {
	SAKER_BPF_PROBE=/ebpf/$(uname -r)/saker-bpf.o SAKER_MARKER_DRIVER=ebpf SAKER_MARKER_SEQUENCE=/tmp/ebpf.seq \
		/tests/markers --test-threads=1 marker_workload
	r=$?
	echo "SAKER-ESEQ-BEGIN"
	cat /tmp/ebpf.seq 2>/dev/null
	echo "SAKER-ESEQ-END"
	[ $r -eq 0 ] || return $r
	cmp /tmp/markers.seq /tmp/ebpf.seq || { echo "ebpf and modern-ebpf sequences differ"; return 1; }
}
t ebpf_markers ebpf_markers

# Every program of the probe loads on this kernel's verifier (saker trace
# captures every syscall by default) and events come.
ebpf_all() {
	# the guest is idle: something must make syscalls
	(while :; do cat /proc/version >/dev/null; sleep 0.2; done) &
	busy=$!
	SAKER_BPF_PROBE=/ebpf/$(uname -r)/saker-bpf.o timeout 300 /bin/saker trace --driver ebpf -n 50 \
		>/tmp/ebpf-all.out 2>/tmp/ebpf-all.err
	r=$?
	kill $busy
	wait $busy 2>/dev/null
	cat /tmp/ebpf-all.err
	head -3 /tmp/ebpf-all.out
	[ $r -eq 0 ] && [ "$(wc -l </tmp/ebpf-all.out)" -ge 50 ]
}
t ebpf_all_programs ebpf_all

# The other guest kernel's probe is refused, naming both releases and the
# build command; no probe at the default path gives the build command.
ebpf_refused() {
	other=$(ls /ebpf | grep -vx "$(uname -r)" | head -1)
	if [ -n "$other" ]; then
		out=$(SAKER_BPF_PROBE=/ebpf/$other/saker-bpf.o /bin/saker trace --driver ebpf -n 1 2>&1)
		echo "$out"
		echo "$out" | grep -q "built for kernel $other but this kernel is $(uname -r): rebuild it with .saker driver build --kind ebpf" || return 1
	fi
	out=$(SAKER_BPF_PROBE= /bin/saker trace --driver ebpf -n 1 2>&1)
	echo "$out"
	echo "$out" | grep -q "no saker eBPF probe at /root/.saker/saker-bpf.o: build it for this kernel ($(uname -r)) with .saker driver build --kind ebpf"
}
t ebpf_refused ebpf_refused

# The kernel module (--driver kmod), built on the host for this kernel.
ko=/kmod/$(uname -r)/saker.ko
consumers() { cat /sys/module/saker/parameters/consumers 2>/dev/null; }

# Loaded and unloaded 20 times; the device comes and goes with it.
kmod_cycle() {
	i=0
	while [ $i -lt 20 ]; do
		/bin/saker driver load --module $ko >/dev/null || return 1
		[ -c /dev/saker ] || { echo "no /dev/saker after load $i"; return 1; }
		/bin/saker driver unload >/dev/null || return 1
		[ ! -e /sys/module/saker ] || { echo "still loaded after unload $i"; return 1; }
		i=$((i + 1))
	done
	/bin/saker driver load --module $ko || return 1
	# loading again says so and succeeds
	/bin/saker driver load --module $ko | grep -q "already loaded"
}
t kmod_load_unload_20 kmod_cycle

# The marker workload through the module: every parameter asserted, and the
# event sequence equal to the modern probe's in this guest (the host also
# compares it with its own).
kmod_markers() {
	SAKER_MARKER_DRIVER=kmod SAKER_MARKER_SEQUENCE=/tmp/kmod.seq /tests/markers --test-threads=1 marker_workload
	r=$?
	echo "SAKER-KSEQ-BEGIN"
	cat /tmp/kmod.seq 2>/dev/null
	echo "SAKER-KSEQ-END"
	[ $r -eq 0 ] || return $r
	cmp /tmp/markers.seq /tmp/kmod.seq || { echo "kmod and modern-ebpf sequences differ"; return 1; }
}
t kmod_markers kmod_markers

# --driver auto with the module loaded and modern-ebpf support reported
# missing (the test-only SAKER_AUTO_NO_MODERN) picks kmod and says why;
# `saker driver status` gives the same reasoning without a capture.
auto_kmod() {
	SAKER_AUTO_NO_MODERN=1 /bin/saker driver status >/tmp/auto-status.out 2>&1
	cat /tmp/auto-status.out
	grep -q "^auto: kmod (saker's kernel module is loaded)" /tmp/auto-status.out || return 1
	grep -q "^auto: not modern-ebpf: support reported missing by SAKER_AUTO_NO_MODERN" /tmp/auto-status.out || return 1
	(while :; do cat /proc/version >/dev/null; sleep 0.2; done) &
	busy=$!
	SAKER_AUTO_NO_MODERN=1 timeout 300 /bin/saker trace --driver auto -n 5 >/tmp/auto.out 2>/tmp/auto.err
	r=$?
	kill $busy
	wait $busy 2>/dev/null
	cat /tmp/auto.err
	[ $r -eq 0 ] || return $r
	grep -q "driver kmod: saker's kernel module is loaded" /tmp/auto.err || return 1
	[ "$(wc -l </tmp/auto.out)" -ge 5 ] || { echo "fewer than 5 events"; return 1; }
	/bin/saker driver status | grep -q "^auto: modern-ebpf"
}
t auto_kmod auto_kmod

# Two consumers, a tiny ring under a storm, a SIGKILLed consumer, ring
# memory against VmallocUsed, CPU 1 taken offline and back during a capture.
t kmod_robustness /tests/kmod-guest --test-threads=1

# Unloading is refused while a consumer has the device open; status shows
# the consumer and its ring memory.
kmod_in_use() {
	/bin/saker trace --driver kmod --syscalls openat >/dev/null 2>/tmp/victim.err &
	pid=$!
	i=0
	while [ "$(consumers)" != 1 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	while [ "$(cat /sys/module/saker/parameters/ring_memory)" = 0 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	/bin/saker driver status >/tmp/status.out
	cat /tmp/status.out
	out=$(/bin/saker driver unload 2>&1)
	rc=$?
	echo "$out"
	# TERM, not INT: a background job of a script ignores SIGINT until
	# saker has installed its handlers
	kill -TERM $pid
	wait $pid
	[ $rc -ne 0 ] || { echo "unload succeeded with a consumer open"; return 1; }
	echo "$out" | grep -q "in use" || return 1
	[ -e /sys/module/saker ] || { echo "module gone"; return 1; }
	grep -q "^consumers: 1$" /tmp/status.out || return 1
	mem=$(sed -n 's/^ring_memory: \([0-9]*\) bytes.*/\1/p' /tmp/status.out)
	possible=$(cat /sys/devices/system/cpu/possible)
	want=$(( (${possible##*-} + 1) * (4096 + 8388608) ))
	[ "$mem" = "$want" ] || { echo "status ring memory $mem, want $want"; return 1; }
	grep -q "^compatible: yes$" /tmp/status.out || return 1
	/bin/saker driver unload
}
t kmod_in_use kmod_in_use

# Without headers, `saker driver build` names the packages to install.
kmod_no_headers() {
	out=$(/bin/saker driver build --kind kmod 2>&1)
	rc=$?
	echo "$out"
	[ $rc -eq 2 ] && echo "$out" | grep -q "apt-get install linux-headers-$(uname -r)" &&
		echo "$out" | grep -q "dnf install kernel-devel-$(uname -r)"
}
t kmod_no_headers kmod_no_headers

# Side by side with Falco's own module (6.1 guest): scap.ko and saker.ko
# loaded together, `sysdig -w` through scap.ko and `saker trace -w` through
# saker's module record the same workload; read back with `sysdig -r`, both
# show its opens, execs and connects with the same values.
side_by_side() {
	scap=/scap/$(uname -r).ko
	insmod $scap || return 1
	/bin/saker driver load --module $ko || return 1
	sysdig -w /tmp/sysdig.scap >/tmp/sysdig.out 2>&1 &
	sd=$!
	/bin/saker trace --driver kmod -w /tmp/saker.scap >/dev/null 2>/tmp/saker-w.err &
	sk=$!
	# both capture once their devices are open (and /proc read): wait
	i=0
	while [ $i -lt 600 ] && ! ls -l /proc/$sd/fd 2>/dev/null | grep -q /dev/scap0; do sleep 0.1; i=$((i + 1)); done
	while [ $i -lt 600 ] && [ "$(consumers)" != 1 ]; do sleep 0.1; i=$((i + 1)); done
	sleep 8
	# busybox runs its applets without exec: the workload is a real binary
	echo sbs >/tmp/sbs-file
	/tests/kmod-guest --ignored --exact side_by_side_workload --test-threads=1 >/dev/null || return 1
	sleep 3
	kill -TERM $sk $sd
	wait $sk
	wait $sd
	rmmod scap
	/bin/saker driver unload
	fmt='*%evt.type %proc.name %proc.args %fd.name %evt.rawres'
	flt='evt.dir=< and evt.type in (open,openat,execve,connect) and proc.name in (kmod-guest,true) and not fd.name contains /proc'
	sysdig -r /tmp/sysdig.scap -p "$fmt" "$flt" >/tmp/sbs.sysdig
	sysdig -r /tmp/saker.scap -p "$fmt" "$flt" >/tmp/sbs.saker
	echo "--- sysdig -w through scap.ko, read by sysdig -r:"
	cat /tmp/sbs.sysdig
	echo "--- saker trace -w through saker.ko, read by sysdig -r:"
	cat /tmp/sbs.saker
	grep -q "^open[a-z]* kmod-guest .*/tmp/sbs-file" /tmp/sbs.saker || { echo "no open of the workload"; return 1; }
	grep -q "^execve true sbs-arg" /tmp/sbs.saker || { echo "no exec of the workload"; return 1; }
	grep -q "^connect kmod-guest .*7777" /tmp/sbs.saker || { echo "no connect of the workload"; return 1; }
	diff /tmp/sbs.sysdig /tmp/sbs.saker
}
if [ -f /scap/$(uname -r).ko ] && [ -x /usr/bin/sysdig ]; then
	t side_by_side_with_scap side_by_side
fi

exit $fail
