//! The flags and phases operations are handed: rename, extended attributes, unmount, sync,
//! suspension.

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
