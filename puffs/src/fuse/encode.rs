//! Encoding a [`Request`] into a frame, as the [loopback
//! kernel](crate::loopback) sends it, and what its reply carries: the inverse of the decoder in
//! [`request`](super::request), beside which it is tested.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use crate::fs::flags::SeekWhence;
use crate::vattr::{libc_mode, time_to_wire, SetVattr, TimeSet, MODE_PERMISSION_BITS};

use super::abi::{self, fattr, opcode, InHeader};
use super::reply::{encode_dev, ReplyKind};
use super::request::{lock_kind_to_wire, suspend_phase_to_wire, Operation, Request};

/// Writes the time `set` asks for into `(secs, nsecs)`; answers the `valid` bits that say so:
/// `bit` for a time, `bit | now` for the current time, none when the time stays.
fn time_set_in(set: Option<TimeSet>, bit: u32, now: u32, (secs, nsecs): (&mut u64, &mut u32)) -> u32 {
    match set {
        None => 0,
        Some(TimeSet::Now) => bit | now,
        Some(TimeSet::At(t)) => {
            let (s, ns) = time_to_wire(t);
            (*secs, *nsecs) = (s as u64, ns);
            bit
        }
    }
}

/// The `SETATTR` body asking for `changes`: the inverse of what the file-system side reads.
pub fn setattr_in(changes: &SetVattr) -> abi::SetattrIn {
    let mut arg = abi::SetattrIn::default();
    if let Some(mode) = changes.mode {
        arg.valid |= fattr::MODE;
        arg.mode = mode & MODE_PERMISSION_BITS;
    }
    if let Some(uid) = changes.uid {
        arg.valid |= fattr::UID;
        arg.uid = uid;
    }
    if let Some(gid) = changes.gid {
        arg.valid |= fattr::GID;
        arg.gid = gid;
    }
    if let Some(size) = changes.size {
        arg.valid |= fattr::SIZE;
        arg.size = size;
    }
    arg.valid |= time_set_in(changes.atime, fattr::ATIME, fattr::ATIME_NOW, (&mut arg.atime, &mut arg.atimensec));
    arg.valid |= time_set_in(changes.mtime, fattr::MTIME, fattr::MTIME_NOW, (&mut arg.mtime, &mut arg.mtimensec));
    if let Some(t) = changes.ctime {
        arg.valid |= fattr::CTIME;
        let (secs, nsecs) = time_to_wire(t);
        (arg.ctime, arg.ctimensec) = (secs as u64, nsecs);
    }
    if let Some(handle) = changes.handle {
        arg.valid |= fattr::FH;
        arg.fh = handle.0;
    }
    arg
}

/// Appends `name` and its terminating NUL.
fn push_string(out: &mut Vec<u8>, name: &OsStr) {
    out.extend_from_slice(name.as_bytes());
    out.push(0);
}

impl Operation<'_> {
    /// Whether a successful reply hands a node to the kernel, which then holds a lookup of it.
    pub fn hands_out_node(&self) -> bool {
        matches!(
            self,
            Operation::Lookup { .. }
                | Operation::Create { .. }
                | Operation::Tmpfile { .. }
                | Operation::Mknod { .. }
                | Operation::Mkdir { .. }
                | Operation::Symlink { .. }
                | Operation::Link { .. }
                | Operation::Readdir { plus: true, .. }
        )
    }

    /// The opcode the operation travels under; `None` for [`Operation::Unsupported`] and
    /// [`Operation::Unknown`], which name no single opcode.
    pub fn opcode(&self) -> Option<u32> {
        Some(match self {
            Operation::Init(_) => opcode::INIT,
            Operation::Destroy => opcode::DESTROY,
            Operation::Lookup { .. } => opcode::LOOKUP,
            Operation::Forget { .. } => opcode::FORGET,
            Operation::BatchForget { .. } => opcode::BATCH_FORGET,
            Operation::Getattr { .. } => opcode::GETATTR,
            Operation::Statx { .. } => opcode::STATX,
            Operation::Setattr { .. } => opcode::SETATTR,
            Operation::Readlink => opcode::READLINK,
            Operation::Symlink { .. } => opcode::SYMLINK,
            Operation::Mknod { .. } => opcode::MKNOD,
            Operation::Mkdir { .. } => opcode::MKDIR,
            Operation::Unlink { .. } => opcode::UNLINK,
            Operation::Rmdir { .. } => opcode::RMDIR,
            // Plain RENAME unless flags need RENAME2, as the kernel does.
            Operation::Rename { flags, .. } if flags.is_empty() => opcode::RENAME,
            Operation::Rename { .. } => opcode::RENAME2,
            Operation::Link { .. } => opcode::LINK,
            Operation::Open { dir: false, .. } => opcode::OPEN,
            Operation::Open { dir: true, .. } => opcode::OPENDIR,
            Operation::Read { .. } => opcode::READ,
            Operation::Write { .. } => opcode::WRITE,
            Operation::Statfs => opcode::STATFS,
            Operation::Release { dir: false, .. } => opcode::RELEASE,
            Operation::Release { dir: true, .. } => opcode::RELEASEDIR,
            Operation::Fsync { dir: false, .. } => opcode::FSYNC,
            Operation::Fsync { dir: true, .. } => opcode::FSYNCDIR,
            Operation::Setxattr { .. } => opcode::SETXATTR,
            Operation::Getxattr { .. } => opcode::GETXATTR,
            Operation::Listxattr { .. } => opcode::LISTXATTR,
            Operation::Removexattr { .. } => opcode::REMOVEXATTR,
            Operation::Flush { .. } => opcode::FLUSH,
            Operation::Getlk { .. } => opcode::GETLK,
            Operation::Setlk { wait: false, .. } => opcode::SETLK,
            Operation::Setlk { wait: true, .. } => opcode::SETLKW,
            Operation::Readdir { plus: false, .. } => opcode::READDIR,
            Operation::Readdir { plus: true, .. } => opcode::READDIRPLUS,
            Operation::Access { .. } => opcode::ACCESS,
            Operation::Create { .. } => opcode::CREATE,
            Operation::Tmpfile { .. } => opcode::TMPFILE,
            Operation::Poll { .. } => opcode::POLL,
            Operation::Ioctl { .. } => opcode::IOCTL,
            Operation::Interrupt { .. } => opcode::INTERRUPT,
            Operation::Syncfs => opcode::SYNCFS,
            Operation::Fallocate { .. } => opcode::FALLOCATE,
            Operation::Lseek { .. } => opcode::LSEEK,
            Operation::CopyFileRange { wide: false, .. } => opcode::COPY_FILE_RANGE,
            Operation::CopyFileRange { wide: true, .. } => opcode::COPY_FILE_RANGE_64,
            Operation::PuffsUnmount { .. } => opcode::PUFFS_UNMOUNT,
            Operation::PuffsSuspend { .. } => opcode::PUFFS_SUSPEND,
            Operation::NotifyReply { .. } => opcode::NOTIFY_REPLY,
            Operation::Unsupported | Operation::Unknown => return None,
        })
    }

    /// What the reply to this operation carries; `None` when no reply comes (forgets,
    /// interrupts, notification replies).
    pub fn reply_kind(&self) -> Option<ReplyKind> {
        Some(match self {
            Operation::Forget { .. }
            | Operation::BatchForget { .. }
            | Operation::Interrupt { .. }
            | Operation::NotifyReply { .. } => return None,
            Operation::Init(_) => ReplyKind::Init,
            Operation::Lookup { .. }
            | Operation::Symlink { .. }
            | Operation::Mknod { .. }
            | Operation::Mkdir { .. }
            | Operation::Link { .. } => ReplyKind::Entry,
            Operation::Getattr { .. } | Operation::Setattr { .. } => ReplyKind::Attr,
            Operation::Statx { .. } => ReplyKind::Statx,
            Operation::Poll { .. } => ReplyKind::Poll,
            Operation::Ioctl { .. } => ReplyKind::Ioctl,
            Operation::Open { .. } => ReplyKind::Open,
            Operation::Create { .. } | Operation::Tmpfile { .. } => ReplyKind::Create,
            Operation::Write { .. } | Operation::CopyFileRange { wide: false, .. } => ReplyKind::Write,
            Operation::Lseek { .. } | Operation::CopyFileRange { wide: true, .. } => ReplyKind::Offset,
            Operation::Getlk { .. } => ReplyKind::Lock,
            Operation::Statfs => ReplyKind::Statfs,
            Operation::Getxattr { size: 0, .. } | Operation::Listxattr { size: 0 } => ReplyKind::XattrSize,
            Operation::Readlink
            | Operation::Read { .. }
            | Operation::Readdir { .. }
            | Operation::Getxattr { .. }
            | Operation::Listxattr { .. } => ReplyKind::Data,
            Operation::Destroy
            | Operation::Unlink { .. }
            | Operation::Rmdir { .. }
            | Operation::Rename { .. }
            | Operation::Release { .. }
            | Operation::Fsync { .. }
            | Operation::Setxattr { .. }
            | Operation::Removexattr { .. }
            | Operation::Flush { .. }
            | Operation::Setlk { .. }
            | Operation::Access { .. }
            | Operation::Syncfs
            | Operation::Fallocate { .. }
            | Operation::PuffsUnmount { .. }
            | Operation::PuffsSuspend { .. }
            | Operation::Unsupported
            | Operation::Unknown => ReplyKind::Empty,
        })
    }

    /// Appends the body of the operation to `out`, as the kernel lays it out. Lengths the body
    /// implies (a write's `size`, a set attribute's size) are taken from the data, not from the
    /// argument records. Names are written as given: validating them is the sender's business
    /// (the decoder rejects bad ones).
    pub fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            Operation::Init(arg) => {
                arg.encode(out);
                // `struct fuse_init_in` of 7.36 and later: 64 bytes, the rest unused.
                out.resize(out.len() + 64 - abi::InitIn::SIZE, 0);
            }
            Operation::Destroy
            | Operation::Readlink
            | Operation::Statfs
            | Operation::Syncfs
            | Operation::Unsupported
            | Operation::Unknown => {}
            Operation::Lookup { name } | Operation::Unlink { name } | Operation::Rmdir { name } => {
                push_string(out, name)
            }
            Operation::Removexattr { name } => push_string(out, name),
            Operation::Forget { nlookup } => abi::ForgetIn { nlookup: *nlookup }.encode(out),
            Operation::BatchForget { nodes } => {
                abi::BatchForgetIn { count: nodes.len() as u32, dummy: 0 }.encode(out);
                nodes.iter().for_each(|one| one.encode(out));
            }
            Operation::Poll { fh, kh, schedule, events } => abi::PollIn {
                fh: fh.0,
                kh: *kh,
                flags: if *schedule { abi::POLL_SCHEDULE_NOTIFY } else { 0 },
                events: events.bits(),
            }
            .encode(out),
            Operation::Ioctl { fh, flags, command, arg, input, out_size } => {
                abi::IoctlIn {
                    fh: fh.0,
                    flags: flags.bits(),
                    cmd: *command,
                    arg: *arg,
                    in_size: input.len() as u32,
                    out_size: *out_size,
                }
                .encode(out);
                out.extend_from_slice(input);
            }
            Operation::Statx { fh, flags, mask } => abi::StatxIn {
                getattr_flags: if fh.is_some() { abi::GETATTR_FH } else { 0 },
                reserved: 0,
                fh: fh.unwrap_or(0),
                sx_flags: *flags,
                sx_mask: *mask,
            }
            .encode(out),
            Operation::Getattr { fh } => abi::GetattrIn {
                getattr_flags: if fh.is_some() { abi::GETATTR_FH } else { 0 },
                dummy: 0,
                fh: fh.unwrap_or(0),
            }
            .encode(out),
            Operation::Setattr { changes, kill_suidgid } => {
                let mut arg = setattr_in(changes);
                if *kill_suidgid {
                    arg.valid |= fattr::KILL_SUIDGID;
                }
                arg.encode(out)
            }
            Operation::Symlink { name, target } => {
                push_string(out, name);
                push_string(out, target);
            }
            Operation::Mknod { name, vtype, mode, rdev, umask } => {
                abi::MknodIn { mode: vtype.to_mode_bits() | mode, rdev: encode_dev(*rdev), umask: *umask, padding: 0 }
                    .encode(out);
                push_string(out, name);
            }
            Operation::Mkdir { name, mode, umask } => {
                abi::MkdirIn { mode: *mode, umask: *umask }.encode(out);
                push_string(out, name);
            }
            Operation::Rename { newdir, flags, name, newname } => {
                if flags.is_empty() {
                    abi::RenameIn { newdir: *newdir }.encode(out);
                } else {
                    abi::Rename2In { newdir: *newdir, flags: flags.bits(), padding: 0 }.encode(out);
                }
                push_string(out, name);
                push_string(out, newname);
            }
            Operation::Link { oldnodeid, name } => {
                abi::LinkIn { oldnodeid: *oldnodeid }.encode(out);
                push_string(out, name);
            }
            Operation::Open { flags, kill_suidgid, .. } => abi::OpenIn {
                flags: flags.bits() as u32,
                open_flags: if *kill_suidgid { abi::OPEN_KILL_SUIDGID } else { 0 },
            }
            .encode(out),
            Operation::Read { fh, offset, size } | Operation::Readdir { fh, offset, size, .. } => {
                abi::ReadIn { fh: fh.0, offset: *offset, size: *size, ..Default::default() }.encode(out)
            }
            Operation::NotifyReply { offset, data } => {
                abi::NotifyRetrieveIn { offset: *offset, size: data.len() as u32, ..Default::default() }.encode(out);
                out.extend_from_slice(data);
            }
            Operation::Write { fh, offset, data, kill_suidgid } => {
                let write_flags = if *kill_suidgid { abi::WRITE_KILL_SUIDGID } else { 0 };
                abi::WriteIn { fh: fh.0, offset: *offset, size: data.len() as u32, write_flags, ..Default::default() }
                    .encode(out);
                out.extend_from_slice(data);
            }
            Operation::Release { fh, flags, flock_owner, .. } => abi::ReleaseIn {
                fh: fh.0,
                flags: flags.bits() as u32,
                release_flags: if flock_owner.is_some() { abi::RELEASE_FLOCK_UNLOCK } else { 0 },
                lock_owner: flock_owner.map_or(0, |owner| owner.0),
            }
            .encode(out),
            Operation::Fsync { fh, datasync, .. } => {
                let fsync_flags = if *datasync { abi::FSYNC_FDATASYNC } else { 0 };
                abi::FsyncIn { fh: fh.0, fsync_flags, padding: 0 }.encode(out)
            }
            Operation::Setxattr { name, value, flags, extended, acl_kill_sgid } => {
                abi::SetxattrIn { size: value.len() as u32, flags: flags.bits() }.encode(out);
                if *extended {
                    let setxattr_flags = if *acl_kill_sgid { abi::SETXATTR_ACL_KILL_SGID } else { 0 };
                    abi::SetxattrExtIn { setxattr_flags, padding: 0 }.encode(out);
                }
                push_string(out, name);
                out.extend_from_slice(value);
            }
            Operation::Getxattr { name, size } => {
                abi::GetxattrIn { size: *size, padding: 0 }.encode(out);
                push_string(out, name);
            }
            Operation::Listxattr { size } => abi::GetxattrIn { size: *size, padding: 0 }.encode(out),
            Operation::Flush { fh, owner } => {
                abi::FlushIn { fh: fh.0, lock_owner: owner.0, ..Default::default() }.encode(out)
            }
            Operation::Getlk { fh, owner, lock, flock } | Operation::Setlk { fh, owner, lock, flock, .. } => {
                abi::LkIn {
                    fh: fh.0,
                    owner: owner.0,
                    start: lock.start,
                    end: lock.end,
                    typ: lock_kind_to_wire(lock.kind),
                    pid: lock.pid,
                    lk_flags: if *flock { abi::LK_FLOCK } else { 0 },
                    padding: 0,
                }
                .encode(out)
            }
            Operation::Access { mode } => abi::AccessIn { mask: mode.bits() as u32, padding: 0 }.encode(out),
            Operation::Tmpfile { mode, umask, flags } => abi::CreateIn {
                flags: (*flags | nix::fcntl::OFlag::O_TMPFILE).bits() as u32,
                mode: libc_mode::S_IFREG | mode,
                umask: *umask,
                open_flags: 0,
            }
            .encode(out),
            Operation::Create { name, mode, umask, flags } => {
                abi::CreateIn {
                    flags: flags.bits() as u32,
                    mode: libc_mode::S_IFREG | mode,
                    umask: *umask,
                    open_flags: 0,
                }
                .encode(out);
                push_string(out, name);
            }
            Operation::Interrupt { unique } => abi::InterruptIn { unique: *unique }.encode(out),
            Operation::Fallocate { fh, offset, length, mode } => {
                abi::FallocateIn { fh: fh.0, offset: *offset, length: *length, mode: mode.bits(), padding: 0 }
                    .encode(out)
            }
            Operation::Lseek { fh, offset, whence } => {
                let whence = match whence {
                    SeekWhence::Data => nix::libc::SEEK_DATA,
                    SeekWhence::Hole => nix::libc::SEEK_HOLE,
                };
                abi::LseekIn { fh: fh.0, offset: *offset, whence: whence as u32, padding: 0 }.encode(out)
            }
            Operation::CopyFileRange { fh_in, off_in, nodeid_out, fh_out, off_out, len, .. } => abi::CopyFileRangeIn {
                fh_in: fh_in.0,
                off_in: *off_in,
                nodeid_out: *nodeid_out,
                fh_out: fh_out.0,
                off_out: *off_out,
                len: *len,
                flags: 0,
            }
            .encode(out),
            Operation::PuffsUnmount { flags } => abi::UnmountIn { flags: flags.bits(), pid: 0 }.encode(out),
            Operation::PuffsSuspend { phase } => {
                abi::SuspendIn { phase: suspend_phase_to_wire(*phase), padding: 0 }.encode(out)
            }
        }
    }

    /// Encodes a whole request frame: `header` with its `len` and `opcode` set from the
    /// operation (an operation without an opcode keeps the header's) and no extensions.
    pub fn encode(&self, header: InHeader) -> Vec<u8> {
        let mut frame = Vec::with_capacity(InHeader::SIZE + 64);
        let mut header = header;
        header.opcode = self.opcode().unwrap_or(header.opcode);
        header.total_extlen = 0;
        header.encode(&mut frame);
        self.encode_body(&mut frame);
        let len = frame.len() as u32;
        frame[..4].copy_from_slice(&len.to_le_bytes());
        frame
    }
}

impl Request<'_> {
    /// Encodes the request into a frame that [`Request::decode`] reads back as this request
    /// (see [`Operation::encode`]).
    pub fn encode(&self) -> Vec<u8> {
        self.op.encode(self.header)
    }
}
