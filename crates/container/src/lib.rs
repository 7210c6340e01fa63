//! Container metadata from the runtimes, as Falco's container plugin gets
//! it: when the state first sees a container id (in a thread's cgroups) it
//! asks this crate's worker thread, which queries the runtime that the
//! cgroup layout names and hands the answer back (see
//! [`saker_state::lookup_channel`]). The event path never waits: the first
//! events of a new container may carry only its id.
//!
//! - Docker and podman: the Docker Engine API (`GET /v1.41/containers/ID/json`)
//!   on their unix sockets (podman serves it with `podman system service`).
//! - containerd: its API through `ctr` (`containers info`), namespaces
//!   `k8s.io`, then `default` and `moby`.
//! - CRI-O: its inspect endpoint (`GET /containers/ID`) on its socket.
//!
//! The container's own users and groups come with its metadata, read from
//! its `/etc/passwd` and `/etc/group` through `/proc/PID/root`.
//!
//! Every path (sockets, `/proc`) is read under the host root (`HOST_ROOT`,
//! as Falco, for saker running in a container). A socket that is absent or
//! does not answer is reported once; it is then left alone for a while, so
//! that it costs nothing per container.

mod docker;
mod error;
mod http;
mod image;
mod runtimes;
mod time;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use error::LookupError;
use saker_state::{Container, Group, LookupHandle, LookupRequest, LookupWorker, Runtime, User, lookup_channel};

/// The host root saker reads `/proc`, `/etc` and runtime sockets under:
/// `HOST_ROOT` when set (and not empty), else `/`.
pub fn host_root() -> PathBuf {
    match std::env::var_os("HOST_ROOT") {
        Some(r) if !r.is_empty() => PathBuf::from(r),
        _ => PathBuf::from("/"),
    }
}

/// Where the runtimes are, relative to the host root.
#[derive(Clone)]
pub struct Config {
    /// The host root (see [`host_root`]).
    pub host_root: PathBuf,
    /// Docker Engine API sockets of Docker.
    pub docker_sockets: Vec<PathBuf>,
    /// Docker Engine API sockets of podman (`podman system service`).
    pub podman_sockets: Vec<PathBuf>,
    /// containerd's socket.
    pub containerd_socket: PathBuf,
    /// The `ctr` program that speaks containerd's API.
    pub ctr: PathBuf,
    /// CRI-O's socket.
    pub crio_socket: PathBuf,
    /// How long one answer may take.
    pub timeout: Duration,
    /// How long a container the runtime does not know yet (it may be
    /// starting) is asked for again.
    pub retry_for: Duration,
    /// Where problems are reported (once per runtime).
    pub report: Arc<dyn Fn(&str) + Send + Sync>,
    /// Run first on the worker thread: capabilities are per thread, so a
    /// caller that drops its own after start drops the worker's here too.
    pub on_thread_start: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            host_root: host_root(),
            docker_sockets: vec!["/var/run/docker.sock".into()],
            podman_sockets: vec!["/run/podman/podman.sock".into()],
            containerd_socket: "/run/containerd/containerd.sock".into(),
            ctr: "ctr".into(),
            crio_socket: "/var/run/crio/crio.sock".into(),
            timeout: Duration::from_secs(2),
            retry_for: Duration::from_secs(2),
            report: Arc::new(|m| eprintln!("saker: {m}")),
            on_thread_start: None,
        }
    }
}

impl Config {
    /// `p` (an absolute path) under the host root.
    pub fn under_root(&self, p: &Path) -> PathBuf {
        self.host_root.join(p.strip_prefix("/").unwrap_or(p))
    }
}

/// Starts the lookup worker; the handle goes to
/// [`saker_state::State::set_container_lookup`]. The worker ends when
/// every handle is dropped.
pub fn start(config: Config) -> std::io::Result<(LookupHandle, JoinHandle<()>)> {
    let (handle, worker) = lookup_channel(1024);
    let join = std::thread::Builder::new().name("saker-containers".into()).spawn(move || run(config, worker))?;
    Ok((handle, join))
}

/// One runtime endpoint's health: reported once, skipped for a while
/// after a failure.
struct Endpoint {
    what: String,
    reported: bool,
    down_until: Option<Instant>,
}

/// How long an absent or dead endpoint is left alone.
const DOWN_FOR: Duration = Duration::from_secs(30);

impl Endpoint {
    fn new(what: String) -> Endpoint {
        Endpoint { what, reported: false, down_until: None }
    }

    fn usable(&self) -> bool {
        self.down_until.is_none_or(|t| Instant::now() >= t)
    }

    fn failed(&mut self, config: &Config, e: &LookupError) {
        if !self.reported {
            self.reported = true;
            (config.report)(&format!(
                "container metadata: {} unusable ({e}); containers it runs will show their id only",
                self.what
            ));
        }
        self.down_until = Some(Instant::now() + DOWN_FOR);
    }

    fn worked(&mut self) {
        self.down_until = None;
    }
}

fn run(config: Config, worker: LookupWorker) {
    if let Some(f) = &config.on_thread_start {
        f();
    }
    let sock = |p: &PathBuf| config.under_root(p);
    let mut docker: Vec<(PathBuf, Endpoint)> = config
        .docker_sockets
        .iter()
        .map(|p| (sock(p), Endpoint::new(format!("Docker API socket {}", sock(p).display()))))
        .collect();
    let mut podman: Vec<(PathBuf, Endpoint)> = config
        .podman_sockets
        .iter()
        .map(|p| (sock(p), Endpoint::new(format!("podman API socket {}", sock(p).display()))))
        .collect();
    let containerd_sock = sock(&config.containerd_socket);
    let mut containerd = Endpoint::new(format!("containerd socket {}", containerd_sock.display()));
    let crio_sock = sock(&config.crio_socket);
    let mut crio = Endpoint::new(format!("CRI-O socket {}", crio_sock.display()));
    // Ask each runtime once now: an absent or dead one is reported at
    // start, and a live one (podman's service is slow to answer its first
    // request) is warm when the first container shows.
    for (path, ep) in docker.iter_mut().chain(podman.iter_mut()) {
        if path.exists() {
            match http::get(path, "/_ping", config.timeout) {
                Ok((200, _)) => {}
                Ok((s, _)) => ep.failed(&config, &LookupError::Status(s)),
                Err(e) => ep.failed(&config, &e),
            }
        }
    }
    if containerd_sock.exists()
        && let Err(e) = runtimes::containerd_ping(&config, &containerd_sock)
    {
        containerd.failed(&config, &e);
    }
    // Ids answered lately: the states of several workers may each ask.
    let mut answered: std::collections::HashSet<Vec<u8>> = std::collections::HashSet::new();
    while let Some(req) = worker.recv() {
        if answered.contains(&*req.full_id) {
            continue;
        }
        let deadline = Instant::now() + config.retry_for;
        let found = loop {
            let r = match req.runtime {
                Runtime::Docker => ask_docker(&config, &req, &mut docker, Runtime::Docker),
                // podman's service first; a podman socket may also be
                // mounted where Docker's is.
                Runtime::Podman => ask_docker(&config, &req, &mut podman, Runtime::Podman)
                    .or_else(|| ask_docker(&config, &req, &mut docker, Runtime::Podman)),
                Runtime::Containerd => {
                    ask(&mut containerd, &config, || runtimes::containerd(&config, &containerd_sock, &req.full_id))
                }
                Runtime::CriO => ask(&mut crio, &config, || runtimes::crio(&config, &crio_sock, &req.full_id)),
                _ => None,
            };
            match r {
                Some(Some(c)) => break Some(c),
                // The runtime does not know it (yet): it may still be
                // creating it.
                Some(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                _ => break None,
            }
        };
        if let Some(mut c) = found {
            c.id = req.id.clone();
            if answered.len() >= 16_384 {
                answered.clear();
            }
            answered.insert(req.full_id.to_vec());
            // Its own users and groups, through a process of it (user.name
            // in a container is the container's).
            match container_users(&config, req.pid, &req.full_id, Duration::ZERO) {
                Some((users, groups)) => worker.answer(c, users, groups),
                None => {
                    // The metadata now; the users once the process has
                    // entered the container's root.
                    worker.answer(c.clone(), Vec::new(), Vec::new());
                    if let Some((users, groups)) =
                        container_users(&config, req.pid, &req.full_id, Duration::from_secs(2))
                    {
                        worker.answer(c, users, groups);
                    }
                }
            }
        }
    }
}

/// The users and groups of the container process `pid` runs in, from its
/// own root. The first process seen in a new container may still be the
/// runtime's, before it changed root: until `pid`'s root differs from the
/// host's (a short while), nothing is read rather than the host's files.
/// `None` when neither `pid` nor another process of the container (whose
/// cgroups name `full_id`; the runtime's first processes come and go) has
/// a root other than the host's within `wait`.
fn container_users(config: &Config, pid: i64, full_id: &[u8], wait: Duration) -> Option<(Vec<User>, Vec<Group>)> {
    use std::os::unix::fs::MetadataExt;
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let host = id(&config.host_root);
    let root_of = |pid: i64| config.under_root(Path::new(&format!("/proc/{pid}/root")));
    let deadline = Instant::now() + wait;
    loop {
        let mut pids = vec![pid];
        if pid <= 0 || id(&root_of(pid)).is_none_or(|r| Some(r) == host) {
            pids.extend(pids_in_container(config, full_id));
        }
        for p in pids.into_iter().filter(|&p| p > 0) {
            let root = root_of(p);
            if id(&root).is_some_and(|r| Some(r) != host) {
                return Some(saker_state::read_users_at(&root));
            }
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Processes whose cgroups name the container (a /proc scan, off the
/// event path; only when the process the state named will not do).
fn pids_in_container(config: &Config, full_id: &[u8]) -> Vec<i64> {
    let Ok(dir) = std::fs::read_dir(config.under_root(Path::new("/proc"))) else { return Vec::new() };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let pid: i64 = e.file_name().to_str()?.parse().ok()?;
        let cg = std::fs::read(e.path().join("cgroup")).ok()?;
        cg.windows(full_id.len()).any(|w| w == full_id).then_some(pid)
    })
    .collect()
}

/// Asks through one endpoint: `None` when it is unusable, `Some(None)` when
/// the runtime does not know the container.
fn ask(
    ep: &mut Endpoint,
    config: &Config,
    f: impl FnOnce() -> Result<Option<Container>, LookupError>,
) -> Option<Option<Container>> {
    if !ep.usable() {
        return None;
    }
    match f() {
        Ok(c) => {
            ep.worked();
            Some(c)
        }
        Err(e) => {
            ep.failed(config, &e);
            None
        }
    }
}

fn ask_docker(
    config: &Config,
    req: &LookupRequest,
    eps: &mut [(PathBuf, Endpoint)],
    runtime: Runtime,
) -> Option<Option<Container>> {
    let mut unknown = false;
    for (path, ep) in eps.iter_mut() {
        match ask(ep, config, || docker::inspect(config, path, &req.full_id, runtime)) {
            Some(Some(c)) => return Some(Some(c)),
            Some(None) => unknown = true,
            None => {}
        }
    }
    unknown.then_some(None)
}
