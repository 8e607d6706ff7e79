//! The context of one request: who asks, and whether the caller gave up waiting.

use std::sync::atomic::{AtomicBool, Ordering};
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
/// A file system calling its own methods, or a test calling them directly, makes a context with
/// [`Context::new`]: it is never interrupted.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    cred: Cred,
    interrupt: Option<&'a Interrupt>,
}

impl Context<'static> {
    /// The kernel asking on its own behalf, as root.
    pub const ROOT: Context<'static> = Context::new(Cred::ROOT);

    /// A context for `cred` that is never interrupted.
    pub const fn new(cred: Cred) -> Context<'static> {
        Context { cred, interrupt: None }
    }
}

impl<'a> Context<'a> {
    /// A context for `cred`, interrupted when `interrupt` is.
    pub(crate) fn interruptible(cred: Cred, interrupt: &'a Interrupt) -> Context<'a> {
        Context { cred, interrupt: Some(interrupt) }
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
