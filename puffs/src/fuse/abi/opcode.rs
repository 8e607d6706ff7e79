//! Request opcodes: FUSE's (`enum fuse_opcode`) and puffs's own, numbered above them; and what
//! follows from an opcode alone.

pub const LOOKUP: u32 = 1;
pub const FORGET: u32 = 2;
pub const GETATTR: u32 = 3;
pub const SETATTR: u32 = 4;
pub const READLINK: u32 = 5;
pub const SYMLINK: u32 = 6;
pub const MKNOD: u32 = 8;
pub const MKDIR: u32 = 9;
pub const UNLINK: u32 = 10;
pub const RMDIR: u32 = 11;
pub const RENAME: u32 = 12;
pub const LINK: u32 = 13;
pub const OPEN: u32 = 14;
pub const READ: u32 = 15;
pub const WRITE: u32 = 16;
pub const STATFS: u32 = 17;
pub const RELEASE: u32 = 18;
pub const FSYNC: u32 = 20;
pub const SETXATTR: u32 = 21;
pub const GETXATTR: u32 = 22;
pub const LISTXATTR: u32 = 23;
pub const REMOVEXATTR: u32 = 24;
pub const FLUSH: u32 = 25;
pub const INIT: u32 = 26;
pub const OPENDIR: u32 = 27;
pub const READDIR: u32 = 28;
pub const RELEASEDIR: u32 = 29;
pub const FSYNCDIR: u32 = 30;
pub const GETLK: u32 = 31;
pub const SETLK: u32 = 32;
pub const SETLKW: u32 = 33;
pub const ACCESS: u32 = 34;
pub const CREATE: u32 = 35;
pub const INTERRUPT: u32 = 36;
pub const BMAP: u32 = 37;
pub const DESTROY: u32 = 38;
pub const IOCTL: u32 = 39;
pub const POLL: u32 = 40;
pub const NOTIFY_REPLY: u32 = 41;
pub const BATCH_FORGET: u32 = 42;
pub const FALLOCATE: u32 = 43;
pub const READDIRPLUS: u32 = 44;
pub const RENAME2: u32 = 45;
pub const LSEEK: u32 = 46;
pub const COPY_FILE_RANGE: u32 = 47;
pub const SETUPMAPPING: u32 = 48;
pub const REMOVEMAPPING: u32 = 49;
pub const SYNCFS: u32 = 50;
pub const TMPFILE: u32 = 51;
pub const STATX: u32 = 52;
pub const COPY_FILE_RANGE_64: u32 = 53;
pub const CUSE_INIT: u32 = 4096;

/// First puffs-specific opcode. FUSE opcodes end at [`CUSE_INIT`] (4096); the puffs ones sit
/// far above, so that no FUSE opcode of a future protocol version can collide with them. A
/// Linux kernel never sends them: only the [loopback kernel](crate::loopback) does, for the
/// puffs vfsops FUSE has no message for.
pub const PUFFS_BASE: u32 = 0x7075_6600;
/// puffs-specific: the kernel asks the file system whether it may be unmounted (puffs
/// `PUFFS_VFS_UNMOUNT`), body [`UnmountIn`](super::UnmountIn). An error reply refuses a
/// non-forced unmount.
pub const PUFFS_UNMOUNT: u32 = PUFFS_BASE + 1;
/// puffs-specific: the kernel tells the file system a phase of suspension (puffs
/// `PUFFS_VFS_SUSPEND`), body [`SuspendIn`](super::SuspendIn).
pub const PUFFS_SUSPEND: u32 = PUFFS_BASE + 2;

/// Whether a request with this opcode is answered: all are but forgets, interrupts and
/// the answers to the server's own retrieve notifications.
pub fn wants_reply(opcode: u32) -> bool {
    !matches!(opcode, FORGET | BATCH_FORGET | INTERRUPT | NOTIFY_REPLY)
}

/// The name of an opcode, for the request dump.
pub fn name(opcode: u32) -> &'static str {
    match opcode {
        LOOKUP => "LOOKUP",
        FORGET => "FORGET",
        GETATTR => "GETATTR",
        SETATTR => "SETATTR",
        READLINK => "READLINK",
        SYMLINK => "SYMLINK",
        MKNOD => "MKNOD",
        MKDIR => "MKDIR",
        UNLINK => "UNLINK",
        RMDIR => "RMDIR",
        RENAME => "RENAME",
        LINK => "LINK",
        OPEN => "OPEN",
        READ => "READ",
        WRITE => "WRITE",
        STATFS => "STATFS",
        RELEASE => "RELEASE",
        FSYNC => "FSYNC",
        SETXATTR => "SETXATTR",
        GETXATTR => "GETXATTR",
        LISTXATTR => "LISTXATTR",
        REMOVEXATTR => "REMOVEXATTR",
        FLUSH => "FLUSH",
        INIT => "INIT",
        OPENDIR => "OPENDIR",
        READDIR => "READDIR",
        RELEASEDIR => "RELEASEDIR",
        FSYNCDIR => "FSYNCDIR",
        GETLK => "GETLK",
        SETLK => "SETLK",
        SETLKW => "SETLKW",
        ACCESS => "ACCESS",
        CREATE => "CREATE",
        INTERRUPT => "INTERRUPT",
        BMAP => "BMAP",
        DESTROY => "DESTROY",
        IOCTL => "IOCTL",
        POLL => "POLL",
        NOTIFY_REPLY => "NOTIFY_REPLY",
        BATCH_FORGET => "BATCH_FORGET",
        FALLOCATE => "FALLOCATE",
        READDIRPLUS => "READDIRPLUS",
        RENAME2 => "RENAME2",
        LSEEK => "LSEEK",
        COPY_FILE_RANGE => "COPY_FILE_RANGE",
        SETUPMAPPING => "SETUPMAPPING",
        REMOVEMAPPING => "REMOVEMAPPING",
        SYNCFS => "SYNCFS",
        TMPFILE => "TMPFILE",
        STATX => "STATX",
        COPY_FILE_RANGE_64 => "COPY_FILE_RANGE_64",
        CUSE_INIT => "CUSE_INIT",
        PUFFS_UNMOUNT => "PUFFS_UNMOUNT",
        PUFFS_SUSPEND => "PUFFS_SUSPEND",
        _ => "UNKNOWN",
    }
}
