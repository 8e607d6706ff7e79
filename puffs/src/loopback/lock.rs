//! Advisory locks on open files of a loopback mount: `fcntl(2)` byte-range locks, held by the
//! calling "process" (the client's [`Cred::pid`](crate::Cred)), and `flock(2)` locks, held by
//! the open file.

use std::sync::atomic::Ordering;

use nix::errno::Errno;
use nix::fcntl::OFlag;

use crate::fs::cookie::FileHandle;
use crate::fs::lock::{FileLock, LockKind, LockOwner};
use crate::fuse::reply::{decode_body, ReplyBody, ReplyKind};
use crate::fuse::request::{lock_kind_from_wire, Operation};

use super::client::{empty_of, Client};
use super::file::OpenFile;
use super::kernel::Flavor;

impl Client {
    /// The lock owner of this client's byte-range locks: its process.
    pub(super) fn lock_owner(&self) -> LockOwner {
        LockOwner(u64::from(self.cred().pid))
    }

    /// The lock in the way of `lock` on an open file (`fcntl(F_GETLK)`: `GETLK`,
    /// `node_advlock` with `LockOp::Test`), or `lock` as [`LockKind::Unlock`] when none is.
    /// `ENOLCK` when the file system keeps no locks.
    pub fn getlk(&self, file: &OpenFile, lock: FileLock) -> Result<FileLock, Errno> {
        let _op = self.enter()?;
        let getlk =
            Operation::Getlk { fh: FileHandle(file.fh), owner: self.lock_owner(), lock: self.own(lock), flock: false };
        let body = self.call(file.nodeid, &getlk, Flavor::Client).map_err(no_locks)?;
        match decode_body(ReplyKind::Lock, &body) {
            Some(ReplyBody::Lock(found)) => Ok(FileLock {
                kind: lock_kind_from_wire(found.typ).ok_or(Errno::EIO)?,
                start: found.start,
                end: found.end,
                pid: found.pid,
            }),
            _ => Err(Errno::EIO),
        }
    }

    /// Takes or releases a byte-range lock (`fcntl(F_SETLK)`, or `F_SETLKW` with `wait`:
    /// `SETLK`, `SETLKW`). `EAGAIN` when another owner's lock is in the way and the caller
    /// does not wait; a waiting caller waits until it is granted, interrupted
    /// ([`Client::interrupt`]: `EINTR`), or the mount's timeout passes (`ETIMEDOUT`). `EBADF`
    /// for a lock the file's open mode does not allow; `ENOLCK` when the file system keeps no
    /// locks.
    pub fn setlk(&self, file: &OpenFile, lock: FileLock, wait: bool) -> Result<(), Errno> {
        let _op = self.enter()?;
        let access = file.flags() & OFlag::O_ACCMODE;
        match lock.kind {
            LockKind::Read if access == OFlag::O_WRONLY => return Err(Errno::EBADF),
            LockKind::Write if access == OFlag::O_RDONLY => return Err(Errno::EBADF),
            _ => {}
        }
        let setlk = Operation::Setlk {
            fh: FileHandle(file.fh),
            owner: self.lock_owner(),
            lock: self.own(lock),
            flock: false,
            wait,
        };
        empty_of(&self.call(file.nodeid, &setlk, Flavor::Client).map_err(no_locks)?)
    }

    /// Takes, converts or releases the `flock(2)` lock of an open file: `kind` `Read` is
    /// `LOCK_SH`, `Write` `LOCK_EX`, `Unlock` `LOCK_UN`; without `wait`, `LOCK_NB`
    /// (`SETLK`/`SETLKW` with `LK_FLOCK`). The lock is the open file's: closing it releases it.
    pub fn flock(&self, file: &OpenFile, kind: LockKind, wait: bool) -> Result<(), Errno> {
        let _op = self.enter()?;
        file.flocked.store(true, Ordering::Relaxed);
        let lock = FileLock::whole(kind, self.cred().pid);
        let setlk =
            Operation::Setlk { fh: FileHandle(file.fh), owner: LockOwner(file.description), lock, flock: true, wait };
        empty_of(&self.call(file.nodeid, &setlk, Flavor::Client).map_err(no_locks)?)
    }

    /// `lock` as this client's process asks for it.
    fn own(&self, lock: FileLock) -> FileLock {
        FileLock { pid: self.cred().pid, ..lock }
    }
}

/// A file system without locks: the caller learns there are none to take.
fn no_locks(errno: Errno) -> Errno {
    if errno == Errno::ENOSYS {
        Errno::ENOLCK
    } else {
        errno
    }
}
