//! Requests from the kernel, typed: [`Request`] and its [`Operation`], the limits and name rule
//! every request obeys, and the wire values both directions share. [`super::decode`] reads a
//! frame into a request (the file-system side); [`super::encode`] writes one (the
//! [loopback kernel](crate::loopback)'s side); their round-trip tests keep them in step.

use std::ffi::OsStr;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::AccessFlags;

use crate::fs::cookie::FileHandle;
use crate::fs::flags::{FallocateFlags, RenameFlags, SeekWhence, SuspendPhase, UnmountFlags, XattrFlags};
use crate::fs::ioctl::IoctlFlags;
use crate::fs::lock::{FileLock, LockKind, LockOwner};
use crate::fs::poll::PollEvents;
use crate::vattr::{SetVattr, Vtype};

use super::abi::{self, InHeader, InitFlags};

/// The largest offset a file may have (the kernel's `MAX_LFS_FILESIZE`).
pub const MAX_OFFSET: u64 = i64::MAX as u64;

/// Whether `len` bytes from `offset` end past [`MAX_OFFSET`].
pub fn ends_past_max(offset: u64, len: u64) -> bool {
    offset.checked_add(len).is_none_or(|end| end > MAX_OFFSET)
}

/// Longest name accepted in a request, in bytes (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// How frames are laid out where the `INIT` handshake decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layout {
    /// `SETXATTR` carries the whole `struct fuse_setxattr_in` (`SETXATTR_EXT`), 16 bytes
    /// instead of the first 8.
    pub setxattr_ext: bool,
}

impl Layout {
    /// The layout the capabilities `granted` at `INIT` call for.
    pub fn of(granted: InitFlags) -> Layout {
        Layout { setxattr_ext: granted.contains(InitFlags::SETXATTR_EXT) }
    }
}

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
    /// `STATX` (7.39): the attributes `statx(2)` asks for (`mask`, `STATX_*`) with its
    /// `AT_STATX_*` `flags`; sent when the caller wants more than `stat(2)` has.
    Statx {
        fh: Option<u64>,
        flags: u32,
        mask: u32,
    },
    /// `kill_suidgid`: the set-id bits are to be dropped too (`FATTR_KILL_SUIDGID`, a
    /// truncate or a change of owner).
    Setattr {
        changes: SetVattr,
        kill_suidgid: bool,
    },
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
    /// `kill_suidgid`: an atomic truncating open that drops the set-id bits.
    Open {
        flags: OFlag,
        dir: bool,
        kill_suidgid: bool,
    },
    Read {
        fh: FileHandle,
        offset: u64,
        size: u32,
    },
    /// `kill_suidgid`: the writer may not keep the set-id bits.
    Write {
        fh: FileHandle,
        offset: u64,
        data: &'a [u8],
        kill_suidgid: bool,
    },
    Statfs,
    /// `flock_owner`: the `flock(2)` lock of this owner is to be dropped
    /// (`RELEASE_FLOCK_UNLOCK`).
    Release {
        fh: FileHandle,
        flags: OFlag,
        dir: bool,
        flock_owner: Option<LockOwner>,
    },
    Fsync {
        fh: FileHandle,
        datasync: bool,
        dir: bool,
    },
    /// `extended`: in the layout of `SETXATTR_EXT`, which carries `acl_kill_sgid`: setting
    /// this access ACL drops set-group-id.
    Setxattr {
        name: &'a OsStr,
        value: &'a [u8],
        flags: XattrFlags,
        extended: bool,
        acl_kill_sgid: bool,
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
        owner: LockOwner,
    },
    /// `GETLK`: which lock is in the way of `lock`?
    Getlk {
        fh: FileHandle,
        owner: LockOwner,
        lock: FileLock,
        flock: bool,
    },
    /// `SETLK`, or with `wait` `SETLKW`.
    Setlk {
        fh: FileHandle,
        owner: LockOwner,
        lock: FileLock,
        flock: bool,
        wait: bool,
    },
    /// `READDIR`, or with `plus` `READDIRPLUS` (each entry with its node and attributes).
    Readdir {
        fh: FileHandle,
        offset: u64,
        size: u32,
        plus: bool,
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
    /// `POLL`: which of `events` are ready; with `schedule`, the caller will wait and wants a
    /// `NOTIFY_POLL` with `kh` when readiness changes.
    Poll {
        fh: FileHandle,
        kh: u64,
        schedule: bool,
        events: PollEvents,
    },
    /// `IOCTL`, restricted: `command` with its `input` bytes, reading back up to `out_size`.
    Ioctl {
        fh: FileHandle,
        flags: IoctlFlags,
        command: u32,
        arg: u64,
        input: &'a [u8],
        out_size: u32,
    },
    /// `TMPFILE`: `open(2)` of a directory with `O_TMPFILE`, a file without a name; the open
    /// flags come without `O_TMPFILE`'s own bits.
    Tmpfile {
        mode: u32,
        umask: u32,
        flags: OFlag,
    },
    Interrupt {
        unique: u64,
    },
    Syncfs,
    /// puffs-specific ([`abi::opcode::PUFFS_UNMOUNT`]): may the file system be unmounted?
    PuffsUnmount {
        flags: UnmountFlags,
    },
    /// puffs-specific ([`abi::opcode::PUFFS_SUSPEND`]): a phase of suspension.
    PuffsSuspend {
        phase: SuspendPhase,
    },
    Fallocate {
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: FallocateFlags,
    },
    Lseek {
        fh: FileHandle,
        offset: u64,
        whence: SeekWhence,
    },
    /// `COPY_FILE_RANGE`, or with `wide` `COPY_FILE_RANGE_64` (whose reply counts in 64 bits).
    CopyFileRange {
        fh_in: FileHandle,
        off_in: u64,
        nodeid_out: u64,
        fh_out: FileHandle,
        off_out: u64,
        len: u64,
        wide: bool,
    },
    /// The kernel's answer to a `RETRIEVE` notification (its unique is the notification's):
    /// the cached bytes found from `offset`.
    NotifyReply {
        offset: u64,
        data: &'a [u8],
    },
    /// A known opcode the framework does not implement (ioctl, bmap, DAX mappings, CUSE's
    /// init): answered `ENOSYS`, which tells the kernel to fall back or to stop asking.
    Unsupported,
    /// An opcode this protocol version does not define: answered `ENOSYS`.
    Unknown,
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

impl Request<'_> {
    /// Whether the kernel waits for a reply to this request.
    pub fn wants_reply(&self) -> bool {
        abi::opcode::wants_reply(self.header.opcode)
    }
}

/// The wire value of a lock kind (`F_RDLCK`, `F_WRLCK`, `F_UNLCK`).
pub fn lock_kind_to_wire(kind: LockKind) -> u32 {
    (match kind {
        LockKind::Read => nix::libc::F_RDLCK,
        LockKind::Write => nix::libc::F_WRLCK,
        LockKind::Unlock => nix::libc::F_UNLCK,
    }) as u32
}

/// The lock kind of a wire value; `None` if it names none.
pub fn lock_kind_from_wire(typ: u32) -> Option<LockKind> {
    Some(match i32::try_from(typ).ok()? {
        nix::libc::F_RDLCK => LockKind::Read,
        nix::libc::F_WRLCK => LockKind::Write,
        nix::libc::F_UNLCK => LockKind::Unlock,
        _ => return None,
    })
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
