//! A read answered from a host file without passing its bytes through the worker: the reply's
//! header is written into a pipe, the file's range is spliced behind it, and the pipe is
//! spliced into `/dev/fuse` as one reply ([`ReadOut::reply_from_file`]). The kernel moves the
//! page references; the worker copies nothing.
//!
//! Only where it pays and can work: a large read (below [`SPLICE_MIN`] a copy is cheaper than
//! the two splices), on `/dev/fuse` (a ring or the loopback socket takes its replies
//! otherwise). Each worker keeps its own pipe, grown to the request length. Whatever goes
//! wrong before the reply leaves (a pipe that cannot grow, a file that shrank under the read,
//! a channel that takes no splice) drops the pipe and lets the read be copied as before;
//! nothing reaches the kernel half-made, because the pipe goes to it in one splice or not at
//! all.
//!
//! [`ReadOut::reply_from_file`]: crate::ReadOut::reply_from_file

use std::cell::RefCell;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::Ordering;

use nix::errno::Errno;
use nix::fcntl::{fcntl, splice, FcntlArg, OFlag, SpliceFFlags};

use crate::fs::FileSystem;
use crate::fuse::abi::OutHeader;

use super::Session;

/// The smallest read that is spliced.
pub(super) const SPLICE_MIN: usize = 32 << 10;

/// A worker's pipe and how much it holds.
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
}

/// A worker's pipe, if it has one.
enum Slot {
    /// Not made yet, or dropped after a reply that did not leave whole.
    Unmade,
    Made(Pipe),
    /// The system gives no pipe larger than the smallest spliced read: reads are copied.
    Refused,
}

thread_local! {
    /// This worker's pipe, made at its first spliced read.
    static PIPE: RefCell<Slot> = const { RefCell::new(Slot::Unmade) };
}

impl Pipe {
    /// A pipe for replies of up to `len` bytes, or as large as the system allows a pipe
    /// without `CAP_SYS_RESOURCE` (`/proc/sys/fs/pipe-max-size`, 1 MiB by default): the
    /// replies larger than it holds are copied. `None` if no pipe is made.
    fn new(len: usize) -> Option<Pipe> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).ok()?;
        let grow = |size: usize| fcntl(&write, FcntlArg::F_SETPIPE_SZ(i32::try_from(size).ok()?)).ok();
        let capacity = grow(len).or_else(|| grow(PIPE_MAX_DEFAULT))?;
        Some(Pipe { read, write, capacity: usize::try_from(capacity).ok()? })
    }
}

/// The largest pipe any process may ask for by default (`/proc/sys/fs/pipe-max-size`).
const PIPE_MAX_DEFAULT: usize = 1 << 20;

impl<F: FileSystem> Session<F> {
    /// Answers request `unique` with up to `size` bytes of `file` from `offset` by splicing;
    /// `None` when it did not (the caller copies instead), else whether the kernel took it.
    pub(super) fn splice_file(&self, unique: u64, file: BorrowedFd<'_>, offset: u64, size: usize) -> Option<bool> {
        let spliceable = self.channel.is_device() && self.rings().is_empty();
        if size < SPLICE_MIN || !spliceable || self.splice_refused.load(Ordering::Relaxed) {
            return None;
        }
        // How much the reply holds, known before its header goes into the pipe: the file's
        // size says; a file that shrinks meanwhile is caught below.
        let length = nix::sys::stat::fstat(file).ok()?.st_size;
        let available = u64::try_from(length).ok()?.saturating_sub(offset).min(size as u64) as usize;
        if available < SPLICE_MIN {
            return None;
        }
        let total = OutHeader::SIZE + available;
        PIPE.with_borrow_mut(|slot| {
            if matches!(slot, Slot::Unmade) {
                *slot = match Pipe::new(self.request_len + OutHeader::SIZE) {
                    Some(pipe) if pipe.capacity >= OutHeader::SIZE + SPLICE_MIN => Slot::Made(pipe),
                    _ => Slot::Refused,
                };
            }
            let Slot::Made(pipe) = slot else { return None };
            if pipe.capacity < total {
                return None;
            }
            let sent = self.splice_through(pipe, unique, file, offset, available);
            if sent.is_none() {
                // Something may be left in the pipe: a new one next time.
                *slot = Slot::Unmade;
            }
            sent
        })
    }

    /// Header, then `len` bytes of `file` from `offset`, into the empty `pipe`, then all of it
    /// into the channel. `None` if the reply did not leave whole.
    fn splice_through(&self, pipe: &Pipe, unique: u64, file: BorrowedFd<'_>, offset: u64, len: usize) -> Option<bool> {
        let total = OutHeader::SIZE + len;
        let header = OutHeader { len: u32::try_from(total).ok()?, error: 0, unique }.to_bytes();
        if nix::unistd::write(&pipe.write, &header).ok()? != header.len() {
            return None;
        }
        let mut at = i64::try_from(offset).ok()?;
        let mut moved = 0;
        while moved < len {
            match splice(file, Some(&mut at), &pipe.write, None, len - moved, SpliceFFlags::SPLICE_F_MOVE) {
                Ok(0) => return None, // the file shrank: the header says too much
                Ok(n) => moved += n,
                Err(Errno::EINTR) => continue,
                Err(_) => return None,
            }
        }
        let channel = self.channel.as_fd();
        match splice(&pipe.read, None, channel, None, total, SpliceFFlags::SPLICE_F_MOVE) {
            Ok(n) if n == total => {
                self.dump(format_args!("<- reply unique {unique}: ok, {total} bytes (spliced)"));
                Some(true)
            }
            // The request was interrupted: the kernel no longer waits for it, and dropped
            // the reply.
            Err(Errno::ENOENT) => Some(false),
            Err(Errno::EINVAL) => {
                // Not a channel that takes a splice: never try again on this session.
                self.splice_refused.store(true, Ordering::Relaxed);
                None
            }
            _ => None,
        }
    }
}
