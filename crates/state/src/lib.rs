/*!
Rebuilds the kernel's state in memory: the threads and processes of the
machine, their file descriptors, the users and groups, and the containers,
from an initial snapshot (a capture's header, or /proc on a live host) and
then from every event, the way Falco's libsinsp does.

- [`State::from_capture`] loads a capture's process list, fd lists, users,
  groups and network interfaces; [`State::from_proc`] reads the same from a
  live host's /proc, /etc/passwd and /etc/group.
- [`State::apply`] updates the state after one event, with libsinsp's
  semantics (sysdig 0.29.3's where they differ, so that rendering matches
  it): clone, fork, execve, procexit, the open, close, dup, fcntl, pipe,
  socket, connect, accept, bind and socketpair families, eventfd/signalfd/inotify/timerfd/epoll/
  bpf/io_uring/memfd/pidfd, chdir/fchdir, set*id, rlimits, datagram tuples,
  container and user events. Old event versions from captures (enter events
  carrying the arguments, exits without them) and the current exit-only
  versions are both handled. Removals (closed fds, exited threads) take
  effect at the next event, as in libsinsp, so the event that causes them
  still sees the fd or thread.
- Lookups: [`State::thread`], [`State::fd`], [`State::cwd`],
  [`State::user`], [`State::group`], [`State::container`],
  [`State::ancestors`] (for `proc.aname[N]`), and [`State::counters`].

Memory is bounded by [`Limits`]: the thread table, each fd table, the
container and user tables have a maximum size; hitting one drops the new
entry and counts it ([`Counters`]), it never fails. Exited threads are
purged.

Threads of a process share its fd table, working directory and fd limit
through the main thread (`tid == pid`), as in libsinsp; program data
(comm, exe, args, env, cgroups) is reference counted and shared by the
threads and forked children that have not exec'd, and fd names are shared
between fd tables copied at fork.

```no_run
# fn main() -> Result<(), saker_scap::Error> {
use saker_state::{Limits, State};
let mut reader = saker_scap::Reader::open("trace.scap")?;
let mut state = State::from_capture(reader.header(), &Limits::default());
while let Some(rec) = reader.next_event()? {
    state.apply(&rec.event, rec.cpu);
    let tid = rec.event.tid() as i64;
    if let (Some(t), Some(fd)) = (state.thread(tid), state.fd(tid, 3)) {
        println!("{} fd 3 is {}", String::from_utf8_lossy(t.comm()), String::from_utf8_lossy(&fd.name));
    }
}
# Ok(()) }
```

This crate does not read events from anywhere (see `saker-driver`), render
anything for humans (`saker-fields`), evaluate filters or rules, or talk to
container runtimes: container ids and runtimes come from cgroup paths,
names and images only from the capture's container events.
*/

mod container;
mod error;
mod fd;
mod lookup;
mod parse;
mod proc;
mod snapshot;
mod thread;
mod util;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use saker_abi::Event;
use saker_scap::{CaptureHeader, FdInfo, FdKind, InterfaceAddr, ProcessInfo};

pub use container::{Container, Mount, Runtime, container_of_cgroup, container_of_cgroups};
pub use error::StateError;
pub use fd::{Fd, FdType, SockInfo, fd_flags, l4};
pub use lookup::{LookupHandle, LookupRequest, LookupWorker, lookup_channel};
pub use proc::read_users_at;
pub use snapshot::machine_info;
pub use thread::{ExecInfo, FdTable, Thread, exe_flags, thread_flags};
pub use util::{Str, append_path, concat_paths};

use util::{FxHashMap, new_str};

/// Sizes past which the state stops growing. Hitting one is counted in
/// [`Counters`]; the new entry is dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Threads in the table (Falco's default: 262144).
    pub max_threads: usize,
    /// File descriptors per process (libsinsp's default: 4096).
    pub max_fds_per_process: usize,
    /// Containers known.
    pub max_containers: usize,
    /// Users plus groups, over all containers.
    pub max_users: usize,
    /// Largest enter event kept to complete its exit event, in bytes.
    pub max_stored_event: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_threads: 262_144,
            max_fds_per_process: 4096,
            max_containers: 16_384,
            max_users: 65_536,
            max_stored_event: 65_536,
        }
    }
}

/// What the state did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Events applied, and events left unapplied because they changed
    /// nothing the reader reads.
    pub events: u64,
    /// Threads added (snapshot, clone, or first sight of a tid).
    pub threads_added: u64,
    /// Threads purged (exit, tid reuse).
    pub threads_removed: u64,
    /// Containers whose metadata was asked of the runtimes.
    pub container_lookups: u64,
    /// Exited threads whose children were given to a reaper.
    pub threads_reparented: u64,
    /// Threads first seen in an event that nothing was known about
    /// (libsinsp's placeholder entries, or /proc lookups on a live host).
    pub threads_repaired: u64,
    /// Threads not added because the thread table was full.
    pub thread_limit_hits: u64,
    /// File descriptors added.
    pub fds_added: u64,
    /// File descriptors removed (close, exec, exit).
    pub fds_removed: u64,
    /// File descriptors not added because their process's table was full.
    pub fd_limit_hits: u64,
    /// Containers not added because the table was full.
    pub container_limit_hits: u64,
    /// Users or groups not added because the tables were full.
    pub user_limit_hits: u64,
    /// Exit events whose enter event was missing when it was needed.
    pub missing_enter_events: u64,
    /// Enter events too large to keep.
    pub dropped_enter_events: u64,
}

/// The parts of the state that only a few fields read. A reader that reads
/// none of a part's fields can leave unapplied the events that only update
/// that part ([`State::unneeded_event_types`]): scheduler switches are often
/// a capture's most frequent events, and a capture can repeat its user list
/// by the hundred thousand. Likewise, a reader of no field that looks at
/// the last exit of a thread as such can leave out the exits that only
/// close a system call, right after their enter event
/// ([`State::unneeded_exits_after_enter`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    /// The user and group tables (`user.*`, `group.*`, and the user and
    /// group names shown in rendered arguments).
    pub users: bool,
    /// Threads' page-fault counts and processes' memory sizes, which come
    /// from scheduler switches (`thread.pfmajor`, `proc.vmsize`...).
    pub memory: bool,
    /// What a thread's last exit event left in its last-event record
    /// beyond the fd: its latency (`evt.latency`, `evt.wait_latency`, `-t
    /// d`) and whether it followed its enter event (the fd libsinsp
    /// attaches to the event: `evt.category`, `evt.buflen`,
    /// `evt.is_syslog`, `evt.count.error.*`), which events that do not
    /// update that record show (scheduler switches, user lists).
    pub last_event: bool,
}

impl Reads {
    /// Reads nothing from the optional parts.
    pub const NONE: Reads = Reads { users: false, memory: false, last_event: false };
    /// Reads everything (every event must be applied).
    pub const ALL: Reads = Reads { users: true, memory: true, last_event: true };

    /// What either reads.
    pub fn union(self, o: Reads) -> Reads {
        Reads {
            users: self.users || o.users,
            memory: self.memory || o.memory,
            last_event: self.last_event || o.last_event,
        }
    }
}

/// A user of the host or of a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Name.
    pub name: Str,
    /// Home directory.
    pub home: Str,
    /// Login shell.
    pub shell: Str,
}

/// A group of the host or of a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Group id.
    pub gid: u32,
    /// Name.
    pub name: Str,
}

#[derive(Clone, Debug, Default)]
struct UserDb {
    users: FxHashMap<u32, User>,
    groups: FxHashMap<u32, Group>,
}

/// Where missing threads can be looked up.
#[derive(Clone, Debug)]
enum Source {
    /// A capture: nothing outside the events.
    Capture,
    /// A live host: /proc under this root.
    Live(Arc<Path>),
}

/// An IPv4 interface address and netmask, as network-order `u32`s read
/// little-endian (libsinsp's representation).
#[derive(Clone, Copy, Debug)]
struct Ipv4If {
    addr: u32,
    netmask: u32,
}

/// The rebuilt kernel state. See the crate documentation.
#[derive(Clone, Debug)]
pub struct State {
    threads: FxHashMap<i64, Thread>,
    users: FxHashMap<Str, UserDb>,
    user_count: usize,
    containers: FxHashMap<Str, Container>,
    host: Container,
    ipv4_ifs: Vec<Ipv4If>,
    ipv6_ifs: Vec<[u8; 16]>,
    /// The thread of the current event when it is not in the table: a
    /// container event's `container:<id>` pseudo-thread, as libsinsp makes.
    overlay: Option<Box<Thread>>,
    limits: Limits,
    counters: Counters,
    source: Source,
    /// Thread to purge before the next event (libsinsp's `m_tid_to_remove`).
    pending_thread: Option<i64>,
    /// Children that exited before their parent's clone exit came (events
    /// are ordered by time, and a parent can return from fork after its
    /// child has run and exited on another CPU): that late event must not
    /// bring the child back.
    pub(crate) exited_before_parent: util::FxHashSet<i64>,
    /// Whether an fd's close was ever canceled (a new fd took its number
    /// while the close was in progress): until then exits need not look
    /// for one, which saves an fd lookup on every exit with an fd.
    pub(crate) any_close_canceled: bool,
    /// Fds to close before the next event, and the thread they belong to.
    pending_fds: (i64, Vec<i64>),
    scratch: Vec<u8>,
    /// Where new containers are looked up (live), if anywhere.
    lookup: Option<lookup::LookupHandle>,
    /// Containers asked for and not answered (or answered with nothing).
    requested: util::FxHashSet<Str>,
    /// Containers whose metadata arrived, for a capture writer to record.
    new_containers: Vec<Container>,
}

/// libsinsp's placeholder fd number for a close that a new fd canceled.
pub(crate) const CANCELED_FD: i64 = i64::MAX;

impl State {
    /// An empty state.
    pub fn new(limits: &Limits) -> State {
        State {
            threads: FxHashMap::default(),
            users: FxHashMap::default(),
            user_count: 0,
            containers: FxHashMap::default(),
            host: Container {
                name: new_str(b"host"),
                ..Container::new(new_str(b"host"), new_str(b"host"), Runtime::Other)
            },
            ipv4_ifs: Vec::new(),
            ipv6_ifs: Vec::new(),
            overlay: None,
            limits: limits.clone(),
            counters: Counters::default(),
            source: Source::Capture,
            pending_thread: None,
            exited_before_parent: util::FxHashSet::default(),
            any_close_canceled: false,
            pending_fds: (-1, Vec::new()),
            scratch: Vec::with_capacity(256),
            lookup: None,
            requested: util::FxHashSet::default(),
            new_containers: Vec::new(),
        }
    }

    /// The state a capture starts with: its process list with each
    /// thread's fds, its users and groups (the host's), and its network
    /// interfaces (used to complete datagram socket tuples).
    pub fn from_capture(header: &CaptureHeader, limits: &Limits) -> State {
        let mut s = State::new(limits);
        for i in &header.interfaces {
            match i.addr {
                InterfaceAddr::V4 { addr, netmask, .. } => s.ipv4_ifs.push(Ipv4If {
                    addr: u32::from_le_bytes(addr.octets()),
                    netmask: u32::from_le_bytes(netmask.octets()),
                }),
                InterfaceAddr::V6 { addr, .. } => s.ipv6_ifs.push(addr.octets()),
            }
        }
        for u in &header.users {
            s.add_user(
                b"",
                User {
                    uid: u.uid,
                    gid: u.gid,
                    name: new_str(&u.name),
                    home: new_str(&u.homedir),
                    shell: new_str(&u.shell),
                },
            );
        }
        for g in &header.groups {
            s.add_group(b"", Group { gid: g.gid, name: new_str(&g.name) });
        }
        s.load_processes(&header.processes);
        s
    }

    /// The state of the live host: every process and thread of `/proc`,
    /// their fds (sockets matched to `/proc/net` by inode), cgroups, and the
    /// users and groups of `/etc/passwd` and `/etc/group`. Threads that
    /// events name later and that the state does not know are looked up in
    /// /proc too.
    pub fn from_proc(limits: &Limits) -> Result<State, StateError> {
        State::from_proc_at(Path::new("/"), limits)
    }

    /// [`State::from_proc`] for a host whose root is mounted at `root`
    /// (`/proc` and `/etc` are read under it).
    pub fn from_proc_at(root: &Path, limits: &Limits) -> Result<State, StateError> {
        let mut s = State::new(limits);
        let snap = proc::scan(root)?;
        for (a, m) in snap.ipv4_ifs {
            s.ipv4_ifs.push(Ipv4If { addr: a, netmask: m });
        }
        for u in snap.users {
            s.add_user(b"", u);
        }
        for g in snap.groups {
            s.add_group(b"", g);
        }
        s.load_processes(&snap.processes);
        s.source = Source::Live(Arc::from(root));
        Ok(s)
    }

    /// Updates the state after `event`, read on CPU `cpu`. Rendering the
    /// event afterwards sees the state as libsinsp shows it for that event.
    /// Inlined into the callers' event loops: a thin wrapper called on
    /// every event, whose own call would cost as much as what it does.
    #[inline]
    pub fn apply(&mut self, event: &Event<'_>, cpu: u16) {
        let _ = cpu;
        self.counters.events += 1;
        if let Some(l) = &self.lookup
            && l.has_results()
        {
            self.take_lookups();
        }
        parse::apply(self, event);
    }

    /// Looks the metadata of containers up through `handle` from now on
    /// (see [`lookup_channel`]): those of the threads already known at
    /// once, new ones when first seen. Live only: captures carry their own
    /// container events.
    pub fn set_container_lookup(&mut self, handle: LookupHandle) {
        self.lookup = Some(handle);
        let seen: Vec<(Arc<ExecInfo>, i64)> = self
            .threads
            .values()
            .filter(|t| !t.info.container_id.is_empty() && t.is_main_thread())
            .map(|t| (t.info.clone(), t.pid))
            .collect();
        for (info, pid) in seen {
            self.container_seen(&info, pid);
        }
    }

    /// Asks for the metadata of the container of `info` unless it is
    /// known or asked for already.
    pub(crate) fn container_seen(&mut self, info: &ExecInfo, pid: i64) {
        let Some(l) = &self.lookup else { return };
        let id = &info.container_id;
        if id.is_empty() || self.containers.contains_key(id) || self.requested.contains(id) {
            return;
        }
        // The full id is in the cgroups (the table keys the short one).
        let full = container::full_container_of_cgroups(&info.cgroups);
        let Some((runtime, full_id)) = full else { return };
        let r = LookupRequest { id: id.clone(), full_id: new_str(full_id), runtime, pid };
        if l.request(r) {
            self.counters.container_lookups += 1;
            self.requested.insert(id.clone());
        }
    }

    fn take_lookups(&mut self) {
        let Some(mut l) = self.lookup.take() else { return };
        l.drain(|c, users, groups| {
            self.requested.remove(&c.id);
            // The container's own users and groups (user.name in it).
            for u in users {
                self.add_user(&c.id, u.clone());
            }
            for g in groups {
                self.add_group(&c.id, g.clone());
            }
            if self.new_containers.len() < 4096 {
                self.new_containers.push(c.clone());
            }
            self.add_container(c);
        });
        self.lookup = Some(l);
    }

    /// Containers whose metadata arrived since the last call, for a
    /// capture writer to record as container events.
    pub fn take_new_containers(&mut self) -> Vec<Container> {
        std::mem::take(&mut self.new_containers)
    }

    /// Whether [`State::take_new_containers`] has anything.
    #[inline]
    pub fn has_new_containers(&self) -> bool {
        !self.new_containers.is_empty()
    }

    /// Forgets a container that exited (its pid namespace's init left),
    /// when metadata is looked up live.
    pub(crate) fn container_exited(&mut self, id: &Str) {
        if self.lookup.is_none() {
            return;
        }
        // A thread of a multi-threaded init that execs takes the init's
        // place and the entry of the thread it was leaves: the container
        // lives on while an init of it (vpid 1) is alive in the table. Rare
        // (an init leaving), so a pass over the table is fine.
        if self.threads.values().any(|o| o.vpid == 1 && o.info.container_id == *id && !o.is_closed()) {
            return;
        }
        {
            self.containers.remove(id);
            self.requested.remove(id);
            if let Some(db) = self.users.remove(id) {
                self.user_count -= db.users.len() + db.groups.len();
            }
        }
    }

    /// The event types whose events change nothing a reader of `reads`
    /// sees: applying them or not gives that reader the same values on
    /// every event. A reader may leave them unapplied, counting them with
    /// [`State::count_unapplied`].
    pub fn unneeded_event_types(reads: Reads) -> saker_abi::EventTypeSet {
        let mut set = saker_abi::EventTypeSet::none();
        for code in 0..saker_abi::EVENT_TYPE_COUNT as u16 {
            let unneeded = match parse::changes(code) {
                parse::Changes::Nothing => true,
                parse::Changes::Users => !reads.users,
                parse::Changes::Memory => !reads.memory,
                parse::Changes::Anything => false,
            };
            if unneeded {
                set.insert(saker_abi::EventType(code));
            }
        }
        set
    }

    /// The exit event types an event reader whose fields do not read
    /// [`Reads::last_event`] may leave unapplied when one comes right after
    /// its own enter event, of the same thread, applied just before it.
    /// Such an exit changes only its thread's last-event record, and after
    /// an exit that followed its enter, nothing a reader of other fields
    /// sees there: the fd stays the enter's (none: these system calls have
    /// no fd), and the latency and the enter/exit match it sets are
    /// replaced by the thread's next enter or exit before any event that
    /// fields read them on (switches and user lists aside, which is what
    /// `last_event` is about). The exits' own parsing is none: the state
    /// asks its parser, once per type, with an empty event.
    pub fn unneeded_exits_after_enter() -> saker_abi::EventTypeSet {
        let mut set = saker_abi::EventTypeSet::none();
        for code in 0..saker_abi::EVENT_TYPE_COUNT as u16 {
            if parse::exit_unneeded_after_enter(code) {
                set.insert(saker_abi::EventType(code));
            }
        }
        set
    }

    /// Counts `n` events left unapplied (see [`State::unneeded_event_types`]).
    pub fn count_unapplied(&mut self, n: u64) {
        self.counters.events += n;
    }

    /// The thread `tid`. During a container event (until the next
    /// [`State::apply`]), the event's tid names a pseudo-thread whose comm is
    /// `container:<id>`, as in libsinsp.
    #[inline]
    pub fn thread(&self, tid: i64) -> Option<&Thread> {
        if let Some(o) = &self.overlay
            && o.tid == tid
        {
            return Some(o);
        }
        self.threads.get(&tid)
    }

    /// All threads, in no particular order.
    pub fn threads(&self) -> impl Iterator<Item = &Thread> {
        self.threads.values()
    }

    /// Number of threads in the table.
    pub fn thread_count(&self) -> usize {
        self.threads.len()
    }

    /// The main thread of `tid`'s process (the one holding its fds and
    /// working directory).
    #[inline]
    pub fn main_thread(&self, tid: i64) -> Option<&Thread> {
        let t = self.threads.get(&tid)?;
        if t.is_main_thread() { Some(t) } else { self.threads.get(&t.pid) }
    }

    /// The fd table of `tid`'s process.
    pub fn fds(&self, tid: i64) -> Option<&FdTable> {
        self.main_thread(tid).map(|t| &t.fds)
    }

    /// File descriptor `fd` of `tid`'s process.
    #[inline]
    pub fn fd(&self, tid: i64, fd: i64) -> Option<&Fd> {
        self.main_thread(tid)?.fds.map.get(&fd)
    }

    /// The working directory of `tid`'s process, ending in `/` (empty when
    /// it is not known).
    #[inline]
    pub fn cwd(&self, tid: i64) -> Option<&[u8]> {
        // A container event's pseudo-thread has an empty cwd (libsinsp's).
        if let Some(o) = &self.overlay
            && o.tid == tid
        {
            return Some(&o.cwd);
        }
        self.main_thread(tid).map(|t| &*t.cwd)
    }

    /// The parent of `tid` (by `ptid`), if it is in the table.
    pub fn parent(&self, tid: i64) -> Option<&Thread> {
        let t = self.threads.get(&tid)?;
        self.threads.get(&t.ptid).filter(|p| p.tid != tid)
    }

    /// The ancestors of `tid`: its parent, grandparent, ... (`proc.aname[1]`,
    /// `proc.aname[2]`, ...). Stops at an unknown parent or a loop.
    pub fn ancestors(&self, tid: i64) -> Ancestors<'_> {
        Ancestors { state: self, next: self.parent(tid).map(|p| p.tid), steps: 0 }
    }

    /// The container `tid` runs in: a known container, or one only known
    /// by its cgroups (id and runtime, empty name), or the host (id `host`).
    pub fn container(&self, tid: i64) -> Option<std::borrow::Cow<'_, Container>> {
        use std::borrow::Cow;
        let t = self.threads.get(&tid)?;
        let id = &t.info.container_id;
        if id.is_empty() {
            return Some(Cow::Borrowed(&self.host));
        }
        if let Some(c) = self.containers.get(id) {
            return Some(Cow::Borrowed(c));
        }
        let runtime = container_of_cgroups(&t.info.cgroups).map_or(Runtime::Other, |(r, _)| r);
        Some(Cow::Owned(Container::new(id.clone(), id.clone(), runtime)))
    }

    /// The container with this id, if a container event described it.
    pub fn container_by_id(&self, id: &[u8]) -> Option<&Container> {
        self.containers.get(id)
    }

    /// User `uid` as thread `tid` sees it: the users of its container, then
    /// the host's (as sysdig 0.29.3, which shows host names in containers).
    pub fn user(&self, tid: i64, uid: u32) -> Option<&User> {
        self.userdb(tid).and_then(|db| db.users.get(&uid)).or_else(|| self.host_user(uid))
    }

    /// Group `gid` as thread `tid` sees it (its container's, then the host's).
    pub fn group(&self, tid: i64, gid: u32) -> Option<&Group> {
        self.userdb(tid).and_then(|db| db.groups.get(&gid)).or_else(|| self.host_group(gid))
    }

    /// User `uid` of the host.
    pub fn host_user(&self, uid: u32) -> Option<&User> {
        self.users.get(&b""[..])?.users.get(&uid)
    }

    /// Group `gid` of the host.
    pub fn host_group(&self, gid: u32) -> Option<&Group> {
        self.users.get(&b""[..])?.groups.get(&gid)
    }

    fn userdb(&self, tid: i64) -> Option<&UserDb> {
        let key: &[u8] = match self.threads.get(&tid) {
            Some(t) => &t.info.container_id,
            None => b"",
        };
        self.users.get(key)
    }

    /// Whether an address is one of the machine's interfaces.
    pub fn is_local_address(&self, ip: std::net::IpAddr) -> bool {
        match ip {
            std::net::IpAddr::V4(a) => {
                let a = u32::from_le_bytes(a.octets());
                self.ipv4_ifs.iter().any(|i| i.addr == a)
            }
            std::net::IpAddr::V6(a) => self.ipv6_ifs.iter().any(|i| i[..8] == a.octets()[..8]),
        }
    }

    /// Counters so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Total number of fds over all processes.
    pub fn fd_count(&self) -> usize {
        self.threads.values().map(|t| t.fds.len()).sum()
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Adds a user unless the same one is already there (no allocation then).
    fn add_user_raw(&mut self, container: &[u8], uid: u32, gid: u32, name: &[u8], home: &[u8], shell: &[u8]) {
        if let Some(u) = self.users.get(container).and_then(|db| db.users.get(&uid))
            && u.gid == gid
            && *u.name == *name
            && *u.home == *home
            && *u.shell == *shell
        {
            return;
        }
        self.add_user(container, User { uid, gid, name: new_str(name), home: new_str(home), shell: new_str(shell) });
    }

    /// Adds a group unless the same one is already there.
    fn add_group_raw(&mut self, container: &[u8], gid: u32, name: &[u8]) {
        if let Some(g) = self.users.get(container).and_then(|db| db.groups.get(&gid))
            && *g.name == *name
        {
            return;
        }
        self.add_group(container, Group { gid, name: new_str(name) });
    }

    fn db_mut<'a>(users: &'a mut FxHashMap<Str, UserDb>, container: &[u8]) -> &'a mut UserDb {
        if !users.contains_key(container) {
            users.insert(new_str(container), UserDb::default());
        }
        users.get_mut(container).unwrap()
    }

    fn add_user(&mut self, container: &[u8], u: User) {
        let db = State::db_mut(&mut self.users, container);
        if !db.users.contains_key(&u.uid) {
            if self.user_count >= self.limits.max_users {
                self.counters.user_limit_hits += 1;
                return;
            }
            self.user_count += 1;
        }
        db.users.insert(u.uid, u);
    }

    fn add_group(&mut self, container: &[u8], g: Group) {
        let db = State::db_mut(&mut self.users, container);
        if !db.groups.contains_key(&g.gid) {
            if self.user_count >= self.limits.max_users {
                self.counters.user_limit_hits += 1;
                return;
            }
            self.user_count += 1;
        }
        db.groups.insert(g.gid, g);
    }

    fn remove_user(&mut self, container: &[u8], uid: u32) {
        if let Some(db) = self.users.get_mut(container)
            && db.users.remove(&uid).is_some()
        {
            self.user_count -= 1;
        }
    }

    fn remove_group(&mut self, container: &[u8], gid: u32) {
        if let Some(db) = self.users.get_mut(container)
            && db.groups.remove(&gid).is_some()
        {
            self.user_count -= 1;
        }
    }

    fn add_container(&mut self, c: Container) {
        if !self.containers.contains_key(&c.id) && self.containers.len() >= self.limits.max_containers {
            self.counters.container_limit_hits += 1;
            return;
        }
        self.containers.insert(c.id.clone(), c);
    }

    /// Loads a process list (capture or /proc snapshot), as libsinsp's
    /// `import_thread_table`: threads, their fds, then the child counts and
    /// the direction of sockets to known server ports.
    fn load_processes(&mut self, procs: &[ProcessInfo]) {
        let mut server_ports: HashSet<u16> = HashSet::new();
        for p in procs {
            if self.threads.len() >= self.limits.max_threads && !self.threads.contains_key(&(p.tid as i64)) {
                self.counters.thread_limit_hits += 1;
                continue;
            }
            let t = self.thread_from_info(p, &mut server_ports);
            self.counters.threads_added += 1;
            self.threads.insert(t.tid, t);
        }
        // Child counts: threads of each process.
        let mains: Vec<i64> = self
            .threads
            .values()
            .filter(|t| t.flags & thread_flags::CLONE_THREAD != 0 && t.tid != t.pid)
            .map(|t| t.pid)
            .collect();
        for pid in mains {
            if let Some(m) = self.threads.get_mut(&pid) {
                m.nchilds += 1;
            }
        }
        // libsinsp's fix_sockets_coming_from_proc: a connection whose
        // source port is a listening port is the server side.
        let mut name = Vec::new();
        for t in self.threads.values_mut() {
            for fd in t.fds.map.values_mut() {
                if fd.ty != FdType::Ipv4Socket {
                    continue;
                }
                if server_ports.contains(&fd.sock.v4_sport()) {
                    let (sip, sport, dip, dport) =
                        (fd.sock.v4_sip(), fd.sock.v4_sport(), fd.sock.v4_dip(), fd.sock.v4_dport());
                    fd.sock.set_v4(dip, dport, sip, sport);
                    fd.v4_tuple_name(&mut name);
                    fd.name = new_str(&name);
                    fd.set_role_server();
                } else {
                    fd.set_role_client();
                }
            }
        }
    }

    fn thread_from_info(&mut self, p: &ProcessInfo, server_ports: &mut HashSet<u16>) -> Thread {
        let cgroups = new_str(&p.cgroups);
        let container_id = container_of_cgroups(&p.cgroups).map_or_else(util::empty_str, |(_, id)| new_str(id));
        let info = ExecInfo {
            comm: new_str(&p.comm),
            exe: new_str(&p.exe),
            exepath: new_str(&p.exepath),
            args: new_str(&p.args),
            env: new_str(&p.env),
            cgroups,
            root: new_str(&p.root),
            container_id,
        };
        let mut t = Thread::new(p.tid as i64, p.pid as i64, Arc::new(info));
        t.ptid = p.ptid as i64;
        t.sid = p.sid as i64;
        t.vpgid = p.vpgid as i64;
        t.pgid = p.pgid;
        t.flags = p.flags | thread_flags::ACTIVE | thread_flags::NAME_CHANGED;
        t.fdlimit = p.fdlimit as i64;
        t.uid = p.uid;
        t.gid = p.gid;
        t.vmsize_kb = p.vmsize_kb;
        t.vmrss_kb = p.vmrss_kb;
        t.vmswap_kb = p.vmswap_kb;
        t.pfmajor = p.pfmajor;
        t.pfminor = p.pfminor;
        t.vtid = p.vtid;
        t.vpid = p.vpid;
        t.tty = p.tty;
        t.loginuid = p.loginuid;
        t.pidns_init_start_ts = p.pidns_init_start_ts;
        // Start times of processes found by a /proc scan (proc.duration).
        t.clone_ts = p.clone_ts;
        t.cap_inheritable = p.cap_inheritable;
        t.cap_permitted = p.cap_permitted;
        t.cap_effective = p.cap_effective;
        t.exe_ino = p.exe_ino;
        t.exe_ino_ctime = p.exe_ino_ctime;
        t.exe_ino_mtime = p.exe_ino_mtime;
        let mut ef = 0;
        for (set, bit) in [
            (p.exe_writable, exe_flags::WRITABLE),
            (p.exe_upper_layer, exe_flags::UPPER_LAYER),
            (p.exe_lower_layer, exe_flags::LOWER_LAYER),
            (p.exe_from_memfd, exe_flags::FROM_MEMFD),
        ] {
            if set {
                ef |= bit;
            }
        }
        t.exe_flags = ef;
        if t.is_main_thread() {
            let mut cwd = Vec::new();
            util::concat_paths(&mut cwd, b"", &p.cwd);
            if cwd.last() != Some(&b'/') {
                cwd.push(b'/');
            }
            t.cwd = new_str(&cwd);
        }
        for f in &p.fds {
            if t.fds.len() >= self.limits.max_fds_per_process {
                self.counters.fd_limit_hits += 1;
                break;
            }
            if let Some(fd) = self.fd_from_info(f, server_ports) {
                self.counters.fds_added += 1;
                t.fds.map.insert(f.fd, fd);
            }
        }
        t
    }

    /// An fd from a capture's fd list (libsinsp's `add_fd_from_scap`).
    fn fd_from_info(&self, f: &FdInfo, server_ports: &mut HashSet<u16>) -> Option<Fd> {
        let mut fd = Fd { ino: f.ino, flags: fd_flags::FROM_PROC, ..Fd::default() };
        let mut name = Vec::new();
        match &f.kind {
            FdKind::Ipv4Socket { sip, dip, sport, dport, l4proto } => {
                fd.ty = FdType::Ipv4Socket;
                fd.sock.set_v4(sip.octets(), *sport, dip.octets(), *dport);
                fd.sock.set_v4_l4(*l4proto);
                if *l4proto == l4::TCP {
                    fd.flags |= fd_flags::CONNECTED;
                }
                self.infer_ipv4(&mut fd);
                fd.v4_tuple_name(&mut name);
            }
            FdKind::Ipv6Socket { sip, dip, sport, dport, l4proto } => {
                let (s, d) = (sip.octets(), dip.octets());
                if util::is_v4_mapped(&s) && util::is_v4_mapped(&d) {
                    fd.ty = FdType::Ipv4Socket;
                    fd.sock.set_v4(s[12..].try_into().unwrap(), *sport, d[12..].try_into().unwrap(), *dport);
                    fd.sock.set_v4_l4(*l4proto);
                    self.infer_ipv4(&mut fd);
                    fd.v4_tuple_name(&mut name);
                } else {
                    fd.ty = FdType::Ipv6Socket;
                    fd.sock.set_v6_sip(s);
                    fd.sock.set_v6_dip(d);
                    fd.sock.set_v6_sport(*sport);
                    fd.sock.set_v6_dport(*dport);
                    fd.sock.set_v6_l4(*l4proto);
                    fd.v6_tuple_name(&mut name);
                }
                if *l4proto == l4::TCP {
                    fd.flags |= fd_flags::CONNECTED;
                }
            }
            FdKind::Ipv4Server { ip, port, l4proto } => {
                fd.ty = FdType::Ipv4Server;
                fd.sock.set_v4srv(ip.octets(), *port, *l4proto);
                util::push_ipv4(&mut name, ip.octets());
                name.extend_from_slice(format!(":{port}").as_bytes());
                server_ports.insert(*port);
            }
            FdKind::Ipv6Server { ip, port, l4proto } => {
                fd.ty = FdType::Ipv6Server;
                fd.sock.set_v6srv(ip.octets(), *port, *l4proto);
                util::push_ipv6(&mut name, ip.octets());
                name.extend_from_slice(format!(":{port}").as_bytes());
                server_ports.insert(*port);
            }
            FdKind::Unix { source, dest, path } => {
                fd.ty = FdType::UnixSocket;
                fd.sock.set_unix(*source, *dest);
                name.extend_from_slice(path);
                if path.is_empty() {
                    fd.set_role_client();
                } else {
                    fd.set_role_server();
                }
            }
            FdKind::File { open_flags, name: n, dev } => {
                fd.ty = FdType::File;
                fd.open_flags = *open_flags;
                fd.dev = dev.unwrap_or(0);
                if open_flags & parse::PPM_O_CLOEXEC != 0 {
                    fd.flags |= fd_flags::CLOEXEC;
                }
                name.extend_from_slice(n);
            }
            FdKind::Named { fd_type, name: n } => {
                fd.ty = FdType::from_code(*fd_type);
                name.extend_from_slice(n);
            }
            FdKind::Unknown { fd_type } => {
                fd.ty = FdType::from_code(*fd_type);
                if fd.ty == FdType::Unknown {
                    return None;
                }
            }
        }
        fd.name = new_str(&name);
        Some(fd)
    }
}

/// Iterator over a thread's ancestors ([`State::ancestors`]).
pub struct Ancestors<'a> {
    state: &'a State,
    next: Option<i64>,
    steps: usize,
}

impl<'a> Iterator for Ancestors<'a> {
    type Item = &'a Thread;

    fn next(&mut self) -> Option<&'a Thread> {
        let tid = self.next?;
        let t = self.state.threads.get(&tid)?;
        self.steps += 1;
        // A parent loop (or an absurd depth) ends the walk.
        self.next = if self.steps > 1024 { None } else { self.state.parent(tid).map(|p| p.tid) };
        if self.next == Some(tid) {
            self.next = None;
        }
        Some(t)
    }
}

/// The syscalls the state needs to follow processes, threads, fds, working
/// directories and credentials, whatever a filter or rule set asks for
/// (Falco's `base_syscalls`): what a driver's syscall set is completed with.
pub const STATE_SYSCALLS: &[&str] = &[
    "clone",
    "clone3",
    "fork",
    "vfork",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "open",
    "openat",
    "openat2",
    "creat",
    "close",
    "close_range",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "socket",
    "socketpair",
    "connect",
    "accept",
    "accept4",
    "bind",
    "listen",
    "pipe",
    "pipe2",
    "eventfd",
    "eventfd2",
    "signalfd",
    "signalfd4",
    "timerfd_create",
    "inotify_init",
    "inotify_init1",
    "epoll_create",
    "epoll_create1",
    "memfd_create",
    "userfaultfd",
    "io_uring_setup",
    "bpf",
    "pidfd_open",
    "pidfd_getfd",
    "chdir",
    "fchdir",
    "chroot",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setsid",
    "setpgid",
    "capset",
    "prctl",
    "unshare",
    "setns",
    "prlimit64",
    "setrlimit",
    "open_by_handle_at",
];
