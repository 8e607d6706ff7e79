//! Advisory locks as operations see them: byte-range (`fcntl(2)`) and whole-file (`flock(2)`)
//! locks, what is asked of them, and who holds them.

use bitflags::bitflags;

/// What a lock is (`F_RDLCK`, `F_WRLCK`, `F_UNLCK`; for `flock(2)`, `LOCK_SH`, `LOCK_EX`,
/// `LOCK_UN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockKind {
    /// Shared: others may read-lock too.
    Read,
    /// Exclusive.
    Write,
    /// No lock: to unlock a range, or, answered by a test, no lock is in the way.
    Unlock,
}

/// A lock on the bytes `start..=end` of a file (puffs and FUSE `struct flock`, with `end`
/// inclusive; [`FileLock::TO_END`] for "to the end, however long the file grows"). `flock(2)`
/// locks cover the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileLock {
    /// Shared, exclusive, or none.
    pub kind: LockKind,
    /// The first byte.
    pub start: u64,
    /// The last byte, inclusive.
    pub end: u64,
    /// The process that holds (or asks for) it, as the kernel reports it in `F_GETLK`.
    pub pid: u32,
}

impl FileLock {
    /// The `end` of a lock that reaches the end of the file, wherever it is.
    pub const TO_END: u64 = crate::fuse::request::MAX_OFFSET;

    /// A lock of `kind` on the whole file, held by `pid`.
    pub fn whole(kind: LockKind, pid: u32) -> FileLock {
        FileLock { kind, start: 0, end: FileLock::TO_END, pid }
    }

    /// Whether the two ranges share a byte.
    pub fn overlaps(&self, other: &FileLock) -> bool {
        self.start <= other.end && other.start <= self.end
    }

    /// Whether the two locks cannot both be held by different owners: they overlap and one
    /// is exclusive.
    pub fn conflicts(&self, other: &FileLock) -> bool {
        self.overlaps(other)
            && self.kind != LockKind::Unlock
            && other.kind != LockKind::Unlock
            && (self.kind == LockKind::Write || other.kind == LockKind::Write)
    }
}

/// What `node_advlock` is asked (puffs `op` of `node_advlock`: `F_GETLK`, `F_SETLK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockOp {
    /// Which lock, if any, is in the way of this one (`F_GETLK`; FUSE `GETLK`)?
    Test,
    /// Take the lock, or release the range with [`LockKind::Unlock`] (`F_SETLK`, `F_SETLKW`,
    /// `flock(2)`; FUSE `SETLK`, `SETLKW`). `EAGAIN` when another owner's lock is in the way.
    Set,
}

bitflags! {
    /// How a lock is asked for (puffs `flags` of `node_advlock`: `F_FLOCK`, `F_POSIX`,
    /// `F_WAIT`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct LockFlags: u32 {
        /// A `flock(2)` lock, held by an open file description (FUSE `LK_FLOCK`); without it
        /// a `fcntl(2)` byte-range lock, held by a process.
        const FLOCK = 1 << 0;
        /// The caller waits for the lock (`F_SETLKW`, `flock` without `LOCK_NB`). The file
        /// system may answer `EAGAIN` all the same: the framework then keeps the request
        /// waiting, without a worker thread, and asks again each time a lock of the node is
        /// released through the mount, until it is granted or the caller is interrupted
        /// (`EINTR`). A file system whose locks are released elsewhere (a network file
        /// system) may instead wait itself, with [`Context::wait_interrupted`](crate::Context::wait_interrupted).
        const WAIT = 1 << 1;
    }
}

/// Who holds a lock: for byte-range locks the process (its file table), for `flock` locks the
/// open file description (FUSE `lock_owner`, an opaque number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LockOwner(pub u64);
