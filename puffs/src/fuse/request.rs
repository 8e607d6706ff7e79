//! Requests from the kernel: decoding a frame into a typed [`Request`] (the file-system side)
//! and encoding a [`Request`] into a frame (the [loopback kernel](crate::loopback)'s side). One
//! module owns both directions, so that they cannot drift apart.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use nix::fcntl::OFlag;
use nix::unistd::AccessFlags;

use super::abi::{self, opcode, InHeader};
use super::reply::{decode_dev, encode_dev, ReplyKind};
use crate::fs::cookie::FileHandle;
use crate::fs::flags::{RenameFlags, SuspendPhase, UnmountFlags, XattrFlags};
use crate::vattr::{libc_mode, time_from_wire, time_to_wire, SetVattr, TimeSet, Vtype, MODE_PERMISSION_BITS};
use crate::Errno;

/// Longest name accepted in a request, in bytes (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// A decoded request: its header and its operation with borrowed names and data.
#[derive(Debug, PartialEq)]
pub struct Request<'a> {
    /// The request header: opcode, unique id, node id and the caller.
    pub header: InHeader,
    /// The operation and its arguments.
    pub op: Operation<'a>,
}

/// The operation of a request, with its arguments. Names are validated: non-empty, at most
/// [`NAME_MAX`] bytes, without `/` or NUL, and `.` or `..` only where a name is looked up.
#[derive(Debug, PartialEq)]
#[allow(missing_docs)]
pub enum Operation<'a> {
    Init(abi::InitIn),
    Destroy,
    Lookup {
        name: &'a OsStr,
    },
    Forget {
        nlookup: u64,
    },
    BatchForget {
        nodes: Vec<abi::ForgetOne>,
    },
    Getattr {
        fh: Option<u64>,
    },
    Setattr(SetVattr),
    Readlink,
    Symlink {
        name: &'a OsStr,
        target: &'a OsStr,
    },
    /// `mode` holds the permission bits, `umask` the caller's umask (not yet applied when
    /// `DONT_MASK` was negotiated).
    Mknod {
        name: &'a OsStr,
        vtype: Vtype,
        mode: u32,
        rdev: u64,
        umask: u32,
    },
    Mkdir {
        name: &'a OsStr,
        mode: u32,
        umask: u32,
    },
    Unlink {
        name: &'a OsStr,
    },
    Rmdir {
        name: &'a OsStr,
    },
    Rename {
        newdir: u64,
        flags: RenameFlags,
        name: &'a OsStr,
        newname: &'a OsStr,
    },
    Link {
        oldnodeid: u64,
        name: &'a OsStr,
    },
    Open {
        flags: OFlag,
        dir: bool,
    },
    Read {
        fh: FileHandle,
        offset: u64,
        size: u32,
    },
    Write {
        fh: FileHandle,
        offset: u64,
        data: &'a [u8],
    },
    Statfs,
    Release {
        fh: FileHandle,
        flags: OFlag,
        dir: bool,
    },
    Fsync {
        fh: FileHandle,
        datasync: bool,
        dir: bool,
    },
    Setxattr {
        name: &'a OsStr,
        value: &'a [u8],
        flags: XattrFlags,
    },
    Getxattr {
        name: &'a OsStr,
        size: u32,
    },
    Listxattr {
        size: u32,
    },
    Removexattr {
        name: &'a OsStr,
    },
    Flush {
        fh: FileHandle,
    },
    Readdir {
        fh: FileHandle,
        offset: u64,
        size: u32,
    },
    Access {
        mode: AccessFlags,
    },
    /// `mode` holds the permission bits, `umask` as for [`Operation::Mknod`].
    Create {
        name: &'a OsStr,
        mode: u32,
        umask: u32,
        flags: OFlag,
    },
    Interrupt {
        unique: u64,
    },
    Syncfs,
    /// puffs-specific ([`opcode::PUFFS_UNMOUNT`]): may the file system be unmounted?
    PuffsUnmount {
        flags: UnmountFlags,
    },
    /// puffs-specific ([`opcode::PUFFS_SUSPEND`]): a phase of suspension.
    PuffsSuspend {
        phase: SuspendPhase,
    },
    /// A reply to a notification; carries nothing the framework asked for.
    NotifyReply,
    /// A known opcode the framework does not implement (locks, ioctl, poll, bmap, fallocate,
    /// lseek, copy_file_range, readdirplus, tmpfile, statx, DAX mappings): answered `ENOSYS`,
    /// which tells the kernel to fall back or to stop asking.
    Unsupported,
    /// An opcode this protocol version does not define: answered `ENOSYS`.
    Unknown,
}

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

/// Checks a directory-entry name: the errno and reason if it is not acceptable.
pub fn check_name(name: &[u8]) -> Result<(), (Errno, &'static str)> {
    if name.is_empty() {
        Err((Errno::EINVAL, "empty name"))
    } else if name.len() > NAME_MAX {
        Err((Errno::ENAMETOOLONG, "name longer than NAME_MAX"))
    } else if name.contains(&b'/') {
        Err((Errno::EINVAL, "name contains '/'"))
    } else if name.contains(&0) {
        Err((Errno::EINVAL, "name contains NUL"))
    } else {
        Ok(())
    }
}

impl<'a> Request<'a> {
    /// Decodes one frame. The frame must be exactly as long as its header says.
    pub fn decode(frame: &'a [u8]) -> Result<Request<'a>, DecodeError> {
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
            opcode::SETATTR => {
                Operation::Setattr(setattr_changes(&body.record(abi::SetattrIn::SIZE, abi::SetattrIn::decode)?))
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
            opcode::OPEN | opcode::OPENDIR => Operation::Open {
                flags: open_flags(body.record(abi::OpenIn::SIZE, abi::OpenIn::decode)?.flags),
                dir: header.opcode == opcode::OPENDIR,
            },
            opcode::READ => {
                let arg = body.record(abi::ReadIn::SIZE, abi::ReadIn::decode)?;
                Operation::Read { fh: FileHandle(arg.fh), offset: arg.offset, size: arg.size }
            }
            opcode::READDIR => {
                let arg = body.record(abi::ReadIn::SIZE, abi::ReadIn::decode)?;
                Operation::Readdir { fh: FileHandle(arg.fh), offset: arg.offset, size: arg.size }
            }
            opcode::WRITE => {
                let arg = body.record(abi::WriteIn::SIZE, abi::WriteIn::decode)?;
                let data = body
                    .rest
                    .get(..arg.size as usize)
                    .ok_or_else(|| body.fail(Errno::EINVAL, "WRITE size exceeds frame"))?;
                Operation::Write { fh: FileHandle(arg.fh), offset: arg.offset, data }
            }
            opcode::STATFS => Operation::Statfs,
            opcode::RELEASE | opcode::RELEASEDIR => {
                let arg = body.record(abi::ReleaseIn::SIZE, abi::ReleaseIn::decode)?;
                Operation::Release {
                    fh: FileHandle(arg.fh),
                    flags: open_flags(arg.flags),
                    dir: header.opcode == opcode::RELEASEDIR,
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
                Operation::Setxattr { name, value, flags }
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
                Operation::Flush { fh: FileHandle(body.record(abi::FlushIn::SIZE, abi::FlushIn::decode)?.fh) }
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
            opcode::NOTIFY_REPLY => Operation::NotifyReply,
            opcode::GETLK
            | opcode::SETLK
            | opcode::SETLKW
            | opcode::BMAP
            | opcode::IOCTL
            | opcode::POLL
            | opcode::FALLOCATE
            | opcode::READDIRPLUS
            | opcode::LSEEK
            | opcode::COPY_FILE_RANGE
            | opcode::SETUPMAPPING
            | opcode::REMOVEMAPPING
            | opcode::TMPFILE
            | opcode::STATX
            | opcode::CUSE_INIT => Operation::Unsupported,
            _ => Operation::Unknown,
        };
        Ok(Request { header, op })
    }

    /// Whether the kernel waits for a reply to this request.
    pub fn wants_reply(&self) -> bool {
        !matches!(
            self.op,
            Operation::Forget { .. }
                | Operation::BatchForget { .. }
                | Operation::Interrupt { .. }
                | Operation::NotifyReply
        )
    }
}

/// The wire value of a suspension phase ([`abi::suspend_phase`]).
pub fn suspend_phase_to_wire(phase: SuspendPhase) -> u32 {
    match phase {
        SuspendPhase::Start => abi::suspend_phase::START,
        SuspendPhase::Suspended => abi::suspend_phase::SUSPENDED,
        SuspendPhase::Resume => abi::suspend_phase::RESUME,
        SuspendPhase::Error => abi::suspend_phase::ERROR,
    }
}

/// The suspension phase of a wire value; `None` if it names none.
pub fn suspend_phase_from_wire(phase: u32) -> Option<SuspendPhase> {
    Some(match phase {
        abi::suspend_phase::START => SuspendPhase::Start,
        abi::suspend_phase::SUSPENDED => SuspendPhase::Suspended,
        abi::suspend_phase::RESUME => SuspendPhase::Resume,
        abi::suspend_phase::ERROR => SuspendPhase::Error,
        _ => return None,
    })
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
        kill_suid_sgid: valid & fattr::KILL_SUIDGID != 0,
    }
}

/// The `SETATTR` body asking for `changes`: the inverse of what the file-system side reads.
pub fn setattr_in(changes: &SetVattr) -> abi::SetattrIn {
    use abi::fattr;
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
    match changes.atime {
        Some(TimeSet::Now) => arg.valid |= fattr::ATIME | fattr::ATIME_NOW,
        Some(TimeSet::At(t)) => {
            arg.valid |= fattr::ATIME;
            let (secs, nsecs) = time_to_wire(t);
            (arg.atime, arg.atimensec) = (secs as u64, nsecs);
        }
        None => {}
    }
    match changes.mtime {
        Some(TimeSet::Now) => arg.valid |= fattr::MTIME | fattr::MTIME_NOW,
        Some(TimeSet::At(t)) => {
            arg.valid |= fattr::MTIME;
            let (secs, nsecs) = time_to_wire(t);
            (arg.mtime, arg.mtimensec) = (secs as u64, nsecs);
        }
        None => {}
    }
    if let Some(t) = changes.ctime {
        arg.valid |= fattr::CTIME;
        let (secs, nsecs) = time_to_wire(t);
        (arg.ctime, arg.ctimensec) = (secs as u64, nsecs);
    }
    if let Some(handle) = changes.handle {
        arg.valid |= fattr::FH;
        arg.fh = handle.0;
    }
    if changes.kill_suid_sgid {
        arg.valid |= fattr::KILL_SUIDGID;
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
                | Operation::Mknod { .. }
                | Operation::Mkdir { .. }
                | Operation::Symlink { .. }
                | Operation::Link { .. }
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
            Operation::Setattr(_) => opcode::SETATTR,
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
            Operation::Readdir { .. } => opcode::READDIR,
            Operation::Access { .. } => opcode::ACCESS,
            Operation::Create { .. } => opcode::CREATE,
            Operation::Interrupt { .. } => opcode::INTERRUPT,
            Operation::Syncfs => opcode::SYNCFS,
            Operation::PuffsUnmount { .. } => opcode::PUFFS_UNMOUNT,
            Operation::PuffsSuspend { .. } => opcode::PUFFS_SUSPEND,
            Operation::NotifyReply => opcode::NOTIFY_REPLY,
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
            | Operation::NotifyReply => return None,
            Operation::Init(_) => ReplyKind::Init,
            Operation::Lookup { .. }
            | Operation::Symlink { .. }
            | Operation::Mknod { .. }
            | Operation::Mkdir { .. }
            | Operation::Link { .. } => ReplyKind::Entry,
            Operation::Getattr { .. } | Operation::Setattr(_) => ReplyKind::Attr,
            Operation::Open { .. } => ReplyKind::Open,
            Operation::Create { .. } => ReplyKind::Create,
            Operation::Write { .. } => ReplyKind::Write,
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
            | Operation::Access { .. }
            | Operation::Syncfs
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
            | Operation::NotifyReply
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
            Operation::Getattr { fh } => abi::GetattrIn {
                getattr_flags: if fh.is_some() { abi::GETATTR_FH } else { 0 },
                dummy: 0,
                fh: fh.unwrap_or(0),
            }
            .encode(out),
            Operation::Setattr(changes) => setattr_in(changes).encode(out),
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
            Operation::Open { flags, .. } => abi::OpenIn { flags: flags.bits() as u32, open_flags: 0 }.encode(out),
            Operation::Read { fh, offset, size } | Operation::Readdir { fh, offset, size } => {
                abi::ReadIn { fh: fh.0, offset: *offset, size: *size, ..Default::default() }.encode(out)
            }
            Operation::Write { fh, offset, data } => {
                abi::WriteIn { fh: fh.0, offset: *offset, size: data.len() as u32, ..Default::default() }.encode(out);
                out.extend_from_slice(data);
            }
            Operation::Release { fh, flags, .. } => {
                abi::ReleaseIn { fh: fh.0, flags: flags.bits() as u32, ..Default::default() }.encode(out)
            }
            Operation::Fsync { fh, datasync, .. } => {
                let fsync_flags = if *datasync { abi::FSYNC_FDATASYNC } else { 0 };
                abi::FsyncIn { fh: fh.0, fsync_flags, padding: 0 }.encode(out)
            }
            Operation::Setxattr { name, value, flags } => {
                abi::SetxattrIn { size: value.len() as u32, flags: flags.bits() }.encode(out);
                push_string(out, name);
                out.extend_from_slice(value);
            }
            Operation::Getxattr { name, size } => {
                abi::GetxattrIn { size: *size, padding: 0 }.encode(out);
                push_string(out, name);
            }
            Operation::Listxattr { size } => abi::GetxattrIn { size: *size, padding: 0 }.encode(out),
            Operation::Flush { fh } => abi::FlushIn { fh: fh.0, ..Default::default() }.encode(out),
            Operation::Access { mode } => abi::AccessIn { mask: mode.bits() as u32, padding: 0 }.encode(out),
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
            Operation::Setattr(SetVattr {
                mode: Some(0o600),
                size: Some(10),
                atime: Some(TimeSet::Now),
                handle: Some(FileHandle(4)),
                ..SetVattr::default()
            }),
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
            Operation::Open { flags: OFlag::O_RDWR, dir: false },
            Operation::Open { flags: OFlag::O_RDONLY | OFlag::O_DIRECTORY, dir: true },
            Operation::Read { fh: FileHandle(3), offset: 4096, size: 512 },
            Operation::Write { fh: FileHandle(3), offset: 8, data: b"hello" },
            Operation::Statfs,
            Operation::Release { fh: FileHandle(3), flags: OFlag::O_RDWR, dir: false },
            Operation::Release { fh: FileHandle(4), flags: OFlag::empty(), dir: true },
            Operation::Fsync { fh: FileHandle(3), datasync: true, dir: false },
            Operation::Fsync { fh: FileHandle(0), datasync: false, dir: true },
            Operation::Setxattr { name: OsStr::new("user.a"), value: b"v\0lue", flags: XattrFlags::CREATE },
            Operation::Getxattr { name: OsStr::new("user.a"), size: 0 },
            Operation::Getxattr { name: OsStr::new("user.a"), size: 64 },
            Operation::Listxattr { size: 128 },
            Operation::Removexattr { name: OsStr::new("user.a") },
            Operation::Flush { fh: FileHandle(3) },
            Operation::Readdir { fh: FileHandle(3), offset: 4096, size: 512 },
            Operation::Access { mode: AccessFlags::R_OK },
            Operation::Access { mode: AccessFlags::F_OK },
            Operation::Create { name, mode: 0o644, umask: 0o22, flags: OFlag::O_WRONLY | OFlag::O_CREAT },
            Operation::Interrupt { unique: 40 },
            Operation::Syncfs,
            Operation::PuffsUnmount { flags: UnmountFlags::FORCE },
            Operation::PuffsUnmount { flags: UnmountFlags::empty() },
            Operation::PuffsSuspend { phase: SuspendPhase::Start },
            Operation::PuffsSuspend { phase: SuspendPhase::Suspended },
            Operation::PuffsSuspend { phase: SuspendPhase::Error },
            Operation::PuffsSuspend { phase: SuspendPhase::Resume },
            Operation::NotifyReply,
        ];
        for op in ops {
            round_trip(op);
        }
    }

    #[test]
    fn operations_without_an_opcode_keep_the_headers() {
        let header = InHeader { opcode: opcode::LSEEK, unique: 2, ..Default::default() };
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
        let setxattr = Operation::Setxattr { name, value: b"", flags: XattrFlags::empty() };
        assert_eq!(refused(setxattr, 4, 4), Errno::EINVAL);
        assert_eq!(refused(Operation::Access { mode: AccessFlags::R_OK }, 0, 8), Errno::EINVAL);
        let mknod = Operation::Mknod { name, vtype: Vtype::Reg, mode: 0o644, rdev: 0, umask: 0 };
        assert_eq!(refused(mknod, 0, 0o644), Errno::EINVAL, "no node type");
    }

    #[test]
    fn an_unknown_suspension_phase_is_refused() {
        let mut frame = Operation::PuffsSuspend { phase: SuspendPhase::Start }.encode(InHeader::default());
        frame[InHeader::SIZE] = 9;
        assert_eq!(Request::decode(&frame).unwrap_err().errno, Errno::EINVAL);
    }
}
