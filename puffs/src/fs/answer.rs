//! What operations answer and are told: new nodes, opens, statistics, the mount.

use crate::fs::cookie::{Cookie, FileHandle};
use crate::fs::flags::OpenedFlags;
use crate::vattr::Vattr;

/// A node handed to the kernel by lookup or by a creating operation: its cookie, attributes and
/// generation (FUSE `struct fuse_entry_out`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNode {
    /// The node's identity.
    pub cookie: Cookie,
    /// Its attributes now.
    pub vattr: Vattr,
    /// Generation number: `(cookie, generation)` must be unique over the file system's life.
    pub generation: u64,
}

impl NewNode {
    /// A node of generation 0.
    pub fn new(cookie: Cookie, vattr: Vattr) -> NewNode {
        NewNode { cookie, vattr, generation: 0 }
    }
}

/// What [`FileSystem::node_open`](crate::FileSystem::node_open) answers: the handle and how the kernel should cache the file
/// (FUSE `struct fuse_open_out`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Opened {
    /// The handle passed back to read, write, fsync and close of this open file.
    pub handle: FileHandle,
    /// How the kernel caches and positions this open file.
    pub flags: OpenedFlags,
}

impl Opened {
    /// An open with this handle and the kernel's default caching.
    pub fn handle(handle: FileHandle) -> Opened {
        Opened { handle, flags: OpenedFlags::empty() }
    }

    /// This open with `flags` added.
    pub fn with(self, flags: OpenedFlags) -> Opened {
        Opened { flags: self.flags | flags, ..self }
    }
}

/// File-system statistics (puffs `struct statvfs`; FUSE `struct fuse_kstatfs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatVfs {
    /// Size of a block in `blocks`, `bfree` and `bavail`, in bytes.
    pub frsize: u32,
    /// Preferred I/O size.
    pub bsize: u32,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Free blocks available to unprivileged users.
    pub bavail: u64,
    /// Total file nodes.
    pub files: u64,
    /// Free file nodes.
    pub ffree: u64,
    /// Longest name the file system accepts.
    pub namemax: u32,
}

impl Default for StatVfs {
    /// The answer given for a file system that does not implement `fs_statvfs`: no blocks, no
    /// nodes, 512-byte blocks and names up to 255 bytes.
    fn default() -> StatVfs {
        StatVfs { frsize: 512, bsize: 512, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, namemax: 255 }
    }
}
