//! The kernel's end of the socket pair: requests sent and counted, replies routed to the
//! callers waiting for them, and the life of the mount (puffs `pmp_status`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use nix::errno::Errno;

use crate::fuse::abi::{self, InHeader, InitFlags, ROOT_ID};
use crate::fuse::reply::{attr_from_wire, decode_body, split_reply, ReplyBody, ReplyKind};
use crate::fuse::request::Operation;
use crate::fuse::Channel;
use crate::vattr::{Vattr, Vtype};

use super::args::MountArgs;
use super::client::Client;

/// Where a loopback mount is in its life (puffs `pmp_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Mounted, but the file system's main loop has not answered yet (`PUFFSTAT_MOUNTING`):
    /// `statvfs` answers `EINPROGRESS`, other calls wait.
    Mounting,
    /// Serving (`PUFFSTAT_RUNNING`).
    Serving,
    /// The file system's side is gone, or an unmount was decided (`PUFFSTAT_DYING`): calls fail
    /// with `ENXIO`, and an unmount no longer asks the file system.
    Dying,
    /// Unmounted, the file system's side gone: calls fail with `ENXIO`.
    Finished,
}

/// How far a suspension got (NetBSD `fstrans` states).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Suspension {
    Normal,
    Suspending,
    Suspended,
}

/// A request waiting for its reply.
#[derive(Debug)]
pub(super) struct Pending {
    /// The answer: the reply body, or an errno.
    pub(super) outcome: Option<Result<Vec<u8>, Errno>>,
    /// Sent on behalf of a client operation (counts for draining at suspension).
    pub(super) client: bool,
    /// The caller gave up waiting; the entry goes when the reply comes.
    pub(super) abandoned: bool,
    /// The root `GETATTR` of the mount: its answer starts the mount.
    pub(super) root: bool,
}

impl Pending {
    /// Whether a caller still waits for the reply.
    pub(super) fn awaited(&self) -> bool {
        self.outcome.is_none() && !self.abandoned
    }
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) status: Status,
    pub(super) suspension: Suspension,
    /// Client operations inside the gate.
    pub(super) active: usize,
    pub(super) pending: HashMap<u64, Pending>,
    pub(super) root_vattr: Option<Vattr>,
    pub(super) max_write: u32,
    /// The capabilities the file system's side granted at `INIT`.
    pub(super) granted: InitFlags,
    /// The file system answered `OPEN` with `ENOSYS`: opens succeed without asking.
    pub(super) no_open: bool,
    /// Same for `OPENDIR`.
    pub(super) no_opendir: bool,
    /// The file system answered `FLUSH` with `ENOSYS`: no more are sent.
    pub(super) no_flush: bool,
    pub(super) sent: HashMap<u32, u64>,
    /// Notifications received, by code.
    pub(super) noticed: HashMap<i32, u64>,
    /// `INTERRUPT`s sent and not yet known to have arrived: their unique id, and their target's.
    pub(super) interrupts: HashMap<u64, u64>,
    /// Frames from the file system's side that answered nothing readable.
    pub(super) unroutable: u64,
}

impl State {
    pub(super) fn new() -> State {
        State {
            status: Status::Mounting,
            suspension: Suspension::Normal,
            active: 0,
            pending: HashMap::new(),
            root_vattr: None,
            max_write: 0,
            granted: InitFlags::empty(),
            no_open: false,
            no_opendir: false,
            no_flush: false,
            sent: HashMap::new(),
            noticed: HashMap::new(),
            interrupts: HashMap::new(),
            unroutable: 0,
        }
    }
}

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) channel: Channel,
    pub(super) state: Mutex<State>,
    pub(super) changed: Condvar,
    pub(super) next_unique: AtomicU64,
    pub(super) args: MountArgs,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits on the condition variable until `deadline`; `false` once it passed.
    pub(super) fn wait_until<'a>(
        &self,
        guard: MutexGuard<'a, State>,
        deadline: Instant,
    ) -> (MutexGuard<'a, State>, bool) {
        let now = Instant::now();
        if now >= deadline {
            return (guard, false);
        }
        let (guard, _) = self.changed.wait_timeout(guard, deadline - now).unwrap_or_else(|p| p.into_inner());
        (guard, true)
    }

    /// Fails every waiting request with `errno` and sets `status`.
    pub(super) fn release_waiters(&self, state: &mut State, status: Status, errno: Errno) {
        state.status = status;
        state.pending.retain(|_, p| !p.abandoned && !p.root);
        for pending in state.pending.values_mut() {
            if pending.outcome.is_none() {
                pending.outcome = Some(Err(errno));
            }
        }
        self.changed.notify_all();
    }

    /// The file system's side closed its end (or ours was shut down).
    pub(super) fn peer_gone(&self) {
        let mut state = self.lock();
        let status = if state.status == Status::Finished { Status::Finished } else { Status::Dying };
        self.release_waiters(&mut state, status, Errno::ENXIO);
    }

    /// The `INTERRUPT` of request `target`, registered to be sent again if the file system
    /// answers it `EAGAIN`.
    pub(super) fn interrupt_frame(&self, state: &mut State, target: u64) -> Vec<u8> {
        let unique = self.next_unique.fetch_add(1, Ordering::Relaxed);
        state.interrupts.insert(unique, target);
        *state.sent.entry(abi::opcode::INTERRUPT).or_default() += 1;
        Operation::Interrupt { unique: target }.encode(InHeader { unique, ..Default::default() })
    }

    /// A notification with `code`: counted. The loopback caches nothing, so there is nothing
    /// to drop, and a retrieve is answered at once with no bytes.
    fn noticed(&self, code: i32, body: &[u8]) {
        *self.lock().noticed.entry(code).or_default() += 1;
        if code == abi::notify::RETRIEVE {
            if let Some(asked) = abi::NotifyRetrieveOut::decode(body) {
                let header = InHeader { unique: asked.notify_unique, nodeid: asked.nodeid, ..Default::default() };
                let frame = Operation::NotifyReply { offset: asked.offset, data: &[] }.encode(header);
                let _ = self.channel.send(&[&frame]);
            }
        }
    }

    /// Routes one frame from the file system's side to the request it answers.
    pub(super) fn deliver(&self, frame: &[u8]) {
        let (unique, outcome) = match split_reply(frame) {
            Ok((header, body)) if header.unique == 0 => return self.noticed(header.error, body),
            Ok((header, _)) if header.error != 0 => (header.unique, Err(Errno::from_raw(-header.error))),
            Ok((header, body)) => (header.unique, Ok(body.to_vec())),
            Err(e) => match e.unique {
                Some(unique) => (unique, Err(Errno::EIO)),
                None => {
                    self.lock().unroutable += 1;
                    return;
                }
            },
        };
        let mut state = self.lock();
        if let Some(target) = state.interrupts.remove(&unique) {
            // The file system did not know the target yet: the kernel sends the interrupt again
            // while its target waits.
            let waiting = state.pending.get(&target).is_some_and(Pending::awaited);
            if outcome == Err(Errno::EAGAIN) && waiting {
                let frame = self.interrupt_frame(&mut state, target);
                drop(state);
                let _ = self.channel.send(&[&frame]);
            }
            return;
        }
        let Some(pending) = state.pending.get_mut(&unique) else {
            state.unroutable += 1;
            return;
        };
        if pending.root {
            state.pending.remove(&unique);
            let fetched = outcome.ok().and_then(|body| match decode_body(ReplyKind::Attr, &body) {
                Some(ReplyBody::Attr { attr, .. }) => attr_from_wire(&attr),
                _ => None,
            });
            state.root_vattr = Some(fetched.unwrap_or_else(|| synthesized_root(&self.args)));
            if state.status == Status::Mounting {
                state.status = Status::Serving;
            }
        } else if pending.abandoned {
            state.pending.remove(&unique);
        } else {
            pending.outcome = Some(outcome);
        }
        self.changed.notify_all();
    }
}

/// The root's attributes when the file system cannot tell them (puffs builds the root vnode from
/// `pa_root_vtype` alone).
pub(super) fn synthesized_root(args: &MountArgs) -> Vattr {
    let vattr = Vattr::new(args.root_vtype, 0o755, ROOT_ID);
    Vattr { nlink: if args.root_vtype == Vtype::Dir { 2 } else { 1 }, ..vattr }
}

/// How a request is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    /// On behalf of a client call.
    Client,
    /// The kernel's own business (suspension phases, the unmount question).
    Kernel,
    /// `DESTROY`: sent after the mount was declared dying.
    Final,
}

impl Client {
    pub(super) fn header(&self, nodeid: u64, unique: u64) -> InHeader {
        InHeader { unique, nodeid, uid: self.cred.uid, gid: self.cred.gid, pid: self.cred.pid, ..Default::default() }
    }

    /// Registers a request and sends it; the unique id to wait for.
    pub(super) fn send(&self, nodeid: u64, op: &Operation<'_>, flavor: Flavor) -> Result<u64, Errno> {
        let unique = self.shared.next_unique.fetch_add(1, Ordering::Relaxed);
        let opcode = op.opcode().unwrap_or(0);
        {
            let mut state = self.shared.lock();
            let open = match flavor {
                Flavor::Final => state.status == Status::Dying,
                _ => matches!(state.status, Status::Mounting | Status::Serving),
            };
            if !open {
                return Err(Errno::ENXIO);
            }
            state.pending.insert(
                unique,
                Pending { outcome: None, client: flavor == Flavor::Client, abandoned: false, root: false },
            );
            *state.sent.entry(opcode).or_default() += 1;
        }
        let frame = op.encode(self.header(nodeid, unique));
        if let Err(e) = self.shared.channel.send(&[&frame]) {
            self.shared.lock().pending.remove(&unique);
            return Err(match e {
                Errno::EAGAIN => Errno::ETIMEDOUT,
                Errno::EPIPE | Errno::ECONNRESET | Errno::ENOTCONN => Errno::ENXIO,
                other => other,
            });
        }
        Ok(unique)
    }

    /// Waits for the reply to `unique`, within the timeout.
    pub(super) fn wait(&self, unique: u64) -> Result<Vec<u8>, Errno> {
        let deadline = Instant::now() + self.shared.args.timeout;
        let mut state = self.shared.lock();
        loop {
            match state.pending.get(&unique) {
                Some(Pending { outcome: Some(_), .. }) => {
                    let pending = state.pending.remove(&unique).expect("present");
                    return pending.outcome.expect("answered");
                }
                Some(_) => {}
                None => return Err(Errno::ENXIO),
            }
            let (guard, in_time) = self.shared.wait_until(state, deadline);
            state = guard;
            if !in_time {
                if let Some(pending) = state.pending.get_mut(&unique) {
                    if pending.outcome.is_none() {
                        pending.abandoned = true;
                        return Err(Errno::ETIMEDOUT);
                    }
                }
            }
        }
    }

    /// Sends a request and waits for its reply body.
    pub(super) fn call(&self, nodeid: u64, op: &Operation<'_>, flavor: Flavor) -> Result<Vec<u8>, Errno> {
        let unique = self.send(nodeid, op, flavor)?;
        self.wait(unique)
    }

    /// Forgets one lookup of each node in `nodes` (`FORGET` for one, `BATCH_FORGET` for more).
    pub(super) fn forget(&self, nodes: &[u64]) {
        let mut counts: Vec<abi::ForgetOne> = Vec::new();
        for &nodeid in nodes {
            match counts.iter_mut().find(|c| c.nodeid == nodeid) {
                Some(one) => one.nlookup += 1,
                None => counts.push(abi::ForgetOne { nodeid, nlookup: 1 }),
            }
        }
        let (nodeid, op) = match counts.as_slice() {
            [] => return,
            [one] => (one.nodeid, Operation::Forget { nlookup: one.nlookup }),
            _ => (0, Operation::BatchForget { nodes: counts }),
        };
        let unique = self.shared.next_unique.fetch_add(1, Ordering::Relaxed);
        {
            let mut state = self.shared.lock();
            if !matches!(state.status, Status::Serving | Status::Mounting) {
                return;
            }
            *state.sent.entry(op.opcode().unwrap_or(0)).or_default() += 1;
        }
        // No reply comes; a failure means the mount is going away, which forgets everything.
        let _ = self.shared.channel.send(&[&op.encode(self.header(nodeid, unique))]);
    }
}
