//! The context of one request: who asks, whether the caller gave up waiting, and how long the
//! kernel may cache the answer.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::cred::Cred;

/// What a request carries besides its operation's arguments: the caller's credentials (puffs
/// `puffs_cred`) and whether the caller was interrupted (puffs `puffs_cc`'s cancellation; FUSE
/// `INTERRUPT`). Every operation that a caller asks for takes one, last.
///
/// A request is interrupted when the system call behind it was (a signal, the process killed).
/// An operation that may take long checks [`is_interrupted`](Context::is_interrupted) or waits
/// with [`wait_interrupted`](Context::wait_interrupted), and then answers `EINTR`; the caller
/// sees `EINTR` (or restarts the call, as `SA_RESTART` asks). Answering normally is also
/// right: the interruption is a request, not an order.
///
/// The interrupt is a request of its own, read by whichever worker thread is free: an operation
/// can see it only while another worker reads requests, so a file system whose operations wait
/// runs with [`threads`](crate::Usermount::threads) of 2 or more (as with libfuse, where
/// `fuse_req_interrupted` needs the multi-threaded loop).
///
/// How long the kernel may cache the answer is the mount's `entry_timeout` and `attr_timeout`
/// unless the operation says otherwise for its own answer, with
/// [`set_entry_ttl`](Context::set_entry_ttl) and [`set_attr_ttl`](Context::set_attr_ttl) (puffs
/// `puffs_newinfo_setcnttl`, `puffs_newinfo_setvattl` and `getattr_ttl`).
///
/// A file system calling its own methods, or a test calling them directly, makes a context with
/// [`Context::new`]: it is never interrupted and its cache lifetimes go nowhere.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    cred: Cred,
    interrupt: Option<&'a Interrupt>,
    ttls: Option<&'a Ttls>,
}

impl Context<'static> {
    /// The kernel asking on its own behalf, as root.
    pub const ROOT: Context<'static> = Context::new(Cred::ROOT);

    /// A context for `cred` that is never interrupted.
    pub const fn new(cred: Cred) -> Context<'static> {
        Context { cred, interrupt: None, ttls: None }
    }
}

impl<'a> Context<'a> {
    /// A context for `cred`, interrupted when `interrupt` is (if given), keeping the cache
    /// lifetimes the operation sets in `ttls`.
    pub(crate) fn of_request(cred: Cred, interrupt: Option<&'a Interrupt>, ttls: &'a Ttls) -> Context<'a> {
        Context { cred, interrupt, ttls: Some(ttls) }
    }

    /// The same caller and interruption, keeping cache lifetimes in `ttls`: for each answer of
    /// a request that gathers several (the lookups behind one `READDIRPLUS`).
    pub(crate) fn with_ttls<'t>(&self, ttls: &'t Ttls) -> Context<'t>
    where
        'a: 't,
    {
        Context { cred: self.cred, interrupt: self.interrupt, ttls: Some(ttls) }
    }

    /// Who asks.
    pub fn cred(&self) -> &Cred {
        &self.cred
    }

    /// Whether the caller was interrupted: its answer is no longer awaited, and `EINTR` is the
    /// expected one.
    pub fn is_interrupted(&self) -> bool {
        self.interrupt.is_some_and(Interrupt::is_set)
    }

    /// Waits until the caller is interrupted or `timeout` passes; answers whether it was
    /// interrupted. For an operation that waits on something else (a lock, a backend), in a
    /// loop with a short timeout.
    pub fn wait_interrupted(&self, timeout: Duration) -> bool {
        match self.interrupt {
            Some(interrupt) => interrupt.wait(timeout),
            None => {
                std::thread::sleep(timeout);
                false
            }
        }
    }
}

impl Context<'_> {
    /// How long the kernel may keep the name this operation answers: the entry a lookup found or
    /// a creating operation made, or, when a lookup answers `ENOENT`, the fact that the name
    /// does not exist (a negative entry; zero, the default without `negative_timeout`, caches
    /// nothing). FUSE `entry_valid`. Overrides the mount's `entry_timeout` for this answer.
    pub fn set_entry_ttl(&self, ttl: Duration) {
        if let Some(ttls) = self.ttls {
            ttls.entry.store(nanos(ttl), Ordering::Relaxed);
        }
    }

    /// How long the kernel may keep the attributes this operation answers (lookup, creating
    /// operations, getattr, setattr, link). FUSE `attr_valid`. Overrides the mount's
    /// `attr_timeout` for this answer.
    pub fn set_attr_ttl(&self, ttl: Duration) {
        if let Some(ttls) = self.ttls {
            ttls.attr.store(nanos(ttl), Ordering::Relaxed);
        }
    }
}

/// Cache lifetimes an operation set for its answer, in nanoseconds; [`Ttls::UNSET`] where it set
/// none.
#[derive(Debug)]
pub(crate) struct Ttls {
    entry: AtomicU64,
    attr: AtomicU64,
}

impl Default for Ttls {
    fn default() -> Ttls {
        Ttls { entry: AtomicU64::new(Ttls::UNSET), attr: AtomicU64::new(Ttls::UNSET) }
    }
}

impl Ttls {
    const UNSET: u64 = u64::MAX;

    /// The entry lifetime set, else `default`.
    pub(crate) fn entry_or(&self, default: Duration) -> Duration {
        Ttls::get(&self.entry, default)
    }

    /// The attribute lifetime set, else `default`.
    pub(crate) fn attr_or(&self, default: Duration) -> Duration {
        Ttls::get(&self.attr, default)
    }

    fn get(ttl: &AtomicU64, default: Duration) -> Duration {
        match ttl.load(Ordering::Relaxed) {
            Ttls::UNSET => default,
            nanos => Duration::from_nanos(nanos),
        }
    }
}

/// `ttl` in nanoseconds, saturating below [`Ttls::UNSET`] (some 584 years).
fn nanos(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX).min(Ttls::UNSET - 1)
}

/// The interruption of one request: set once, by the `INTERRUPT` that names it.
#[derive(Debug, Default)]
pub(crate) struct Interrupt {
    set: AtomicBool,
    lock: Mutex<()>,
    changed: Condvar,
}

impl Interrupt {
    pub(crate) fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Makes an interruption no one else holds new again, for another request.
    pub(crate) fn reset(&self) {
        self.set.store(false, Ordering::Release);
    }

    /// Interrupts, and wakes every waiter.
    pub(crate) fn set(&self) {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.set.store(true, Ordering::Release);
        self.changed.notify_all();
    }

    fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        while !self.is_set() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            guard = self.changed.wait_timeout(guard, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        true
    }
}
