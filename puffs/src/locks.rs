//! Advisory locks kept in memory, for file systems whose locks live on this machine: the body of
//! a `node_advlock` in one call (what libpuffs leaves to each file system, and the kernel
//! keeps itself when FUSE's `POSIX_LOCKS` is off).
//!
//! ```
//! use puffs::locks::LockTable;
//! use puffs::{Cookie, FileLock, LockFlags, LockKind, LockOp, LockOwner};
//!
//! let locks = LockTable::default();
//! let (a, b) = (LockOwner(1), LockOwner(2));
//! let bytes = |kind, start, end| FileLock { kind, start, end, pid: 0 };
//! locks.advlock(Cookie(5), a, LockOp::Set, &bytes(LockKind::Write, 0, 99), LockFlags::empty()).unwrap();
//! // b's read lock of bytes 50..=60 is in a's way ...
//! let asked = bytes(LockKind::Read, 50, 60);
//! assert_eq!(locks.advlock(Cookie(5), b, LockOp::Set, &asked, LockFlags::empty()), Err(puffs::Errno::EAGAIN));
//! // ... until a unlocks them: a keeps 0..=49 and 61..=99.
//! locks.advlock(Cookie(5), a, LockOp::Set, &bytes(LockKind::Unlock, 50, 60), LockFlags::empty()).unwrap();
//! locks.advlock(Cookie(5), b, LockOp::Set, &asked, LockFlags::empty()).unwrap();
//! ```

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use nix::errno::Errno;

use crate::fs::cookie::Cookie;
use crate::fs::lock::{FileLock, LockFlags, LockKind, LockOp, LockOwner};
use crate::fs::Result;

/// One lock held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    owner: LockOwner,
    lock: FileLock,
}

/// The locks of one node: byte-range and `flock` locks never conflict with each other, as on
/// Linux.
#[derive(Debug, Default)]
struct NodeLocks {
    ranges: Vec<Held>,
    flocks: Vec<Held>,
}

impl NodeLocks {
    fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.flocks.is_empty()
    }
}

/// Byte-range (`fcntl(2)`, POSIX) and whole-file (`flock(2)`) locks of every node, by owner,
/// with POSIX semantics: a lock replaces the owner's own locks where they overlap (a range
/// split as needed), unlocking part of a range keeps the rest, and only another owner's
/// conflicting lock is in the way.
#[derive(Debug, Default)]
pub struct LockTable {
    nodes: Mutex<HashMap<Cookie, NodeLocks>>,
}

impl LockTable {
    /// An empty table.
    pub fn new() -> LockTable {
        LockTable::default()
    }

    /// `node_advlock`'s answer: for [`LockOp::Test`] the lock in the way of `lock`, if any;
    /// for [`LockOp::Set`] nothing, after taking or releasing it, or `EAGAIN` when another
    /// owner's lock is in the way (the framework keeps a waiting caller waiting).
    pub fn advlock(
        &self,
        node: Cookie,
        owner: LockOwner,
        op: LockOp,
        lock: &FileLock,
        flags: LockFlags,
    ) -> Result<Option<FileLock>> {
        if lock.start > lock.end {
            return Err(Errno::EINVAL);
        }
        let mut nodes = self.nodes.lock().unwrap_or_else(PoisonError::into_inner);
        let locks = nodes.entry(node).or_default();
        let flock = flags.contains(LockFlags::FLOCK);
        let held = if flock { &mut locks.flocks } else { &mut locks.ranges };
        let in_the_way = held.iter().find(|h| h.owner != owner && h.lock.conflicts(lock)).map(|h| h.lock);
        let answer = match op {
            LockOp::Test => Ok(in_the_way),
            LockOp::Set if in_the_way.is_some() && lock.kind != LockKind::Unlock => Err(Errno::EAGAIN),
            LockOp::Set => {
                if flock {
                    held.retain(|h| h.owner != owner);
                } else {
                    release_range(held, owner, lock.start, lock.end);
                }
                if lock.kind != LockKind::Unlock {
                    held.push(Held { owner, lock: *lock });
                }
                Ok(None)
            }
        };
        if locks.is_empty() {
            nodes.remove(&node);
        }
        answer
    }

    /// Drops every lock of `node` (at `node_reclaim`: no open file refers to it any more).
    pub fn forget(&self, node: Cookie) {
        self.nodes.lock().unwrap_or_else(PoisonError::into_inner).remove(&node);
    }

    /// How many locks are held on `node`, byte-range and `flock` together.
    pub fn held(&self, node: Cookie) -> usize {
        self.nodes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&node)
            .map_or(0, |locks| locks.ranges.len() + locks.flocks.len())
    }
}

/// Releases `start..=end` from `owner`'s byte-range locks, keeping what lies outside it.
fn release_range(held: &mut Vec<Held>, owner: LockOwner, start: u64, end: u64) {
    let mut kept = Vec::with_capacity(held.len() + 1);
    for h in held.drain(..) {
        if h.owner != owner || h.lock.end < start || end < h.lock.start {
            kept.push(h);
            continue;
        }
        if h.lock.start < start {
            kept.push(Held { lock: FileLock { end: start - 1, ..h.lock }, ..h });
        }
        if end < h.lock.end {
            kept.push(Held { lock: FileLock { start: end + 1, ..h.lock }, ..h });
        }
    }
    *held = kept;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(kind: LockKind, start: u64, end: u64) -> FileLock {
        FileLock { kind, start, end, pid: 7 }
    }

    const NODE: Cookie = Cookie(3);
    const POSIX: LockFlags = LockFlags::empty();

    #[test]
    fn readers_share_a_writer_excludes_and_an_owner_never_blocks_itself() {
        let t = LockTable::new();
        let (a, b) = (LockOwner(1), LockOwner(2));
        t.advlock(NODE, a, LockOp::Set, &range(LockKind::Read, 0, 9), POSIX).unwrap();
        t.advlock(NODE, b, LockOp::Set, &range(LockKind::Read, 5, 20), POSIX).unwrap();
        assert_eq!(t.advlock(NODE, b, LockOp::Set, &range(LockKind::Write, 0, 0), POSIX), Err(Errno::EAGAIN));
        assert_eq!(
            t.advlock(NODE, b, LockOp::Test, &range(LockKind::Write, 0, 0), POSIX),
            Ok(Some(range(LockKind::Read, 0, 9)))
        );
        // a upgrades its own lock where b does not hold one.
        t.advlock(NODE, a, LockOp::Set, &range(LockKind::Write, 0, 4), POSIX).unwrap();
        assert_eq!(t.advlock(NODE, a, LockOp::Test, &range(LockKind::Write, 0, 4), POSIX), Ok(None));
        assert_eq!(t.advlock(NODE, a, LockOp::Set, &range(LockKind::Write, 5, 5), POSIX), Err(Errno::EAGAIN));
    }

    #[test]
    fn unlocking_the_middle_keeps_both_ends() {
        let t = LockTable::new();
        let (a, b) = (LockOwner(1), LockOwner(2));
        t.advlock(NODE, a, LockOp::Set, &range(LockKind::Write, 0, FileLock::TO_END), POSIX).unwrap();
        t.advlock(NODE, a, LockOp::Set, &range(LockKind::Unlock, 10, 19), POSIX).unwrap();
        assert_eq!(t.held(NODE), 2);
        t.advlock(NODE, b, LockOp::Set, &range(LockKind::Write, 10, 19), POSIX).unwrap();
        assert_eq!(t.advlock(NODE, b, LockOp::Set, &range(LockKind::Write, 9, 9), POSIX), Err(Errno::EAGAIN));
        assert_eq!(t.advlock(NODE, b, LockOp::Set, &range(LockKind::Write, 20, 20), POSIX), Err(Errno::EAGAIN));
        t.advlock(NODE, a, LockOp::Set, &range(LockKind::Unlock, 0, FileLock::TO_END), POSIX).unwrap();
        assert_eq!(t.held(NODE), 1);
        assert_eq!(
            t.advlock(NODE, a, LockOp::Set, &range(LockKind::Write, 0, 0), LockFlags::FLOCK),
            Ok(None),
            "flock is apart"
        );
    }

    #[test]
    fn flock_is_shared_or_exclusive_per_open_file() {
        let t = LockTable::new();
        let (f, g) = (LockOwner(10), LockOwner(11));
        let whole = |kind| FileLock::whole(kind, 1);
        t.advlock(NODE, f, LockOp::Set, &whole(LockKind::Read), LockFlags::FLOCK).unwrap();
        t.advlock(NODE, g, LockOp::Set, &whole(LockKind::Read), LockFlags::FLOCK).unwrap();
        assert_eq!(t.advlock(NODE, g, LockOp::Set, &whole(LockKind::Write), LockFlags::FLOCK), Err(Errno::EAGAIN));
        t.advlock(NODE, f, LockOp::Set, &whole(LockKind::Unlock), LockFlags::FLOCK).unwrap();
        t.advlock(NODE, g, LockOp::Set, &whole(LockKind::Write), LockFlags::FLOCK).unwrap();
        assert_eq!(t.held(NODE), 1, "the conversion replaced g's shared lock");
        t.forget(NODE);
        assert_eq!(t.held(NODE), 0);
    }
}
