//! Container metadata looked up outside the event path: the state names
//! each container it sees for the first time on a bounded channel, a
//! worker (the `saker-container` crate) asks the runtime, and the answers
//! come back on another channel. The event path only ever does a
//! non-blocking send (once per container) and one atomic load per event;
//! it takes the receiving lock only when an answer is waiting, and nothing
//! else ever holds that lock for long.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use crate::container::{Container, Runtime};
use crate::util::Str;
use crate::{Group, User};

/// Answers kept for states that have not taken them yet (each rule
/// evaluation worker has its own state, and each takes every answer).
const KEPT_ANSWERS: usize = 4096;

/// One container to look up.
#[derive(Clone, Debug)]
pub struct LookupRequest {
    /// The id the state keys it by (12 hex digits for docker-like ids).
    pub id: Str,
    /// The full id, as the runtime knows it.
    pub full_id: Str,
    /// The runtime its cgroups name.
    pub runtime: Runtime,
    /// A process in it (for its /proc/PID/root), -1 when none is known.
    pub pid: i64,
}

/// The answers so far: `list[i]` is answer number `base + i`.
#[derive(Default)]
struct Answers {
    base: u64,
    list: VecDeque<Answer>,
}

/// A container's metadata, and its own users and groups.
struct Answer {
    container: Container,
    users: Arc<[User]>,
    groups: Arc<[Group]>,
}

/// A state's end: see [`crate::State::set_container_lookup`]. Clones (the
/// states of several workers) each take every answer.
#[derive(Clone)]
pub struct LookupHandle {
    requests: SyncSender<LookupRequest>,
    answers: Arc<Mutex<Answers>>,
    count: Arc<AtomicU64>,
    seen: u64,
}

impl std::fmt::Debug for LookupHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LookupHandle").field("seen", &self.seen).finish()
    }
}

/// The worker's end.
pub struct LookupWorker {
    requests: Receiver<LookupRequest>,
    answers: Arc<Mutex<Answers>>,
    count: Arc<AtomicU64>,
}

/// A pair of ends; at most `capacity` requests wait (more are dropped and
/// asked again the next time the container shows).
pub fn lookup_channel(capacity: usize) -> (LookupHandle, LookupWorker) {
    let (tx, rx) = sync_channel(capacity);
    let answers = Arc::new(Mutex::new(Answers::default()));
    let count = Arc::new(AtomicU64::new(0));
    (
        LookupHandle { requests: tx, answers: answers.clone(), count: count.clone(), seen: 0 },
        LookupWorker { requests: rx, answers, count },
    )
}

impl LookupHandle {
    /// Queues a request; false when the queue is full (or the worker gone).
    pub fn request(&self, r: LookupRequest) -> bool {
        match self.requests.try_send(r) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// Whether answers wait: one atomic load.
    #[inline]
    pub(crate) fn has_results(&self) -> bool {
        self.count.load(Ordering::Acquire) != self.seen
    }

    /// Takes the answers this handle has not seen.
    pub(crate) fn drain(&mut self, mut f: impl FnMut(Container, &[User], &[Group])) {
        let Ok(a) = self.answers.lock() else { return };
        let end = a.base + a.list.len() as u64;
        for i in self.seen.max(a.base)..end {
            let x = &a.list[(i - a.base) as usize];
            f(x.container.clone(), &x.users, &x.groups);
        }
        self.seen = end;
    }
}

impl LookupWorker {
    /// The next request; `None` once every state's handle is gone.
    pub fn recv(&self) -> Option<LookupRequest> {
        self.requests.recv().ok()
    }

    /// Hands an answer to the states (taken at their next event): the
    /// container, and the users and groups of its own files.
    pub fn answer(&self, c: Container, users: Vec<User>, groups: Vec<Group>) {
        let Ok(mut a) = self.answers.lock() else { return };
        a.list.push_back(Answer { container: c, users: users.into(), groups: groups.into() });
        if a.list.len() > KEPT_ANSWERS {
            a.list.pop_front();
            a.base += 1;
        }
        self.count.store(a.base + a.list.len() as u64, Ordering::Release);
    }
}
