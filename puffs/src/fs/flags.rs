//! The flags and phases operations are handed or answer: rename, extended attributes, opens,
//! fallocate and seek, unmount, sync, suspension.

use bitflags::bitflags;

bitflags! {
    /// How `node_rename` may treat an existing target (`renameat2(2)` flags).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct RenameFlags: u32 {
        /// Fail with `EEXIST` if the target exists.
        const NOREPLACE = 1;
        /// Swap source and target atomically.
        const EXCHANGE = 2;
        /// Leave a whiteout at the source (overlay file systems).
        const WHITEOUT = 4;
    }
}

bitflags! {
    /// How `node_setextattr` treats an existing attribute (`setxattr(2)` flags).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct XattrFlags: u32 {
        /// Fail with `EEXIST` if the attribute exists.
        const CREATE = 1;
        /// Fail with `ENODATA` if the attribute does not exist.
        const REPLACE = 2;
    }
}

bitflags! {
    /// How the kernel treats one open file, answered by `node_open` in [`Opened`](crate::Opened)
    /// (FUSE `FOPEN_*`, with their values).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct OpenedFlags: u32 {
        /// Bypass the page cache: every read and write reaches the file system, with the
        /// caller's sizes (`FOPEN_DIRECT_IO`). For files whose contents are made at read time.
        const DIRECT_IO = 1 << 0;
        /// Keep the data cached from earlier opens instead of dropping it at this open
        /// (`FOPEN_KEEP_CACHE`).
        const KEEP_CACHE = 1 << 1;
        /// The file has no positions: `lseek` and `pread` fail with `ESPIPE`
        /// (`FOPEN_NONSEEKABLE`).
        const NONSEEKABLE = 1 << 2;
        /// Cache the directory's listing across opens (`FOPEN_CACHE_DIR`; directories only).
        const CACHE_DIR = 1 << 3;
        /// A stream: no positions at all, reads and writes in order (`FOPEN_STREAM`).
        const STREAM = 1 << 4;
        /// `close(2)` does not wait for a flush (`FOPEN_NOFLUSH`): `node_flush` is not called
        /// for this open.
        const NOFLUSH = 1 << 5;
        /// Direct writes to this file may run in parallel, even when they extend it
        /// (`FOPEN_PARALLEL_DIRECT_WRITES`).
        const PARALLEL_DIRECT_WRITES = 1 << 6;
    }
}

bitflags! {
    /// What `node_fallocate` is asked to do (`fallocate(2)` modes; the kernel passes these
    /// three). No flag: allocate the range, growing the file if it ends past the end.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct FallocateFlags: u32 {
        /// Allocate without changing the file's size (`FALLOC_FL_KEEP_SIZE`).
        const KEEP_SIZE = 0x01;
        /// Deallocate the range, which then reads as zeros; always with `KEEP_SIZE`
        /// (`FALLOC_FL_PUNCH_HOLE`). Goes to `node_fdiscard` when the file system has it.
        const PUNCH_HOLE = 0x02;
        /// Make the range read as zeros, allocated (`FALLOC_FL_ZERO_RANGE`).
        const ZERO_RANGE = 0x10;
    }
}

/// What `node_seek` looks for from an offset (`lseek(2)` whence; the kernel asks the file
/// system only these two, and answers the others itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeekWhence {
    /// The first byte of data at or after the offset (`SEEK_DATA`).
    Data,
    /// The first byte of a hole at or after the offset, the end of the file counting as one
    /// (`SEEK_HOLE`).
    Hole,
}

bitflags! {
    /// Flags of an unmount request (puffs `pvfsr_flags`; `umount2(2)` flags).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct UnmountFlags: u32 {
        /// The unmount happens whatever the file system answers (`MNT_FORCE`).
        const FORCE = 1;
    }
}

/// How hard `fs_sync` should wait (puffs `waitfor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitFor {
    /// Write everything and wait for it (`MNT_WAIT`; FUSE `SYNCFS`).
    Wait,
    /// Start writing, do not wait (`MNT_NOWAIT`).
    NoWait,
    /// Trickle sync from a background syncer (`MNT_LAZY`).
    Lazy,
}

/// A phase of file-system suspension, told to `fs_suspend` (puffs `PUFFS_SUSPEND_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SuspendPhase {
    /// Suspension starts: pending writes are about to be flushed.
    Start,
    /// The file system is suspended: no operation will arrive until resume.
    Suspended,
    /// Suspension failed; the file system goes back to normal operation.
    Error,
    /// The file system resumes normal operation.
    Resume,
}
