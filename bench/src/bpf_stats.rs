//! `kernel.bpf_stats_enabled` off while the storms run. With it on, the
//! kernel reads the clock around every BPF program run to count its time
//! (about 50 ns a run here): every row would pay it, the bare programs of
//! the floor rows too, and a sysctl left on by a profiling session makes
//! every figure wrong.

const SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// Turns the statistics off until dropped, then puts back what was there.
pub struct StatsOff {
    was_on: bool,
}

impl StatsOff {
    pub fn new() -> StatsOff {
        let was_on = std::fs::read_to_string(SYSCTL).is_ok_and(|s| s.trim() == "1");
        if was_on {
            match std::fs::write(SYSCTL, "0") {
                Ok(()) => eprintln!(
                    "bench: kernel.bpf_stats_enabled was 1 (it times every BPF program run): 0 for the storms, 1 again after"
                ),
                Err(e) => eprintln!(
                    "bench: WARNING: kernel.bpf_stats_enabled is 1 and cannot be turned off ({e}): every BPF program \
                     run below pays its timing"
                ),
            }
        }
        StatsOff { was_on }
    }
}

impl Drop for StatsOff {
    fn drop(&mut self) {
        if self.was_on {
            let _ = std::fs::write(SYSCTL, "1");
        }
    }
}
