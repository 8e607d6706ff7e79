//! FUSE over io_uring (Linux 6.14 on, `CONFIG_FUSE_IO_URING`, switched on by root with
//! `echo Y > /sys/module/fuse/parameters/enable_uring`): the server registers ring entries
//! on `/dev/fuse`, one queue per possible CPU; the kernel puts each request in an entry of the
//! queue of the CPU that made it, and the server answers by committing the entry, which in the
//! same command fetches the next request. A reply and the next request cross in one system
//! call, and no thread sleeps in `read(2)`.
//!
//! What stays on `/dev/fuse`: `INIT` (the ring is registered after it), `FORGET`, `INTERRUPT`
//! and the server's notifications (the kernel's `fuse_io_uring_ops`).
//!
//! Whose an entry's memory is: the kernel's from the submission of its `REGISTER` or
//! `COMMIT_AND_FETCH` until that command completes; the server's from then until it commits.
//! The worker that received a request submits the commit only once handling returned
//! ([`Ring::serve`]), so the frame a handler borrows never changes under it; an answer given on
//! another thread (a lock granted later) is written into its entry there, or kept aside while
//! the worker still handles the request, and handed to the worker, which submits it.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::cell::Cell;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use io_uring::{opcode, squeue, types, IoUring};
use nix::errno::Errno;
use nix::libc;

use crate::error::io_errno;
use crate::fuse::abi::uring::{self as rec, RingCmdReq, RingEntInOut};
use crate::fuse::abi::{opcode as fuse_opcode, InHeader, OutHeader};
use crate::fuse::reply::Reply;

/// Where an entry's payload starts in its memory: past the header buffer and enough room to
/// move the in-header and the operation's record in front of the payload, so that a request
/// reads as one frame, as on `/dev/fuse`.
const PAYLOAD_AT: usize = 512;
const _: () = assert!(PAYLOAD_AT >= rec::HEADER_SIZE + InHeader::SIZE + rec::OP_IN_SIZE);

/// `user_data` of the wait for the stop pipe.
const STOP: u64 = u64::MAX;
/// `user_data` of the wait for the wake pipe (answers given on other threads).
const WAKE: u64 = u64::MAX - 1;

/// One ring entry: its memory (header buffer, room, payload) and the request it holds.
struct Entry {
    mem: *mut u8,
    layout: Layout,
    qid: u16,
    /// The `unique` of the request the server holds in it; 0 while the kernel has it.
    unique: AtomicU64,
    /// The `iovec[2]` a `REGISTER` points at: the header buffer, the payload.
    iov: [libc::iovec; 2],
    /// Whether its worker is handling the request in it, and an answer another thread gave
    /// meanwhile, kept here until handling returns.
    late: Mutex<Late>,
}

/// See [`Entry::late`].
#[derive(Default)]
struct Late {
    handling: bool,
    reply: Option<Vec<u8>>,
}

// SAFETY: the memory is owned by the entry alone; who may touch it is settled by the protocol
// described in the module's docs, with `unique` as the hand-over between threads.
unsafe impl Send for Entry {}
// SAFETY: as above.
unsafe impl Sync for Entry {}

impl Entry {
    fn new(qid: u16, payload_len: usize) -> Result<Arc<Entry>, Errno> {
        let layout = Layout::from_size_align(PAYLOAD_AT + payload_len, 4096).map_err(|_| Errno::ENOMEM)?;
        // SAFETY: the layout has a non-zero size. Zeroed: nothing is read that was not
        // written, but large zeroed allocations cost no more (fresh pages).
        let mem = unsafe { alloc_zeroed(layout) };
        if mem.is_null() {
            return Err(Errno::ENOMEM);
        }
        // SAFETY: both pointers lie inside the allocation just made.
        let iov = unsafe {
            [
                libc::iovec { iov_base: mem.cast(), iov_len: rec::HEADER_SIZE },
                libc::iovec { iov_base: mem.add(PAYLOAD_AT).cast(), iov_len: payload_len },
            ]
        };
        Ok(Arc::new(Entry { mem, layout, qid, unique: AtomicU64::new(0), iov, late: Mutex::default() }))
    }

    /// Copies `bytes` into the entry's memory at `at`.
    ///
    /// # Safety
    /// The server holds the entry, and `at + bytes.len()` fits in it.
    unsafe fn write(&self, at: usize, bytes: &[u8]) {
        debug_assert!(at + bytes.len() <= self.layout.size());
        // SAFETY: the caller's promise.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.mem.add(at), bytes.len()) };
    }

    /// Copies `len` bytes of the entry's memory from `from` to `to` (the ranges apart).
    ///
    /// # Safety
    /// As [`Entry::write`], for both ranges.
    unsafe fn copy_within(&self, from: usize, to: usize, len: usize) {
        debug_assert!(from.max(to) + len <= self.layout.size() && (from + len <= to || to + len <= from));
        // SAFETY: the caller's promise.
        unsafe { std::ptr::copy_nonoverlapping(self.mem.add(from), self.mem.add(to), len) };
    }

    /// The entry's bytes at `at..at + len`.
    ///
    /// # Safety
    /// The server holds the entry, the bytes were written (by the kernel or the server), and
    /// nothing writes them while the slice lives.
    unsafe fn bytes(&self, at: usize, len: usize) -> &[u8] {
        debug_assert!(at + len <= self.layout.size());
        // SAFETY: the caller's promise.
        unsafe { std::slice::from_raw_parts(self.mem.add(at), len) }
    }

    fn payload_len(&self) -> usize {
        self.layout.size() - PAYLOAD_AT
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; the ring that lent it to the kernel is
        // gone (entries drop with their `Ring`, after its io_uring, see `Ring`'s field order).
        unsafe { dealloc(self.mem, self.layout) };
    }
}

thread_local! {
    /// The request this thread is handling on a ring, and whether it was answered: its reply
    /// waits in `STAGED` until handling returns (`Ring::serve`).
    static HANDLING: Cell<Option<Handling>> = const { Cell::new(None) };
    /// The staged reply, reused from request to request.
    static STAGED: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

#[derive(Clone, Copy)]
struct Handling {
    ring: *const Ring,
    unique: u64,
    answered: bool,
}

/// The ring entries of some of the queues, served by one thread: its io_uring instance, the
/// entries and their memory. Fields drop in order: the io_uring first (its commands end),
/// then the entries' memory.
pub(crate) struct Ring {
    uring: IoUring<squeue::Entry128>,
    /// `/dev/fuse`, which the session holds open for as long as the ring.
    fuse: RawFd,
    /// Every entry ever made, by index (the `user_data` of its commands).
    entries: Mutex<Vec<Arc<Entry>>>,
    payload_len: usize,
    /// Held while a submission-queue handle exists.
    sq: Mutex<()>,
    /// Entries answered on other threads, for the worker to commit.
    answered: Mutex<Vec<usize>>,
    /// Per queue: `(qid, entries held by waiting requests, entries added in their place)`.
    waiting: Mutex<Vec<(u16, usize, usize)>>,
    wake_read: OwnedFd,
    wake_write: OwnedFd,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring").field("fuse", &self.fuse).field("payload_len", &self.payload_len).finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn errno_of(e: std::io::Error) -> Errno {
    io_errno(&e)
}

/// The 80-byte command area of a `FUSE_IO_URING_CMD_*` for queue `qid`, request `commit_id`.
fn command(qid: u16, commit_id: u64) -> [u8; 80] {
    let mut cmd = [0; 80];
    let req = RingCmdReq { qid, commit_id, ..RingCmdReq::default() }.to_bytes();
    cmd[..req.len()].copy_from_slice(&req);
    cmd
}

/// Sets `len` of a submission entry, which the crate's `UringCmd80` leaves 0 and a FUSE
/// `REGISTER` needs (the number of iovecs).
fn with_len(entry: squeue::Entry128, len: u32) -> squeue::Entry128 {
    const LEN_AT: usize = 24;
    // SAFETY: `Entry128` is `repr(C)`: a 64-byte `struct io_uring_sqe` (whose `len` is the
    // `u32` at byte 24) and 64 more bytes; the test below checks the size and the offset.
    let mut bytes: [u8; 128] = unsafe { std::mem::transmute(entry) };
    bytes[LEN_AT..LEN_AT + 4].copy_from_slice(&len.to_ne_bytes());
    // SAFETY: the same bytes with `len` set: a valid entry.
    unsafe { std::mem::transmute::<[u8; 128], squeue::Entry128>(bytes) }
}

impl Ring {
    /// A ring for queues `qids`, `depth` entries each, with payloads of `payload_len` bytes
    /// (the kernel's `max_payload_sz`: the largest of `max_write`, `max_pages` pages and 8 KiB),
    /// on `/dev/fuse` descriptor `fuse`. Nothing is registered yet.
    pub(crate) fn new(fuse: RawFd, qids: &[u16], depth: usize, payload_len: usize) -> Result<Ring, Errno> {
        let count = qids.len() * depth;
        let slots = (count + 2).next_power_of_two().max(8) as u32;
        let uring = IoUring::<squeue::Entry128>::builder().build(slots).map_err(errno_of)?;
        let mut entries = Vec::with_capacity(count);
        for &qid in qids {
            for _ in 0..depth {
                entries.push(Entry::new(qid, payload_len)?);
            }
        }
        let (wake_read, wake_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)?;
        Ok(Ring {
            uring,
            fuse,
            entries: Mutex::new(entries),
            payload_len,
            sq: Mutex::new(()),
            answered: Mutex::new(Vec::new()),
            waiting: Mutex::new(Vec::new()),
            wake_read,
            wake_write,
        })
    }

    /// Queues `sqe`; when the submission queue is full, submits what is queued first (only
    /// commits of finished requests and registrations are ever queued).
    fn push(&self, sqe: &squeue::Entry128) -> Result<(), Errno> {
        loop {
            let _sq = lock(&self.sq);
            // SAFETY: `self.sq` is held: no other submission-queue handle exists. The buffers
            // `sqe` names live as long as the ring (entries are never freed before it).
            let pushed = unsafe { self.uring.submission_shared().push(sqe).is_ok() };
            if pushed {
                return Ok(());
            }
            self.uring.submit().map_err(errno_of)?;
        }
    }

    fn entry(&self, index: usize) -> Option<Arc<Entry>> {
        lock(&self.entries).get(index).cloned()
    }

    fn register(&self, index: usize, entry: &Entry) -> Result<(), Errno> {
        let sqe = opcode::UringCmd80::new(types::Fd(self.fuse), rec::CMD_REGISTER)
            .cmd(command(entry.qid, 0))
            .addr(Some(entry.iov.as_ptr() as u64))
            .build()
            .user_data(index as u64);
        self.push(&with_len(sqe, 2))
    }

    fn commit(&self, index: usize, entry: &Entry, unique: u64) -> Result<(), Errno> {
        let sqe = opcode::UringCmd80::new(types::Fd(self.fuse), rec::CMD_COMMIT_AND_FETCH)
            .cmd(command(entry.qid, unique))
            .build()
            .user_data(index as u64);
        self.push(&sqe)
    }

    fn watch(&self, fd: BorrowedFd<'_>, user_data: u64) -> Result<(), Errno> {
        let poll = opcode::PollAdd::new(types::Fd(fd.as_raw_fd()), libc::POLLIN as u32).build();
        self.push(&squeue::Entry128::from(poll.user_data(user_data)))
    }

    /// A request of queue `qid` holds its entry for longer (a lock request waiting for its
    /// lock): unless an entry added for an earlier one is free again, a new one is registered
    /// in its place, so that the queue keeps taking requests. The entries added are as many as
    /// requests ever waited at once.
    fn hold(&self, qid: u16) -> Result<(), Errno> {
        {
            let mut waiting = lock(&self.waiting);
            let at = match waiting.iter().position(|w| w.0 == qid) {
                Some(at) => at,
                None => {
                    waiting.push((qid, 0, 0));
                    waiting.len() - 1
                }
            };
            let (_, held, added) = &mut waiting[at];
            *held += 1;
            if *held <= *added {
                return Ok(());
            }
            *added += 1;
        }
        let entry = Entry::new(qid, self.payload_len)?;
        let index = {
            let mut entries = lock(&self.entries);
            entries.push(entry.clone());
            entries.len() - 1
        };
        self.register(index, &entry)
    }

    /// Writes the reply made of `parts` (the out header first) into `entry`, the body into its
    /// payload; a body too long for it becomes `EIO`.
    ///
    /// # Safety
    /// The server holds `entry`, and no frame borrowed from its payload lives.
    unsafe fn write_reply(&self, entry: &Entry, unique: u64, parts: &[&[u8]]) {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let body = total.saturating_sub(OutHeader::SIZE);
        if total < OutHeader::SIZE || body > entry.payload_len() {
            // SAFETY: the caller's promise; a header alone fits.
            return unsafe { self.write_reply(entry, unique, &[&Reply::error(unique, Errno::EIO as i32)]) };
        }
        let (mut header_at, mut body_at) = (rec::IN_OUT, PAYLOAD_AT);
        let mut header_left = OutHeader::SIZE;
        for part in parts {
            let (head, rest) = part.split_at(header_left.min(part.len()));
            // SAFETY: the caller's promise; the header goes to the header buffer, the body
            // (checked to fit above) to the payload.
            unsafe {
                entry.write(header_at, head);
                entry.write(body_at, rest);
            }
            header_at += head.len();
            header_left -= head.len();
            body_at += rest.len();
        }
        let sizes = RingEntInOut { commit_id: unique, payload_sz: body as u32, ..RingEntInOut::default() };
        // SAFETY: as above.
        unsafe { entry.write(rec::ENT_IN_OUT, &sizes.to_bytes()) };
    }

    /// Writes the reply made of `parts` into entry `index` and commits it.
    ///
    /// # Safety
    /// As [`Ring::write_reply`].
    unsafe fn reply_and_commit(&self, index: usize, entry: &Entry, unique: u64, parts: &[&[u8]]) -> Result<(), Errno> {
        // SAFETY: the caller's promise.
        unsafe { self.write_reply(entry, unique, parts) };
        self.commit(index, entry, unique)
    }

    /// Answers request `unique` with `parts` if it came through this ring: `false` if not
    /// (it came through `/dev/fuse`). On the thread handling it, the reply waits in a staging
    /// buffer until handling returns; on another thread it goes into the entry at once and
    /// the worker is woken to commit it.
    pub(crate) fn answer(&self, unique: u64, parts: &[&[u8]]) -> bool {
        if let Some(mut handling) = HANDLING.get() {
            if std::ptr::eq(handling.ring, self) && handling.unique == unique {
                if !handling.answered {
                    let mut staged = STAGED.take();
                    staged.clear();
                    for part in parts {
                        staged.extend_from_slice(part);
                    }
                    STAGED.set(staged);
                    handling.answered = true;
                    HANDLING.set(Some(handling));
                }
                return true;
            }
        }
        let found = {
            let entries = lock(&self.entries);
            entries.iter().position(|e| e.unique.load(Ordering::Acquire) == unique).map(|i| (i, entries[i].clone()))
        };
        let Some((index, entry)) = found else { return false };
        // Only one answer: whoever takes the request from the entry writes it.
        if entry.unique.compare_exchange(unique, 0, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return true;
        }
        let mut late = lock(&entry.late);
        if late.handling {
            // Its worker still borrows the frame: the answer waits for handling to return.
            late.reply = Some(parts.concat());
            return true;
        }
        // SAFETY: the entry held this request and its handling returned (`late` says so, and
        // is held until the write is done): no frame of it lives.
        unsafe { self.write_reply(&entry, unique, parts) };
        drop(late);
        if let Some(w) = lock(&self.waiting).iter_mut().find(|w| w.0 == entry.qid) {
            w.1 = w.1.saturating_sub(1);
        }
        lock(&self.answered).push(index);
        let _ = nix::unistd::write(&self.wake_write, &[1]);
        true
    }

    /// Serves this ring until the kernel ends the connection or `stop` becomes readable:
    /// registers every entry, then hands each request, as one frame, to `handle`, which answers
    /// through [`Ring::answer`] and says whether to go on. `Err` if the kernel refused the ring
    /// (`EOPNOTSUPP`: `enable_uring` is off); requests then come through `/dev/fuse`.
    pub(crate) fn serve(&self, stop: BorrowedFd<'_>, handle: &mut dyn FnMut(&[u8]) -> bool) -> Result<(), Errno> {
        let count = lock(&self.entries).len();
        for index in 0..count {
            let entry = self.entry(index).ok_or(Errno::EIO)?;
            self.register(index, &entry)?;
        }
        self.watch(stop, STOP)?;
        self.watch(self.wake_read.as_fd(), WAKE)?;
        let mut completed = Vec::with_capacity(count + 2);
        loop {
            match self.uring.submit_and_wait(1).map_err(errno_of) {
                Ok(_) | Err(Errno::EINTR | Errno::EBUSY) => {}
                Err(e) => return Err(e),
            }
            completed.clear();
            // SAFETY: only this thread ever takes the completion queue.
            completed.extend(unsafe { self.uring.completion_shared() }.map(|cqe| (cqe.user_data(), cqe.result())));
            for &(user_data, result) in &completed {
                match user_data {
                    STOP => return Ok(()),
                    WAKE => {
                        let mut drain = [0u8; 64];
                        while nix::unistd::read(&self.wake_read, &mut drain).is_ok_and(|n| n > 0) {}
                        let answered = std::mem::take(&mut *lock(&self.answered));
                        for index in answered {
                            let entry = self.entry(index).ok_or(Errno::EIO)?;
                            let unique = RingEntInOut::decode(
                                // SAFETY: written by `answer` before it queued the index.
                                unsafe { entry.bytes(rec::ENT_IN_OUT, RingEntInOut::SIZE) },
                            )
                            .map_or(0, |r| r.commit_id);
                            self.commit(index, &entry, unique)?;
                        }
                        self.watch(self.wake_read.as_fd(), WAKE)?;
                    }
                    _ if result < 0 => {
                        return match Errno::from_raw(-result) {
                            // The connection ended (unmount, abort): the ring's work is done.
                            Errno::ENOTCONN | Errno::ECONNABORTED | Errno::ECANCELED | Errno::ENODEV => Ok(()),
                            e => Err(e),
                        };
                    }
                    index => {
                        if !self.take(index as usize, handle)? {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    /// Hands the request in entry `index` to `handle` and commits its answer; `false` when
    /// `handle` says to stop.
    fn take(&self, index: usize, handle: &mut dyn FnMut(&[u8]) -> bool) -> Result<bool, Errno> {
        let entry = self.entry(index).ok_or(Errno::EIO)?;
        // SAFETY: the command completed: the kernel wrote the request and the entry is ours.
        let (header, sizes) = unsafe {
            (
                InHeader::decode(entry.bytes(rec::IN_OUT, InHeader::SIZE)),
                RingEntInOut::decode(entry.bytes(rec::ENT_IN_OUT, RingEntInOut::SIZE)),
            )
        };
        let (Some(header), Some(sizes)) = (header, sizes) else { return Err(Errno::EIO) };
        let unique = sizes.commit_id;
        let payload = sizes.payload_sz as usize;
        let op_len = (header.len as usize).checked_sub(InHeader::SIZE + payload);
        let sane = payload <= entry.payload_len() && op_len.is_some_and(|n| n <= rec::OP_IN_SIZE);
        let Some(op_len) = op_len.filter(|_| sane) else {
            // A frame that does not add up: answered EIO, so that the entry comes back.
            let error = Reply::error(unique, Errno::EIO as i32);
            // SAFETY: the entry is ours and nothing borrows it.
            unsafe { self.reply_and_commit(index, &entry, unique, &[&error])? };
            return Ok(true);
        };
        // The in-header and the operation's record move in front of the payload: one frame.
        let start = PAYLOAD_AT - op_len - InHeader::SIZE;
        // SAFETY: the entry is ours; the room between the header buffer and the payload is
        // the server's alone, and the kernel wrote `op_len` bytes of record.
        let frame = unsafe {
            entry.copy_within(rec::IN_OUT, start, InHeader::SIZE);
            entry.copy_within(rec::OP_IN, start + InHeader::SIZE, op_len);
            entry.bytes(start, header.len as usize)
        };
        // Handling first: whoever finds the request by its `unique` then sees it is handled.
        lock(&entry.late).handling = true;
        entry.unique.store(unique, Ordering::Release);
        HANDLING.set(Some(Handling { ring: self, unique, answered: false }));
        let go_on = handle(frame);
        let handling = HANDLING.take();
        let late = {
            let mut late = lock(&entry.late);
            late.handling = false;
            late.reply.take()
        };
        if let Some(reply) = late {
            // Answered on another thread while handling went on (a lock granted at once).
            // SAFETY: handling returned; the other thread took the request from the entry.
            unsafe { self.reply_and_commit(index, &entry, unique, &[&reply])? };
        } else if handling.is_some_and(|h| h.answered) {
            let staged = STAGED.take();
            if entry.unique.compare_exchange(unique, 0, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                // SAFETY: handling returned: the frame is gone, and the entry is still ours.
                let committed = unsafe { self.reply_and_commit(index, &entry, unique, &[&staged]) };
                STAGED.set(staged);
                committed?;
            } else {
                STAGED.set(staged);
            }
        } else if !fuse_opcode::wants_reply(header.opcode) {
            // No answer is due, but the entry must come back: an empty success.
            if entry.unique.compare_exchange(unique, 0, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                // SAFETY: as above.
                unsafe { self.reply_and_commit(index, &entry, unique, &[&Reply::error(unique, 0)])? };
            }
        } else if entry.unique.load(Ordering::Acquire) == unique {
            // Answered later (a lock request waits): the queue gets another entry meanwhile.
            self.hold(entry.qid)?;
        }
        Ok(go_on)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_register_entry_has_its_len_where_the_kernel_reads_it() {
        assert_eq!(std::mem::size_of::<squeue::Entry128>(), 128);
        let sqe = opcode::UringCmd80::new(types::Fd(7), rec::CMD_REGISTER).addr(Some(0x1000)).build().user_data(9);
        let bytes: [u8; 128] = unsafe { std::mem::transmute(with_len(sqe, 2)) };
        assert_eq!(bytes[0], 46, "IORING_OP_URING_CMD");
        assert_eq!(i32::from_ne_bytes(bytes[4..8].try_into().unwrap()), 7, "fd");
        assert_eq!(u64::from_ne_bytes(bytes[16..24].try_into().unwrap()), 0x1000, "addr");
        assert_eq!(u32::from_ne_bytes(bytes[24..28].try_into().unwrap()), 2, "len");
        assert_eq!(u64::from_ne_bytes(bytes[32..40].try_into().unwrap()), 9, "user_data");
    }

    #[test]
    fn a_command_carries_its_queue_and_request() {
        let cmd = command(3, 0x0102);
        assert_eq!(u64::from_le_bytes(cmd[8..16].try_into().unwrap()), 0x0102);
        assert_eq!(u16::from_le_bytes(cmd[16..18].try_into().unwrap()), 3);
        assert!(cmd[18..].iter().all(|&b| b == 0));
    }
}
