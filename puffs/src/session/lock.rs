//! Locks (FUSE `GETLK`, `SETLK`, `SETLKW`) and their release at `FLUSH` and `RELEASE`, and the
//! callers that wait for a lock: parked here without a worker thread, asked again whenever a
//! lock of their node is released, answered `EINTR` when interrupted.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use nix::errno::Errno;

use crate::cred::Cred;
use crate::fs::context::{Context, Interrupt, Ttls};
use crate::fs::cookie::{Cookie, FileHandle};
use crate::fs::dispatch::Op;
use crate::fs::lock::{FileLock, LockFlags, LockKind, LockOp, LockOwner};
use crate::fs::mask::{vnop_mask, VnopMask};
use crate::fs::FileSystem;
use crate::fuse::abi;
use crate::fuse::reply::Reply;
use crate::fuse::request::lock_kind_to_wire;

use super::Session;

/// A lock request: whose, on what, and how.
#[derive(Debug, Clone, Copy)]
pub(super) struct Asking {
    pub(super) node: Cookie,
    pub(super) handle: FileHandle,
    pub(super) owner: LockOwner,
    pub(super) lock: FileLock,
    pub(super) flags: LockFlags,
}

impl Asking {
    fn op(self, op: LockOp) -> Op<'static> {
        let Asking { node, handle, owner, lock, flags } = self;
        Op::Advlock { node, handle, owner, op, lock, flags }
    }
}

/// A caller waiting for a lock: its `SETLKW` as asked, and its interruption.
#[derive(Debug)]
struct Waiter {
    unique: u64,
    asking: Asking,
    cred: Cred,
    interrupt: Arc<Interrupt>,
}

#[derive(Debug, Default)]
struct State {
    parked: Vec<Waiter>,
    /// Counts releases: a waiter whose try overlapped one tries again instead of parking, so
    /// that no release is missed.
    releases: u64,
}

/// The callers waiting for locks.
#[derive(Debug, Default)]
pub(super) struct LockWaiters {
    state: Mutex<State>,
}

impl LockWaiters {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the waiter of request `unique` out, if one is parked: it was interrupted.
    pub(super) fn cancel(&self, unique: u64) -> bool {
        let mut state = self.lock();
        let before = state.parked.len();
        state.parked.retain(|w| w.unique != unique);
        state.parked.len() != before
    }
}

/// What asking for a lock came to.
pub(super) enum Asked {
    /// The reply to send now.
    Answer(Result<Vec<u8>, Errno>),
    /// The caller waits; its reply comes later.
    Parked,
}

impl<F: FileSystem> Session<F> {
    /// `GETLK`: the lock in the way, or the asked one as `F_UNLCK`.
    pub(super) fn test_lock(&self, unique: u64, asking: Asking, ctx: &Context<'_>) -> Result<Vec<u8>, Errno> {
        let in_the_way = self.call(asking.op(LockOp::Test), ctx).lock()?;
        let found = in_the_way.unwrap_or(FileLock { kind: LockKind::Unlock, ..asking.lock });
        let mut reply = Reply::new(unique, abi::FileLock::SIZE);
        abi::FileLock { start: found.start, end: found.end, typ: lock_kind_to_wire(found.kind), pid: found.pid }
            .encode(reply.body());
        Ok(reply.finish())
    }

    /// `SETLK`, `SETLKW`: takes or releases the lock; a waiting caller the file system answers
    /// `EAGAIN` is parked.
    pub(super) fn set_lock(
        &self,
        unique: u64,
        asking: Asking,
        ctx: &Context<'_>,
        interrupt: Option<&Arc<Interrupt>>,
    ) -> Asked {
        let waiter = match interrupt {
            Some(interrupt) if asking.flags.contains(LockFlags::WAIT) => {
                Waiter { unique, asking, cred: *ctx.cred(), interrupt: interrupt.clone() }
            }
            _ => return Asked::Answer(self.try_lock(asking, ctx).map(|()| empty(unique))),
        };
        match self.try_or_park(waiter) {
            Some(result) => Asked::Answer(result.map(|()| empty(unique))),
            None => Asked::Parked,
        }
    }

    /// One try of a `Set`; a release wakes the node's waiters.
    fn try_lock(&self, asking: Asking, ctx: &Context<'_>) -> Result<(), Errno> {
        self.call(asking.op(LockOp::Set), ctx).lock()?;
        if asking.lock.kind == LockKind::Unlock || !asking.flags.contains(LockFlags::FLOCK) {
            // An unlock, or a byte-range lock that may have replaced a wider one of its owner.
            self.wake_lock_waiters(asking.node);
        }
        Ok(())
    }

    /// Tries `waiter`'s lock until it is granted, refused otherwise, interrupted, or parked
    /// (`None`) with no release missed.
    fn try_or_park(&self, waiter: Waiter) -> Option<Result<(), Errno>> {
        loop {
            let releases = self.lock_waiters.lock().releases;
            if waiter.interrupt.is_set() {
                return Some(Err(Errno::EINTR));
            }
            let ttls = Ttls::default();
            let ctx = Context::of_request(waiter.cred, Some(&waiter.interrupt), &ttls);
            match self.try_lock(waiter.asking, &ctx) {
                Err(Errno::EAGAIN) => {}
                done => return Some(done),
            }
            let mut state = self.lock_waiters.lock();
            if state.releases == releases {
                // An interrupt sets the flag before it looks for parked waiters: one of the
                // two sees the other.
                if waiter.interrupt.is_set() {
                    return Some(Err(Errno::EINTR));
                }
                state.parked.push(waiter);
                return None;
            }
        }
    }

    /// A lock of `node` was released: its waiters try again; those granted, refused or
    /// interrupted are answered.
    pub(super) fn wake_lock_waiters(&self, node: Cookie) {
        let waiting = {
            let mut state = self.lock_waiters.lock();
            state.releases += 1;
            let (woken, parked) = std::mem::take(&mut state.parked).into_iter().partition(|w| w.asking.node == node);
            state.parked = parked;
            woken
        };
        for waiter in waiting {
            let unique = waiter.unique;
            if let Some(result) = self.try_or_park(waiter) {
                self.answer_later(unique, result.map(|()| empty(unique)));
            }
        }
    }

    /// Releases what `owner` holds on `node` when the kernel says it is done: its byte-range
    /// locks at `FLUSH`, its `flock` lock at `RELEASE` (`flock`). Only for file systems with
    /// locks.
    pub(super) fn release_locks(&self, node: Cookie, handle: FileHandle, owner: LockOwner, flock: bool) {
        if !vnop_mask::<F>().contains(VnopMask::ADVLOCK) {
            return;
        }
        let flags = if flock { LockFlags::FLOCK } else { LockFlags::empty() };
        let lock = FileLock::whole(LockKind::Unlock, 0);
        let _ = self.try_lock(Asking { node, handle, owner, lock, flags }, &Context::ROOT);
    }
}

/// The flags of a lock request from the wire's two bits.
pub(super) fn lock_flags(flock: bool, wait: bool) -> LockFlags {
    let mut flags = LockFlags::empty();
    flags.set(LockFlags::FLOCK, flock);
    flags.set(LockFlags::WAIT, wait);
    flags
}

fn empty(unique: u64) -> Vec<u8> {
    Reply::new(unique, 0).finish()
}
