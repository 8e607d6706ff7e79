//! The operations a file system implements: the [`FileSystem`] trait and the masks derived from it.

use std::ffi::{OsStr, OsString};

use bitflags::bitflags;
use nix::fcntl::OFlag;
use nix::unistd::AccessFlags;

use crate::dirent::DirBuf;
use crate::{Cred, Errno, SetVattr, Vattr, Vtype};

/// The result of a file-system operation: a value or an errno that goes back to the caller.
pub type Result<T, E = Errno> = core::result::Result<T, E>;

/// The identity of a node, chosen by the file system (puffs `puffs_cookie_t`).
///
/// The framework never interprets a cookie; it hands it back in every operation on that node.
/// Towards FUSE, the root cookie given at mount becomes `FUSE_ROOT_ID` and every other cookie is
/// used as the node id itself, so the value `0` is reserved: a file system must not return it for
/// a node other than the root (the caller then gets `EIO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cookie(pub u64);

/// An open-file handle chosen by the file system in [`FileSystem::node_open`] (FUSE `fh`).
///
/// File systems that keep no per-open state can ignore it; it is [`FileHandle::NONE`] then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileHandle(pub u64);

impl FileHandle {
    /// The handle of a file system that does not implement `node_open`.
    pub const NONE: FileHandle = FileHandle(0);
}

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

/// What [`FileSystem::node_open`] answers: the handle and how the kernel should cache the file
/// (FUSE `struct fuse_open_out`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Opened {
    /// The handle passed back to read, write, fsync and close of this open file.
    pub handle: FileHandle,
    /// Bypass the page cache: every read and write reaches the file system (`FOPEN_DIRECT_IO`).
    pub direct_io: bool,
    /// Keep cached data from earlier opens (`FOPEN_KEEP_CACHE`).
    pub keep_cache: bool,
}

impl Opened {
    /// An open with this handle and default caching.
    pub fn handle(handle: FileHandle) -> Opened {
        Opened { handle, ..Opened::default() }
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

/// What the kernel accepted at mount: told to the file system once through
/// [`FileSystem::fs_mounted`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// The file-system name the kernel knows, with its prefix (`puffs|dtfs`, `fuse.dtfs`).
    pub fs_name: String,
    /// The longest request the kernel will send, after clamping (puffs `pa_maxreqlen`).
    pub max_request_len: usize,
    /// The largest single write the kernel will send.
    pub max_write: u32,
    /// The negotiated protocol version, `(major, minor)`.
    pub protocol: (u32, u32),
}

bitflags! {
    /// The vnode operations a file system implements (puffs `pa_vnopmask`).
    ///
    /// Derived by [`#[puffs_fs]`](crate::puffs_fs) from the methods present in the
    /// `impl FileSystem` block: an operation outside the mask is never dispatched to the file
    /// system; the framework answers the kernel itself.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct VnopMask: u32 {
        /// `node_lookup` (FUSE `LOOKUP`).
        const LOOKUP = 1 << 0;
        /// `node_getattr` (FUSE `GETATTR`).
        const GETATTR = 1 << 1;
        /// `node_setattr` (FUSE `SETATTR`).
        const SETATTR = 1 << 2;
        /// `node_create` (FUSE `CREATE`).
        const CREATE = 1 << 3;
        /// `node_mknod` (FUSE `MKNOD`).
        const MKNOD = 1 << 4;
        /// `node_open` (FUSE `OPEN`, `OPENDIR`).
        const OPEN = 1 << 5;
        /// `node_close` (FUSE `RELEASE`, `RELEASEDIR`).
        const CLOSE = 1 << 6;
        /// `node_access` (FUSE `ACCESS`).
        const ACCESS = 1 << 7;
        /// `node_read` (FUSE `READ`).
        const READ = 1 << 8;
        /// `node_write` (FUSE `WRITE`).
        const WRITE = 1 << 9;
        /// `node_readdir` (FUSE `READDIR`).
        const READDIR = 1 << 10;
        /// `node_readlink` (FUSE `READLINK`).
        const READLINK = 1 << 11;
        /// `node_symlink` (FUSE `SYMLINK`).
        const SYMLINK = 1 << 12;
        /// `node_mkdir` (FUSE `MKDIR`).
        const MKDIR = 1 << 13;
        /// `node_rmdir` (FUSE `RMDIR`).
        const RMDIR = 1 << 14;
        /// `node_remove` (FUSE `UNLINK`).
        const REMOVE = 1 << 15;
        /// `node_link` (FUSE `LINK`).
        const LINK = 1 << 16;
        /// `node_rename` (FUSE `RENAME`, `RENAME2`).
        const RENAME = 1 << 17;
        /// `node_fsync` (FUSE `FSYNC`, `FSYNCDIR`).
        const FSYNC = 1 << 18;
        /// `node_inactive`: the last open file of the node was closed.
        const INACTIVE = 1 << 19;
        /// `node_reclaim` (FUSE `FORGET`, `BATCH_FORGET`).
        const RECLAIM = 1 << 20;
        /// `node_getextattr` (FUSE `GETXATTR`).
        const GETEXTATTR = 1 << 21;
        /// `node_setextattr` (FUSE `SETXATTR`).
        const SETEXTATTR = 1 << 22;
        /// `node_listextattr` (FUSE `LISTXATTR`).
        const LISTEXTATTR = 1 << 23;
        /// `node_deleteextattr` (FUSE `REMOVEXATTR`).
        const DELETEEXTATTR = 1 << 24;
    }
}

impl VnopMask {
    /// The operations that change the file system: without any of them, a mount is read-only.
    pub const CHANGES: VnopMask = VnopMask::SETATTR
        .union(VnopMask::CREATE)
        .union(VnopMask::MKNOD)
        .union(VnopMask::WRITE)
        .union(VnopMask::SYMLINK)
        .union(VnopMask::MKDIR)
        .union(VnopMask::RMDIR)
        .union(VnopMask::REMOVE)
        .union(VnopMask::LINK)
        .union(VnopMask::RENAME)
        .union(VnopMask::SETEXTATTR)
        .union(VnopMask::DELETEEXTATTR);
}

bitflags! {
    /// The file-system-wide operations a file system implements (puffs vfsops), derived by
    /// [`#[puffs_fs]`](crate::puffs_fs) like [`VnopMask`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct VfsopMask: u32 {
        /// `fs_mounted`: told what the kernel accepted at mount.
        const MOUNTED = 1 << 0;
        /// `fs_statvfs` (FUSE `STATFS`).
        const STATVFS = 1 << 1;
        /// `fs_sync` (FUSE `SYNCFS`).
        const SYNC = 1 << 2;
        /// `fs_unmount` (FUSE `DESTROY`, or the unmount request of the loopback kernel).
        const UNMOUNT = 1 << 3;
        /// `fs_suspend` (loopback kernel only: FUSE has no suspension).
        const SUSPEND = 1 << 4;
    }
}

/// A file system: the operations the kernel can ask of it, in puffs vocabulary.
///
/// Implement only what the file system supports and put [`#[puffs_fs]`](crate::puffs_fs) on the
/// `impl` block; every operation has a default body that answers `ENOSYS`, but the attribute
/// leaves operations without a method out of the derived [`VnopMask`] and [`VfsopMask`], and the
/// framework then never calls them: it answers the kernel itself (for FUSE with the protocol's
/// shortcut where there is one, such as "no open needed" for `node_open`).
///
/// Names handed to operations are never empty, never longer than 255 bytes and never contain
/// `/` or NUL (the framework answers `EINVAL` or `ENAMETOOLONG` before dispatch). `.` and `..`
/// reach only `node_lookup`: as the name of an entry to make (mkdir, create, mknod, symlink,
/// link) the framework answers `EEXIST`, to rename `EINVAL`, to rmdir `EINVAL` (`.`) or
/// `ENOTEMPTY` (`..`), to remove `EISDIR`.
/// All methods take `&self`: with several worker threads they run concurrently, so state lives
/// behind locks or atomics.
#[allow(unused_variables)]
pub trait FileSystem: Send + Sync + 'static + crate::__private::DerivedOps {
    /// Whether the file system keeps POSIX ACLs (`setfacl`, `cp -a`). Off by default: then
    /// `system.posix_acl_access` and `system.posix_acl_default` answer `EOPNOTSUPP` without
    /// reaching the file system, and tools fall back to `chmod`.
    ///
    /// On, the file system only stores those two extended attributes like any other; the
    /// framework does the rest ([`crate::acl`] has the rules): it asks the kernel for
    /// `FUSE_POSIX_ACL`, so that the kernel enforces ACLs (which turns `default_permissions`
    /// on), checks and normalizes every ACL set, sets the mode an access ACL implies (storing
    /// no ACL where the mode says it all), keeps a stored ACL in step with `chmod`, and makes
    /// new nodes inherit their directory's default ACL (applying the caller's umask only where
    /// there is none). `#[puffs_fs]` checks that the impl has the operations this needs:
    /// `node_getattr`, `node_setattr`, `node_getextattr`, `node_setextattr` and
    /// `node_deleteextattr`.
    const POSIX_ACL: bool = false;

    /// The kernel accepted the mount; `info` tells what it granted.
    fn fs_mounted(&self, info: &MountInfo) {}

    /// Statistics of the whole file system (`statvfs(2)`).
    fn fs_statvfs(&self, cred: &Cred) -> Result<StatVfs> {
        Err(Errno::ENOSYS)
    }

    /// Write everything to stable storage (`sync(2)`, `syncfs(2)`).
    fn fs_sync(&self, waitfor: WaitFor, cred: &Cred) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// The file system is being unmounted. An error refuses a non-forced unmount on the loopback
    /// kernel; a forced unmount, and every unmount of a real FUSE mount, happens regardless.
    fn fs_unmount(&self, flags: UnmountFlags) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// The file system enters or leaves suspension.
    fn fs_suspend(&self, phase: SuspendPhase) {}

    /// Find `name` in directory `dir`. `ENOENT` if there is no such entry.
    fn node_lookup(&self, dir: Cookie, name: &OsStr, cred: &Cred) -> Result<NewNode> {
        Err(Errno::ENOSYS)
    }

    /// The attributes of `node`.
    fn node_getattr(&self, node: Cookie, cred: &Cred) -> Result<Vattr> {
        Err(Errno::ENOSYS)
    }

    /// Change attributes of `node`; answers the attributes after the change.
    fn node_setattr(&self, node: Cookie, changes: &SetVattr, cred: &Cred) -> Result<Vattr> {
        Err(Errno::ENOSYS)
    }

    /// Create a regular file `name` in `dir` with permissions `mode` (the umask already applied).
    fn node_create(&self, dir: Cookie, name: &OsStr, mode: u32, cred: &Cred) -> Result<NewNode> {
        Err(Errno::ENOSYS)
    }

    /// Create a node of type `vtype` (file, device, FIFO or socket) named `name` in `dir`.
    fn node_mknod(
        &self,
        dir: Cookie,
        name: &OsStr,
        vtype: Vtype,
        mode: u32,
        rdev: u64,
        cred: &Cred,
    ) -> Result<NewNode> {
        Err(Errno::ENOSYS)
    }

    /// Open `node` (a file or a directory) with `open(2)` flags.
    fn node_open(&self, node: Cookie, flags: OFlag, cred: &Cred) -> Result<Opened> {
        Err(Errno::ENOSYS)
    }

    /// The open file `handle` of `node` was closed for the last time.
    fn node_close(&self, node: Cookie, handle: FileHandle, flags: OFlag) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// May `cred` access `node` as `mode` asks (`access(2)`)? `EACCES` if not.
    fn node_access(&self, node: Cookie, mode: AccessFlags, cred: &Cred) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// Read from `node` at `offset` into `buf`; answers how many bytes were read (0 at the end).
    fn node_read(&self, node: Cookie, handle: FileHandle, offset: u64, buf: &mut [u8], cred: &Cred) -> Result<usize> {
        Err(Errno::ENOSYS)
    }

    /// Write `data` to `node` at `offset`; answers how many bytes were written.
    fn node_write(&self, node: Cookie, handle: FileHandle, offset: u64, data: &[u8], cred: &Cred) -> Result<usize> {
        Err(Errno::ENOSYS)
    }

    /// List directory `dir` from position `offset` (0 is the start) into `buf` until it is full or
    /// the directory ends. Each entry carries the position of the entry after it.
    fn node_readdir(
        &self,
        dir: Cookie,
        handle: FileHandle,
        offset: u64,
        buf: &mut DirBuf<'_>,
        cred: &Cred,
    ) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// The target of symbolic link `node`.
    fn node_readlink(&self, node: Cookie, cred: &Cred) -> Result<OsString> {
        Err(Errno::ENOSYS)
    }

    /// Create a symbolic link `name` in `dir` pointing at `target`.
    fn node_symlink(&self, dir: Cookie, name: &OsStr, target: &OsStr, cred: &Cred) -> Result<NewNode> {
        Err(Errno::ENOSYS)
    }

    /// Create directory `name` in `dir` with permissions `mode`.
    fn node_mkdir(&self, dir: Cookie, name: &OsStr, mode: u32, cred: &Cred) -> Result<NewNode> {
        Err(Errno::ENOSYS)
    }

    /// Remove the empty directory `name` from `dir`.
    fn node_rmdir(&self, dir: Cookie, name: &OsStr, cred: &Cred) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// Remove the non-directory `name` from `dir` (`unlink(2)`).
    fn node_remove(&self, dir: Cookie, name: &OsStr, cred: &Cred) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// Make `name` in `dir` a new hard link to `node`; answers the node's attributes after.
    fn node_link(&self, dir: Cookie, node: Cookie, name: &OsStr, cred: &Cred) -> Result<Vattr> {
        Err(Errno::ENOSYS)
    }

    /// Move `name` in `dir` to `new_name` in `new_dir`.
    fn node_rename(
        &self,
        dir: Cookie,
        name: &OsStr,
        new_dir: Cookie,
        new_name: &OsStr,
        flags: RenameFlags,
        cred: &Cred,
    ) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// Flush `node` to stable storage; only its data when `datasync`.
    fn node_fsync(&self, node: Cookie, handle: FileHandle, datasync: bool, cred: &Cred) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// No open file refers to `node` any more (puffs `inactive`); it may still be looked up.
    fn node_inactive(&self, node: Cookie) {}

    /// The kernel forgot `node` (puffs `reclaim`; FUSE lookup count dropped to zero): the cookie
    /// will not be used again unless lookup returns it anew.
    fn node_reclaim(&self, node: Cookie) {}

    /// The value of extended attribute `name` of `node`; `ENODATA` if it has none.
    fn node_getextattr(&self, node: Cookie, name: &OsStr, cred: &Cred) -> Result<Vec<u8>> {
        Err(Errno::ENOSYS)
    }

    /// Set extended attribute `name` of `node` to `value`.
    fn node_setextattr(&self, node: Cookie, name: &OsStr, value: &[u8], flags: XattrFlags, cred: &Cred) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// The names of the extended attributes of `node`.
    fn node_listextattr(&self, node: Cookie, cred: &Cred) -> Result<Vec<OsString>> {
        Err(Errno::ENOSYS)
    }

    /// Remove extended attribute `name` of `node`; `ENODATA` if it has none.
    fn node_deleteextattr(&self, node: Cookie, name: &OsStr, cred: &Cred) -> Result<()> {
        Err(Errno::ENOSYS)
    }
}

/// The vnop mask of file system `F`, as [`#[puffs_fs]`](crate::puffs_fs) derived it.
pub fn vnop_mask<F: FileSystem>() -> VnopMask {
    <F as crate::__private::DerivedOps>::VNOPS
}

/// The vfsop mask of file system `F`, as [`#[puffs_fs]`](crate::puffs_fs) derived it.
pub fn vfsop_mask<F: FileSystem>() -> VfsopMask {
    <F as crate::__private::DerivedOps>::VFSOPS
}
