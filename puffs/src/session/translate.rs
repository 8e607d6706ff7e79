//! From a decoded request to the file system and back: each wire operation becomes its [`Op`],
//! the file system's [`Outcome`](crate::fs::dispatch::Outcome) becomes the reply frame.
//! Lookups, creations and opens also keep the node table in step here.

use std::borrow::Cow;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::OFlag;

use crate::dirent::DirBuf;
use crate::fs::answer::{NewNode, Opened};
use crate::fs::context::{Context, Ttls};
use crate::fs::cookie::{Cookie, FileHandle};
use crate::fs::dispatch::Op;
use crate::fs::flags::{FallocateFlags, UnmountFlags, WaitFor};
use crate::fs::ioctl::Ioctl;
use crate::fs::mask::{vnop_mask, VnopMask};
use crate::fs::poll::{PollSink, PollWaker};
use crate::fs::FileSystem;
use crate::fuse::abi::{self, InitFlags};
use crate::fuse::reply::{attr_to_wire, statfs_to_wire, statx_to_wire, ttl_to_wire, Reply};
use crate::fuse::request::{Operation, Request};
use crate::vattr::{SetVattr, Vattr, Vtype};

use super::lock::{lock_flags, Asked, Asking};
use super::posix_acl::is_acl_name;
use super::Session;

impl<F: FileSystem> Session<F> {
    /// The reply handing `node` to the kernel; `handed_out` records it, to be counted once the
    /// reply is delivered.
    pub(super) fn entry_reply(
        &self,
        unique: u64,
        node: &NewNode,
        extra: usize,
        ttls: &Ttls,
        handed_out: &mut Vec<Cookie>,
    ) -> Result<Reply, Errno> {
        let mut reply = Reply::new(unique, abi::EntryOut::SIZE + abi::Attr::SIZE + extra);
        self.push_entry(reply.body(), node, ttls)?;
        handed_out.push(node.cookie);
        Ok(reply)
    }

    /// Appends the entry handing `node` to the kernel (`struct fuse_entry_out`: the node id,
    /// the lifetimes, the attributes), as a lookup answers it and `READDIRPLUS` repeats it.
    pub(super) fn push_entry(&self, out: &mut Vec<u8>, node: &NewNode, ttls: &Ttls) -> Result<(), Errno> {
        let nodeid = self.nodes.nodeid_of(node.cookie).ok_or_else(|| {
            self.dump(format_args!("!! the file system returned the reserved cookie 0 for a non-root node"));
            Errno::EIO
        })?;
        let (entry_valid, entry_valid_nsec) = ttl_to_wire(ttls.entry_or(self.settings.entry_ttl()));
        let (attr_valid, attr_valid_nsec) = ttl_to_wire(ttls.attr_or(self.settings.attr_ttl()));
        abi::EntryOut {
            nodeid,
            generation: node.generation,
            entry_valid,
            attr_valid,
            entry_valid_nsec,
            attr_valid_nsec,
        }
        .encode(out);
        attr_to_wire(&node.vattr).encode(out);
        Ok(())
    }

    /// The reply to a lookup that found nothing: a negative entry (node id 0) that the kernel
    /// keeps for the lifetime set, else `ENOENT` alone.
    fn negative_reply(&self, unique: u64, ttls: &Ttls) -> Result<Vec<u8>, Errno> {
        let ttl = ttls.entry_or(self.settings.negative_ttl());
        if ttl.is_zero() {
            return Err(Errno::ENOENT);
        }
        let (entry_valid, entry_valid_nsec) = ttl_to_wire(ttl);
        let mut reply = Reply::new(unique, abi::EntryOut::SIZE + abi::Attr::SIZE);
        abi::EntryOut { entry_valid, entry_valid_nsec, ..Default::default() }.encode(reply.body());
        abi::Attr::default().encode(reply.body());
        Ok(reply.finish())
    }

    fn attr_reply(&self, unique: u64, vattr: &Vattr, ttls: &Ttls) -> Vec<u8> {
        let (attr_valid, attr_valid_nsec) = ttl_to_wire(ttls.attr_or(self.settings.attr_ttl()));
        let mut reply = Reply::new(unique, abi::AttrOut::SIZE + abi::Attr::SIZE);
        abi::AttrOut { attr_valid, attr_valid_nsec, dummy: 0 }.encode(reply.body());
        attr_to_wire(vattr).encode(reply.body());
        reply.finish()
    }

    /// Opens `cookie` for the kernel (puffs `node_open`); `flags` carry `O_CREAT` for the open
    /// that follows a create.
    fn open_node(&self, cookie: Cookie, flags: OFlag, ctx: &Context<'_>) -> Result<Opened, Errno> {
        let mut flags = flags;
        if self.granted().contains(InitFlags::WRITEBACK_CACHE) {
            // The kernel reads to fill partly written pages and appends by itself.
            if flags & OFlag::O_ACCMODE == OFlag::O_WRONLY {
                flags = (flags - OFlag::O_WRONLY) | OFlag::O_RDWR;
            }
            flags.remove(OFlag::O_APPEND);
        }
        let opened = match self.call(Op::Open { node: cookie, flags }, ctx).opened() {
            // `ENOSYS` stops the kernel's opens (FUSE `no_open`), which is the file system's to
            // ask unless it closes what it opens; the open after a create (`O_CREAT`) cannot
            // be stopped. Either way it opens with no handle of its own.
            Err(Errno::ENOSYS) if flags.contains(OFlag::O_CREAT) || self.needs_release() => Opened::default(),
            opened => opened?,
        };
        self.nodes.opened(cookie);
        Ok(opened)
    }

    /// Truncates the file just opened with `O_TRUNC` as the kernel asked (`ATOMIC_O_TRUNC`:
    /// the open does what would otherwise be a `SETATTR` of its own), dropping its set-id
    /// bits and capabilities too when `kill_suidgid`.
    fn truncate_opened(
        &self,
        node: Cookie,
        handle: FileHandle,
        kill_suidgid: bool,
        ctx: &Context<'_>,
    ) -> Result<(), Errno> {
        let truncate = SetVattr { size: Some(0), handle: Some(handle), ..SetVattr::default() };
        let changes = if kill_suidgid { self.dropping_privileges(node, &truncate)? } else { truncate };
        self.change_attributes(node, &changes, ctx).map(drop)
    }

    /// Changes attributes of `node` (puffs `node_setattr`), keeping a stored access ACL in
    /// step with a new mode; answers the attributes after the change.
    pub(super) fn change_attributes(
        &self,
        node: Cookie,
        changes: &SetVattr,
        ctx: &Context<'_>,
    ) -> Result<Vattr, Errno> {
        let vattr = self.call(Op::Setattr { node, changes }, ctx).vattr()?;
        if let Some(mode) = changes.mode {
            self.chmod_acl(node, mode, ctx)?;
        }
        Ok(vattr)
    }

    /// Closes open file `handle` of `node` (puffs `node_close`), and tells the file system
    /// the node is inactive when it was its last open. Errors are ignored, as the kernel
    /// ignores those of release: the descriptor is gone already.
    fn close_node(&self, node: Cookie, handle: FileHandle, flags: OFlag, ctx: &Context<'_>) {
        let _ = self.call(Op::Close { node, handle, flags }, ctx).done();
        if self.nodes.closed(node) {
            let _ = self.call(Op::Inactive { node }, ctx).done();
        }
    }

    fn data_reply(unique: u64, data: &[u8]) -> Vec<u8> {
        let mut reply = Reply::new(unique, data.len());
        reply.body().extend_from_slice(data);
        reply.finish()
    }

    fn empty_reply(unique: u64) -> Vec<u8> {
        Reply::new(unique, 0).finish()
    }

    /// Runs the operation of `request` and encodes the reply; `Err` is the errno to answer.
    pub(super) fn dispatch(
        &self,
        request: &Request<'_>,
        ctx: &Context<'_>,
        ttls: &Ttls,
        handed_out: &mut Vec<Cookie>,
    ) -> Result<Vec<u8>, Errno> {
        let h = &request.header;
        let unique = h.unique;
        let node = self.nodes.cookie_of(h.nodeid);
        match &request.op {
            Operation::Init(_) => Err(Errno::EIO),
            Operation::Destroy => {
                let _ = self.tell_unmount(UnmountFlags::FORCE);
                Ok(Self::empty_reply(unique))
            }
            &Operation::Lookup { name } => match self.call(Op::Lookup { dir: node, name }, ctx).node() {
                Ok(found) => Ok(self.entry_reply(unique, &found, 0, ttls, handed_out)?.finish()),
                Err(Errno::ENOENT) => self.negative_reply(unique, ttls),
                Err(errno) => Err(errno),
            },
            Operation::Forget { nlookup } => {
                self.nodes.forget([(node, *nlookup)], |cookie| self.reclaim(cookie));
                Err(Errno::ENOSYS)
            }
            Operation::BatchForget { nodes } => {
                let forgotten = nodes.iter().map(|one| (self.nodes.cookie_of(one.nodeid), one.nlookup));
                self.nodes.forget(forgotten, |cookie| self.reclaim(cookie));
                Err(Errno::ENOSYS)
            }
            Operation::Statx { .. } if self.settings.options.nostatx => Err(Errno::ENOSYS),
            Operation::Statx { .. } => {
                // Answered from node_getattr: the birth time is one more attribute of Vattr.
                let vattr = self.call(Op::Getattr { node }, ctx).vattr()?;
                let (attr_valid, attr_valid_nsec) = ttl_to_wire(ttls.attr_or(self.settings.attr_ttl()));
                let mut reply = Reply::new(unique, abi::StatxOutHead::SIZE + abi::Statx::SIZE + abi::STATX_SPARE);
                abi::StatxOutHead { attr_valid, attr_valid_nsec, ..Default::default() }.encode(reply.body());
                statx_to_wire(&vattr).encode(reply.body());
                reply.body().extend_from_slice(&[0; abi::STATX_SPARE]);
                Ok(reply.finish())
            }
            Operation::Getattr { .. } => {
                Ok(self.attr_reply(unique, &self.call(Op::Getattr { node }, ctx).vattr()?, ttls))
            }
            Operation::Setattr { changes, kill_suidgid } => {
                let changes = match kill_suidgid {
                    true => Cow::Owned(self.dropping_privileges(node, changes)?),
                    false => Cow::Borrowed(changes),
                };
                let vattr = self.change_attributes(node, &changes, ctx)?;
                Ok(self.attr_reply(unique, &vattr, ttls))
            }
            Operation::Readlink => {
                let target = self.call(Op::Readlink { node }, ctx).target()?;
                Ok(Self::data_reply(unique, target.as_bytes()))
            }
            &Operation::Symlink { name, target } => {
                let made = self.call(Op::Symlink { dir: node, name, target }, ctx).node()?;
                Ok(self.entry_reply(unique, &made, 0, ttls, handed_out)?.finish())
            }
            &Operation::Mknod { name, vtype, mode, rdev, umask } => {
                let inherited = self.inherit_acl(node, mode, umask, false, ctx);
                let mode = inherited.mode;
                // A regular file is what create makes: without mknod, create makes it.
                let made = if vtype == Vtype::Reg && !vnop_mask::<F>().contains(VnopMask::MKNOD) {
                    self.call(Op::Create { dir: node, name, mode }, ctx)
                } else {
                    self.call(Op::Mknod { dir: node, name, vtype, mode, rdev }, ctx)
                }
                .node()?;
                let reply = self.entry_reply(unique, &made, 0, ttls, handed_out)?;
                self.store_inherited_acl(made.cookie, &inherited, ctx)?;
                Ok(reply.finish())
            }
            &Operation::Mkdir { name, mode, umask } => {
                let inherited = self.inherit_acl(node, mode, umask, true, ctx);
                let made = self.call(Op::Mkdir { dir: node, name, mode: inherited.mode }, ctx).node()?;
                let reply = self.entry_reply(unique, &made, 0, ttls, handed_out)?;
                self.store_inherited_acl(made.cookie, &inherited, ctx)?;
                Ok(reply.finish())
            }
            &Operation::Unlink { name } => {
                self.call(Op::Remove { dir: node, name }, ctx).done()?;
                Ok(Self::empty_reply(unique))
            }
            &Operation::Rmdir { name } => {
                self.call(Op::Rmdir { dir: node, name }, ctx).done()?;
                Ok(Self::empty_reply(unique))
            }
            &Operation::Rename { newdir, flags, name, newname } => {
                let new_dir = self.nodes.cookie_of(newdir);
                self.call(Op::Rename { dir: node, name, new_dir, new_name: newname, flags }, ctx).done()?;
                Ok(Self::empty_reply(unique))
            }
            &Operation::Link { oldnodeid, name } => {
                let target = self.nodes.cookie_of(oldnodeid);
                let vattr = self.call(Op::Link { dir: node, node: target, name }, ctx).vattr()?;
                Ok(self.entry_reply(unique, &NewNode::new(target, vattr), 0, ttls, handed_out)?.finish())
            }
            &Operation::Open { flags, dir, kill_suidgid } => {
                if !self.needs_open() {
                    // With FUSE_NO_OPEN(DIR)_SUPPORT the kernel takes ENOSYS as "opens always
                    // succeed" and stops sending them.
                    return Err(Errno::ENOSYS);
                }
                let opened = self.open_node(node, flags, ctx)?;
                let truncates =
                    !dir && flags.contains(OFlag::O_TRUNC) && self.granted().contains(InitFlags::ATOMIC_O_TRUNC);
                if truncates {
                    if let Err(e) = self.truncate_opened(node, opened.handle, kill_suidgid, ctx) {
                        // The kernel never learns of this open: it is closed as if released.
                        self.close_node(node, opened.handle, flags, ctx);
                        return Err(e);
                    }
                }
                let mut reply = Reply::new(unique, abi::OpenOut::SIZE);
                self.open_out(node, &opened, dir).encode(reply.body());
                Ok(reply.finish())
            }
            // A named file (CREATE) or one without a name (TMPFILE), opened at once.
            &(Operation::Create { mode, umask, flags, .. } | Operation::Tmpfile { mode, umask, flags }) => {
                let inherited = self.inherit_acl(node, mode, umask, false, ctx);
                let mode = inherited.mode;
                let make = match request.op {
                    Operation::Create { name, .. } => Op::Create { dir: node, name, mode },
                    _ => Op::Tmpfile { dir: node, mode },
                };
                let made = self.call(make, ctx).node()?;
                // If the open fails, the kernel never learns of the node and `handle` gives it up.
                let mut reply = self.entry_reply(unique, &made, abi::OpenOut::SIZE, ttls, handed_out)?;
                self.store_inherited_acl(made.cookie, &inherited, ctx)?;
                let opened = self.open_node(made.cookie, flags | OFlag::O_CREAT, ctx)?;
                self.open_out(made.cookie, &opened, false).encode(reply.body());
                Ok(reply.finish())
            }
            &Operation::Poll { fh, kh, schedule, events } => {
                let sink: std::sync::Weak<dyn PollSink> = Arc::downgrade(&self.channel) as _;
                let waker = schedule.then(|| PollWaker::new(kh, sink));
                let ready = self.call(Op::Poll { node, handle: fh, events, waker }, ctx).poll()?;
                let mut reply = Reply::new(unique, abi::PollOut::SIZE);
                abi::PollOut { revents: ready.bits(), padding: 0 }.encode(reply.body());
                Ok(reply.finish())
            }
            &Operation::Ioctl { fh, flags, command, arg, input, out_size } => {
                let ioctl = Ioctl { command, arg, input, out_size, flags };
                let answer = self.call(Op::Ioctl { node, handle: fh, ioctl }, ctx).ioctl()?;
                if answer.result < 0 || answer.output.len() > out_size as usize {
                    log::error!(
                        "node_ioctl answered result {} with {} bytes for command {command:#x}, which reads back \
                         at most {out_size}: refused with EIO",
                        answer.result,
                        answer.output.len()
                    );
                    return Err(Errno::EIO);
                }
                let mut reply = Reply::new(unique, abi::IoctlOut::SIZE + answer.output.len());
                abi::IoctlOut { result: answer.result, flags: 0, in_iovs: 0, out_iovs: 0 }.encode(reply.body());
                reply.body().extend_from_slice(&answer.output);
                Ok(reply.finish())
            }
            // Answered during its method, by `read`.
            Operation::Read { .. } => Err(Errno::EIO),
            &Operation::Write { fh, offset, data, kill_suidgid } => {
                if kill_suidgid {
                    self.drop_privileges(node)?;
                }
                let n = self.call(Op::Write { node, handle: fh, offset, data }, ctx).size()?;
                let mut reply = Reply::new(unique, abi::WriteOut::SIZE);
                abi::WriteOut { size: n.min(data.len()) as u32, padding: 0 }.encode(reply.body());
                Ok(reply.finish())
            }
            &Operation::Readdir { fh, offset, size, plus: true } => {
                self.readdirplus(unique, node, fh, offset, size, ctx, handed_out)
            }
            &Operation::Readdir { fh, offset, size, plus: false } => {
                let size = self.reply_room(size);
                let mut reply = Reply::new(unique, size);
                let mut buf = DirBuf::new(reply.body(), size);
                self.call(Op::Readdir { dir: node, handle: fh, offset, buf: &mut buf }, ctx).done()?;
                Ok(reply.finish())
            }
            Operation::Statfs => {
                let st = self.call(Op::Statvfs {}, ctx).statvfs()?;
                let mut reply = Reply::new(unique, abi::Kstatfs::SIZE);
                statfs_to_wire(&st).encode(reply.body());
                Ok(reply.finish())
            }
            &Operation::Release { fh, flags, flock_owner, .. } => {
                if let Some(owner) = flock_owner {
                    self.release_locks(node, fh, owner, true);
                }
                self.release_backing(node, fh);
                self.close_node(node, fh, flags, ctx);
                Ok(Self::empty_reply(unique))
            }
            &Operation::Fsync { fh, datasync, .. } => {
                self.call(Op::Fsync { node, handle: fh, datasync }, ctx).done()?;
                Ok(Self::empty_reply(unique))
            }
            Operation::Syncfs => {
                self.call(Op::Sync { waitfor: WaitFor::Wait }, ctx).done()?;
                Ok(Self::empty_reply(unique))
            }
            Operation::PuffsUnmount { flags } => {
                // The loopback kernel asks before it unmounts (puffs PUFFS_VFS_UNMOUNT): the
                // verdict is the reply, and a refusal keeps a non-forced mount.
                self.tell_unmount(*flags)?;
                Ok(Self::empty_reply(unique))
            }
            &Operation::PuffsSuspend { phase } => {
                let _ = self.call(Op::Suspend { phase }, ctx).done();
                Ok(Self::empty_reply(unique))
            }
            &Operation::Setxattr { name, value, flags, acl_kill_sgid, .. } => {
                if is_acl_name(name) {
                    self.set_acl(node, name, value, flags, acl_kill_sgid, ctx)?;
                } else {
                    self.call(Op::Setextattr { node, name, value, flags }, ctx).done()?;
                }
                Ok(Self::empty_reply(unique))
            }
            Operation::Getxattr { name, .. } | Operation::Removexattr { name }
                if is_acl_name(name) && !self.acl_granted() =>
            {
                Err(Errno::EOPNOTSUPP)
            }
            &Operation::Getxattr { name, size } => {
                let value = self.call(Op::Getextattr { node, name }, ctx).value()?;
                sized_reply(unique, &value, size)
            }
            &Operation::Listxattr { size } => {
                let mut list = Vec::new();
                for name in self.call(Op::Listextattr { node }, ctx).names()? {
                    list.extend_from_slice(&name.into_vec());
                    list.push(0);
                }
                sized_reply(unique, &list, size)
            }
            &Operation::Removexattr { name } => {
                self.call(Op::Deleteextattr { node, name }, ctx).done()?;
                Ok(Self::empty_reply(unique))
            }
            &Operation::Access { mode } => {
                self.call(Op::Access { node, mode }, ctx).done()?;
                Ok(Self::empty_reply(unique))
            }
            &Operation::Fallocate { fh, offset, length, mode } => {
                let vnops = vnop_mask::<F>();
                let op = if mode.contains(FallocateFlags::PUNCH_HOLE) && vnops.contains(VnopMask::FDISCARD) {
                    Op::Fdiscard { node, handle: fh, offset, len: length }
                } else if vnops.contains(VnopMask::FDISCARD) && !vnops.contains(VnopMask::FALLOCATE) {
                    // Only holes can be punched: this mode is refused, and ENOSYS, which would
                    // stop the kernel from asking for any, is not the answer.
                    return Err(Errno::EOPNOTSUPP);
                } else {
                    Op::Fallocate { node, handle: fh, offset, len: length, mode }
                };
                self.call(op, ctx).done()?;
                Ok(Self::empty_reply(unique))
            }
            &Operation::Lseek { fh, offset, whence } => {
                let at = self.call(Op::Seek { node, handle: fh, offset, whence }, ctx).offset()?;
                let mut reply = Reply::new(unique, abi::LseekOut::SIZE);
                abi::LseekOut { offset: at }.encode(reply.body());
                Ok(reply.finish())
            }
            &Operation::CopyFileRange { fh_in, off_in, nodeid_out, fh_out, off_out, len, wide } => {
                // The narrow reply counts in 32 bits.
                let len = if wide { len } else { len.min(u64::from(u32::MAX)) };
                let to = self.nodes.cookie_of(nodeid_out);
                let copy = Op::CopyFileRange {
                    node,
                    handle: fh_in,
                    offset: off_in,
                    to,
                    to_handle: fh_out,
                    to_offset: off_out,
                    len,
                };
                let copied = self.call(copy, ctx).offset()?.min(len);
                let mut reply = Reply::new(unique, abi::CopyFileRangeOut::SIZE);
                if wide {
                    abi::CopyFileRangeOut { bytes_copied: copied }.encode(reply.body());
                } else {
                    abi::WriteOut { size: copied as u32, padding: 0 }.encode(reply.body());
                }
                Ok(reply.finish())
            }
            &Operation::Flush { fh, owner } => {
                self.release_locks(node, fh, owner, false);
                match self.call(Op::Flush { node, handle: fh, owner }, ctx).done() {
                    // Without node_flush, ENOSYS makes the kernel stop flushing, unless its
                    // flushes release locks.
                    Err(Errno::ENOSYS) if vnop_mask::<F>().contains(VnopMask::ADVLOCK) => Ok(Self::empty_reply(unique)),
                    done => done.map(|()| Self::empty_reply(unique)),
                }
            }
            &Operation::Getlk { fh, owner, lock, flock } => {
                let flags = lock_flags(flock, false);
                self.test_lock(unique, Asking { node, handle: fh, owner, lock, flags }, ctx)
            }
            &Operation::Setlk { fh, owner, lock, flock, wait } => {
                let flags = lock_flags(flock, wait);
                match self.set_lock(unique, Asking { node, handle: fh, owner, lock, flags }, ctx, None) {
                    Asked::Answer(answer) => answer,
                    // Without an interruption to wait on, nothing parks.
                    Asked::Parked => Err(Errno::EAGAIN),
                }
            }
            Operation::Interrupt { .. } | Operation::NotifyReply { .. } => Err(Errno::ENOSYS),
            Operation::Unsupported | Operation::Unknown => Err(Errno::ENOSYS),
        }
    }
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
