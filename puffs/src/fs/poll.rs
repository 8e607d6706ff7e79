//! Readiness: the events `node_poll` is asked about and answers, and the waker it keeps to
//! tell the kernel when readiness changes (FUSE `POLL` and `NOTIFY_POLL`).

use std::sync::Weak;

use bitflags::bitflags;
use nix::errno::Errno;

use crate::error::Error;

bitflags! {
    /// `poll(2)` events (`POLLIN`, …, with their values): what a caller waits for, and what
    /// [`node_poll`](crate::FileSystem::node_poll) answers as ready.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct PollEvents: u32 {
        /// Data to read.
        const IN = 0x1;
        /// Urgent data to read.
        const PRI = 0x2;
        /// Writing will not block.
        const OUT = 0x4;
        /// An error condition (always reported, never asked for).
        const ERR = 0x8;
        /// Hung up (always reported, never asked for).
        const HUP = 0x10;
        /// Not an open file.
        const NVAL = 0x20;
        /// Normal data to read.
        const RDNORM = 0x40;
        /// Priority data to read.
        const RDBAND = 0x80;
        /// Normal data may be written.
        const WRNORM = 0x100;
        /// Priority data may be written.
        const WRBAND = 0x200;
        /// A message (unused by Linux).
        const MSG = 0x400;
        /// The peer closed its writing half.
        const RDHUP = 0x2000;
    }
}

/// Sends a poll wake-up for handle `kh`: the session's channel to the kernel.
pub(crate) trait PollSink: Send + Sync + std::fmt::Debug {
    fn wake(&self, kh: u64) -> Result<(), Errno>;
}

/// Wakes the callers polling one open file (FUSE `NOTIFY_POLL` with the kernel's poll handle),
/// handed to [`node_poll`](crate::FileSystem::node_poll) when the caller will wait. A file
/// system keeps it and calls [`wake`](PollWaker::wake) when the file's readiness may have
/// changed; the kernel then asks `node_poll` again. Keep the latest one per open file: the
/// kernel uses one handle per file, and a new one replaces the old. Cloneable and sendable
/// to any thread.
#[derive(Debug, Clone)]
pub struct PollWaker {
    kh: u64,
    sink: Weak<dyn PollSink>,
}

impl PollWaker {
    pub(crate) fn new(kh: u64, sink: Weak<dyn PollSink>) -> PollWaker {
        PollWaker { kh, sink }
    }

    /// The kernel's poll handle: equal for the wakers of one open file.
    pub fn id(&self) -> u64 {
        self.kh
    }

    /// Tells the kernel to ask again whether the file is ready, waking its pollers. `ENODEV`
    /// once the main loop has ended.
    pub fn wake(&self) -> Result<(), Error> {
        let sink =
            self.sink.upgrade().ok_or_else(|| Error::new("poll wake-up: the main loop has ended", Errno::ENODEV))?;
        sink.wake(self.kh).map_err(|e| Error::new("poll wake-up", e))
    }
}

impl PartialEq for PollWaker {
    fn eq(&self, other: &PollWaker) -> bool {
        self.kh == other.kh
    }
}

impl Eq for PollWaker {}
