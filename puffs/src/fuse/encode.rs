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

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;
    use nix::fcntl::OFlag;
    use nix::unistd::AccessFlags;

    use crate::fs::cookie::FileHandle;
    use crate::fs::flags::{FallocateFlags, RenameFlags, SeekWhence, SuspendPhase, UnmountFlags, XattrFlags};
    use crate::fs::ioctl::IoctlFlags;
    use crate::fs::lock::{FileLock, LockKind, LockOwner};
    use crate::fuse::request::{Layout, Request};
    use crate::vattr::{SetVattr, TimeSet, Vtype};

    fn round_trip(op: Operation<'_>) {
        let header = InHeader { unique: 42, nodeid: 7, uid: 1000, gid: 100, pid: 9, ..Default::default() };
        let frame = op.encode(header);
        let decoded = Request::decode(&frame).unwrap_or_else(|e| panic!("{op:?} does not decode: {e}"));
        assert_eq!(decoded.op, op);
        assert_eq!(decoded.header.len as usize, frame.len());
        assert_eq!((decoded.header.unique, decoded.header.nodeid, decoded.header.uid), (42, 7, 1000));
        assert_eq!(Some(decoded.header.opcode), op.opcode());
    }

    #[test]
    fn every_operation_round_trips() {
        let name = OsStr::new("name");
        let other = OsStr::new("other");
        let ops = vec![
            Operation::Init(abi::InitIn { major: 7, minor: 38, max_readahead: 1 << 16, flags: 5, flags2: 1 }),
            Operation::Destroy,
            Operation::Lookup { name },
            Operation::Forget { nlookup: 3 },
            Operation::BatchForget {
                nodes: vec![abi::ForgetOne { nodeid: 5, nlookup: 1 }, abi::ForgetOne { nodeid: 9, nlookup: 2 }],
            },
            Operation::Getattr { fh: None },
            Operation::Getattr { fh: Some(77) },
            Operation::Statx { fh: None, flags: 0, mask: 0xfff },
            Operation::Poll {
                fh: FileHandle(2),
                kh: 99,
                schedule: true,
                events: crate::fs::poll::PollEvents::IN | crate::fs::poll::PollEvents::RDNORM,
            },
            Operation::Poll { fh: FileHandle(2), kh: 0, schedule: false, events: crate::fs::poll::PollEvents::OUT },
            Operation::Ioctl {
                fh: FileHandle(4),
                flags: IoctlFlags::DIR | IoctlFlags::COMPAT,
                command: 0x4008_4501,
                arg: 0x7fff_0000,
                input: b"12345678",
                out_size: 0,
            },
            Operation::Ioctl {
                fh: FileHandle(4),
                flags: IoctlFlags::empty(),
                command: 7,
                arg: 0,
                input: b"",
                out_size: 8,
            },
            Operation::Statx { fh: Some(5), flags: 0x2000, mask: 0x800 },
            Operation::Setattr {
                changes: SetVattr {
                    mode: Some(0o600),
                    size: Some(10),
                    atime: Some(TimeSet::Now),
                    handle: Some(FileHandle(4)),
                    ..SetVattr::default()
                },
                kill_suidgid: false,
            },
            Operation::Setattr { changes: SetVattr { uid: Some(7), ..SetVattr::default() }, kill_suidgid: true },
            Operation::Readlink,
            Operation::Symlink { name, target: OsStr::new("../somewhere/else") },
            Operation::Mknod { name, vtype: Vtype::Fifo, mode: 0o644, rdev: 0, umask: 0o22 },
            Operation::Mknod { name, vtype: Vtype::Chr, mode: 0o600, rdev: (259 << 8) | 7, umask: 0 },
            Operation::Mkdir { name, mode: 0o1755, umask: 0o22 },
            Operation::Unlink { name },
            Operation::Rmdir { name },
            Operation::Rename { newdir: 12, flags: RenameFlags::empty(), name, newname: other },
            Operation::Rename { newdir: 12, flags: RenameFlags::NOREPLACE, name, newname: other },
            Operation::Link { oldnodeid: 8, name },
            Operation::Open { flags: OFlag::O_RDWR, dir: false, kill_suidgid: false },
            Operation::Open { flags: OFlag::O_RDWR | OFlag::O_TRUNC, dir: false, kill_suidgid: true },
            Operation::Open { flags: OFlag::O_RDONLY | OFlag::O_DIRECTORY, dir: true, kill_suidgid: false },
            Operation::Read { fh: FileHandle(3), offset: 4096, size: 512 },
            Operation::Write { fh: FileHandle(3), offset: 8, data: b"hello", kill_suidgid: false },
            Operation::Write { fh: FileHandle(3), offset: 0, data: b"x", kill_suidgid: true },
            Operation::Statfs,
            Operation::Release { fh: FileHandle(3), flags: OFlag::O_RDWR, dir: false, flock_owner: None },
            Operation::Release { fh: FileHandle(3), flags: OFlag::O_RDWR, dir: false, flock_owner: Some(LockOwner(8)) },
            Operation::Release { fh: FileHandle(4), flags: OFlag::empty(), dir: true, flock_owner: None },
            Operation::Fsync { fh: FileHandle(3), datasync: true, dir: false },
            Operation::Fsync { fh: FileHandle(0), datasync: false, dir: true },
            Operation::Setxattr {
                name: OsStr::new("user.a"),
                value: b"v\0lue",
                flags: XattrFlags::CREATE,
                extended: false,
                acl_kill_sgid: false,
            },
            Operation::Getxattr { name: OsStr::new("user.a"), size: 0 },
            Operation::Getxattr { name: OsStr::new("user.a"), size: 64 },
            Operation::Listxattr { size: 128 },
            Operation::Removexattr { name: OsStr::new("user.a") },
            Operation::Flush { fh: FileHandle(3), owner: LockOwner(99) },
            Operation::Getlk {
                fh: FileHandle(3),
                owner: LockOwner(5),
                lock: FileLock { kind: LockKind::Write, start: 0, end: FileLock::TO_END, pid: 12 },
                flock: false,
            },
            Operation::Setlk {
                fh: FileHandle(3),
                owner: LockOwner(5),
                lock: FileLock { kind: LockKind::Read, start: 10, end: 19, pid: 12 },
                flock: false,
                wait: true,
            },
            Operation::Setlk {
                fh: FileHandle(3),
                owner: LockOwner(6),
                lock: FileLock::whole(LockKind::Unlock, 1),
                flock: true,
                wait: false,
            },
            Operation::Readdir { fh: FileHandle(3), offset: 4096, size: 512, plus: false },
            Operation::Readdir { fh: FileHandle(3), offset: 7, size: 4096, plus: true },
            Operation::Access { mode: AccessFlags::R_OK },
            Operation::Access { mode: AccessFlags::F_OK },
            Operation::Create { name, mode: 0o644, umask: 0o22, flags: OFlag::O_WRONLY | OFlag::O_CREAT },
            Operation::Tmpfile { mode: 0o600, umask: 0o22, flags: OFlag::O_RDWR | OFlag::O_EXCL },
            Operation::Interrupt { unique: 40 },
            Operation::Syncfs,
            Operation::Fallocate { fh: FileHandle(3), offset: 1 << 20, length: 4096, mode: FallocateFlags::empty() },
            Operation::Fallocate {
                fh: FileHandle(3),
                offset: 0,
                length: 1,
                mode: FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
            },
            Operation::Lseek { fh: FileHandle(3), offset: 10, whence: SeekWhence::Data },
            Operation::Lseek { fh: FileHandle(3), offset: 0, whence: SeekWhence::Hole },
            Operation::CopyFileRange {
                fh_in: FileHandle(3),
                off_in: 1,
                nodeid_out: 9,
                fh_out: FileHandle(4),
                off_out: 2,
                len: 1 << 33,
                wide: true,
            },
            Operation::CopyFileRange {
                fh_in: FileHandle(3),
                off_in: 0,
                nodeid_out: 7,
                fh_out: FileHandle(3),
                off_out: 4096,
                len: 5,
                wide: false,
            },
            Operation::PuffsUnmount { flags: UnmountFlags::FORCE },
            Operation::PuffsUnmount { flags: UnmountFlags::empty() },
            Operation::PuffsSuspend { phase: SuspendPhase::Start },
            Operation::PuffsSuspend { phase: SuspendPhase::Suspended },
            Operation::PuffsSuspend { phase: SuspendPhase::Error },
            Operation::PuffsSuspend { phase: SuspendPhase::Resume },
            Operation::NotifyReply { offset: 4096, data: b"cached" },
            Operation::NotifyReply { offset: 0, data: b"" },
        ];
        for op in ops {
            round_trip(op);
        }
    }

    /// `SETXATTR` has two layouts, and the session's `INIT` says which the kernel sends.
    #[test]
    fn setxattr_round_trips_in_both_layouts() {
        let header = InHeader { unique: 3, nodeid: 7, ..Default::default() };
        let ext = Layout { setxattr_ext: true };
        for (layout, extended) in [(Layout::default(), false), (ext, true)] {
            for acl_kill_sgid in [false, extended] {
                let op = Operation::Setxattr {
                    name: OsStr::new("system.posix_acl_access"),
                    value: b"\x02\0\0\0",
                    flags: XattrFlags::empty(),
                    extended,
                    acl_kill_sgid,
                };
                let frame = op.encode(header);
                assert_eq!(Request::decode_in(&frame, layout).unwrap().op, op);
            }
        }
        // Read in the other layout, a frame is refused rather than misread.
        let compat = Operation::Setxattr {
            name: OsStr::new("user.a"),
            value: b"v",
            flags: XattrFlags::empty(),
            extended: false,
            acl_kill_sgid: false,
        };
        assert!(Request::decode_in(&compat.encode(header), ext).is_err(), "a compat frame in the extended layout");
        let mut unknown = Operation::Setxattr {
            name: OsStr::new("user.a"),
            value: b"v",
            flags: XattrFlags::empty(),
            extended: true,
            acl_kill_sgid: true,
        }
        .encode(header);
        unknown[InHeader::SIZE + 8] = 0x6;
        assert_eq!(Request::decode_in(&unknown, ext).unwrap_err().errno, Errno::EINVAL, "unknown SETXATTR_EXT flags");
    }

    #[test]
    fn operations_without_an_opcode_keep_the_headers() {
        let header = InHeader { opcode: opcode::BMAP, unique: 2, ..Default::default() };
        let frame = Operation::Unsupported.encode(header);
        assert_eq!(Request::decode(&frame).unwrap().op, Operation::Unsupported);
        let header = InHeader { opcode: 9999, unique: 2, ..Default::default() };
        assert_eq!(Request::decode(&Operation::Unknown.encode(header)).unwrap().op, Operation::Unknown);
    }

    /// Bits no system call defines are refused when the request is decoded, so no operation
    /// sees them.
    #[test]
    fn undefined_flag_bits_are_refused_at_decoding() {
        let name = OsStr::new("a");
        let refused = |op: Operation<'_>, at: usize, bits: u32| {
            let mut frame = op.encode(InHeader::default());
            frame[InHeader::SIZE + at..InHeader::SIZE + at + 4].copy_from_slice(&bits.to_le_bytes());
            Request::decode(&frame).unwrap_err().errno
        };
        let rename = Operation::Rename { newdir: 1, flags: RenameFlags::NOREPLACE, name, newname: name };
        assert_eq!(refused(rename, 8, 8), Errno::EINVAL);
        let setxattr =
            Operation::Setxattr { name, value: b"", flags: XattrFlags::empty(), extended: false, acl_kill_sgid: false };
        assert_eq!(refused(setxattr, 4, 4), Errno::EINVAL);
        assert_eq!(refused(Operation::Access { mode: AccessFlags::R_OK }, 0, 8), Errno::EINVAL);
        let mknod = Operation::Mknod { name, vtype: Vtype::Reg, mode: 0o644, rdev: 0, umask: 0 };
        assert_eq!(refused(mknod, 0, 0o644), Errno::EINVAL, "no node type");
        let fallocate =
            || Operation::Fallocate { fh: FileHandle(1), offset: 0, length: 1, mode: FallocateFlags::empty() };
        assert_eq!(refused(fallocate(), 24, 0x08), Errno::EOPNOTSUPP, "collapse range");
        assert_eq!(refused(fallocate(), 24, 0x02), Errno::EOPNOTSUPP, "punch hole without keep size");
        let lseek = Operation::Lseek { fh: FileHandle(1), offset: 0, whence: SeekWhence::Data };
        assert_eq!(refused(lseek, 16, nix::libc::SEEK_END as u32), Errno::EINVAL);
        let copy = Operation::CopyFileRange {
            fh_in: FileHandle(1),
            off_in: 0,
            nodeid_out: 1,
            fh_out: FileHandle(1),
            off_out: 0,
            len: 1,
            wide: true,
        };
        assert_eq!(refused(copy, 48, 1), Errno::EINVAL, "copy_file_range flags");
        let ioctl = || Operation::Ioctl {
            fh: FileHandle(1),
            flags: IoctlFlags::empty(),
            command: 1,
            arg: 0,
            input: b"",
            out_size: 0,
        };
        assert_eq!(refused(ioctl(), 8, abi::IOCTL_UNRESTRICTED), Errno::ENOSYS, "CUSE's unrestricted form");
        assert_eq!(refused(ioctl(), 8, 1 << 2), Errno::EINVAL, "a retry is a reply's flag");
        assert_eq!(refused(ioctl(), 24, 1), Errno::EINVAL, "input past the frame's end");
    }

    /// Hostile ranges (past the largest offset, or empty where that means nothing) are refused
    /// before any operation sees them.
    #[test]
    fn hostile_ranges_are_refused_at_decoding() {
        let decode =
            |op: Operation<'_>| Request::decode(&op.encode(InHeader::default())).map(|_| ()).map_err(|e| e.errno);
        let fallocate =
            |offset, length| Operation::Fallocate { fh: FileHandle(1), offset, length, mode: FallocateFlags::empty() };
        assert_eq!(decode(fallocate(u64::MAX, 2)), Err(Errno::EINVAL));
        assert_eq!(decode(fallocate(i64::MAX as u64, 1)), Err(Errno::EINVAL));
        assert_eq!(decode(fallocate(0, 0)), Err(Errno::EINVAL));
        assert_eq!(
            decode(Operation::Lseek { fh: FileHandle(1), offset: u64::MAX, whence: SeekWhence::Hole }),
            Err(Errno::ENXIO)
        );
        let copy = |off_in, len| Operation::CopyFileRange {
            fh_in: FileHandle(1),
            off_in,
            nodeid_out: 1,
            fh_out: FileHandle(1),
            off_out: 0,
            len,
            wide: true,
        };
        assert_eq!(decode(copy(1, u64::MAX)), Err(Errno::EINVAL));
        assert_eq!(decode(copy(i64::MAX as u64, 0)), Ok(()), "a copy of nothing at the last offset");
    }

    #[test]
    fn an_unknown_suspension_phase_is_refused() {
        let mut frame = Operation::PuffsSuspend { phase: SuspendPhase::Start }.encode(InHeader::default());
        frame[InHeader::SIZE] = 9;
        assert_eq!(Request::decode(&frame).unwrap_err().errno, Errno::EINVAL);
    }
}
