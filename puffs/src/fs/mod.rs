//! The operations a file system implements: the [`FileSystem`] trait, in puffs vocabulary.

pub(crate) mod answer;
pub(crate) mod context;
pub(crate) mod cookie;
pub(crate) mod dispatch;
pub(crate) mod flags;
pub(crate) mod ioctl;
pub(crate) mod lock;
pub(crate) mod mask;
pub(crate) mod poll;
pub(crate) mod read;

use std::ffi::{OsStr, OsString};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::AccessFlags;

use crate::dirent::DirBuf;
use crate::fs::answer::{NewNode, Opened, StatVfs};
use crate::fs::context::Context;
use crate::fs::cookie::{Cookie, FileHandle};
use crate::fs::flags::{FallocateFlags, RenameFlags, SeekWhence, SuspendPhase, UnmountFlags, WaitFor, XattrFlags};
use crate::fs::ioctl::{Ioctl, IoctlAnswer};
use crate::fs::lock::{FileLock, LockFlags, LockOp, LockOwner};
use crate::fs::poll::{PollEvents, PollWaker};
use crate::fs::read::{Answered, ReadOut};
use crate::settings::MountInfo;
use crate::vattr::{SetVattr, Vattr, Vtype};

/// The result of a file-system operation: a value or an errno that goes back to the caller.
pub type Result<T, E = Errno> = core::result::Result<T, E>;

/// A file system: the operations the kernel can ask of it, in puffs vocabulary.
///
/// Implement only what the file system supports and put [`#[puffs_fs]`](crate::puffs_fs) on the
/// `impl` block; every operation has a default body that answers `ENOSYS`, but the attribute
/// leaves operations without a method out of the derived [`VnopMask`](crate::VnopMask) and [`VfsopMask`](crate::VfsopMask), and the
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
///
/// What the framework answers for a method the `impl` block does not define, from the table of
/// operations (`ENOSYS` tells the kernel to stop asking where the protocol allows; a mount
/// without any operation that changes the file system is read-only):
#[doc = puffs_macros::__operation_absent_table!()]
///
/// # What the framework does with these operations
///
/// Some requests the kernel sends need no operation of their own: `READDIRPLUS` is answered
/// from [`node_readdir`](FileSystem::node_readdir) and [`node_lookup`](FileSystem::node_lookup),
/// `STATX` from [`node_getattr`](FileSystem::node_getattr) (the birth time is
/// [`Vattr::birthtime`]), `FLUSH` releases the caller's locks when
/// [`node_advlock`](FileSystem::node_advlock) exists, and a punched hole goes to
/// [`node_fdiscard`](FileSystem::node_fdiscard) when that exists.
///
/// Privileges a file loses when it changes are dropped by the framework, for every file
/// system with [`node_getattr`](FileSystem::node_getattr) and
/// [`node_setattr`](FileSystem::node_setattr) (FUSE `HANDLE_KILLPRIV_V2`): when a user who
/// may not keep them writes, truncates or opens with `O_TRUNC`, and at every change of owner
/// of a file that is not a directory, it clears set-user-id, and set-group-id where the file
/// is group-executable, as Linux does, through `node_setattr` (in the same call as the
/// truncate or the change of owner), and removes the file capabilities
/// (`security.capability`) through [`node_deleteextattr`](FileSystem::node_deleteextattr)
/// when that exists. The kernel then asks for `security.capability` once per file instead
/// of before every write. With [`node_open`](FileSystem::node_open) and
/// [`node_close`](FileSystem::node_close) or [`node_inactive`](FileSystem::node_inactive) too,
/// an `O_TRUNC` open truncates in the framework (`ATOMIC_O_TRUNC`), saving the kernel a
/// `SETATTR`.
///
/// # libpuffs operations FUSE does not carry
///
/// - `node_pathconf`: Linux answers `pathconf(2)` itself, from `statfs` (the name length is
///   [`StatVfs`]'s, from [`fs_statvfs`](FileSystem::fs_statvfs)) and fixed limits.
/// - `node_mmap`: mapping is the kernel's, through its page cache; a file opened with
///   [`OpenedFlags::DIRECT_IO`](crate::OpenedFlags::DIRECT_IO) is not mapped shared unless the
///   mount says `direct_io_allow_mmap`, which is how a file system refuses or allows it.
/// - `node_print`: a debugging dump of a node; the op dump
///   ([`opdump`](crate::Usermount::opdump)) shows every request and reply instead.
/// - `node_abortop`: NetBSD's cleanup of a lookup made for a creation that did not happen;
///   Linux never leaves such a lookup half-done, so there is nothing to clean.
/// - `fs_fhtonode`, `fs_nodetofh`: NFS file handles. With a handle size set
///   ([`fh_size`](crate::Usermount::fh_size)) the framework offers the kernel
///   `EXPORT_SUPPORT`: the kernel makes handles from node id and generation
///   ([`NewNode::generation`]) itself, and turns a handle back into a node with lookups of
///   `.` and `..` in the node, which reach [`node_lookup`](FileSystem::node_lookup).
///
/// # FUSE requests with no operation
///
/// Answered `ENOSYS`, which the kernel takes as "not supported": `BMAP` (block numbers for
/// swap files and `FIBMAP`, asked only of `fuseblk` mounts of a block device, which this
/// framework does not make), `SETUPMAPPING` and `REMOVEMAPPING` (DAX windows of virtiofs, a
/// virtual machine's shared memory), and `CUSE_INIT` (character devices in userspace, not
/// file systems). `IOCTL` in its unrestricted form is CUSE's too and is refused.
#[allow(unused_variables)]
pub trait FileSystem: Send + Sync + 'static + dispatch::Dispatch {
    /// Whether the file system keeps POSIX ACLs (`setfacl`, `cp -a`). Off by default: then
    /// `system.posix_acl_access` and `system.posix_acl_default` answer `EOPNOTSUPP` without
    /// reaching the file system, and tools fall back to `chmod`.
    ///
    /// On, the file system only stores those two extended attributes like any other; the
    /// framework does the rest ([`crate::acl`] has the rules): it asks the kernel for
    /// `FUSE_POSIX_ACL`, so that the kernel enforces ACLs (which turns `default_permissions`
    /// on), checks and normalizes every ACL set, sets the mode an access ACL implies (storing
    /// no ACL where the mode says it all, and dropping set-group-id when the caller is
    /// neither in the file's group nor privileged, which the kernel says with `SETXATTR_EXT`), keeps a stored ACL in step with `chmod`, and makes
    /// new nodes inherit their directory's default ACL (applying the caller's umask only where
    /// there is none). `#[puffs_fs]` checks that the impl has the operations this needs:
    /// `node_getattr`, `node_setattr`, `node_getextattr`, `node_setextattr` and
    /// `node_deleteextattr`.
    const POSIX_ACL: bool = false;

    /// The kernel accepted the mount; `info` tells what it granted.
    fn fs_mounted(&self, info: &MountInfo) {}

    /// Statistics of the whole file system (`statvfs(2)`).
    fn fs_statvfs(&self, ctx: &Context<'_>) -> Result<StatVfs> {
        Err(Errno::ENOSYS)
    }

    /// Write everything to stable storage (`sync(2)`, `syncfs(2)`).
    fn fs_sync(&self, waitfor: WaitFor, ctx: &Context<'_>) -> Result<()> {
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
    fn node_lookup(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
        Err(Errno::ENOSYS)
    }

    /// The attributes of `node` (FUSE `GETATTR`). It also answers `STATX`, which the kernel
    /// sends when `statx(2)` asks for more than `stat(2)` has: the birth time, from
    /// [`Vattr::birthtime`].
    fn node_getattr(&self, node: Cookie, ctx: &Context<'_>) -> Result<Vattr> {
        Err(Errno::ENOSYS)
    }

    /// Change attributes of `node` (puffs `node_setattr`; FUSE `SETATTR`); answers the
    /// attributes after the change. The set-id bits a change drops (a truncate by a user
    /// without the privilege to keep them, a change of owner) arrive as part of
    /// [`SetVattr::mode`]: the framework works them out, so the file system needs no rule of
    /// its own (see [What the framework does](FileSystem#what-the-framework-does-with-these-operations)).
    fn node_setattr(&self, node: Cookie, changes: &SetVattr, ctx: &Context<'_>) -> Result<Vattr> {
        Err(Errno::ENOSYS)
    }

    /// Create a regular file `name` in `dir` with permissions `mode` (the umask already applied).
    fn node_create(&self, dir: Cookie, name: &OsStr, mode: u32, ctx: &Context<'_>) -> Result<NewNode> {
        Err(Errno::ENOSYS)
    }

    /// Create a regular file without a name in directory `dir`, with permissions `mode` (the
    /// umask already applied): `open(2)` with `O_TMPFILE` (FUSE `TMPFILE`; not in puffs). The
    /// node has no links (`nlink` 0) until `linkat(2)` gives it a name through
    /// [`node_link`](FileSystem::node_link); it is reclaimed when its last open and lookup go,
    /// like a removed file. The framework then opens it as
    /// [`node_create`](FileSystem::node_create)'s file is opened. Without it, `O_TMPFILE` fails
    /// with `EOPNOTSUPP`.
    fn node_tmpfile(&self, dir: Cookie, mode: u32, ctx: &Context<'_>) -> Result<NewNode> {
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
        ctx: &Context<'_>,
    ) -> Result<NewNode> {
        Err(Errno::ENOSYS)
    }

    /// Open `node` (a file or a directory) with `open(2)` flags (puffs `node_open`; FUSE
    /// `OPEN`, `OPENDIR`). With `O_TRUNC` the framework truncates the file after a successful
    /// open, through [`node_setattr`](FileSystem::node_setattr) with the new handle, and a
    /// failed truncation closes it again ([`node_close`](FileSystem::node_close)): the open
    /// need not truncate itself.
    ///
    /// `Err(ENOSYS)` says opens need nothing from this file system: unless it has
    /// [`node_close`](FileSystem::node_close) or [`node_inactive`](FileSystem::node_inactive),
    /// the kernel stops sending opens (of files, or of directories: each on its own) for the
    /// rest of the mount and opens with handle 0, as if `node_open` were absent (FUSE
    /// `no_open`); with them, that open gets handle 0. A file system that checks permissions
    /// itself checks here ([`access::access_open`](crate::access::access_open)), and answers
    /// `ENOSYS` when the kernel checks ([`MountInfo::kernel_checks`]), so that opens cost no
    /// round trip. The open that follows [`node_create`](FileSystem::node_create) carries
    /// `O_CREAT`: the file was just made for the caller, who may open it whatever its mode.
    fn node_open(&self, node: Cookie, flags: OFlag, ctx: &Context<'_>) -> Result<Opened> {
        Err(Errno::ENOSYS)
    }

    /// The open file `handle` of `node` was closed for the last time.
    fn node_close(&self, node: Cookie, handle: FileHandle, flags: OFlag) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// May the caller access `node` as `mode` asks (`access(2)`)? `EACCES` if not.
    fn node_access(&self, node: Cookie, mode: AccessFlags, ctx: &Context<'_>) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// Read from `node` at `offset`, answering through `out` (puffs `node_read`; FUSE `READ`):
    /// at most [`out.size()`](ReadOut::size) bytes, fewer at the end of the file.
    ///
    /// `out` sends the file system's bytes from where they are, with no copy on the way
    /// ([`ReadOut::reply`], [`ReadOut::reply_at`], [`ReadOut::reply_vectored`]), or lends a
    /// buffer to read into ([`ReadOut::fill`]), or reads a host file ([`ReadOut::reply_from_file`]);
    /// each gives the [`Answered`] this method returns. An `Err` is answered instead.
    fn node_read(
        &self,
        node: Cookie,
        handle: FileHandle,
        offset: u64,
        out: ReadOut<'_>,
        ctx: &Context<'_>,
    ) -> Result<Answered> {
        Err(Errno::ENOSYS)
    }

    /// Write `data` to `node` at `offset`; answers how many bytes were written.
    fn node_write(
        &self,
        node: Cookie,
        handle: FileHandle,
        offset: u64,
        data: &[u8],
        ctx: &Context<'_>,
    ) -> Result<usize> {
        Err(Errno::ENOSYS)
    }

    /// List directory `dir` from position `offset` (0 is the start) into `buf` until it is full or
    /// the directory ends. Each entry carries the position of the entry after it.
    ///
    /// FUSE `READDIR`. With [`node_lookup`](FileSystem::node_lookup) also, the framework answers
    /// `READDIRPLUS` from the two (the `readdirplus=` mount option, on by default): it lists
    /// with this method, then looks up each entry that fits the reply, so a listing followed
    /// by a `stat` of each entry (`ls -l`) costs one round trip, not one per entry. Lookup
    /// counts stay exact: each entry handed to the kernel counts as one lookup once the reply
    /// is delivered.
    fn node_readdir(
        &self,
        dir: Cookie,
        handle: FileHandle,
        offset: u64,
        buf: &mut DirBuf<'_>,
        ctx: &Context<'_>,
    ) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// The target of symbolic link `node`.
    fn node_readlink(&self, node: Cookie, ctx: &Context<'_>) -> Result<OsString> {
        Err(Errno::ENOSYS)
    }

    /// Create a symbolic link `name` in `dir` pointing at `target`.
    fn node_symlink(&self, dir: Cookie, name: &OsStr, target: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
        Err(Errno::ENOSYS)
    }

    /// Create directory `name` in `dir` with permissions `mode`.
    fn node_mkdir(&self, dir: Cookie, name: &OsStr, mode: u32, ctx: &Context<'_>) -> Result<NewNode> {
        Err(Errno::ENOSYS)
    }

    /// Remove the empty directory `name` from `dir`.
    fn node_rmdir(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// Remove the non-directory `name` from `dir` (`unlink(2)`).
    fn node_remove(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// Make `name` in `dir` a new hard link to `node`; answers the node's attributes after.
    fn node_link(&self, dir: Cookie, node: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<Vattr> {
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
        ctx: &Context<'_>,
    ) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// Flush `node` to stable storage; only its data when `datasync`.
    fn node_fsync(&self, node: Cookie, handle: FileHandle, datasync: bool, ctx: &Context<'_>) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// No open file refers to `node` any more (puffs `inactive`); it may still be looked up.
    fn node_inactive(&self, node: Cookie) {}

    /// The kernel forgot `node` (puffs `reclaim`; FUSE lookup count dropped to zero): the cookie
    /// will not be used again unless lookup returns it anew.
    fn node_reclaim(&self, node: Cookie) {}

    /// The value of extended attribute `name` of `node`; `ENODATA` if it has none.
    fn node_getextattr(&self, node: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<Vec<u8>> {
        Err(Errno::ENOSYS)
    }

    /// Set extended attribute `name` of `node` to `value`.
    fn node_setextattr(
        &self,
        node: Cookie,
        name: &OsStr,
        value: &[u8],
        flags: XattrFlags,
        ctx: &Context<'_>,
    ) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// The names of the extended attributes of `node`.
    fn node_listextattr(&self, node: Cookie, ctx: &Context<'_>) -> Result<Vec<OsString>> {
        Err(Errno::ENOSYS)
    }

    /// Remove extended attribute `name` of `node`; `ENODATA` if it has none.
    fn node_deleteextattr(&self, node: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// Test, take or release an advisory lock of `node` for `owner` (puffs `node_advlock`;
    /// FUSE `GETLK`, `SETLK`, `SETLKW`, with `POSIX_LOCKS` and `FLOCK_LOCKS` negotiated when
    /// this method exists, so that locks reach the file system and a network file system can
    /// share them between machines). [`LockOp::Test`] answers the lock in the way, if any;
    /// [`LockOp::Set`] answers `None`, or `EAGAIN` when another owner's lock is in the way:
    /// a caller that waits ([`LockFlags::WAIT`]) then waits in the framework, without a
    /// worker thread, until a release of a lock of this node lets it through or its system
    /// call is interrupted (`EINTR`). [`LockFlags::FLOCK`] marks `flock(2)` locks.
    ///
    /// The framework releases locks as the kernel expects of a FUSE server: the byte-range
    /// locks of `owner` at each `FLUSH` (every `close(2)`), its `flock` lock at the last
    /// `RELEASE`, each as a `Set` of [`LockKind::Unlock`](crate::LockKind::Unlock) over the whole file.
    /// [`LockTable`](crate::locks::LockTable) is a complete body for locks kept in memory.
    #[allow(clippy::too_many_arguments)]
    fn node_advlock(
        &self,
        node: Cookie,
        handle: FileHandle,
        owner: LockOwner,
        op: LockOp,
        lock: FileLock,
        flags: LockFlags,
        ctx: &Context<'_>,
    ) -> Result<Option<FileLock>> {
        Err(Errno::ENOSYS)
    }

    /// A descriptor of the open file `handle` was closed (`close(2)`; FUSE `FLUSH`, not in
    /// puffs): write out what is buffered for it, so that the next open, by anyone, sees it
    /// (close-to-open consistency), and answer the errors of delayed writes, which `close`
    /// returns. Called once per descriptor, so possibly several times per open; `owner` is
    /// the closing process's lock owner. Not called for opens answered with
    /// [`OpenedFlags::NOFLUSH`](crate::OpenedFlags::NOFLUSH).
    fn node_flush(&self, node: Cookie, handle: FileHandle, owner: LockOwner, ctx: &Context<'_>) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// Allocate `len` bytes of `node` from `offset` (puffs `node_fallocate`; FUSE `FALLOCATE`,
    /// `fallocate(2)`), so that writing there cannot fail for lack of space: with no `mode`
    /// the file grows to the range's end if it is shorter, [`FallocateFlags::KEEP_SIZE`]
    /// keeps its size, [`FallocateFlags::ZERO_RANGE`] also makes the range read as zeros.
    /// [`FallocateFlags::PUNCH_HOLE`] arrives here only when the file system has no
    /// `node_fdiscard`. `EOPNOTSUPP` for a mode it does not support; `ENOSPC` when the space
    /// is not there.
    fn node_fallocate(
        &self,
        node: Cookie,
        handle: FileHandle,
        offset: u64,
        len: u64,
        mode: FallocateFlags,
        ctx: &Context<'_>,
    ) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// Deallocate `len` bytes of `node` from `offset`, which then read as zeros; the size
    /// stays (puffs `node_fdiscard`; FUSE `FALLOCATE` with `PUNCH_HOLE | KEEP_SIZE`).
    fn node_fdiscard(&self, node: Cookie, handle: FileHandle, offset: u64, len: u64, ctx: &Context<'_>) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// The offset of the first data ([`SeekWhence::Data`]) or hole ([`SeekWhence::Hole`]) at
    /// or after `offset` in `node` (FUSE `LSEEK`; `lseek(2)` with `SEEK_DATA`, `SEEK_HOLE`;
    /// puffs `node_seek` only checks a seek). The end of the file counts as a hole; `ENXIO`
    /// when `offset` is at or past the end, or no data follows it. The kernel answers the
    /// other kinds of seek itself; without this operation the whole file is data.
    fn node_seek(
        &self,
        node: Cookie,
        handle: FileHandle,
        offset: u64,
        whence: SeekWhence,
        ctx: &Context<'_>,
    ) -> Result<u64> {
        Err(Errno::ENOSYS)
    }

    /// Copy up to `len` bytes of `node` from `offset` to node `to` at `to_offset`, inside the
    /// file system (FUSE `COPY_FILE_RANGE`, `copy_file_range(2)`; not in puffs): answers how
    /// many bytes were copied, fewer at the end of `node`. The two may be the same node, with
    /// ranges that do not overlap (the kernel checks). Without this operation the kernel
    /// copies through reads and writes.
    #[allow(clippy::too_many_arguments)]
    fn node_copy_file_range(
        &self,
        node: Cookie,
        handle: FileHandle,
        offset: u64,
        to: Cookie,
        to_handle: FileHandle,
        to_offset: u64,
        len: u64,
        ctx: &Context<'_>,
    ) -> Result<u64> {
        Err(Errno::ENOSYS)
    }

    /// Which of `events` are ready on the open file `handle` of `node` (puffs `node_poll`;
    /// FUSE `POLL`), answered at once: errors and hang-ups are reported whether asked or
    /// not. When the caller will wait, `waker` is given: keep it and
    /// [`wake`](crate::PollWaker::wake) it when the answer may have changed; the kernel asks
    /// again. Without this operation every file is always ready for reading and writing, the
    /// kernel's default for files that cannot block.
    fn node_poll(
        &self,
        node: Cookie,
        handle: FileHandle,
        events: PollEvents,
        waker: Option<PollWaker>,
        ctx: &Context<'_>,
    ) -> Result<PollEvents> {
        Err(Errno::ENOSYS)
    }

    /// A control command on the open file `handle` of `node`: `ioctl(2)` (FUSE `IOCTL`, in
    /// its restricted form; puffs reserved `node_ioctl` but never passed it on). The kernel
    /// moves only the bytes the command number declares (see [`Ioctl`]); answer the return
    /// value and the bytes to read back, or the errno, `ENOTTY` for a command the file does
    /// not know. An answer reading back more than declared, or with a negative result, is
    /// refused with `EIO`. Directories get them too, when opened
    /// ([`IoctlFlags::DIR`](crate::IoctlFlags::DIR)).
    ///
    /// The kernel's inode flags arrive here as well: `lsattr` asks `FS_IOC_GETFLAGS` (an
    /// `int`, though the number declares a `long`), and `chattr` asks `FS_IOC_FSGETXATTR`
    /// (a `struct fsxattr`) before `FS_IOC_SETFLAGS`. Without this operation every command
    /// fails with `ENOTTY`.
    fn node_ioctl(&self, node: Cookie, handle: FileHandle, ioctl: Ioctl<'_>, ctx: &Context<'_>) -> Result<IoctlAnswer> {
        Err(Errno::ENOSYS)
    }
}
