//! What a ptrace tracer reads from /proc about a stopped thread: the values
//! the kernel drivers read from `task_struct` at the same moment.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use libc::pid_t;

/// Reads a whole /proc file into `buf` (cleared first); false on error.
pub(crate) fn read_into(path: &str, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    let Ok(mut f) = File::open(path) else { return false };
    // A plain read loop: `read_to_end` first asks for the file's size and
    // position (statx + lseek), two more syscalls per read on the tracer's
    // path, and a /proc file's size is 0 anyway.
    let mut chunk = [0u8; 4096];
    loop {
        match f.read(&mut chunk) {
            Ok(0) => return true,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

pub(crate) fn readlink(path: &str) -> Option<Vec<u8>> {
    std::fs::read_link(path).ok().map(|p| p.into_os_string().into_vec_bytes())
}

trait IntoVecBytes {
    fn into_vec_bytes(self) -> Vec<u8>;
}

impl IntoVecBytes for std::ffi::OsString {
    fn into_vec_bytes(self) -> Vec<u8> {
        use std::os::unix::ffi::OsStringExt;
        self.into_vec()
    }
}

/// A path as the kernel's dentry walk builds it: `readlink` of a /proc magic
/// link without the ` (deleted)` suffix d_path adds for unlinked files.
pub(crate) fn kernel_path(link: Vec<u8>) -> Vec<u8> {
    match link.strip_suffix(b" (deleted)") {
        Some(p) => p.to_vec(),
        None => link,
    }
}

pub(crate) fn num(b: &[u8]) -> Option<i64> {
    std::str::from_utf8(b).ok()?.trim().parse().ok()
}

fn unum(b: &[u8]) -> Option<u64> {
    std::str::from_utf8(b).ok()?.trim().parse().ok()
}

fn words(b: &[u8]) -> impl Iterator<Item = &[u8]> {
    b.split(|c| c.is_ascii_whitespace()).filter(|w| !w.is_empty())
}

/// The value after `key` on its line of a `Key:\tvalue` file.
fn field<'a>(text: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut rest = text;
    loop {
        let line_end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
        let line = &rest[..line_end];
        if let Some(v) = line.strip_prefix(key) {
            return Some(v);
        }
        if line_end >= rest.len() {
            return None;
        }
        rest = &rest[line_end + 1..];
    }
}

/// `/proc/<tid>/task/<tid>/stat`: the thread's own counters.
#[derive(Clone, Debug, Default)]
pub(crate) struct TaskStat {
    pub comm: Vec<u8>,
    pub ppid: i64,
    pub session: i64,
    pub tty: u32,
    pub minflt: u64,
    pub majflt: u64,
    pub starttime: u64,
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
}

pub(crate) fn task_stat(tid: pid_t, buf: &mut Vec<u8>) -> Option<TaskStat> {
    if !read_into(&format!("/proc/{tid}/task/{tid}/stat"), buf) {
        return None;
    }
    parse_stat(buf)
}

pub(crate) fn parse_stat(b: &[u8]) -> Option<TaskStat> {
    let open = b.iter().position(|&c| c == b'(')?;
    let close = b.iter().rposition(|&c| c == b')')?;
    let rest: Vec<&[u8]> = words(&b[close + 1..]).collect();
    // rest[0] is field 3 (state).
    let f = |n: usize| rest.get(n - 3).and_then(|w| unum(w)).unwrap_or(0);
    let i = |n: usize| rest.get(n - 3).and_then(|w| num(w)).unwrap_or(0);
    Some(TaskStat {
        comm: b[open + 1..close].to_vec(),
        ppid: i(4),
        session: i(6),
        tty: i(7) as u32,
        minflt: f(10),
        majflt: f(12),
        starttime: f(22),
        arg_start: f(48),
        arg_end: f(49),
        env_start: f(50),
        env_end: f(51),
    })
}

/// `/proc/<tid>/task/<tid>/status`.
#[derive(Clone, Debug, Default)]
pub(crate) struct TaskStatus {
    pub tgid: i64,
    pub ppid: i64,
    pub ruid: u32,
    pub euid: u32,
    pub egid: u32,
    pub cap_inh: u64,
    pub cap_prm: u64,
    pub cap_eff: u64,
    pub vm_size: u32,
    pub vm_rss: u32,
    pub vm_swap: u32,
    /// The thread id in its own pid namespace.
    pub vtid: i64,
    /// The process id in its own pid namespace.
    pub vpid: i64,
    /// The process group in the reader's and in the thread's own namespace.
    pub pgid: i64,
    pub vpgid: i64,
    /// Levels of pid namespaces below the reader's.
    pub ns_depth: usize,
}

pub(crate) fn task_status(tid: pid_t, buf: &mut Vec<u8>) -> Option<TaskStatus> {
    if !read_into(&format!("/proc/{tid}/task/{tid}/status"), buf) {
        return None;
    }
    Some(parse_status(buf))
}

pub(crate) fn parse_status(b: &[u8]) -> TaskStatus {
    let ids = |k: &[u8]| -> Vec<i64> { field(b, k).map(|v| words(v).filter_map(num).collect()).unwrap_or_default() };
    let hex = |k: &[u8]| {
        field(b, k).and_then(|v| u64::from_str_radix(std::str::from_utf8(v).ok()?.trim(), 16).ok()).unwrap_or(0)
    };
    let kb = |k: &[u8]| field(b, k).and_then(|v| words(v).next().and_then(unum)).unwrap_or(0) as u32;
    let uid = ids(b"Uid:");
    let gid = ids(b"Gid:");
    let nspid = ids(b"NSpid:");
    let nstgid = ids(b"NStgid:");
    let nspgid = ids(b"NSpgid:");
    TaskStatus {
        tgid: ids(b"Tgid:").first().copied().unwrap_or(0),
        ppid: ids(b"PPid:").first().copied().unwrap_or(0),
        ruid: uid.first().copied().unwrap_or(0) as u32,
        euid: uid.get(1).copied().unwrap_or(0) as u32,
        egid: gid.get(1).copied().unwrap_or(0) as u32,
        cap_inh: hex(b"CapInh:"),
        cap_prm: hex(b"CapPrm:"),
        cap_eff: hex(b"CapEff:"),
        vm_size: kb(b"VmSize:"),
        vm_rss: kb(b"VmRSS:"),
        vm_swap: kb(b"VmSwap:"),
        vtid: nspid.last().copied().unwrap_or(0),
        vpid: nstgid.last().copied().unwrap_or(0),
        pgid: nspgid.first().copied().unwrap_or(0),
        vpgid: nspgid.last().copied().unwrap_or(0),
        ns_depth: nspid.len().saturating_sub(1),
    }
}

pub(crate) fn cwd(tid: pid_t) -> Option<Vec<u8>> {
    readlink(&format!("/proc/{tid}/task/{tid}/cwd")).map(kernel_path)
}

pub(crate) fn exe(tid: pid_t) -> Option<Vec<u8>> {
    readlink(&format!("/proc/{tid}/exe")).map(kernel_path)
}

pub(crate) fn loginuid(tid: pid_t, buf: &mut Vec<u8>) -> u32 {
    if read_into(&format!("/proc/{tid}/loginuid"), buf) { unum(buf).map_or(u32::MAX, |v| v as u32) } else { u32::MAX }
}

/// Clock ticks per second of /proc's times.
pub(crate) fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no side effects.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

/// The cgroup subsystems in kernel id order and where cgroup v2 is mounted:
/// what turning `/proc/<tid>/cgroup` into the probe's `subsys=path` list needs.
#[derive(Clone, Debug, Default)]
pub(crate) struct CgroupLayout {
    /// `(ss->name, hierarchy id)`, at most 12 (the probe's CGROUP_SUBSYS_MAX).
    subsys: Vec<(Vec<u8>, u32)>,
    v2_mount: Option<PathBuf>,
}

impl CgroupLayout {
    pub(crate) fn load() -> CgroupLayout {
        let mut layout = CgroupLayout::default();
        let mut buf = Vec::new();
        if read_into("/proc/cgroups", &mut buf) {
            for line in buf.split(|&c| c == b'\n').filter(|l| !l.starts_with(b"#") && !l.is_empty()) {
                let mut w = words(line);
                let (Some(name), Some(h)) = (w.next(), w.next()) else { continue };
                // /proc/cgroups prints legacy names; the probe reads ss->name.
                let name = if name == b"blkio" { b"io".to_vec() } else { name.to_vec() };
                layout.subsys.push((name, unum(h).unwrap_or(0) as u32));
            }
            layout.subsys.truncate(12);
        }
        if read_into("/proc/self/mountinfo", &mut buf) {
            for line in buf.split(|&c| c == b'\n') {
                let Some(dash) = line.windows(3).position(|w| w == b" - ") else { continue };
                let fstype = words(&line[dash + 3..]).next().unwrap_or(b"");
                if fstype == b"cgroup2" {
                    if let Some(mp) = words(&line[..dash]).nth(4) {
                        layout.v2_mount = Some(PathBuf::from(OsStr::from_bytes(&unescape(mp))));
                        break;
                    }
                }
            }
        }
        layout
    }

    /// `subsys=/path\0` for each subsystem, from `/proc/<tid>/task/<tid>/cgroup`.
    pub(crate) fn cgroups(&self, tid: pid_t, buf: &mut Vec<u8>, out: &mut Vec<u8>) {
        if !read_into(&format!("/proc/{tid}/task/{tid}/cgroup"), buf) {
            return;
        }
        let mut v2: &[u8] = b"/";
        let mut v1: Vec<(u32, &[u8])> = Vec::new();
        for line in buf.split(|&c| c == b'\n') {
            let mut parts = line.splitn(3, |&c| c == b':');
            let (Some(h), Some(_), Some(path)) = (parts.next(), parts.next(), parts.next()) else { continue };
            let h = unum(h).unwrap_or(0) as u32;
            if h == 0 {
                v2 = path;
            } else {
                v1.push((h, path));
            }
        }
        for (name, h) in &self.subsys {
            out.extend_from_slice(name);
            out.push(b'=');
            if *h != 0 {
                out.extend_from_slice(v1.iter().find(|(x, _)| x == h).map_or(b"/" as &[u8], |(_, p)| p));
            } else {
                out.extend_from_slice(&self.v2_css_path(name, v2));
            }
            out.push(0);
        }
    }

    /// The cgroup whose css the task uses for a controller of the v2
    /// hierarchy: the deepest ancestor (or self) where it is enabled.
    fn v2_css_path(&self, name: &[u8], path: &[u8]) -> Vec<u8> {
        if name == b"perf_event" {
            return path.to_vec(); // implicit on the default hierarchy
        }
        let Some(mount) = &self.v2_mount else { return b"/".to_vec() };
        let mut p = path.to_vec();
        let mut buf = Vec::new();
        while p.len() > 1 {
            let dir = mount.join(OsStr::from_bytes(&p[1..]));
            if read_into(&dir.join("cgroup.controllers").to_string_lossy(), &mut buf) && words(&buf).any(|w| w == name)
            {
                return p;
            }
            match p.iter().rposition(|&c| c == b'/') {
                Some(0) | None => p.truncate(1),
                Some(i) => p.truncate(i),
            }
        }
        b"/".to_vec()
    }
}

/// mountinfo's octal escapes (`\040` for a space).
fn unescape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// `mnt_id -> kernel dev (major << 20 | minor)` of a mount namespace, from
/// `/proc/<tid>/mountinfo` (its `major:minor` is the superblock's `s_dev`).
pub(crate) fn mount_devs(tid: pid_t, buf: &mut Vec<u8>) -> Vec<(u64, u32)> {
    let mut out = Vec::new();
    if !read_into(&format!("/proc/{tid}/mountinfo"), buf) {
        return out;
    }
    for line in buf.split(|&c| c == b'\n') {
        let mut w = words(line);
        let (Some(id), _, Some(dev)) = (w.next().and_then(unum), w.next(), w.next()) else { continue };
        let Some((ma, mi)) = dev.iter().position(|&c| c == b':').map(|p| (&dev[..p], &dev[p + 1..])) else {
            continue;
        };
        if let (Some(ma), Some(mi)) = (unum(ma), unum(mi)) {
            out.push((id, ((ma as u32) << 20) | (mi as u32 & 0xfffff)));
        }
    }
    out
}

/// overlayfs's `statfs` magic.
const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;

/// Which overlayfs layer the executable of `tid` comes from, as the kernel
/// drivers tell it: `Some(true)` for the upper (writable, the container's
/// own) layer, `Some(false)` for a lower one, `None` when it is not on
/// overlayfs or the upper directory cannot be seen from here (a tracer
/// inside the container does not see the runtime's directories).
///
/// `exe` is the executable's path as `/proc/<tid>/exe` reads here and `ino` its
/// inode number; the file counts as upper when the overlay's `upperdir`
/// holds it with that inode number, as the probes compare the upper
/// dentry's inode with the overlay inode's.
pub(crate) fn exe_upper_layer(tid: pid_t, exe: &[u8], ino: u64, buf: &mut Vec<u8>) -> Option<bool> {
    use std::os::unix::ffi::OsStrExt;
    let link = std::ffi::CString::new(format!("/proc/{tid}/exe")).ok()?;
    // SAFETY: zeroed statfs is a valid out buffer; link is NUL-terminated.
    let mut sf: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(link.as_ptr(), &mut sf) } != 0 || sf.f_type as i64 != OVERLAYFS_SUPER_MAGIC {
        return None;
    }
    // readlink of /proc/<tid>/exe gave the path from this process's root:
    // the mounts that match it are this process's own.
    if !read_into("/proc/self/mountinfo", buf) {
        return None;
    }
    // The overlay mount whose mount point is the longest prefix of exe.
    let mut best: Option<(usize, Vec<u8>)> = None;
    for line in buf.split(|&c| c == b'\n') {
        let Some(dash) = line.windows(3).position(|w| w == b" - ") else { continue };
        let mut w = words(&line[..dash]);
        let Some(point) = w.nth(4).map(unescape) else { continue };
        let mut after = words(&line[dash + 3..]);
        let (Some(fstype), _, Some(opts)) = (after.next(), after.next(), after.next()) else { continue };
        let inside = exe.starts_with(&point)
            && (point == b"/" || exe.len() == point.len() || exe.get(point.len()) == Some(&b'/'));
        if fstype != b"overlay" || !inside || best.as_ref().is_some_and(|(n, _)| *n >= point.len()) {
            continue;
        }
        let upper = opts.split(|&c| c == b',').find_map(|o| o.strip_prefix(b"upperdir=")).map(unescape);
        best = Some((point.len(), upper.unwrap_or_default()));
    }
    let (point_len, upper) = best?;
    if upper.is_empty() {
        // a read-only overlay: every file is in a lower layer
        return Some(false);
    }
    let upper = std::path::Path::new(std::ffi::OsStr::from_bytes(&upper));
    if !upper.is_dir() {
        return None;
    }
    let rel = exe[point_len..].strip_prefix(b"/").unwrap_or(&exe[point_len..]);
    let in_upper = upper.join(std::ffi::OsStr::from_bytes(rel));
    use std::os::unix::fs::MetadataExt;
    Some(std::fs::symlink_metadata(in_upper).is_ok_and(|m| m.ino() == ino))
}

/// `/proc/<pid>/fdinfo/<fd>`: `(flags, mnt_id, ino)`.
pub(crate) fn fdinfo(pid: pid_t, fd: i64, buf: &mut Vec<u8>) -> Option<(u64, u64, u64)> {
    if !read_into(&format!("/proc/{pid}/fdinfo/{fd}"), buf) {
        return None;
    }
    let flags = field(buf, b"flags:")
        .and_then(|v| u64::from_str_radix(std::str::from_utf8(v).ok()?.trim(), 8).ok())
        .unwrap_or(0);
    let mnt = field(buf, b"mnt_id:").and_then(unum).unwrap_or(0);
    let ino = field(buf, b"ino:").and_then(unum).unwrap_or(0);
    Some((flags, mnt, ino))
}

/// Thread ids of process `pid`.
pub(crate) fn tasks(pid: pid_t) -> Vec<pid_t> {
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for e in dir.flatten() {
            if let Some(t) = num(e.file_name().as_bytes()) {
                out.push(t as pid_t);
            }
        }
    }
    out.sort_unstable();
    out
}

/// Every process of the machine with its parent: `(pid, ppid)`.
pub(crate) fn all_processes() -> Vec<(pid_t, pid_t)> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = num(e.file_name().as_bytes()) else { continue };
            if read_into(&format!("/proc/{pid}/stat"), &mut buf)
                && let Some(st) = parse_stat(&buf)
            {
                out.push((pid as pid_t, st.ppid as pid_t));
            }
        }
    }
    out
}

/// `/proc/sys/kernel/yama/ptrace_scope`, if Yama is active.
pub(crate) fn yama_scope() -> Option<u32> {
    let mut buf = Vec::new();
    if read_into("/proc/sys/kernel/yama/ptrace_scope", &mut buf) { unum(&buf).map(|v| v as u32) } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_and_parens_in_comm() {
        let line = b"42 (a b) c) S 1 42 42 34816 42 4194560 100 0 2 0 5 6 0 0 20 0 1 0 777 1000 50 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 10 20 30 40 0\n";
        let st = parse_stat(line).unwrap();
        assert_eq!(st.comm, b"a b) c");
        assert_eq!((st.ppid, st.session, st.tty), (1, 42, 34816));
        assert_eq!((st.minflt, st.majflt, st.starttime), (100, 2, 777));
        assert_eq!((st.arg_start, st.arg_end, st.env_start, st.env_end), (10, 20, 30, 40));
    }

    #[test]
    fn status_of_this_thread() {
        let mut buf = Vec::new();
        let tid = unsafe { libc::gettid() };
        let st = task_status(tid, &mut buf).unwrap();
        assert_eq!(st.tgid, std::process::id() as i64);
        assert_eq!(st.euid, unsafe { libc::geteuid() });
        assert!(st.vm_size > 0);
    }

    #[test]
    fn cgroups_list_every_subsystem() {
        let layout = CgroupLayout::load();
        let (mut buf, mut out) = (Vec::new(), Vec::new());
        layout.cgroups(unsafe { libc::gettid() }, &mut buf, &mut out);
        if !layout.subsys.is_empty() {
            assert_eq!(out.iter().filter(|&&c| c == 0).count(), layout.subsys.len());
            assert!(out.starts_with(&layout.subsys[0].0));
        }
    }
}
