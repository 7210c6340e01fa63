//! The domain names behind IP addresses, for the `fd.cip.name`,
//! `fd.sip.name`, `fd.lip.name` and `fd.rip.name` fields.
//!
//! This is not a reverse-DNS client. As libsinsp's DNS manager does, saker
//! only knows the names somebody asked about: the names the loaded rules
//! (or a `saker trace` filter) compare those fields with
//! (`fd.sip.name = kubernetes.default.svc.cluster.local`). [`watch`] hands
//! them to one resolver thread, which looks them up with the system's
//! resolver (`getaddrinfo`: `/etc/hosts`, then DNS, as nsswitch says) and
//! publishes an address → names table as each answer comes; it refreshes
//! every 10 s, backing off
//! to 320 s while nothing changes, as libsinsp does. An address then
//! "has" every watched name that resolved to it, so `fd.sip.name = N`
//! holds when the server's address is one of N's addresses, and
//! `%fd.sip.name` prints the first of its names in byte order.
//!
//! What it is not: a lookup on the event path. Readers ([`for_each_name`])
//! take a lock-free snapshot of the table ([`arc_swap`]), never wait on
//! the resolver and never allocate; a name is matched once its first
//! lookup is done ([`watch`] can wait for that, bounded). Names that do not
//! resolve simply have no addresses.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

/// The first refresh period, and the longest after backing off.
const REFRESH_MIN: Duration = Duration::from_secs(10);
const REFRESH_MAX: Duration = Duration::from_secs(320);

/// Address → the watched names that resolved to it, sorted.
type Table = HashMap<IpAddr, Box<[Box<str>]>>;

struct Resolver {
    table: ArcSwap<Table>,
    wanted: Mutex<Wanted>,
    /// Woken when names are added (the resolver) and when a name's lookup
    /// ends (waiters in [`watch`]).
    changed: Condvar,
}

#[derive(Default)]
struct Wanted {
    names: BTreeSet<String>,
    /// Names whose lookup ended at least once (found or not).
    tried: BTreeSet<String>,
    /// Bumped when names are added.
    generation: u64,
}

static RESOLVER: OnceLock<Resolver> = OnceLock::new();

fn resolver() -> &'static Resolver {
    RESOLVER.get_or_init(|| {
        let r = Resolver {
            table: ArcSwap::from_pointee(Table::new()),
            wanted: Mutex::new(Wanted::default()),
            changed: Condvar::new(),
        };
        std::thread::Builder::new().name("saker-dns".into()).spawn(run).expect("starting the name resolver thread");
        r
    })
}

/// Adds `names` to the names resolved from now on (names already watched
/// are kept; none is ever dropped while saker runs, they are few). Names
/// are compared as written, as libsinsp does. Waits up to `wait` for the
/// first lookup of each new name, so rules can match from the first event;
/// past `wait`, a name starts matching when its lookup ends. Returns
/// whether every new name was looked up within `wait`.
pub fn watch<S: AsRef<str>>(names: impl IntoIterator<Item = S>, wait: Duration) -> bool {
    let added: Vec<String> =
        names.into_iter().map(|n| n.as_ref().trim().to_string()).filter(|n| !n.is_empty()).collect();
    if added.is_empty() {
        return true;
    }
    let r = resolver();
    let mut w = r.wanted.lock().unwrap_or_else(|e| e.into_inner());
    let before = w.names.len();
    w.names.extend(added.iter().cloned());
    if w.names.len() == before {
        return true;
    }
    w.generation += 1;
    r.changed.notify_all();
    let deadline = Instant::now() + wait;
    while !added.iter().all(|n| w.tried.contains(n)) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        w = r.changed.wait_timeout(w, left).unwrap_or_else(|e| e.into_inner()).0;
    }
    true
}

/// Calls `f` with each watched name that resolves to `ip`, in byte order,
/// until `f` returns true; returns whether it did. Lock-free; nothing is
/// looked up here.
pub fn for_each_name(ip: IpAddr, mut f: impl FnMut(&[u8]) -> bool) -> bool {
    let Some(r) = RESOLVER.get() else { return false };
    let table = r.table.load();
    table.get(&canonical(ip)).is_some_and(|names| names.iter().any(|n| f(n.as_bytes())))
}

/// An IPv4 address seen through an IPv6 socket (`::ffff:a.b.c.d`) is the
/// IPv4 address `getaddrinfo` gives.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The resolver thread: one lookup round per period, or when names are
/// added. Names are looked up side by side (one slow DNS answer does not
/// hold the names `/etc/hosts` gives), and the table is published as each
/// answer comes.
fn run() {
    let r = loop {
        // The thread starts inside get_or_init; wait for it to finish.
        if let Some(r) = RESOLVER.get() {
            break r;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let mut resolved: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    let mut period = REFRESH_MIN;
    loop {
        let (names, generation) = {
            let w = r.wanted.lock().unwrap_or_else(|e| e.into_inner());
            (w.names.iter().cloned().collect::<Vec<_>>(), w.generation)
        };
        let before = resolved.clone();
        std::thread::scope(|s| {
            let (tx, rx) = mpsc::channel();
            for name in &names {
                let tx = tx.clone();
                s.spawn(move || {
                    let addrs = (name.as_str(), 0u16)
                        .to_socket_addrs()
                        .map(|a| a.map(|a| canonical(a.ip())).collect::<Vec<_>>())
                        .unwrap_or_default();
                    let _ = tx.send((name, addrs));
                });
            }
            drop(tx);
            for (name, mut addrs) in rx {
                addrs.sort();
                addrs.dedup();
                resolved.insert(name.clone(), addrs);
                r.table.store(Arc::new(table(&resolved)));
                let mut w = r.wanted.lock().unwrap_or_else(|e| e.into_inner());
                w.tried.insert(name.clone());
                r.changed.notify_all();
            }
        });
        period = if resolved == before { (period * 2).min(REFRESH_MAX) } else { REFRESH_MIN };
        let deadline = Instant::now() + period;
        let mut w = r.wanted.lock().unwrap_or_else(|e| e.into_inner());
        while w.generation == generation {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            w = r.changed.wait_timeout(w, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

/// Address → names, from name → addresses.
fn table(resolved: &BTreeMap<String, Vec<IpAddr>>) -> Table {
    let mut by_addr: HashMap<IpAddr, Vec<Box<str>>> = HashMap::new();
    // BTreeMap order: each address's names come sorted.
    for (name, addrs) in resolved {
        for ip in addrs {
            by_addr.entry(*ip).or_default().push(name.as_str().into());
        }
    }
    by_addr.into_iter().map(|(ip, v)| (ip, v.into_boxed_slice())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(ip: IpAddr) -> Vec<String> {
        let mut v = Vec::new();
        for_each_name(ip, |n| {
            v.push(String::from_utf8(n.to_vec()).unwrap());
            false
        });
        v
    }

    #[test]
    fn watched_names_map_their_addresses() {
        // localhost comes from /etc/hosts on every machine; a literal
        // address resolves to itself.
        assert!(watch(["localhost", "127.0.0.1", ""], Duration::from_secs(10)));
        let lo: IpAddr = [127, 0, 0, 1].into();
        assert_eq!(names(lo), ["127.0.0.1", "localhost"]);
        // the same through an IPv4-mapped IPv6 address
        assert_eq!(names("::ffff:127.0.0.1".parse().unwrap()), ["127.0.0.1", "localhost"]);
        // an address no watched name has
        assert!(names([192, 0, 2, 1].into()).is_empty());
        // a name that does not resolve adds nothing and does not block
        assert!(watch(["no-such-host.invalid"], Duration::from_secs(10)));
        assert_eq!(names(lo), ["127.0.0.1", "localhost"]);
        // watching again what is watched returns at once
        assert!(watch(["localhost"], Duration::ZERO));
    }
}
