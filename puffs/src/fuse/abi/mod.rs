//! The FUSE kernel ABI (`include/uapi/linux/fuse.h`): opcodes, flags and the fixed-size records
//! that travel on `/dev/fuse`, each with one little-endian encoder and decoder used by both the
//! file-system side and the loopback kernel.

/// Protocol major version spoken.
pub const KERNEL_VERSION: u32 = 7;
/// Highest protocol minor version spoken.
pub const KERNEL_MINOR_VERSION: u32 = 45;
/// Lowest protocol minor version accepted from a kernel.
pub const MIN_KERNEL_MINOR_VERSION: u32 = 31;
/// Node id of the root directory.
pub const ROOT_ID: u64 = 1;
/// Smallest read buffer the kernel accepts.
pub const MIN_READ_BUFFER: usize = 8192;

/// Defines a fixed-size wire record: a struct of integer fields with its encoded size, an encoder
/// and a decoder (which reads a prefix and rejects short input).
macro_rules! wire_struct {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        ///
        /// Fields carry the names and meaning they have in `fuse.h`.
        #[allow(missing_docs)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name { $($(#[$fmeta])* pub $field: $ty),* }

        impl $name {
            /// Encoded size in bytes.
            pub const SIZE: usize = 0 $(+ core::mem::size_of::<$ty>())*;

            /// Appends the record to `out`.
            pub fn encode(&self, out: &mut Vec<u8>) {
                $(out.extend_from_slice(&self.$field.to_le_bytes());)*
            }

            /// The record's bytes, on the stack.
            pub fn to_bytes(&self) -> [u8; $name::SIZE] {
                let mut bytes = [0; $name::SIZE];
                let mut at = 0usize;
                $(
                    let field = self.$field.to_le_bytes();
                    bytes[at..at + field.len()].copy_from_slice(&field);
                    at += field.len();
                )*
                let _ = at;
                bytes
            }

            /// Reads the record from the start of `bytes`; `None` if `bytes` is too short.
            pub fn decode(bytes: &[u8]) -> Option<$name> {
                let mut at = 0usize;
                $(
                    let width = core::mem::size_of::<$ty>();
                    let $field = <$ty>::from_le_bytes(bytes.get(at..at + width)?.try_into().ok()?);
                    at += width;
                )*
                let _ = at;
                Some($name { $($field),* })
            }
        }
    };
}

pub mod uring;

#[allow(missing_docs)]
pub mod opcode;

/// Notification codes (`enum fuse_notify_code`), sent as the `error` of an unsolicited message.
#[allow(missing_docs)]
pub mod notify {
    pub const POLL: i32 = 1;
    pub const INVAL_INODE: i32 = 2;
    pub const INVAL_ENTRY: i32 = 3;
    pub const STORE: i32 = 4;
    pub const RETRIEVE: i32 = 5;
    pub const DELETE: i32 = 6;
    pub const RESEND: i32 = 7;
    pub const INC_EPOCH: i32 = 8;
    pub const PRUNE: i32 = 9;

    /// `INVAL_ENTRY` flag (7.38, with `HAS_EXPIRE_ONLY`): mark the entry stale, keep it for
    /// what already uses it.
    pub const EXPIRE_ONLY: u32 = 1 << 0;
    /// The first minor version that knows `INC_EPOCH`.
    pub const INC_EPOCH_SINCE: u32 = 44;
    /// The first minor version that knows `PRUNE`.
    pub const PRUNE_SINCE: u32 = 45;
}

/// `INIT` capability flags (`FUSE_*`): the low 32 bits travel in `flags`, the high in `flags2`
/// (read by the kernel only with [`InitFlags::INIT_EXT`], from 7.36).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct InitFlags(u64);

bitflags::bitflags! {
    impl InitFlags: u64 {
        /// Reads of one file may be asked concurrently.
        const ASYNC_READ = 1 << 0;
        /// Byte-range locks (`fcntl`) reach the file system: `GETLK`, `SETLK`, `SETLKW`.
        const POSIX_LOCKS = 1 << 1;
        /// Unused by the kernel.
        const FILE_OPS = 1 << 2;
        /// `O_TRUNC` reaches open instead of a separate truncating `SETATTR`.
        const ATOMIC_O_TRUNC = 1 << 3;
        /// Lookups of `.` and `..`: the mount can be exported (NFS, `open_by_handle_at`).
        const EXPORT_SUPPORT = 1 << 4;
        /// Writes larger than a page.
        const BIG_WRITES = 1 << 5;
        /// The umask reaches the file system unapplied.
        const DONT_MASK = 1 << 6;
        /// Replies may be spliced into the device.
        const SPLICE_WRITE = 1 << 7;
        /// Spliced pages may be moved.
        const SPLICE_MOVE = 1 << 8;
        /// Requests may be spliced out of the device.
        const SPLICE_READ = 1 << 9;
        /// `flock(2)` locks reach the file system, as `SETLK`/`SETLKW` with `LK_FLOCK`.
        const FLOCK_LOCKS = 1 << 10;
        /// `ioctl` on directories.
        const HAS_IOCTL_DIR = 1 << 11;
        /// Cached data is dropped when the attributes show a changed mtime or size.
        const AUTO_INVAL_DATA = 1 << 12;
        /// `READDIRPLUS`: directory entries with their attributes.
        const DO_READDIRPLUS = 1 << 13;
        /// The kernel chooses between `READDIR` and `READDIRPLUS` as the caller reads.
        const READDIRPLUS_AUTO = 1 << 14;
        /// Direct I/O may be asked concurrently.
        const ASYNC_DIO = 1 << 15;
        /// Writes are cached by the kernel and written back later.
        const WRITEBACK_CACHE = 1 << 16;
        /// `ENOSYS` to `OPEN` means opens always succeed.
        const NO_OPEN_SUPPORT = 1 << 17;
        /// Lookups and readdirs of one directory may be asked concurrently.
        const PARALLEL_DIROPS = 1 << 18;
        /// The file system clears set-id bits on write, truncate and chown.
        const HANDLE_KILLPRIV = 1 << 19;
        /// The kernel enforces POSIX ACLs kept as extended attributes.
        const POSIX_ACL = 1 << 20;
        /// An aborted connection fails calls with `ECONNABORTED`.
        const ABORT_ERROR = 1 << 21;
        /// `max_pages` of the reply is read.
        const MAX_PAGES = 1 << 22;
        /// Symbolic link targets are cached.
        const CACHE_SYMLINKS = 1 << 23;
        /// `ENOSYS` to `OPENDIR` means opens of directories always succeed.
        const NO_OPENDIR_SUPPORT = 1 << 24;
        /// Cached data is dropped only when the file system says so.
        const EXPLICIT_INVAL_DATA = 1 << 25;
        /// DAX: `map_alignment` of the reply is read.
        const MAP_ALIGNMENT = 1 << 26;
        /// Virtiofs submounts.
        const SUBMOUNTS = 1 << 27;
        /// The kernel says when set-id bits are to be cleared (`KILL_SUIDGID` flags).
        const HANDLE_KILLPRIV_V2 = 1 << 28;
        /// `SETXATTR` carries `setxattr_flags`.
        const SETXATTR_EXT = 1 << 29;
        /// The second flag word (`flags2`) is valid.
        const INIT_EXT = 1 << 30;
        /// Reserved.
        const INIT_RESERVED = 1 << 31;
        /// Creating requests carry the caller's security context.
        const SECURITY_CTX = 1 << 32;
        /// DAX per inode.
        const HAS_INODE_DAX = 1 << 33;
        /// Creating requests carry the caller's supplementary group.
        const CREATE_SUPP_GROUP = 1 << 34;
        /// `INVAL_ENTRY` may only expire an entry (`EXPIRE_ONLY`).
        const HAS_EXPIRE_ONLY = 1 << 35;
        /// Files opened with `DIRECT_IO` may still be mapped shared.
        const DIRECT_IO_ALLOW_MMAP = 1 << 36;
        /// Reads and writes of an open file may go to a backing file.
        const PASSTHROUGH = 1 << 37;
        /// The mount refuses to be exported.
        const NO_EXPORT_SUPPORT = 1 << 38;
        /// The kernel resends requests on `NOTIFY_RESEND`.
        const HAS_RESEND = 1 << 39;
        /// Idmapped mounts.
        const ALLOW_IDMAP = 1 << 40;
        /// Requests may travel over io_uring.
        const OVER_IO_URING = 1 << 41;
        /// Requests time out (`request_timeout` of the reply).
        const REQUEST_TIMEOUT = 1 << 42;
    }
}

impl InitFlags {
    /// The flags of the two words of `INIT`; `flags2` counts only with [`InitFlags::INIT_EXT`].
    pub fn from_words(flags: u32, flags2: u32) -> InitFlags {
        let ext = if flags & InitFlags::INIT_EXT.bits() as u32 != 0 { u64::from(flags2) << 32 } else { 0 };
        InitFlags::from_bits_retain(u64::from(flags) | ext)
    }

    /// The two words the flags travel in: `(flags, flags2)`.
    pub fn to_words(self) -> (u32, u32) {
        (self.bits() as u32, (self.bits() >> 32) as u32)
    }
}

/// `SETATTR` validity bits (`FATTR_*`).
#[allow(missing_docs)]
pub mod fattr {
    pub const MODE: u32 = 1 << 0;
    pub const UID: u32 = 1 << 1;
    pub const GID: u32 = 1 << 2;
    pub const SIZE: u32 = 1 << 3;
    pub const ATIME: u32 = 1 << 4;
    pub const MTIME: u32 = 1 << 5;
    pub const FH: u32 = 1 << 6;
    pub const ATIME_NOW: u32 = 1 << 7;
    pub const MTIME_NOW: u32 = 1 << 8;
    pub const LOCKOWNER: u32 = 1 << 9;
    pub const CTIME: u32 = 1 << 10;
    pub const KILL_SUIDGID: u32 = 1 << 11;
}

/// `WRITE` flag (`write_flags`): the writer may not keep set-id bits, which the server drops
/// (`FUSE_WRITE_KILL_SUIDGID`, with `HANDLE_KILLPRIV_V2`).
pub const WRITE_KILL_SUIDGID: u32 = 1 << 2;
/// `OPEN` flag (`open_flags`): the open truncates (`ATOMIC_O_TRUNC`) for a caller who may not
/// keep set-id bits, which the server drops (`FUSE_OPEN_KILL_SUIDGID`).
pub const OPEN_KILL_SUIDGID: u32 = 1 << 0;

/// `RELEASE` flag: the kernel also flushes (`FUSE_RELEASE_FLUSH`).
pub const RELEASE_FLUSH: u32 = 1 << 0;
/// `RELEASE` flag: drop the `flock` lock of the lock owner (`FUSE_RELEASE_FLOCK_UNLOCK`).
pub const RELEASE_FLOCK_UNLOCK: u32 = 1 << 1;

/// `SETLK`/`SETLKW`/`GETLK` flag: a `flock(2)` lock, not a byte-range one (`FUSE_LK_FLOCK`).
pub const LK_FLOCK: u32 = 1 << 0;

/// `FSYNC` flag: only data.
pub const FSYNC_FDATASYNC: u32 = 1;

/// `GETATTR` flag: `fh` is valid.
pub const GETATTR_FH: u32 = 1;

/// Largest errno a reply may carry (negated in `OutHeader::error`), as the kernel checks.
pub const MAX_ERRNO: i32 = 4095;

/// Phases of a [`SuspendIn`] (puffs `PUFFS_SUSPEND_*`, with puffs's values).
#[allow(missing_docs)]
pub mod suspend_phase {
    pub const START: u32 = 0;
    pub const SUSPENDED: u32 = 1;
    pub const RESUME: u32 = 2;
    pub const ERROR: u32 = 3;
}

wire_struct! {
    /// Header of every request (`struct fuse_in_header`).
    pub struct InHeader {
        pub len: u32, pub opcode: u32, pub unique: u64, pub nodeid: u64,
        pub uid: u32, pub gid: u32, pub pid: u32, pub total_extlen: u16, pub padding: u16,
    }
}
wire_struct! {
    /// Header of every reply and notification (`struct fuse_out_header`).
    pub struct OutHeader { pub len: u32, pub error: i32, pub unique: u64 }
}
wire_struct! {
    /// Attributes of a node (`struct fuse_attr`).
    pub struct Attr {
        pub ino: u64, pub size: u64, pub blocks: u64, pub atime: u64, pub mtime: u64, pub ctime: u64,
        pub atimensec: u32, pub mtimensec: u32, pub ctimensec: u32, pub mode: u32, pub nlink: u32,
        pub uid: u32, pub gid: u32, pub rdev: u32, pub blksize: u32, pub flags: u32,
    }
}
wire_struct! {
    /// File-system statistics (`struct fuse_kstatfs`).
    pub struct Kstatfs {
        pub blocks: u64, pub bfree: u64, pub bavail: u64, pub files: u64, pub ffree: u64,
        pub bsize: u32, pub namelen: u32, pub frsize: u32, pub padding: u32,
        pub spare0: u32, pub spare1: u32, pub spare2: u32, pub spare3: u32, pub spare4: u32, pub spare5: u32,
    }
}
wire_struct! {
    /// Reply to lookup and creating operations, without the trailing `Attr` (`struct fuse_entry_out`).
    pub struct EntryOut {
        pub nodeid: u64, pub generation: u64, pub entry_valid: u64, pub attr_valid: u64,
        pub entry_valid_nsec: u32, pub attr_valid_nsec: u32,
    }
}
wire_struct! {
    /// Reply to `GETATTR`/`SETATTR`, without the trailing `Attr` (`struct fuse_attr_out`).
    pub struct AttrOut { pub attr_valid: u64, pub attr_valid_nsec: u32, pub dummy: u32 }
}
wire_struct! {
    /// `FORGET` body.
    pub struct ForgetIn { pub nlookup: u64 }
}
wire_struct! {
    /// One node of a `BATCH_FORGET`.
    pub struct ForgetOne { pub nodeid: u64, pub nlookup: u64 }
}
wire_struct! {
    /// `BATCH_FORGET` body, followed by `count` `ForgetOne`s.
    pub struct BatchForgetIn { pub count: u32, pub dummy: u32 }
}
wire_struct! {
    /// `GETATTR` body.
    pub struct GetattrIn { pub getattr_flags: u32, pub dummy: u32, pub fh: u64 }
}
wire_struct! {
    /// `MKNOD` body, followed by the name.
    pub struct MknodIn { pub mode: u32, pub rdev: u32, pub umask: u32, pub padding: u32 }
}
wire_struct! {
    /// `MKDIR` body, followed by the name.
    pub struct MkdirIn { pub mode: u32, pub umask: u32 }
}
wire_struct! {
    /// `RENAME` body, followed by two names.
    pub struct RenameIn { pub newdir: u64 }
}
wire_struct! {
    /// `RENAME2` body, followed by two names.
    pub struct Rename2In { pub newdir: u64, pub flags: u32, pub padding: u32 }
}
wire_struct! {
    /// `LINK` body, followed by the new name.
    pub struct LinkIn { pub oldnodeid: u64 }
}
wire_struct! {
    /// `SETATTR` body.
    pub struct SetattrIn {
        pub valid: u32, pub padding: u32, pub fh: u64, pub size: u64, pub lock_owner: u64,
        pub atime: u64, pub mtime: u64, pub ctime: u64, pub atimensec: u32, pub mtimensec: u32,
        pub ctimensec: u32, pub mode: u32, pub unused4: u32, pub uid: u32, pub gid: u32, pub unused5: u32,
    }
}
wire_struct! {
    /// `OPEN`/`OPENDIR` body.
    pub struct OpenIn { pub flags: u32, pub open_flags: u32 }
}
wire_struct! {
    /// `CREATE` body, followed by the name.
    pub struct CreateIn { pub flags: u32, pub mode: u32, pub umask: u32, pub open_flags: u32 }
}
wire_struct! {
    /// Reply to `OPEN`, `OPENDIR` and (after the entry) `CREATE`.
    pub struct OpenOut { pub fh: u64, pub open_flags: u32, pub backing_id: i32 }
}
/// `FOPEN_PASSTHROUGH`: the open file's reads, writes and maps go to the backing file
/// `backing_id` of the reply, without the server (7.40).
pub const FOPEN_PASSTHROUGH: u32 = 1 << 7;
/// The open flags the kernel accepts beside [`FOPEN_PASSTHROUGH`] (`FOPEN_PASSTHROUGH_MASK`
/// of `fs/fuse/iomode.c`): any other fails the open with `EIO`.
pub const FOPEN_PASSTHROUGH_MASK: u32 = FOPEN_PASSTHROUGH | 1 << 0 | 1 << 5 | 1 << 6;
/// How deep the file systems under a backing file may be stacked, answered in `INIT`'s
/// `max_stack_depth` when `PASSTHROUGH` is granted: 1 takes backing files of any ordinary
/// file system (not of overlayfs or of another passthrough mount), and leaves room for
/// overlayfs to stack on the mount (`FILESYSTEM_MAX_STACK_DEPTH` is 2).
pub const MAX_STACK_DEPTH: u32 = 1;

/// `ioctl` commands of `/dev/fuse` (`FUSE_DEV_IOC_*`: type 229).
pub mod ioc {
    /// The `ioctl` type of `/dev/fuse`.
    pub const MAGIC: u8 = 229;
    /// `FUSE_DEV_IOC_BACKING_OPEN`: registers a [`BackingMap`](super::BackingMap)'s file as a
    /// backing file, answering its id.
    pub const BACKING_OPEN: u8 = 1;
    /// `FUSE_DEV_IOC_BACKING_CLOSE`: forgets a backing id (a `u32`).
    pub const BACKING_CLOSE: u8 = 2;
}

wire_struct! {
    /// The argument of `FUSE_DEV_IOC_BACKING_OPEN` (`struct fuse_backing_map`).
    pub struct BackingMap { pub fd: i32, pub flags: u32, pub padding: u64 }
}
wire_struct! {
    /// `RELEASE`/`RELEASEDIR` body.
    pub struct ReleaseIn { pub fh: u64, pub flags: u32, pub release_flags: u32, pub lock_owner: u64 }
}
wire_struct! {
    /// `FLUSH` body.
    pub struct FlushIn { pub fh: u64, pub unused: u32, pub padding: u32, pub lock_owner: u64 }
}
wire_struct! {
    /// `READ`/`READDIR` body.
    pub struct ReadIn {
        pub fh: u64, pub offset: u64, pub size: u32, pub read_flags: u32, pub lock_owner: u64,
        pub flags: u32, pub padding: u32,
    }
}
wire_struct! {
    /// `WRITE` body, followed by the data.
    pub struct WriteIn {
        pub fh: u64, pub offset: u64, pub size: u32, pub write_flags: u32, pub lock_owner: u64,
        pub flags: u32, pub padding: u32,
    }
}
wire_struct! {
    /// Reply to `WRITE`.
    pub struct WriteOut { pub size: u32, pub padding: u32 }
}
wire_struct! {
    /// `FSYNC`/`FSYNCDIR` body.
    pub struct FsyncIn { pub fh: u64, pub fsync_flags: u32, pub padding: u32 }
}
wire_struct! {
    /// `SETXATTR` body without `FUSE_SETXATTR_EXT`, followed by name and value.
    pub struct SetxattrIn { pub size: u32, pub flags: u32 }
}
wire_struct! {
    /// What follows [`SetxattrIn`] once `SETXATTR_EXT` is granted (the rest of
    /// `struct fuse_setxattr_in`).
    pub struct SetxattrExtIn { pub setxattr_flags: u32, pub padding: u32 }
}
/// `SETXATTR` flag (`setxattr_flags`): setting this access ACL drops set-group-id, the caller
/// being neither in the file's group nor privileged (`FUSE_SETXATTR_ACL_KILL_SGID`).
pub const SETXATTR_ACL_KILL_SGID: u32 = 1 << 0;
wire_struct! {
    /// `GETXATTR`/`LISTXATTR` body.
    pub struct GetxattrIn { pub size: u32, pub padding: u32 }
}
wire_struct! {
    /// Reply to a `GETXATTR`/`LISTXATTR` that asked for the size only.
    pub struct GetxattrOut { pub size: u32, pub padding: u32 }
}
wire_struct! {
    /// `ACCESS` body.
    pub struct AccessIn { pub mask: u32, pub padding: u32 }
}
wire_struct! {
    /// A lock (`struct fuse_file_lock`): the byte range `start..=end`, `F_RDLCK`/`F_WRLCK`/
    /// `F_UNLCK`, and the process holding it.
    pub struct FileLock { pub start: u64, pub end: u64, pub typ: u32, pub pid: u32 }
}
wire_struct! {
    /// `GETLK`/`SETLK`/`SETLKW` body (`struct fuse_lk_in`), with its `FileLock` inline.
    pub struct LkIn {
        pub fh: u64, pub owner: u64, pub start: u64, pub end: u64, pub typ: u32, pub pid: u32,
        pub lk_flags: u32, pub padding: u32,
    }
}
wire_struct! {
    /// `FALLOCATE` body.
    pub struct FallocateIn { pub fh: u64, pub offset: u64, pub length: u64, pub mode: u32, pub padding: u32 }
}
wire_struct! {
    /// `LSEEK` body.
    pub struct LseekIn { pub fh: u64, pub offset: u64, pub whence: u32, pub padding: u32 }
}
wire_struct! {
    /// Reply to `LSEEK`.
    pub struct LseekOut { pub offset: u64 }
}
wire_struct! {
    /// `COPY_FILE_RANGE` and `COPY_FILE_RANGE_64` body.
    pub struct CopyFileRangeIn {
        pub fh_in: u64, pub off_in: u64, pub nodeid_out: u64, pub fh_out: u64, pub off_out: u64,
        pub len: u64, pub flags: u64,
    }
}
wire_struct! {
    /// Reply to `COPY_FILE_RANGE_64` (`COPY_FILE_RANGE` answers a `WriteOut`).
    pub struct CopyFileRangeOut { pub bytes_copied: u64 }
}
wire_struct! {
    /// `INIT` body (`struct fuse_init_in`, 7.36 layout; older kernels send the first 16 bytes).
    pub struct InitIn { pub major: u32, pub minor: u32, pub max_readahead: u32, pub flags: u32, pub flags2: u32 }
}
wire_struct! {
    /// Reply to `INIT` (`struct fuse_init_out`), 64 bytes.
    pub struct InitOut {
        pub major: u32, pub minor: u32, pub max_readahead: u32, pub flags: u32,
        pub max_background: u16, pub congestion_threshold: u16, pub max_write: u32, pub time_gran: u32,
        pub max_pages: u16, pub map_alignment: u16, pub flags2: u32, pub max_stack_depth: u32,
        pub request_timeout: u16, pub unused0: u16, pub unused1: u32, pub unused2: u64, pub unused3: u64,
    }
}
wire_struct! {
    /// `INTERRUPT` body.
    pub struct InterruptIn { pub unique: u64 }
}
wire_struct! {
    /// Body of an `INVAL_INODE` notification.
    pub struct NotifyInvalInodeOut { pub ino: u64, pub off: i64, pub len: i64 }
}
wire_struct! {
    /// Body of an `INVAL_ENTRY` notification, followed by the name and a NUL.
    pub struct NotifyInvalEntryOut { pub parent: u64, pub namelen: u32, pub flags: u32 }
}
wire_struct! {
    /// `POLL` body (`struct fuse_poll_in`).
    pub struct PollIn { pub fh: u64, pub kh: u64, pub flags: u32, pub events: u32 }
}
/// `POLL` flag: the caller will wait, so the kernel wants a `NOTIFY_POLL` when readiness changes.
pub const POLL_SCHEDULE_NOTIFY: u32 = 1 << 0;
wire_struct! {
    /// Reply to `POLL` (`struct fuse_poll_out`).
    pub struct PollOut { pub revents: u32, pub padding: u32 }
}
wire_struct! {
    /// `IOCTL` body (`struct fuse_ioctl_in`), followed by `in_size` bytes of data.
    pub struct IoctlIn { pub fh: u64, pub flags: u32, pub cmd: u32, pub arg: u64, pub in_size: u32, pub out_size: u32 }
}
/// `IOCTL` flag: the unrestricted form, which only CUSE devices get.
pub const IOCTL_UNRESTRICTED: u32 = 1 << 1;
wire_struct! {
    /// Reply to `IOCTL` (`struct fuse_ioctl_out`), followed by the data read back.
    pub struct IoctlOut { pub result: i32, pub flags: u32, pub in_iovs: u32, pub out_iovs: u32 }
}
wire_struct! {
    /// `STATX` body (`struct fuse_statx_in`, 7.39).
    pub struct StatxIn { pub getattr_flags: u32, pub reserved: u32, pub fh: u64, pub sx_flags: u32, pub sx_mask: u32 }
}
wire_struct! {
    /// The head of a `STATX` reply (`struct fuse_statx_out` before its `stat`).
    pub struct StatxOutHead { pub attr_valid: u64, pub attr_valid_nsec: u32, pub flags: u32, pub spare0: u64, pub spare1: u64 }
}
wire_struct! {
    /// `struct fuse_statx` without its spare tail ([`STATX_SPARE`] zero bytes follow); each
    /// `struct fuse_sx_time` spelt out as its three fields.
    pub struct Statx {
        pub mask: u32, pub blksize: u32, pub attributes: u64, pub nlink: u32, pub uid: u32, pub gid: u32,
        pub mode: u16, pub spare0: u16, pub ino: u64, pub size: u64, pub blocks: u64, pub attributes_mask: u64,
        pub atime_sec: i64, pub atime_nsec: u32, pub atime_reserved: i32,
        pub btime_sec: i64, pub btime_nsec: u32, pub btime_reserved: i32,
        pub ctime_sec: i64, pub ctime_nsec: u32, pub ctime_reserved: i32,
        pub mtime_sec: i64, pub mtime_nsec: u32, pub mtime_reserved: i32,
        pub rdev_major: u32, pub rdev_minor: u32, pub dev_major: u32, pub dev_minor: u32,
    }
}
/// The zero bytes that end a `struct fuse_statx` (`__spare2[14]`).
pub const STATX_SPARE: usize = 14 * 8;
/// `statx(2)` mask bits (`STATX_*`) the replies use.
pub mod statx_mask {
    /// Everything `stat(2)` has.
    pub const BASIC_STATS: u32 = 0x7ff;
    /// The birth time.
    pub const BTIME: u32 = 0x800;
}

wire_struct! {
    /// Body of a `DELETE` notification, followed by the name and a NUL.
    pub struct NotifyDeleteOut { pub parent: u64, pub child: u64, pub namelen: u32, pub padding: u32 }
}
wire_struct! {
    /// Body of a `STORE` notification, followed by `size` bytes of data.
    pub struct NotifyStoreOut { pub nodeid: u64, pub offset: u64, pub size: u32, pub padding: u32 }
}
wire_struct! {
    /// Body of a `RETRIEVE` notification; the kernel answers with a `NOTIFY_REPLY` request
    /// whose unique is `notify_unique`.
    pub struct NotifyRetrieveOut { pub notify_unique: u64, pub nodeid: u64, pub offset: u64, pub size: u32, pub padding: u32 }
}
wire_struct! {
    /// Body of the kernel's `NOTIFY_REPLY` to a retrieve, followed by `size` bytes of data.
    pub struct NotifyRetrieveIn { pub dummy1: u64, pub offset: u64, pub size: u32, pub dummy2: u32, pub dummy3: u64, pub dummy4: u64 }
}
wire_struct! {
    /// Body of a `PRUNE` notification, followed by `count` node ids.
    pub struct NotifyPruneOut { pub count: u32, pub padding: u32, pub spare: u64 }
}
wire_struct! {
    /// Body of a `POLL` notification: the poll handle to wake.
    pub struct NotifyPollWakeupOut { pub kh: u64 }
}

wire_struct! {
    /// puffs-specific `PUFFS_UNMOUNT` body (puffs `struct puffs_vfsmsg_unmount`): the
    /// `UnmountFlags` bits and the process asking.
    pub struct UnmountIn { pub flags: u32, pub pid: u32 }
}
wire_struct! {
    /// puffs-specific `PUFFS_SUSPEND` body (puffs `struct puffs_vfsmsg_suspend`): one of
    /// [`suspend_phase`].
    pub struct SuspendIn { pub phase: u32, pub padding: u32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_the_kernel_header() {
        assert_eq!(InHeader::SIZE, 40);
        assert_eq!(OutHeader::SIZE, 16);
        assert_eq!(Attr::SIZE, 88);
        assert_eq!(EntryOut::SIZE + Attr::SIZE, 128);
        assert_eq!(AttrOut::SIZE + Attr::SIZE, 104);
        assert_eq!(Kstatfs::SIZE, 80);
        assert_eq!(SetattrIn::SIZE, 88);
        assert_eq!(InitOut::SIZE, 64);
        assert_eq!(ReadIn::SIZE, 40);
        assert_eq!(WriteIn::SIZE, 40);
        assert_eq!(ReleaseIn::SIZE, 24);
        assert_eq!(FileLock::SIZE, 24);
        assert_eq!(LkIn::SIZE, 48);
        assert_eq!(FallocateIn::SIZE, 32);
        assert_eq!(LseekIn::SIZE, 24);
        assert_eq!(CopyFileRangeIn::SIZE, 56);
        assert_eq!(NotifyDeleteOut::SIZE, 24);
        assert_eq!(StatxIn::SIZE, 24);
        assert_eq!(StatxOutHead::SIZE + Statx::SIZE + STATX_SPARE, 288);
        assert_eq!(NotifyStoreOut::SIZE, 24);
        assert_eq!(NotifyRetrieveOut::SIZE, 32);
        assert_eq!(NotifyRetrieveIn::SIZE, WriteIn::SIZE);
        assert_eq!(NotifyPruneOut::SIZE, 16);
    }

    #[test]
    fn records_round_trip_and_short_input_is_rejected() {
        let header = InHeader {
            len: 41,
            opcode: opcode::LOOKUP,
            unique: 9,
            nodeid: 1,
            uid: 5,
            gid: 6,
            pid: 7,
            ..Default::default()
        };
        let mut bytes = Vec::new();
        header.encode(&mut bytes);
        assert_eq!(InHeader::decode(&bytes), Some(header));
        assert_eq!(InHeader::decode(&bytes[..39]), None);
    }
}
