//! What operations answer and are told: new nodes, opens, statistics, the mount.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::Arc;

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

/// What [`FileSystem::node_open`](crate::FileSystem::node_open) answers: the handle, how the
/// kernel should cache the file, and the host file that may serve its reads and writes (FUSE
/// `struct fuse_open_out`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Opened {
    /// The handle passed back to read, write, fsync and close of this open file.
    pub handle: FileHandle,
    /// How the kernel caches and positions this open file.
    pub flags: OpenedFlags,
    /// The host file the kernel reads and writes for this open, without asking the file
    /// system, where it can (see [`Opened::with_backing`]).
    pub backing: Option<BackingFile>,
}

impl Opened {
    /// An open with this handle and the kernel's default caching.
    pub fn handle(handle: FileHandle) -> Opened {
        Opened { handle, flags: OpenedFlags::empty(), backing: None }
    }

    /// This open with `flags` added.
    pub fn with(self, flags: OpenedFlags) -> Opened {
        Opened { flags: self.flags | flags, ..self }
    }

    /// This open, with its reads, writes and shared maps done by the kernel on the host file
    /// `file`, which never reach the file system (FUSE passthrough: `FOPEN_PASSTHROUGH` with
    /// the `backing_id` the framework registered for `file`).
    ///
    /// The kernel does so only where the mount asked for it and got it
    /// ([`MountInfo::passthrough`](crate::MountInfo::passthrough): the `passthrough` option,
    /// a server with `CAP_SYS_ADMIN`, Linux 6.9 on, no `writeback_cache`), for regular files,
    /// and for opens whose flags are at most `DIRECT_IO`, `PARALLEL_DIRECT_WRITES` and
    /// `NOFLUSH` (`KEEP_CACHE` is dropped: a passed-through file has no cache). Anywhere else
    /// the open is served as usual, by `node_read` and `node_write`, which a file system
    /// handing backing files therefore still implements; `node_getattr`, `node_setattr`,
    /// `node_fsync`, `node_flush` and the rest still reach it too.
    ///
    /// The kernel wants one backing file per file at a time: while a file is open with one,
    /// its later opens share it (the `file` they hand is not used), until the last of them is
    /// released. The file may be opened with any flags, even `O_PATH`: the kernel opens its
    /// own from it, with the flags of each open.
    pub fn with_backing(self, file: BackingFile) -> Opened {
        Opened { backing: Some(file), ..self }
    }
}

/// A host file handed to the kernel as the backing file of an open
/// ([`Opened::with_backing`]): cheap to clone, so that a file system can keep the same file
/// for its own use (fsync, fallbacks) and compare by identity.
#[derive(Clone)]
pub struct BackingFile(Arc<dyn AsFd + Send + Sync>);

impl BackingFile {
    /// The backing file `file` (an owned descriptor, a `File` …).
    pub fn new<T: AsFd + Send + Sync + 'static>(file: T) -> BackingFile {
        BackingFile(Arc::new(file))
    }

    /// The backing file `file`, shared with whoever else holds the `Arc`.
    pub fn shared<T: AsFd + Send + Sync + 'static>(file: Arc<T>) -> BackingFile {
        BackingFile(file)
    }
}

impl AsFd for BackingFile {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl PartialEq for BackingFile {
    /// The same file: clones of one `BackingFile`, or of one `Arc`.
    fn eq(&self, other: &BackingFile) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&other.0))
    }
}

impl Eq for BackingFile {}

impl std::fmt::Debug for BackingFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("BackingFile").field(&self.as_fd().as_raw_fd()).finish()
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

/// A host file system's statistics (`statvfs(3)`), as a pass-through file system answers them.
impl From<&nix::sys::statvfs::Statvfs> for StatVfs {
    fn from(st: &nix::sys::statvfs::Statvfs) -> StatVfs {
        StatVfs {
            frsize: st.fragment_size() as u32,
            bsize: st.block_size() as u32,
            blocks: st.blocks(),
            bfree: st.blocks_free(),
            bavail: st.blocks_available(),
            files: st.files(),
            ffree: st.files_free(),
            namemax: st.name_max() as u32,
        }
    }
}

impl Default for StatVfs {
    /// The answer given for a file system that does not implement `fs_statvfs`: no blocks, no
    /// nodes, 512-byte blocks and names up to 255 bytes.
    fn default() -> StatVfs {
        StatVfs { frsize: 512, bsize: 512, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, namemax: 255 }
    }
}
