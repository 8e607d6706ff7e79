//! Decoding: a frame from the kernel into a typed [`Request`], every field checked (the
//! file-system side). Its twin, encoding a request into a frame, is [`super::encode`].

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::AccessFlags;

use crate::fs::cookie::FileHandle;
use crate::fs::flags::{FallocateFlags, RenameFlags, SeekWhence, UnmountFlags, XattrFlags};
use crate::fs::ioctl::IoctlFlags;
use crate::fs::lock::{FileLock, LockOwner};
use crate::fs::poll::PollEvents;
use crate::vattr::{time_from_wire, SetVattr, TimeSet, Vtype, MODE_PERMISSION_BITS};

use super::abi::{self, fattr, opcode, InHeader};
use super::reply::decode_dev;
use super::request::{
    check_name, ends_past_max, lock_kind_from_wire, suspend_phase_from_wire, Layout, Operation, Request, MAX_OFFSET,
};

/// Why a frame could not be decoded, and the errno to answer it with when it has a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The request's header, when at least that was readable.
    pub header: Option<InHeader>,
    /// The errno to answer with.
    pub errno: Errno,
    /// What was wrong, for the log.
    pub reason: &'static str,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.header {
            Some(h) => write!(f, "malformed {} request (unique {}): {}", opcode::name(h.opcode), h.unique, self.reason),
            None => write!(f, "malformed request frame: {}", self.reason),
        }
    }
}

impl std::error::Error for DecodeError {}

/// A cursor over the body of a request.
struct Body<'a> {
    header: InHeader,
    rest: &'a [u8],
}

impl<'a> Body<'a> {
    fn fail(&self, errno: Errno, reason: &'static str) -> DecodeError {
        DecodeError { header: Some(self.header), errno, reason }
    }

    fn record<T>(&mut self, size: usize, decode: fn(&[u8]) -> Option<T>) -> Result<T, DecodeError> {
        let value = decode(self.rest).ok_or_else(|| self.fail(Errno::EINVAL, "body shorter than its record"))?;
        self.rest = &self.rest[size..];
        Ok(value)
    }

    /// A NUL-terminated string, with no rule on its contents (symlink targets).
    fn string(&mut self) -> Result<&'a OsStr, DecodeError> {
        let end = self
            .rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.fail(Errno::EINVAL, "string not NUL-terminated"))?;
        let s = OsStr::from_bytes(&self.rest[..end]);
        self.rest = &self.rest[end + 1..];
        Ok(s)
    }

    /// A NUL-terminated name of a directory entry, in its `role`.
    fn name(&mut self, role: NameRole) -> Result<&'a OsStr, DecodeError> {
        let name = self.string()?;
        check_name(name.as_bytes()).map_err(|(errno, reason)| self.fail(errno, reason))?;
        if let Some((errno, reason)) = role.refuses_dots(name.as_bytes()) {
            return Err(self.fail(errno, reason));
        }
        Ok(name)
    }
}

/// What a name in a request is for, which decides how `.` and `..` are answered: they name
/// entries every directory has, which no operation may make, move or remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameRole {
    /// Looked up: `.` and `..` are ordinary lookups (export support asks for them).
    Found,
    /// Made by mkdir, create, mknod, symlink or link: `EEXIST`, as the entry exists.
    Made,
    /// Either name of a rename: `EINVAL` (POSIX `rename(2)`).
    Renamed,
    /// Removed by rmdir: `.` is `EINVAL`, `..` is `ENOTEMPTY` (POSIX `rmdir(2)`, Linux).
    RemovedDir,
    /// Removed by unlink: both are directories, `EISDIR` (Linux `unlink(2)`).
    RemovedFile,
}

impl NameRole {
    fn refuses_dots(self, name: &[u8]) -> Option<(Errno, &'static str)> {
        let dot = match name {
            b"." => true,
            b".." => false,
            _ => return None,
        };
        match self {
            NameRole::Found => None,
            NameRole::Made => Some((Errno::EEXIST, "`.` or `..` as the name of a new entry")),
            NameRole::Renamed => Some((Errno::EINVAL, "`.` or `..` renamed")),
            NameRole::RemovedDir if dot => Some((Errno::EINVAL, "rmdir of `.`")),
            NameRole::RemovedDir => Some((Errno::ENOTEMPTY, "rmdir of `..`")),
            NameRole::RemovedFile => Some((Errno::EISDIR, "unlink of `.` or `..`")),
        }
    }
}

impl<'a> Request<'a> {
    /// Decodes one frame in the layout of a session that negotiated nothing. The frame must
    /// be exactly as long as its header says.
    pub fn decode(frame: &'a [u8]) -> Result<Request<'a>, DecodeError> {
        Request::decode_in(frame, Layout::default())
    }

    /// Decodes one frame in `layout`, the one a session's `INIT` settled. The frame must be
    /// exactly as long as its header says.
    pub fn decode_in(frame: &'a [u8], layout: Layout) -> Result<Request<'a>, DecodeError> {
        let header = InHeader::decode(frame).ok_or(DecodeError {
            header: None,
            errno: Errno::EIO,
            reason: "frame shorter than a request header",
        })?;
        let mut body = Body { header, rest: &frame[InHeader::SIZE..] };
        if header.len as usize != frame.len() {
            return Err(body.fail(Errno::EIO, "header length differs from frame length"));
        }
        let ext = usize::from(header.total_extlen) * 8;
        if ext > body.rest.len() {
            return Err(body.fail(Errno::EIO, "extension length exceeds frame"));
        }
        // Extensions (security contexts, supplementary groups) trail the body; none is
        // negotiated, so they are cut off and ignored.
        body.rest = &body.rest[..body.rest.len() - ext];
        let op = match header.opcode {
            opcode::INIT => {
                // Kernels before 7.36 send 16 bytes; the missing flags2 reads as zero.
                let mut padded = [0u8; abi::InitIn::SIZE];
                let n = body.rest.len().min(padded.len());
                if n < 16 {
                    return Err(body.fail(Errno::EINVAL, "INIT body shorter than 16 bytes"));
                }
                padded[..n].copy_from_slice(&body.rest[..n]);
                Operation::Init(abi::InitIn::decode(&padded).expect("padded to size"))
            }
            opcode::DESTROY => Operation::Destroy,
            opcode::LOOKUP => Operation::Lookup { name: body.name(NameRole::Found)? },
            opcode::FORGET => {
                Operation::Forget { nlookup: body.record(abi::ForgetIn::SIZE, abi::ForgetIn::decode)?.nlookup }
            }
            opcode::BATCH_FORGET => {
                let arg = body.record(abi::BatchForgetIn::SIZE, abi::BatchForgetIn::decode)?;
                let count = arg.count as usize;
                if body.rest.len() / abi::ForgetOne::SIZE < count {
                    return Err(body.fail(Errno::EINVAL, "BATCH_FORGET count exceeds frame"));
                }
                let nodes = body
                    .rest
                    .chunks_exact(abi::ForgetOne::SIZE)
                    .take(count)
                    .filter_map(abi::ForgetOne::decode)
                    .collect();
                Operation::BatchForget { nodes }
            }
            opcode::GETATTR => {
                let arg = body.record(abi::GetattrIn::SIZE, abi::GetattrIn::decode)?;
                Operation::Getattr { fh: (arg.getattr_flags & abi::GETATTR_FH != 0).then_some(arg.fh) }
            }
            opcode::STATX => {
                let arg = body.record(abi::StatxIn::SIZE, abi::StatxIn::decode)?;
                let fh = (arg.getattr_flags & abi::GETATTR_FH != 0).then_some(arg.fh);
                Operation::Statx { fh, flags: arg.sx_flags, mask: arg.sx_mask }
            }
            opcode::SETATTR => {
                let arg = body.record(abi::SetattrIn::SIZE, abi::SetattrIn::decode)?;
                Operation::Setattr {
                    changes: setattr_changes(&arg),
                    kill_suidgid: arg.valid & fattr::KILL_SUIDGID != 0,
                }
            }
            opcode::READLINK => Operation::Readlink,
            opcode::SYMLINK => {
                let name = body.name(NameRole::Made)?;
                let target = body.string()?;
                if target.is_empty() {
                    return Err(body.fail(Errno::ENOENT, "empty symlink target"));
                }
                Operation::Symlink { name, target }
            }
            opcode::MKNOD => {
                let arg = body.record(abi::MknodIn::SIZE, abi::MknodIn::decode)?;
                let vtype =
                    Vtype::from_mode_bits(arg.mode).ok_or_else(|| body.fail(Errno::EINVAL, "MKNOD of no node type"))?;
                Operation::Mknod {
                    name: body.name(NameRole::Made)?,
                    vtype,
                    mode: arg.mode & MODE_PERMISSION_BITS,
                    rdev: decode_dev(arg.rdev),
                    umask: arg.umask,
                }
            }
            opcode::MKDIR => {
                let arg = body.record(abi::MkdirIn::SIZE, abi::MkdirIn::decode)?;
                Operation::Mkdir {
                    name: body.name(NameRole::Made)?,
                    mode: arg.mode & MODE_PERMISSION_BITS,
                    umask: arg.umask,
                }
            }
            opcode::UNLINK => Operation::Unlink { name: body.name(NameRole::RemovedFile)? },
            opcode::RMDIR => Operation::Rmdir { name: body.name(NameRole::RemovedDir)? },
            opcode::RENAME => {
                let arg = body.record(abi::RenameIn::SIZE, abi::RenameIn::decode)?;
                Operation::Rename {
                    newdir: arg.newdir,
                    flags: RenameFlags::empty(),
                    name: body.name(NameRole::Renamed)?,
                    newname: body.name(NameRole::Renamed)?,
                }
            }
            opcode::RENAME2 => {
                let arg = body.record(abi::Rename2In::SIZE, abi::Rename2In::decode)?;
                let flags = RenameFlags::from_bits(arg.flags)
                    .ok_or_else(|| body.fail(Errno::EINVAL, "RENAME2 flags renameat2(2) does not define"))?;
                Operation::Rename {
                    newdir: arg.newdir,
                    flags,
                    name: body.name(NameRole::Renamed)?,
                    newname: body.name(NameRole::Renamed)?,
                }
            }
            opcode::LINK => {
                let arg = body.record(abi::LinkIn::SIZE, abi::LinkIn::decode)?;
                Operation::Link { oldnodeid: arg.oldnodeid, name: body.name(NameRole::Made)? }
            }
            opcode::OPEN | opcode::OPENDIR => {
                let arg = body.record(abi::OpenIn::SIZE, abi::OpenIn::decode)?;
                Operation::Open {
                    flags: open_flags(arg.flags),
                    dir: header.opcode == opcode::OPENDIR,
                    kill_suidgid: arg.open_flags & abi::OPEN_KILL_SUIDGID != 0,
                }
            }
            opcode::READ => {
                let arg = body.record(abi::ReadIn::SIZE, abi::ReadIn::decode)?;
                Operation::Read { fh: FileHandle(arg.fh), offset: arg.offset, size: arg.size }
            }
            opcode::READDIR | opcode::READDIRPLUS => {
                let arg = body.record(abi::ReadIn::SIZE, abi::ReadIn::decode)?;
                let plus = header.opcode == opcode::READDIRPLUS;
                Operation::Readdir { fh: FileHandle(arg.fh), offset: arg.offset, size: arg.size, plus }
            }
            opcode::WRITE => {
                let arg = body.record(abi::WriteIn::SIZE, abi::WriteIn::decode)?;
                let data = body
                    .rest
                    .get(..arg.size as usize)
                    .ok_or_else(|| body.fail(Errno::EINVAL, "WRITE size exceeds frame"))?;
                let kill_suidgid = arg.write_flags & abi::WRITE_KILL_SUIDGID != 0;
                Operation::Write { fh: FileHandle(arg.fh), offset: arg.offset, data, kill_suidgid }
            }
            opcode::STATFS => Operation::Statfs,
            opcode::RELEASE | opcode::RELEASEDIR => {
                let arg = body.record(abi::ReleaseIn::SIZE, abi::ReleaseIn::decode)?;
                Operation::Release {
                    fh: FileHandle(arg.fh),
                    flags: open_flags(arg.flags),
                    dir: header.opcode == opcode::RELEASEDIR,
                    flock_owner: (arg.release_flags & abi::RELEASE_FLOCK_UNLOCK != 0)
                        .then_some(LockOwner(arg.lock_owner)),
                }
            }
            opcode::FSYNC | opcode::FSYNCDIR => {
                let arg = body.record(abi::FsyncIn::SIZE, abi::FsyncIn::decode)?;
                Operation::Fsync {
                    fh: FileHandle(arg.fh),
                    datasync: arg.fsync_flags & abi::FSYNC_FDATASYNC != 0,
                    dir: header.opcode == opcode::FSYNCDIR,
                }
            }
            opcode::SETXATTR => {
                let arg = body.record(abi::SetxattrIn::SIZE, abi::SetxattrIn::decode)?;
                let setxattr_flags = match layout.setxattr_ext {
                    true => body.record(abi::SetxattrExtIn::SIZE, abi::SetxattrExtIn::decode)?.setxattr_flags,
                    false => 0,
                };
                if setxattr_flags & !abi::SETXATTR_ACL_KILL_SGID != 0 {
                    return Err(body.fail(Errno::EINVAL, "SETXATTR_EXT flags the kernel does not pass"));
                }
                let name = body.string()?;
                if name.is_empty() {
                    return Err(body.fail(Errno::EINVAL, "empty attribute name"));
                }
                let value = body
                    .rest
                    .get(..arg.size as usize)
                    .ok_or_else(|| body.fail(Errno::EINVAL, "SETXATTR size exceeds frame"))?;
                let flags = XattrFlags::from_bits(arg.flags)
                    .ok_or_else(|| body.fail(Errno::EINVAL, "SETXATTR flags setxattr(2) does not define"))?;
                let acl_kill_sgid = setxattr_flags & abi::SETXATTR_ACL_KILL_SGID != 0;
                Operation::Setxattr { name, value, flags, extended: layout.setxattr_ext, acl_kill_sgid }
            }
            opcode::GETXATTR => {
                let arg = body.record(abi::GetxattrIn::SIZE, abi::GetxattrIn::decode)?;
                Operation::Getxattr { size: arg.size, name: body.string()? }
            }
            opcode::LISTXATTR => {
                Operation::Listxattr { size: body.record(abi::GetxattrIn::SIZE, abi::GetxattrIn::decode)?.size }
            }
            opcode::REMOVEXATTR => Operation::Removexattr { name: body.string()? },
            opcode::FLUSH => {
                let arg = body.record(abi::FlushIn::SIZE, abi::FlushIn::decode)?;
                Operation::Flush { fh: FileHandle(arg.fh), owner: LockOwner(arg.lock_owner) }
            }
            opcode::ACCESS => {
                let mask = body.record(abi::AccessIn::SIZE, abi::AccessIn::decode)?.mask;
                let mode = i32::try_from(mask)
                    .ok()
                    .and_then(AccessFlags::from_bits)
                    .ok_or_else(|| body.fail(Errno::EINVAL, "ACCESS mode beyond R_OK, W_OK and X_OK"))?;
                Operation::Access { mode }
            }
            opcode::CREATE => {
                let arg = body.record(abi::CreateIn::SIZE, abi::CreateIn::decode)?;
                Operation::Create {
                    name: body.name(NameRole::Made)?,
                    mode: arg.mode & MODE_PERMISSION_BITS,
                    umask: arg.umask,
                    flags: open_flags(arg.flags),
                }
            }
            opcode::POLL => {
                let arg = body.record(abi::PollIn::SIZE, abi::PollIn::decode)?;
                let events = PollEvents::from_bits(arg.events)
                    .ok_or_else(|| body.fail(Errno::EINVAL, "POLL events the kernel does not pass"))?;
                let schedule = arg.flags & abi::POLL_SCHEDULE_NOTIFY != 0;
                Operation::Poll { fh: FileHandle(arg.fh), kh: arg.kh, schedule, events }
            }
            opcode::TMPFILE => {
                let arg = body.record(abi::CreateIn::SIZE, abi::CreateIn::decode)?;
                Operation::Tmpfile {
                    mode: arg.mode & MODE_PERMISSION_BITS,
                    umask: arg.umask,
                    flags: open_flags(arg.flags) & !OFlag::O_TMPFILE,
                }
            }
            opcode::INTERRUPT => {
                Operation::Interrupt { unique: body.record(abi::InterruptIn::SIZE, abi::InterruptIn::decode)?.unique }
            }
            opcode::SYNCFS => Operation::Syncfs,
            opcode::PUFFS_UNMOUNT => {
                let arg = body.record(abi::UnmountIn::SIZE, abi::UnmountIn::decode)?;
                Operation::PuffsUnmount { flags: UnmountFlags::from_bits_retain(arg.flags) }
            }
            opcode::PUFFS_SUSPEND => {
                let arg = body.record(abi::SuspendIn::SIZE, abi::SuspendIn::decode)?;
                let phase = suspend_phase_from_wire(arg.phase)
                    .ok_or_else(|| body.fail(Errno::EINVAL, "unknown suspension phase"))?;
                Operation::PuffsSuspend { phase }
            }
            opcode::NOTIFY_REPLY => {
                let arg = body.record(abi::NotifyRetrieveIn::SIZE, abi::NotifyRetrieveIn::decode)?;
                let data = body
                    .rest
                    .get(..arg.size as usize)
                    .ok_or_else(|| body.fail(Errno::EINVAL, "NOTIFY_REPLY size exceeds frame"))?;
                Operation::NotifyReply { offset: arg.offset, data }
            }
            opcode::FALLOCATE => {
                let arg = body.record(abi::FallocateIn::SIZE, abi::FallocateIn::decode)?;
                let mode = FallocateFlags::from_bits(arg.mode)
                    .ok_or_else(|| body.fail(Errno::EOPNOTSUPP, "FALLOCATE mode the kernel does not pass"))?;
                if mode.contains(FallocateFlags::PUNCH_HOLE) && !mode.contains(FallocateFlags::KEEP_SIZE) {
                    return Err(body.fail(Errno::EOPNOTSUPP, "PUNCH_HOLE without KEEP_SIZE"));
                }
                if ends_past_max(arg.offset, arg.length) || arg.length == 0 {
                    return Err(body.fail(Errno::EINVAL, "FALLOCATE range empty or past the largest offset"));
                }
                Operation::Fallocate { fh: FileHandle(arg.fh), offset: arg.offset, length: arg.length, mode }
            }
            opcode::LSEEK => {
                let arg = body.record(abi::LseekIn::SIZE, abi::LseekIn::decode)?;
                let whence = match arg.whence as i32 {
                    nix::libc::SEEK_DATA => SeekWhence::Data,
                    nix::libc::SEEK_HOLE => SeekWhence::Hole,
                    _ => return Err(body.fail(Errno::EINVAL, "LSEEK whence other than SEEK_DATA or SEEK_HOLE")),
                };
                if arg.offset > MAX_OFFSET {
                    return Err(body.fail(Errno::ENXIO, "LSEEK offset past the largest offset"));
                }
                Operation::Lseek { fh: FileHandle(arg.fh), offset: arg.offset, whence }
            }
            opcode::COPY_FILE_RANGE | opcode::COPY_FILE_RANGE_64 => {
                let arg = body.record(abi::CopyFileRangeIn::SIZE, abi::CopyFileRangeIn::decode)?;
                if arg.flags != 0 {
                    return Err(
                        body.fail(Errno::EINVAL, "COPY_FILE_RANGE flags, which copy_file_range(2) does not define")
                    );
                }
                if ends_past_max(arg.off_in, arg.len) || ends_past_max(arg.off_out, arg.len) {
                    return Err(body.fail(Errno::EINVAL, "COPY_FILE_RANGE past the largest offset"));
                }
                Operation::CopyFileRange {
                    fh_in: FileHandle(arg.fh_in),
                    off_in: arg.off_in,
                    nodeid_out: arg.nodeid_out,
                    fh_out: FileHandle(arg.fh_out),
                    off_out: arg.off_out,
                    len: arg.len,
                    wide: header.opcode == opcode::COPY_FILE_RANGE_64,
                }
            }
            opcode::GETLK | opcode::SETLK | opcode::SETLKW => {
                let arg = body.record(abi::LkIn::SIZE, abi::LkIn::decode)?;
                let kind = lock_kind_from_wire(arg.typ)
                    .ok_or_else(|| body.fail(Errno::EINVAL, "lock type other than F_RDLCK, F_WRLCK, F_UNLCK"))?;
                if arg.start > arg.end {
                    return Err(body.fail(Errno::EINVAL, "lock range that ends before it starts"));
                }
                let (fh, owner) = (FileHandle(arg.fh), LockOwner(arg.owner));
                let lock = FileLock { kind, start: arg.start, end: arg.end, pid: arg.pid };
                let flock = arg.lk_flags & abi::LK_FLOCK != 0;
                match header.opcode {
                    opcode::GETLK => Operation::Getlk { fh, owner, lock, flock },
                    _ => Operation::Setlk { fh, owner, lock, flock, wait: header.opcode == opcode::SETLKW },
                }
            }
            opcode::IOCTL => {
                let arg = body.record(abi::IoctlIn::SIZE, abi::IoctlIn::decode)?;
                if arg.flags & abi::IOCTL_UNRESTRICTED != 0 {
                    return Err(body.fail(Errno::ENOSYS, "unrestricted IOCTL, which only CUSE devices get"));
                }
                let flags = IoctlFlags::from_bits(arg.flags)
                    .ok_or_else(|| body.fail(Errno::EINVAL, "IOCTL flags the kernel does not pass"))?;
                let input = body
                    .rest
                    .get(..arg.in_size as usize)
                    .ok_or_else(|| body.fail(Errno::EINVAL, "IOCTL input exceeds frame"))?;
                Operation::Ioctl {
                    fh: FileHandle(arg.fh),
                    flags,
                    command: arg.cmd,
                    arg: arg.arg,
                    input,
                    out_size: arg.out_size,
                }
            }
            opcode::BMAP | opcode::SETUPMAPPING | opcode::REMOVEMAPPING | opcode::CUSE_INIT => Operation::Unsupported,
            _ => Operation::Unknown,
        };
        Ok(Request { header, op })
    }
}

/// The `open(2)` flags of a wire value. Every bit is kept: the kernel passes flags this crate
/// has no name for (`O_LARGEFILE`, `__O_SYNC`), and the file system may look at them.
fn open_flags(flags: u32) -> OFlag {
    OFlag::from_bits_retain(flags as i32)
}

/// The changes a `SETATTR` body asks for. Attribute bits this crate does not know (the lock
/// owner) are ignored, as the kernel sends them only for information.
fn setattr_changes(arg: &abi::SetattrIn) -> SetVattr {
    use abi::fattr;
    let valid = arg.valid;
    let time = |set: u32, now: u32, secs: u64, nsecs: u32| {
        if valid & now != 0 {
            Some(TimeSet::Now)
        } else if valid & set != 0 {
            Some(TimeSet::At(time_from_wire(secs as i64, nsecs)))
        } else {
            None
        }
    };
    SetVattr {
        mode: (valid & fattr::MODE != 0).then_some(arg.mode & MODE_PERMISSION_BITS),
        uid: (valid & fattr::UID != 0).then_some(arg.uid),
        gid: (valid & fattr::GID != 0).then_some(arg.gid),
        size: (valid & fattr::SIZE != 0).then_some(arg.size),
        atime: time(fattr::ATIME, fattr::ATIME_NOW, arg.atime, arg.atimensec),
        mtime: time(fattr::MTIME, fattr::MTIME_NOW, arg.mtime, arg.mtimensec),
        ctime: (valid & fattr::CTIME != 0).then(|| time_from_wire(arg.ctime as i64, arg.ctimensec)),
        handle: (valid & fattr::FH != 0).then_some(FileHandle(arg.fh)),
    }
}
