//! One mounted file system's side of the wire: decode a request, hand it to the file system,
//! answer the kernel. Shared by the FUSE mount and the loopback kernel, and by every worker
//! thread.
//!
//! - `mod.rs`: the session, one frame's way through it, and sending;
//! - [`init`]: the `INIT` handshake;
//! - [`interrupt`]: which requests are in flight, for `INTERRUPT`;
//! - [`translate`]: from a wire request to the file system's operation and back to a reply;
//! - [`node`]: the node table (cookies and lookup counts);
//! - [`notify`]: what notifications share with the session (the grant, retrievals);
//! - [`passthrough`]: the backing files of opens the kernel passes through;
//! - [`read`]: `READ`, answered from where the file system's bytes are;
//! - [`readdirplus`]: `READDIRPLUS` from the file system's readdir and lookup;
//! - [`posix_acl`]: what the framework does for file systems with POSIX ACLs;
//! - [`setid`]: the set-id bits and capabilities a file loses when it changes;
//! - [`uring`]: the rings of FUSE over io_uring, made at `INIT`.

mod init;
mod interrupt;
mod lock;
pub(crate) mod node;
pub(crate) mod notify;
mod passthrough;
mod posix_acl;
mod read;
mod readdirplus;
mod setid;
mod splice;
#[cfg(test)]
mod tests;
mod translate;
mod uring;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use nix::errno::Errno;

use crate::cred::Cred;
use crate::fs::context::{Context, Ttls};
use crate::fs::cookie::Cookie;
use crate::fs::dispatch::{Op, Outcome};
use crate::fs::flags::UnmountFlags;
use crate::fs::FileSystem;
use crate::fuse::abi::{opcode, InHeader, InitFlags, OutHeader};
use crate::fuse::reply::Reply;
use crate::fuse::request::{Layout, Operation, Request};
use crate::fuse::uring::Ring;
use crate::fuse::Channel;
use crate::settings::{clamp_request_len, Settings};
use interrupt::Interrupts;
use lock::{lock_flags, Asked, Asking, LockWaiters};
use node::NodeTable;
use notify::Notices;
use passthrough::Backings;

/// A mounted file system's request handling.
#[derive(Debug)]
pub(crate) struct Session<F: FileSystem> {
    pub(crate) fs: F,
    pub(crate) channel: Arc<Channel>,
    pub(crate) nodes: NodeTable,
    /// What was asked before mount.
    pub(crate) settings: Settings,
    /// The length of a request buffer: the asked length, clamped (the only granted value the
    /// session needs before `INIT`).
    pub(crate) request_len: usize,
    /// What `INIT` settled and the retrievals waiting, shared with the notifiers.
    pub(crate) notices: Arc<Notices>,
    /// The requests in flight, for `INTERRUPT`.
    interrupts: Interrupts,
    /// The callers waiting for a lock.
    lock_waiters: LockWaiters,
    /// The backing files of passed-through opens.
    backings: Backings,
    /// The channel refused a spliced reply: reads from files are copied (see `splice`).
    splice_refused: AtomicBool,
    destroyed: AtomicBool,
    /// The file system already agreed to (or was told of) the unmount.
    pub(crate) unmount_told: AtomicBool,
    dump_lock: Mutex<()>,
    /// The rings, when requests come through FUSE over io_uring (see `uring`).
    rings: OnceLock<Vec<Arc<Ring>>>,
}

thread_local! {
    /// This worker's list of the nodes a reply hands out, kept from request to request.
    static HANDED_OUT: std::cell::Cell<Vec<Cookie>> = const { std::cell::Cell::new(Vec::new()) };
}

/// How a request was answered.
enum Answer {
    /// With this frame, or this errno.
    Frame(Result<Vec<u8>, Errno>),
    /// Already, by the operation (a read, see `read`).
    Sent,
    /// Not yet: a lock request waits for the lock, and whoever releases it answers.
    Parked,
}

/// What handling one frame led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handled {
    /// Keep going.
    Continue,
    /// The kernel said `DESTROY`: the session is over.
    Destroyed,
}

fn cred_of(h: &InHeader) -> Cred {
    Cred { uid: h.uid, gid: h.gid, pid: h.pid }
}

impl<F: FileSystem> Session<F> {
    pub(crate) fn new(fs: F, channel: Arc<Channel>, root: Cookie, settings: Settings) -> Session<F> {
        Session {
            fs,
            channel,
            nodes: NodeTable::new(root, settings.cookie_hash_buckets),
            request_len: clamp_request_len(settings.max_request_len),
            settings,
            notices: Arc::default(),
            interrupts: Interrupts::default(),
            lock_waiters: LockWaiters::default(),
            backings: Backings::default(),
            splice_refused: AtomicBool::new(false),
            destroyed: AtomicBool::new(false),
            unmount_told: AtomicBool::new(false),
            dump_lock: Mutex::new(()),
            rings: OnceLock::new(),
        }
    }

    /// Whether POSIX ACLs were negotiated: the file system keeps them and the kernel enforces
    /// them.
    pub(crate) fn acl_granted(&self) -> bool {
        self.granted().contains(InitFlags::POSIX_ACL)
    }

    /// The capabilities the kernel granted; none before `INIT`.
    pub(crate) fn granted(&self) -> InitFlags {
        self.notices.granted()
    }

    /// Whether the kernel sent `DESTROY`.
    pub(crate) fn is_destroyed(&self) -> bool {
        self.destroyed.load(Ordering::Relaxed)
    }

    /// Tells the file system about the unmount once, with `flags`; answers its verdict.
    pub(crate) fn tell_unmount(&self, flags: UnmountFlags) -> Result<(), Errno> {
        if self.unmount_told.load(Ordering::Acquire) {
            return Ok(());
        }
        let verdict = self.call(Op::Unmount { flags }, &Context::ROOT).done();
        if verdict.is_ok() || flags.contains(UnmountFlags::FORCE) {
            self.unmount_told.store(true, Ordering::Release);
        }
        verdict
    }

    fn dump(&self, line: std::fmt::Arguments<'_>) {
        if self.settings.opdump {
            let _serialized = self.dump_lock.lock();
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    /// The room a reply gets for the `size` the kernel asked (a read, a listing): the size is
    /// the peer's, so it is clamped to the request length before anything is allocated or lent.
    fn reply_room(&self, size: u32) -> usize {
        (size as usize).min(self.request_len)
    }

    /// Sends a reply made of `parts`, the header first; answers whether the kernel took it.
    fn send(&self, unique: u64, parts: &[&[u8]]) -> bool {
        if self.settings.opdump {
            if let Some(h) = parts.first().and_then(|header| OutHeader::decode(header)) {
                let verdict = if h.error == 0 { "ok".to_string() } else { format!("{:?}", Errno::from_raw(-h.error)) };
                self.dump(format_args!("<- reply unique {unique}: {verdict}, {} bytes", h.len));
            }
        }
        // A request that came through a ring is answered there.
        if unique != 0 && self.rings().iter().any(|ring| ring.answer(unique, parts)) {
            return true;
        }
        match self.channel.send(parts) {
            Ok(()) => true,
            // ENOENT: the request was interrupted and the kernel no longer waits for it.
            Err(Errno::ENOENT) => false,
            Err(e) => {
                self.dump(format_args!("!! reply to {unique} not delivered: {e}"));
                false
            }
        }
    }

    fn send_error(&self, unique: u64, errno: Errno) {
        self.send(unique, &[&Reply::error(unique, errno as i32)]);
    }

    /// Answers request `unique`, which was left waiting, and forgets it.
    fn answer_later(&self, unique: u64, answer: Result<Vec<u8>, Errno>) {
        match answer {
            Ok(frame) => {
                self.send(unique, &[&frame]);
            }
            Err(errno) => self.send_error(unique, errno),
        }
        self.interrupts.end(unique);
    }

    /// Handles one request frame and answers it.
    pub(crate) fn handle(&self, frame: &[u8]) -> Handled {
        // The nodes a reply hands out go in this thread's list, reused: no allocation.
        let mut handed_out = HANDED_OUT.take();
        let handled = self.handle_with(frame, &mut handed_out);
        handed_out.clear();
        HANDED_OUT.set(handed_out);
        handled
    }

    /// Handles one request frame and answers it; `handed_out` (empty) is for the nodes its
    /// reply hands to the kernel.
    fn handle_with(&self, frame: &[u8], handed_out: &mut Vec<Cookie>) -> Handled {
        let request = match Request::decode_in(frame, Layout::of(self.granted())) {
            Ok(r) => r,
            Err(e) => {
                self.dump(format_args!("!! {e}"));
                if let Some(h) = e.header {
                    if opcode::wants_reply(h.opcode) {
                        self.send_error(h.unique, e.errno);
                    }
                }
                return Handled::Continue;
            }
        };
        let h = request.header;
        if self.settings.opdump {
            // Arguments are evaluated before dump looks at the setting: not for every request.
            self.dump(format_args!(
                "-> {} unique {} node {} uid {} gid {} pid {}: {}",
                opcode::name(h.opcode),
                h.unique,
                h.nodeid,
                h.uid,
                h.gid,
                h.pid,
                request.op
            ));
        }
        if let Operation::Interrupt { unique: target } = request.op {
            if let Some(retry) = self.interrupts.interrupt(h.unique, target) {
                self.send_error(retry, Errno::EAGAIN);
            }
            if self.lock_waiters.cancel(target) {
                self.answer_later(target, Err(Errno::EINTR));
            }
            return Handled::Continue;
        }
        if let Operation::NotifyReply { data, .. } = request.op {
            self.notices.retrieved(h.unique, data);
            return Handled::Continue;
        }
        let wants_reply = request.wants_reply();
        let started = wants_reply.then(|| self.interrupts.start(h.unique));
        if let Some(retry) = started.as_ref().and_then(|s| s.retry) {
            self.send_error(retry, Errno::EAGAIN);
        }
        let ttls = Ttls::default();
        let ctx = Context::of_request(cred_of(&h), started.as_ref().map(|s| &*s.interrupt), &ttls);
        // An operation that may hand a node to the kernel holds off reclaims until its reply is
        // delivered and the lookup counted (see `node`).
        let handing_out = request.op.hands_out_node().then(|| self.nodes.handing_out());
        let run = || match request.op {
            // A waiting lock may be answered later, by whichever worker releases the lock.
            Operation::Setlk { fh, owner, lock, flock, wait: true } => {
                let node = self.nodes.cookie_of(h.nodeid);
                let asking = Asking { node, handle: fh, owner, lock, flags: lock_flags(flock, true) };
                match self.set_lock(h.unique, asking, &ctx, started.as_ref().map(|s| &s.interrupt)) {
                    Asked::Answer(answer) => Answer::Frame(answer),
                    Asked::Parked => Answer::Parked,
                }
            }
            // A read's answer is sent from the file system's memory, during its method.
            Operation::Read { fh, offset, size } => {
                match self.read(h.unique, self.nodes.cookie_of(h.nodeid), fh, offset, size, &ctx) {
                    Ok(()) => Answer::Sent,
                    Err(errno) => Answer::Frame(Err(errno)),
                }
            }
            _ => Answer::Frame(self.dispatch(&request, &ctx, &ttls, handed_out)),
        };
        // A panicking operation must not leave the caller waiting forever: it answers EIO.
        let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|_| {
            self.dump(format_args!("!! {} unique {} panicked in the file system", opcode::name(h.opcode), h.unique));
            Answer::Frame(Err(Errno::EIO))
        });
        let delivered = match answer {
            // Parked: its interruption stays registered, for INTERRUPT to find.
            Answer::Parked => return Handled::Continue,
            // A read hands out no node: whether it was delivered matters to no one.
            Answer::Sent => false,
            Answer::Frame(Ok(frame)) if wants_reply => {
                let delivered = self.send(h.unique, &[&frame]);
                Reply::recycle(frame);
                delivered
            }
            Answer::Frame(Err(errno)) if wants_reply => {
                self.send_error(h.unique, errno);
                false
            }
            Answer::Frame(_) => false,
        };
        if started.is_some() {
            self.interrupts.end(h.unique);
        }
        if let (Some(guard), true) = (&handing_out, delivered) {
            for &cookie in handed_out.iter() {
                self.nodes.looked_up(guard, cookie);
            }
        }
        drop(handing_out);
        if !delivered {
            // The file system answered nodes the kernel never learned of: they will never be
            // forgotten, so each is reclaimed now unless the kernel holds it from elsewhere.
            handed_out.sort_unstable();
            handed_out.dedup();
            for &cookie in handed_out.iter() {
                self.nodes.not_handed_out(cookie, |cookie| self.reclaim(cookie));
            }
        }
        if matches!(request.op, Operation::Destroy) {
            self.destroyed.store(true, Ordering::Relaxed);
            Handled::Destroyed
        } else {
            Handled::Continue
        }
    }

    /// Runs `op` for `cred`: the file system's method if it has it, the framework's answer if
    /// not (see [`Op::absent`]).
    pub(crate) fn call(&self, op: Op<'_>, ctx: &Context<'_>) -> Outcome {
        self.fs.dispatch(op, ctx)
    }

    /// The kernel holds `cookie` no more: tells the file system (puffs `node_reclaim`).
    fn reclaim(&self, cookie: Cookie) {
        let _ = self.call(Op::Reclaim { node: cookie }, &Context::ROOT).done();
    }
}
