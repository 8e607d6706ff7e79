//! `READ`: the file system answers through a [`ReadOut`], and the session sends its bytes to
//! the kernel from where they are, behind a header built on the stack. A read into a buffer
//! ([`ReadOut::fill`], [`ReadOut::reply_from_file`]) uses the worker's own, kept from one read
//! to the next, so no read allocates or zero-fills; a large read from a file is spliced
//! instead, where the channel takes it (see `splice`).

use std::cell::Cell;
use std::os::fd::BorrowedFd;

use nix::errno::Errno;

use crate::fs::context::Context;
use crate::fs::cookie::{Cookie, FileHandle};
use crate::fs::dispatch::Op;
use crate::fs::read::{pread_full, ReadOut, ReadSink};
use crate::fs::FileSystem;
use crate::fuse::abi::OutHeader;
use crate::fuse::Channel;

use super::Session;

thread_local! {
    /// The buffer this worker lends to [`ReadOut::fill`]: it only grows, zeroed as it does.
    static FILL: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// One read's answer on its way to the kernel.
struct ReadReply<'s, F: FileSystem> {
    session: &'s Session<F>,
    unique: u64,
    /// Whether an answer was sent (delivered or not).
    sent: Cell<bool>,
}

impl<F: FileSystem> ReadSink for ReadReply<'_, F> {
    fn send(&self, parts: &mut dyn Iterator<Item = &[u8]>) {
        let mut cut: [&[u8]; Channel::PARTS_MAX] = [&[]; Channel::PARTS_MAX];
        let mut count = 1;
        let mut total = 0;
        let mut joined = Vec::new();
        for part in parts {
            if count < cut.len() - 1 {
                cut[count] = part;
                count += 1;
            } else {
                // More parts than go out without allocating: the rest go joined, as the last.
                joined.extend_from_slice(part);
            }
            total += part.len();
        }
        if !joined.is_empty() {
            cut[count] = &joined;
            count += 1;
        }
        let len = u32::try_from(OutHeader::SIZE + total).expect("a read's answer is cut to the clamped request size");
        let header = OutHeader { len, error: 0, unique: self.unique }.to_bytes();
        cut[0] = &header;
        self.sent.set(true);
        self.session.send(self.unique, &cut[..count]);
    }

    fn send_file(&self, file: BorrowedFd<'_>, offset: u64, size: usize) -> crate::fs::Result<()> {
        if self.session.splice_file(self.unique, file, offset, size).is_some() {
            self.sent.set(true);
            return Ok(());
        }
        self.fill(size, &mut |buf| pread_full(file, buf, offset))
    }

    fn fill(&self, size: usize, read: &mut dyn FnMut(&mut [u8]) -> crate::fs::Result<usize>) -> crate::fs::Result<()> {
        // Taken out for the call: a read that reads through another session on this thread
        // finds none and grows its own.
        let mut buf = FILL.take();
        if buf.len() < size {
            buf.resize(size, 0);
        }
        let result = read(&mut buf[..size]).map(|n| self.send(&mut std::iter::once(&buf[..n])));
        FILL.set(buf);
        result
    }
}

impl<F: FileSystem> Session<F> {
    /// Runs `node_read` on `node`; answers `Ok` once its answer was sent, or the errno to
    /// answer.
    pub(super) fn read(
        &self,
        unique: u64,
        node: Cookie,
        handle: FileHandle,
        offset: u64,
        size: u32,
        ctx: &Context<'_>,
    ) -> Result<(), Errno> {
        let size = self.reply_room(size);
        let reply = ReadReply { session: self, unique, sent: Cell::new(false) };
        let answered = self.call(Op::Read { node, handle, offset, out: ReadOut::new(size, &reply) }, ctx).answered();
        match answered {
            Err(errno) if reply.sent.get() => {
                log::error!("node_read answered, then failed with {errno}: the answer stands");
                Ok(())
            }
            other => other.map(drop),
        }
    }
}
