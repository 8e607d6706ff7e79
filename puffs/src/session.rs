//! One mounted file system's side of the wire: decode a request, dispatch it to the file system
//! if its mask has the operation, answer the kernel. Shared by the FUSE mount and the loopback
//! kernel, and by every worker thread.

use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::fcntl::OFlag;

use crate::cred::Cred;
use crate::dirent::DirBuf;
use crate::fs::answer::{MountInfo, NewNode, Opened};
use crate::fs::cookie::Cookie;
use crate::fs::dispatch::{Op, Outcome};
use crate::fs::flags::{UnmountFlags, WaitFor};
use crate::fs::mask::{vnop_mask, VnopMask};
use crate::fs::FileSystem;
use crate::fuse::abi::{self, init_flag, opcode, InHeader, OutHeader};
use crate::fuse::reply::{attr_to_wire, statfs_to_wire, ttl_to_wire, Reply};
use crate::fuse::request::{Operation, Request};
use crate::fuse::Channel;
use crate::node::NodeTable;
use crate::posix_acl::is_acl_name;
use crate::vattr::{Vattr, Vtype};
use crate::Errno;

/// Bytes reserved in a request buffer beyond the largest write, for headers.
pub(crate) const REQUEST_HEADER_ROOM: usize = 4096;

/// Settings a session runs with, fixed before mount.
#[derive(Debug, Clone)]
pub(crate) struct SessionConfig {
    /// Size of a request buffer, after clamping.
    pub(crate) max_request_len: usize,
    /// How long the kernel may cache attributes.
    pub(crate) attr_ttl: Duration,
    /// How long the kernel may cache names.
    pub(crate) entry_ttl: Duration,
    /// Offer NFS-style export (lookups of `.` and `..` by node id): set when a file-handle size
    /// was given.
    pub(crate) export_support: bool,
    /// Dump every request and reply to standard error (puffs `PUFFS_FLAG_OPDUMP`).
    pub(crate) opdump: bool,
    /// The file-system name the kernel knows.
    pub(crate) fs_name: String,
}

/// What `INIT` settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Negotiated {
    pub(crate) minor: u32,
    pub(crate) max_write: u32,
}

/// A mounted file system's request handling.
#[derive(Debug)]
pub(crate) struct Session<F: FileSystem> {
    pub(crate) fs: F,
    pub(crate) channel: Arc<Channel>,
    pub(crate) nodes: NodeTable,
    pub(crate) config: SessionConfig,
    max_write: AtomicU32,
    /// The kernel enforces POSIX ACLs and leaves the umask to the framework (see `posix_acl`).
    acl: AtomicBool,
    destroyed: AtomicBool,
    /// The file system already agreed to (or was told of) the unmount.
    pub(crate) unmount_told: AtomicBool,
    dump_lock: Mutex<()>,
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
    pub(crate) fn new(fs: F, channel: Arc<Channel>, root: Cookie, buckets: usize, config: SessionConfig) -> Session<F> {
        Session {
            fs,
            channel,
            nodes: NodeTable::new(root, buckets),
            config,
            max_write: AtomicU32::new(0),
            acl: AtomicBool::new(false),
            destroyed: AtomicBool::new(false),
            unmount_told: AtomicBool::new(false),
            dump_lock: Mutex::new(()),
        }
    }

    /// The largest write the kernel will send, as negotiated.
    pub(crate) fn max_write(&self) -> u32 {
        self.max_write.load(Ordering::Relaxed)
    }

    /// Whether POSIX ACLs were negotiated: the file system keeps them and the kernel enforces
    /// them.
    pub(crate) fn acl_granted(&self) -> bool {
        self.acl.load(Ordering::Relaxed)
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
        let verdict = self.call(Op::Unmount { flags }, &Cred::ROOT).done();
        if verdict.is_ok() || flags.contains(UnmountFlags::FORCE) {
            self.unmount_told.store(true, Ordering::Release);
        }
        verdict
    }

    fn dump(&self, line: std::fmt::Arguments<'_>) {
        if self.config.opdump {
            let _serialized = self.dump_lock.lock();
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    /// Sends a reply; answers whether the kernel took it.
    fn send(&self, unique: u64, frame: &[u8]) -> bool {
        if self.config.opdump {
            if let Some(h) = OutHeader::decode(frame) {
                let verdict = if h.error == 0 { "ok".to_string() } else { format!("{:?}", Errno::from_raw(-h.error)) };
                self.dump(format_args!("<- reply unique {unique}: {verdict}, {} bytes", h.len));
            }
        }
        match self.channel.send(&[frame]) {
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
        self.send(unique, &Reply::error(unique, errno as i32));
    }

    /// Handles the `INIT` frame that opens every session. Answers what was negotiated.
    pub(crate) fn handle_init(&self, frame: &[u8]) -> Result<Negotiated, Errno> {
        let request = Request::decode(frame).map_err(|e| {
            self.dump(format_args!("!! {e}"));
            Errno::EPROTO
        })?;
        let Operation::Init(init) = request.op else {
            self.send_error(request.header.unique, Errno::EIO);
            return Err(Errno::EPROTO);
        };
        let unique = request.header.unique;
        self.dump(format_args!(
            "-> INIT unique {unique}: kernel {}.{}, flags {:#x}/{:#x}",
            init.major, init.minor, init.flags, init.flags2
        ));
        if init.major < abi::KERNEL_VERSION
            || (init.major == abi::KERNEL_VERSION && init.minor < abi::MIN_KERNEL_MINOR_VERSION)
        {
            self.send_error(unique, Errno::EPROTO);
            return Err(Errno::EPROTO);
        }
        if init.major > abi::KERNEL_VERSION {
            // Answer with our major only; the kernel retries INIT with it.
            let mut reply = Reply::new(unique, 8);
            abi::InitOut { major: abi::KERNEL_VERSION, minor: abi::KERNEL_MINOR_VERSION, ..Default::default() }
                .encode(reply.body());
            self.send(unique, &reply.finish());
            return Err(Errno::EAGAIN);
        }
        let minor = init.minor.min(abi::KERNEL_MINOR_VERSION);
        let offered = u64::from(init.flags) | (u64::from(init.flags2) << 32);
        let vnops = vnop_mask::<F>();
        let mut wanted = init_flag::ASYNC_READ
            | init_flag::BIG_WRITES
            | init_flag::MAX_PAGES
            | init_flag::PARALLEL_DIROPS
            | init_flag::ABORT_ERROR;
        if !self.needs_open() {
            wanted |= init_flag::NO_OPEN_SUPPORT | init_flag::NO_OPENDIR_SUPPORT;
        }
        if self.config.export_support {
            wanted |= init_flag::EXPORT_SUPPORT;
        }
        if !vnops.contains(VnopMask::WRITE) && !vnops.contains(VnopMask::SETATTR) {
            // Nothing can change a file's contents: the page cache may be kept across opens.
            wanted |= init_flag::CACHE_SYMLINKS;
        }
        if F::POSIX_ACL {
            let needed = VnopMask::GETATTR
                | VnopMask::SETATTR
                | VnopMask::GETEXTATTR
                | VnopMask::SETEXTATTR
                | VnopMask::DELETEEXTATTR;
            if vnops.contains(needed) {
                // Both or neither: inheriting default ACLs needs the unmasked mode.
                wanted |= init_flag::POSIX_ACL | init_flag::DONT_MASK;
            } else {
                log::warn!("{}: POSIX_ACL needs the extended-attribute operations: ACLs are off", self.config.fs_name);
            }
        }
        let mut granted = offered & wanted;
        let acl = init_flag::POSIX_ACL | init_flag::DONT_MASK;
        if granted & acl != acl {
            granted &= !acl;
        }
        self.acl.store(granted & acl == acl, Ordering::Relaxed);
        let max_write = (self.config.max_request_len - REQUEST_HEADER_ROOM) as u32;
        let max_pages = max_write.div_ceil(4096).max(1) as u16;
        let out = abi::InitOut {
            major: abi::KERNEL_VERSION,
            minor,
            max_readahead: init.max_readahead,
            flags: granted as u32,
            flags2: (granted >> 32) as u32,
            max_background: 16,
            congestion_threshold: 12,
            max_write,
            time_gran: 1,
            max_pages,
            ..Default::default()
        };
        let mut reply = Reply::new(unique, abi::InitOut::SIZE);
        out.encode(reply.body());
        self.send(unique, &reply.finish());
        self.max_write.store(max_write, Ordering::Relaxed);
        let info = MountInfo {
            fs_name: self.config.fs_name.clone(),
            max_request_len: self.config.max_request_len,
            max_write,
            protocol: (abi::KERNEL_VERSION, minor),
        };
        let _ = self.call(Op::Mounted { info: &info }, &Cred::ROOT).done();
        Ok(Negotiated { minor, max_write })
    }

    /// Whether opens must reach the framework: the file system implements open, close or
    /// inactive, each of which needs the open/release pairs.
    fn needs_open(&self) -> bool {
        vnop_mask::<F>().intersects(VnopMask::OPEN | VnopMask::CLOSE | VnopMask::INACTIVE)
    }

    /// Handles one request frame and answers it.
    pub(crate) fn handle(&self, frame: &[u8]) -> Handled {
        let request = match Request::decode(frame) {
            Ok(r) => r,
            Err(e) => {
                self.dump(format_args!("!! {e}"));
                if let Some(h) = e.header {
                    if !matches!(
                        h.opcode,
                        opcode::FORGET | opcode::BATCH_FORGET | opcode::INTERRUPT | opcode::NOTIFY_REPLY
                    ) {
                        self.send_error(h.unique, e.errno);
                    }
                }
                return Handled::Continue;
            }
        };
        let h = request.header;
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
        let wants_reply = request.wants_reply();
        // An operation that may hand a node to the kernel holds off reclaims until its reply is
        // delivered and the lookup counted (see `node`).
        let handing_out = request.op.hands_out_node().then(|| self.nodes.handing_out());
        let mut handed_out = None;
        // A panicking operation must not leave the caller waiting forever: it answers EIO.
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.dispatch(&request, &mut handed_out)))
                .unwrap_or_else(|_| {
                    self.dump(format_args!(
                        "!! {} unique {} panicked in the file system",
                        opcode::name(h.opcode),
                        h.unique
                    ));
                    Err(Errno::EIO)
                });
        let delivered = match outcome {
            Ok(frame) if wants_reply => self.send(h.unique, &frame),
            Err(errno) if wants_reply => {
                self.send_error(h.unique, errno);
                false
            }
            _ => false,
        };
        if let (Some(guard), Some(cookie)) = (&handing_out, handed_out) {
            if delivered {
                self.nodes.looked_up(guard, cookie);
            }
        }
        drop(handing_out);
        if let Some(cookie) = handed_out.filter(|_| !delivered) {
            // The file system answered a node the kernel never learned of: it will never be
            // forgotten, so it is reclaimed now unless the kernel holds it from elsewhere.
            self.nodes.not_handed_out(cookie, |cookie| self.reclaim(cookie));
        }
        if matches!(request.op, Operation::Destroy) {
            self.destroyed.store(true, Ordering::Relaxed);
            Handled::Destroyed
        } else {
            Handled::Continue
        }
    }

    /// The reply handing `node` to the kernel; `handed_out` records it, to be counted once the
    /// reply is delivered.
    fn entry_reply(
        &self,
        unique: u64,
        node: &NewNode,
        extra: usize,
        handed_out: &mut Option<Cookie>,
    ) -> Result<Reply, Errno> {
        let nodeid = self.nodes.nodeid_of(node.cookie).ok_or_else(|| {
            self.dump(format_args!("!! the file system returned the reserved cookie 0 for a non-root node"));
            Errno::EIO
        })?;
        let (entry_valid, entry_valid_nsec) = ttl_to_wire(self.config.entry_ttl);
        let (attr_valid, attr_valid_nsec) = ttl_to_wire(self.config.attr_ttl);
        let mut reply = Reply::new(unique, abi::EntryOut::SIZE + abi::Attr::SIZE + extra);
        abi::EntryOut {
            nodeid,
            generation: node.generation,
            entry_valid,
            attr_valid,
            entry_valid_nsec,
            attr_valid_nsec,
        }
        .encode(reply.body());
        attr_to_wire(&node.vattr).encode(reply.body());
        *handed_out = Some(node.cookie);
        Ok(reply)
    }

    fn attr_reply(&self, unique: u64, vattr: &Vattr) -> Vec<u8> {
        let (attr_valid, attr_valid_nsec) = ttl_to_wire(self.config.attr_ttl);
        let mut reply = Reply::new(unique, abi::AttrOut::SIZE + abi::Attr::SIZE);
        abi::AttrOut { attr_valid, attr_valid_nsec, dummy: 0 }.encode(reply.body());
        attr_to_wire(vattr).encode(reply.body());
        reply.finish()
    }

    fn open_out(reply: &mut Reply, opened: Opened) {
        let mut open_flags = 0;
        if opened.direct_io {
            open_flags |= abi::fopen::DIRECT_IO;
        }
        if opened.keep_cache {
            open_flags |= abi::fopen::KEEP_CACHE;
        }
        abi::OpenOut { fh: opened.handle.0, open_flags, padding: 0 }.encode(reply.body());
    }

    fn open_node(&self, cookie: Cookie, flags: OFlag, cred: &Cred) -> Result<Opened, Errno> {
        let opened = self.call(Op::Open { node: cookie, flags }, cred).opened()?;
        self.nodes.opened(cookie);
        Ok(opened)
    }

    fn data_reply(unique: u64, data: &[u8]) -> Vec<u8> {
        let mut reply = Reply::new(unique, data.len());
        reply.body().extend_from_slice(data);
        reply.finish()
    }

    fn empty_reply(unique: u64) -> Vec<u8> {
        Reply::new(unique, 0).finish()
    }

    /// Runs `op` for `cred`: the file system's method if it has it, the framework's answer if
    /// not (see [`Op::absent`]).
    pub(crate) fn call(&self, op: Op<'_>, cred: &Cred) -> Outcome {
        self.fs.dispatch(op, cred)
    }

    /// Runs the operation of `request` and encodes the reply; `Err` is the errno to answer.
    fn dispatch(&self, request: &Request<'_>, handed_out: &mut Option<Cookie>) -> Result<Vec<u8>, Errno> {
        let h = &request.header;
        let unique = h.unique;
        let node = self.nodes.cookie_of(h.nodeid);
        let cred = cred_of(h);
        let cred = &cred;
        match &request.op {
            Operation::Init(_) => Err(Errno::EIO),
            Operation::Destroy => {
                let _ = self.tell_unmount(UnmountFlags::FORCE);
                Ok(Self::empty_reply(unique))
            }
            &Operation::Lookup { name } => {
                let found = self.call(Op::Lookup { dir: node, name }, cred).node()?;
                Ok(self.entry_reply(unique, &found, 0, handed_out)?.finish())
            }
            Operation::Forget { nlookup } => {
                self.nodes.forget([(node, *nlookup)], |cookie| self.reclaim(cookie));
                Err(Errno::ENOSYS)
            }
            Operation::BatchForget { nodes } => {
                let forgotten = nodes.iter().map(|one| (self.nodes.cookie_of(one.nodeid), one.nlookup));
                self.nodes.forget(forgotten, |cookie| self.reclaim(cookie));
                Err(Errno::ENOSYS)
            }
            Operation::Getattr { .. } => Ok(self.attr_reply(unique, &self.call(Op::Getattr { node }, cred).vattr()?)),
            Operation::Setattr(changes) => {
                let vattr = self.call(Op::Setattr { node, changes }, cred).vattr()?;
                if let Some(mode) = changes.mode {
                    self.chmod_acl(node, mode, cred)?;
                }
                Ok(self.attr_reply(unique, &vattr))
            }
            Operation::Readlink => {
                let target = self.call(Op::Readlink { node }, cred).target()?;
                Ok(Self::data_reply(unique, target.as_bytes()))
            }
            &Operation::Symlink { name, target } => {
                let made = self.call(Op::Symlink { dir: node, name, target }, cred).node()?;
                Ok(self.entry_reply(unique, &made, 0, handed_out)?.finish())
            }
            &Operation::Mknod { name, vtype, mode, rdev, umask } => {
                let inherited = self.inherit_acl(node, mode, umask, false, cred);
                let mode = inherited.mode;
                // A regular file is what create makes: without mknod, create makes it.
                let made = if vtype == Vtype::Reg && !vnop_mask::<F>().contains(VnopMask::MKNOD) {
                    self.call(Op::Create { dir: node, name, mode }, cred)
                } else {
                    self.call(Op::Mknod { dir: node, name, vtype, mode, rdev }, cred)
                }
                .node()?;
                let reply = self.entry_reply(unique, &made, 0, handed_out)?;
                self.store_inherited_acl(made.cookie, &inherited, cred)?;
                Ok(reply.finish())
            }
            &Operation::Mkdir { name, mode, umask } => {
                let inherited = self.inherit_acl(node, mode, umask, true, cred);
                let made = self.call(Op::Mkdir { dir: node, name, mode: inherited.mode }, cred).node()?;
                let reply = self.entry_reply(unique, &made, 0, handed_out)?;
                self.store_inherited_acl(made.cookie, &inherited, cred)?;
                Ok(reply.finish())
            }
            &Operation::Unlink { name } => {
                self.call(Op::Remove { dir: node, name }, cred).done()?;
                Ok(Self::empty_reply(unique))
            }
            &Operation::Rmdir { name } => {
                self.call(Op::Rmdir { dir: node, name }, cred).done()?;
                Ok(Self::empty_reply(unique))
            }
            &Operation::Rename { newdir, flags, name, newname } => {
                let new_dir = self.nodes.cookie_of(newdir);
                self.call(Op::Rename { dir: node, name, new_dir, new_name: newname, flags }, cred).done()?;
                Ok(Self::empty_reply(unique))
            }
            &Operation::Link { oldnodeid, name } => {
                let target = self.nodes.cookie_of(oldnodeid);
                let vattr = self.call(Op::Link { dir: node, node: target, name }, cred).vattr()?;
                Ok(self.entry_reply(unique, &NewNode::new(target, vattr), 0, handed_out)?.finish())
            }
            &Operation::Open { flags, .. } => {
                if !self.needs_open() {
                    // With FUSE_NO_OPEN(DIR)_SUPPORT the kernel takes ENOSYS as "opens always
                    // succeed" and stops sending them.
                    return Err(Errno::ENOSYS);
                }
                let opened = self.open_node(node, flags, cred)?;
                let mut reply = Reply::new(unique, abi::OpenOut::SIZE);
                Self::open_out(&mut reply, opened);
                Ok(reply.finish())
            }
            &Operation::Create { name, mode, umask, flags } => {
                let inherited = self.inherit_acl(node, mode, umask, false, cred);
                let made = self.call(Op::Create { dir: node, name, mode: inherited.mode }, cred).node()?;
                // If the open fails, the kernel never learns of the node and `handle` gives it up.
                let mut reply = self.entry_reply(unique, &made, abi::OpenOut::SIZE, handed_out)?;
                self.store_inherited_acl(made.cookie, &inherited, cred)?;
                Self::open_out(&mut reply, self.open_node(made.cookie, flags, cred)?);
                Ok(reply.finish())
            }
            &Operation::Read { fh, offset, size } => {
                let size = (size as usize).min(self.config.max_request_len);
                let mut reply = Reply::new(unique, size);
                let start = reply.body().len();
                reply.body().resize(start + size, 0);
                let buf = &mut reply.body()[start..];
                let n = self.call(Op::Read { node, handle: fh, offset, buf }, cred).size()?;
                reply.body().truncate(start + n.min(size));
                Ok(reply.finish())
            }
            &Operation::Write { fh, offset, data } => {
                let n = self.call(Op::Write { node, handle: fh, offset, data }, cred).size()?;
                let mut reply = Reply::new(unique, abi::WriteOut::SIZE);
                abi::WriteOut { size: n.min(data.len()) as u32, padding: 0 }.encode(reply.body());
                Ok(reply.finish())
            }
            &Operation::Readdir { fh, offset, size } => {
                // The size is the peer's: clamp it before anything is allocated.
                let size = (size as usize).min(self.config.max_request_len);
                let mut reply = Reply::new(unique, size);
                let mut buf = DirBuf::new(reply.body(), size);
                self.call(Op::Readdir { dir: node, handle: fh, offset, buf: &mut buf }, cred).done()?;
                Ok(reply.finish())
            }
            Operation::Statfs => {
                let st = self.call(Op::Statvfs {}, cred).statvfs()?;
                let mut reply = Reply::new(unique, abi::Kstatfs::SIZE);
                statfs_to_wire(&st).encode(reply.body());
                Ok(reply.finish())
            }
            &Operation::Release { fh, flags, .. } => {
                // The kernel ignores errors of release: the descriptor is gone already.
                let _ = self.call(Op::Close { node, handle: fh, flags }, cred).done();
                if self.nodes.closed(node) {
                    let _ = self.call(Op::Inactive { node }, cred).done();
                }
                Ok(Self::empty_reply(unique))
            }
            &Operation::Fsync { fh, datasync, .. } => {
                self.call(Op::Fsync { node, handle: fh, datasync }, cred).done()?;
                Ok(Self::empty_reply(unique))
            }
            Operation::Syncfs => {
                self.call(Op::Sync { waitfor: WaitFor::Wait }, cred).done()?;
                Ok(Self::empty_reply(unique))
            }
            Operation::PuffsUnmount { flags } => {
                // The loopback kernel asks before it unmounts (puffs PUFFS_VFS_UNMOUNT): the
                // verdict is the reply, and a refusal keeps a non-forced mount.
                self.tell_unmount(*flags)?;
                Ok(Self::empty_reply(unique))
            }
            &Operation::PuffsSuspend { phase } => {
                let _ = self.call(Op::Suspend { phase }, cred).done();
                Ok(Self::empty_reply(unique))
            }
            &Operation::Setxattr { name, value, flags } => {
                if is_acl_name(name) {
                    self.set_acl(node, name, value, flags, cred)?;
                } else {
                    self.call(Op::Setextattr { node, name, value, flags }, cred).done()?;
                }
                Ok(Self::empty_reply(unique))
            }
            Operation::Getxattr { name, .. } | Operation::Removexattr { name }
                if is_acl_name(name) && !self.acl_granted() =>
            {
                Err(Errno::EOPNOTSUPP)
            }
            &Operation::Getxattr { name, size } => {
                let value = self.call(Op::Getextattr { node, name }, cred).value()?;
                sized_reply(unique, &value, size)
            }
            &Operation::Listxattr { size } => {
                let mut list = Vec::new();
                for name in self.call(Op::Listextattr { node }, cred).names()? {
                    list.extend_from_slice(&name.into_vec());
                    list.push(0);
                }
                sized_reply(unique, &list, size)
            }
            &Operation::Removexattr { name } => {
                self.call(Op::Deleteextattr { node, name }, cred).done()?;
                Ok(Self::empty_reply(unique))
            }
            &Operation::Access { mode } => {
                self.call(Op::Access { node, mode }, cred).done()?;
                Ok(Self::empty_reply(unique))
            }
            // puffs has no flush; ENOSYS makes the kernel stop sending it.
            Operation::Flush { .. } => Err(Errno::ENOSYS),
            Operation::Interrupt { .. } | Operation::NotifyReply => Err(Errno::ENOSYS),
            Operation::Unsupported | Operation::Unknown => Err(Errno::ENOSYS),
        }
    }

    /// The kernel holds `cookie` no more: tells the file system (puffs `node_reclaim`).
    fn reclaim(&self, cookie: Cookie) {
        let _ = self.call(Op::Reclaim { node: cookie }, &Cred::ROOT).done();
    }
}

/// Sends an unsolicited notification with `code` and `body` parts.
pub(crate) fn notify(channel: &Channel, code: i32, body: &[&[u8]]) -> Result<(), Errno> {
    let mut reply = Reply::notification(code);
    for part in body {
        reply.body().extend_from_slice(part);
    }
    channel.send(&[&reply.finish()])
}

/// The reply to a size-negotiated read of `value` (xattrs): its size when `size` is 0, `ERANGE`
/// when it does not fit, else the value.
fn sized_reply(unique: u64, value: &[u8], size: u32) -> Result<Vec<u8>, Errno> {
    if size == 0 {
        let mut reply = Reply::new(unique, abi::GetxattrOut::SIZE);
        abi::GetxattrOut { size: value.len() as u32, padding: 0 }.encode(reply.body());
        Ok(reply.finish())
    } else if value.len() > size as usize {
        Err(Errno::ERANGE)
    } else {
        let mut reply = Reply::new(unique, value.len());
        reply.body().extend_from_slice(value);
        Ok(reply.finish())
    }
}
