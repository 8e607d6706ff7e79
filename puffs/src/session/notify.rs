//! What notifications need from a session, shared with the [`Notifier`](crate::Notifier)s of
//! its usermount (not generic in the file system): what the kernel granted at `INIT`, and the
//! retrievals waiting for the kernel's `NOTIFY_REPLY`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;

use nix::errno::Errno;

use crate::fs::poll::PollSink;
use crate::fuse::abi::{self, InitFlags};
use crate::fuse::reply::Reply;
use crate::fuse::Channel;

/// The negotiated protocol and the retrievals in flight.
#[derive(Debug, Default)]
pub(crate) struct Notices {
    /// The capabilities the kernel granted ([`InitFlags`] bits); none before `INIT`.
    granted: AtomicU64,
    /// The kernel's own minor version (which notifications it knows), 0 before `INIT`.
    kernel_minor: AtomicU32,
    /// The retrievals waiting, by their notification's unique.
    retrievals: Mutex<HashMap<u64, SyncSender<Vec<u8>>>>,
    /// The last unique given to a retrieval (kernel requests count up from 1 with the low bit
    /// clear; these are told apart because they arrive only as `NOTIFY_REPLY`).
    last_retrieval: AtomicU64,
}

impl Notices {
    /// Records what `INIT` settled.
    pub(crate) fn negotiated(&self, granted: InitFlags, kernel_minor: u32) {
        self.granted.store(granted.bits(), Ordering::Relaxed);
        self.kernel_minor.store(kernel_minor, Ordering::Relaxed);
    }

    /// The capabilities the kernel granted; none before `INIT`.
    pub(crate) fn granted(&self) -> InitFlags {
        InitFlags::from_bits_retain(self.granted.load(Ordering::Relaxed))
    }

    /// Whether the kernel knows notifications of minor version `since`.
    pub(crate) fn kernel_knows(&self, since: u32) -> bool {
        self.kernel_minor.load(Ordering::Relaxed) >= since
    }

    /// A unique for a retrieval, and where its answer will arrive.
    pub(crate) fn expect_retrieval(&self) -> (u64, Receiver<Vec<u8>>) {
        let unique = self.last_retrieval.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = sync_channel(1);
        self.retrievals.lock().unwrap_or_else(|p| p.into_inner()).insert(unique, tx);
        (unique, rx)
    }

    /// Stops waiting for retrieval `unique` (answered, abandoned, or never sent).
    pub(crate) fn forget_retrieval(&self, unique: u64) {
        self.retrievals.lock().unwrap_or_else(|p| p.into_inner()).remove(&unique);
    }

    /// The kernel's `NOTIFY_REPLY` to retrieval `unique`: hands `data` to its waiter, if any
    /// still waits.
    pub(crate) fn retrieved(&self, unique: u64, data: &[u8]) {
        let waiter = self.retrievals.lock().unwrap_or_else(|p| p.into_inner()).remove(&unique);
        if let Some(waiter) = waiter {
            let _ = waiter.try_send(data.to_vec());
        }
    }
}

impl PollSink for Channel {
    fn wake(&self, kh: u64) -> Result<(), Errno> {
        let mut body = Vec::with_capacity(abi::NotifyPollWakeupOut::SIZE);
        abi::NotifyPollWakeupOut { kh }.encode(&mut body);
        notify(self, abi::notify::POLL, &[&body])
    }
}

/// Sends an unsolicited notification with `code` and `body` parts, without copying them.
/// `EFBIG` when the frame would not fit the wire's length field.
pub(crate) fn notify(channel: &Channel, code: i32, body: &[&[u8]]) -> Result<(), Errno> {
    let len = body.iter().map(|part| part.len()).sum();
    let header = Reply::notification_header(code, len).ok_or(Errno::EFBIG)?;
    let mut parts = Vec::with_capacity(body.len() + 1);
    parts.push(header.as_slice());
    parts.extend_from_slice(body);
    channel.send(&parts)
}
