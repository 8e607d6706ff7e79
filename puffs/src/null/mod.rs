//! The null file system (libpuffs `puffs_null`; go-fuse's `LoopbackRoot`, libfuse's
//! passthrough_ll): [`Null`] mirrors a host directory, every operation done on the host file
//! it names.
//!
//! It is a file system in its own right, with `nullfs` as its program, and the lower layer of
//! overlays that change one or two operations: a block with `#[puffs_fs(lower = null)]`
//! defines only those, and every other request goes to the `Null` in its field `null`.
//!
//! ```no_run
//! use std::ffi::OsStr;
//! use puffs::null::Null;
//! use puffs::{puffs_fs, Context, Cookie, Errno, FileSystem, NewNode, Result};
//!
//! /// The host directory, with the names that start with a dot hidden.
//! struct NoDots {
//!     null: Null,
//! }
//!
//! #[puffs_fs(lower = null)]
//! impl FileSystem for NoDots {
//!     fn node_lookup(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
//!         if name.as_encoded_bytes().starts_with(b".") {
//!             return Err(Errno::ENOENT);
//!         }
//!         self.null.node_lookup(dir, name, ctx)
//!     }
//! }
//!
//! let fs = NoDots { null: Null::new("/srv/data")? };
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # How it maps the host
//!
//! - A node is an `O_PATH` descriptor of a host inode (see `nodes`), so the host may rename
//!   what the kernel knows. Its inode number is the host's; hard links share a node.
//! - An open is the host file opened again through `/proc/self/fd` with the open's flags.
//!   With [`MountInfo::passthrough`](crate::MountInfo::passthrough) granted (the
//!   `passthrough` mount option, as root) the open hands it to the kernel as its backing file
//!   ([`Opened::with_backing`]), and reads, writes and maps skip the server entirely.
//!   Otherwise reads go out with [`ReadOut::reply_from_file`].
//! - A node made by a caller (create, mkdir, mknod, symlink, tmpfile) is made with the
//!   caller's identity on the host (see `caller`), and its mode is the one asked, whatever
//!   the server's umask.
//! - Permissions are the kernel's to check: mount with `default_permissions`, as `nullfs`
//!   does. Without kernel checks, only the server's own user and root are served; anyone
//!   else gets `EACCES`.
//! - Left to the kernel: byte-range and `flock` locks (kept by the kernel when
//!   `node_advlock` is absent, right for one mount of the tree), `poll` (regular files are
//!   always ready) and `ioctl`. Extended attributes of symbolic links cannot be reached
//!   without following them: they read as none and refuse changes with `EPERM`, as in
//!   passthrough_ll.

mod caller;
mod host;
mod nodes;

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::fcntl::{OFlag, AT_FDCWD};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{AccessFlags, Gid, Uid, UnlinkatFlags};
use puffs_macros::puffs_fs;

use crate::dirent::DirBuf;
use crate::fs::answer::{BackingFile, NewNode, Opened, StatVfs};
use crate::fs::context::Context;
use crate::fs::cookie::{Cookie, FileHandle};
use crate::fs::flags::{FallocateFlags, RenameFlags, SeekWhence, WaitFor, XattrFlags};
use crate::fs::lock::LockOwner;
use crate::fs::read::{Answered, ReadOut};
use crate::fs::{FileSystem, Result};
use crate::settings::MountInfo;
use crate::vattr::{SetVattr, TimeSet, Vattr, Vtype, MODE_PERMISSION_BITS};
use caller::Server;
use host::proc_path;
use nodes::{Handles, Node, Nodes, Open};

/// A pass-through of a host directory (libpuffs `puffs_null`): every operation is done on the
/// host file its node names. See the [module](self) for how, and for overlays over it.
#[derive(Debug)]
pub struct Null {
    source: PathBuf,
    nodes: Nodes,
    handles: Handles,
    /// Files just created, opened by `node_create` or `node_tmpfile` for the open that
    /// follows (which may ask for access the new file's mode would refuse).
    created: Mutex<HashMap<Cookie, File>>,
    server: Server,
    /// Opens hand their file to the kernel as its backing file.
    passthrough: AtomicBool,
    /// The kernel checks permissions (see the module's docs).
    kernel_checks: AtomicBool,
}

impl Null {
    /// The root's cookie.
    pub const ROOT: Cookie = Cookie(1);

    /// A null file system of the host directory `source`.
    pub fn new(source: impl AsRef<Path>) -> std::io::Result<Null> {
        let source = source.as_ref().to_path_buf();
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let root = nix::fcntl::open(&source, flags, Mode::empty())?;
        let key = host::stat(root.as_fd())?.key();
        Ok(Null {
            source,
            nodes: Nodes::new(root, key, Null::ROOT),
            handles: Handles::default(),
            created: Mutex::default(),
            server: Server::current(),
            passthrough: AtomicBool::new(false),
            kernel_checks: AtomicBool::new(true),
        })
    }

    /// The host directory mirrored.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The host file open as `handle`, for an overlay that reads or writes it itself.
    /// `EBADF` for a handle not open, `EISDIR` for a directory's.
    pub fn file(&self, handle: FileHandle) -> Result<Arc<File>> {
        self.handles.file(handle)
    }

    /// How many nodes the kernel holds, the root included.
    pub fn nodes_held(&self) -> usize {
        self.nodes.len()
    }

    /// How many files and directories are open.
    pub fn files_open(&self) -> usize {
        self.handles.len()
    }

    /// Whether `ctx`'s caller is served: always when the kernel checks permissions, else only
    /// the server's own user and root.
    fn allow(&self, ctx: &Context<'_>) -> Result<()> {
        let uid = ctx.cred().uid;
        if self.kernel_checks.load(Ordering::Relaxed) || uid == 0 || uid == self.server.uid() {
            Ok(())
        } else {
            Err(Errno::EACCES)
        }
    }

    /// The node named `name` in `dir` (found or just made there): its cookie and attributes.
    fn enter(&self, dir: &Node, name: &OsStr) -> Result<NewNode> {
        if name == "." || name == ".." {
            // The kernel resolves these itself; `..` of the root would leave the tree.
            return Err(Errno::EINVAL);
        }
        let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::openat(dir.fd(), name, flags, Mode::empty())?;
        self.enter_fd(fd)
    }

    /// The node of the host inode `fd` (an `O_PATH` descriptor) opens.
    fn enter_fd(&self, fd: OwnedFd) -> Result<NewNode> {
        let attr = host::stat(fd.as_fd())?;
        let cookie = self.nodes.enter(fd, attr.key(), attr.vattr.vtype);
        Ok(NewNode::new(cookie, attr.vattr))
    }

    /// `vattr`, the attributes of a node just made with `mode`, with the permission bits of
    /// that mode: the host took away those of the server's umask, where the kernel applied
    /// the caller's already. The set-id bits stay as the host's rules made them (a directory
    /// inherits set-group-id; a file in a group its maker is not in loses it). Done as the
    /// server, which keeps them.
    fn settle_mode(fd: BorrowedFd<'_>, vattr: Vattr, mode: u32) -> Result<Vattr> {
        let (have, want) = (vattr.mode, mode & 0o777);
        if have & 0o777 == want || vattr.vtype == Vtype::Lnk {
            return Ok(vattr);
        }
        let mode = permissions((have & !0o777) | want);
        nix::sys::stat::fchmodat(AT_FDCWD, proc_path(fd).as_c_str(), mode, FchmodatFlags::FollowSymlink)?;
        Ok(host::stat(fd)?.vattr)
    }

    /// Makes a node in `dir` with `make` (given the directory's descriptor), as the caller,
    /// and answers it with `mode` settled.
    fn make(
        &self,
        dir: Cookie,
        name: &OsStr,
        mode: Option<u32>,
        ctx: &Context<'_>,
        make: impl FnOnce(BorrowedFd<'_>) -> Result<()>,
    ) -> Result<NewNode> {
        self.allow(ctx)?;
        let dir = self.nodes.get(dir)?;
        {
            let _caller = self.server.act_as(ctx.cred())?;
            make(dir.fd())?;
        }
        let made = self.enter(&dir, name)?;
        let Some(mode) = mode else { return Ok(made) };
        let vattr = Self::settle_mode(self.nodes.get(made.cookie)?.fd(), made.vattr, mode)?;
        Ok(NewNode::new(made.cookie, vattr))
    }

    /// Keeps `file`, just created, for the open that follows, and answers its node.
    fn created(&self, file: File, mode: u32) -> Result<NewNode> {
        let attr = host::stat(file.as_fd())?;
        let vattr = Self::settle_mode(file.as_fd(), attr.vattr.clone(), mode)?;
        let path = proc_path(file.as_fd());
        let fd = nix::fcntl::open(path.as_c_str(), OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())?;
        let cookie = self.nodes.enter(fd, attr.key(), vattr.vtype);
        self.created.lock().unwrap_or_else(|e| e.into_inner()).insert(cookie, file);
        Ok(NewNode::new(cookie, vattr))
    }

    /// Opens node `node` as `flags` ask: a directory for listing, a file through its `/proc`
    /// path (the file just created, for the open after a create).
    fn open(&self, cookie: Cookie, flags: OFlag) -> Result<Open> {
        if flags.contains(OFlag::O_CREAT) {
            if let Some(file) = self.created.lock().unwrap_or_else(|e| e.into_inner()).remove(&cookie) {
                let status = flags & (OFlag::O_APPEND | OFlag::O_NONBLOCK | OFlag::O_DIRECT | OFlag::O_NOATIME);
                if !status.is_empty() {
                    nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_SETFL(status))?;
                }
                return Ok(Open::File(Arc::new(file)));
            }
        }
        let node = self.nodes.get(cookie)?;
        let path = proc_path(node.fd());
        if node.vtype == Vtype::Dir {
            let dir = nix::fcntl::open(
                path.as_c_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            return Ok(Open::Dir(Mutex::new(dir)));
        }
        // The `/proc` link is itself a symbolic link: `O_NOFOLLOW` would refuse it, and the
        // node is never a link. Creation and truncation are done already.
        let flags = (flags - (OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOCTTY | OFlag::O_TRUNC | OFlag::O_NOFOLLOW))
            | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::open(path.as_c_str(), flags, Mode::empty())?;
        Ok(Open::File(Arc::new(File::from(fd))))
    }

    /// The `/proc` path of `node` for extended attributes, which a symbolic link cannot give
    /// without following it: `None` for one.
    fn xattr_path(&self, node: Cookie) -> Result<Option<std::ffi::CString>> {
        let node = self.nodes.get(node)?;
        Ok((node.vtype != Vtype::Lnk).then(|| proc_path(node.fd())))
    }
}

/// The permission bits of `mode` (set-id and sticky bits included) as the host calls take them.
fn permissions(mode: u32) -> Mode {
    Mode::from_bits_truncate((mode & MODE_PERMISSION_BITS) as nix::libc::mode_t)
}

/// A `SetVattr` time as `utimensat` takes it.
fn timespec(time: Option<TimeSet>) -> TimeSpec {
    match time {
        None => TimeSpec::UTIME_OMIT,
        Some(TimeSet::Now) => TimeSpec::UTIME_NOW,
        Some(TimeSet::At(t)) => {
            let (secs, nanos) = crate::vattr::time_to_wire(t);
            TimeSpec::new(secs, i64::from(nanos))
        }
    }
}

/// The host's `FALLOC_FL_*` flags of `mode`.
fn fallocate_flags(mode: FallocateFlags) -> nix::fcntl::FallocateFlags {
    nix::fcntl::FallocateFlags::from_bits_truncate(mode.bits() as i32)
}

#[puffs_fs]
impl FileSystem for Null {
    fn fs_mounted(&self, info: &MountInfo) {
        self.passthrough.store(info.passthrough, Ordering::Relaxed);
        self.kernel_checks.store(info.kernel_checks, Ordering::Relaxed);
        if !info.kernel_checks {
            log::warn!("null: mounted without default_permissions: only uid {} and root are served", self.server.uid());
        }
    }

    fn fs_statvfs(&self, ctx: &Context<'_>) -> Result<StatVfs> {
        self.allow(ctx)?;
        Ok(StatVfs::from(&nix::sys::statvfs::fstatvfs(self.nodes.get(Null::ROOT)?.fd())?))
    }

    fn fs_sync(&self, _waitfor: WaitFor, _ctx: &Context<'_>) -> Result<()> {
        nix::unistd::syncfs(self.nodes.get(Null::ROOT)?.fd())
    }

    fn node_lookup(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
        self.allow(ctx)?;
        self.enter(&*self.nodes.get(dir)?, name)
    }

    fn node_getattr(&self, node: Cookie, ctx: &Context<'_>) -> Result<Vattr> {
        self.allow(ctx)?;
        Ok(host::stat(self.nodes.get(node)?.fd())?.vattr)
    }

    fn node_setattr(&self, node: Cookie, changes: &SetVattr, ctx: &Context<'_>) -> Result<Vattr> {
        self.allow(ctx)?;
        let node = self.nodes.get(node)?;
        let fd = node.fd();
        if let Some(mode) = changes.mode {
            let mode = permissions(mode);
            nix::sys::stat::fchmodat(AT_FDCWD, proc_path(fd).as_c_str(), mode, FchmodatFlags::FollowSymlink)?;
        }
        if changes.uid.is_some() || changes.gid.is_some() {
            let flags = nix::fcntl::AtFlags::AT_EMPTY_PATH | nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW;
            nix::unistd::fchownat(fd, "", changes.uid.map(Uid::from_raw), changes.gid.map(Gid::from_raw), flags)?;
        }
        if let Some(size) = changes.size {
            let size = i64::try_from(size).map_err(|_| Errno::EFBIG)?;
            // Through the open file where it was opened for writing; an open without write
            // access (`O_RDONLY | O_TRUNC`) truncates through the path, as the host would.
            let through_file = match changes.handle.map(|handle| self.handles.file(handle)) {
                Some(Ok(file)) => nix::unistd::ftruncate(&*file, size),
                _ => Err(Errno::EBADF),
            };
            match through_file {
                Err(Errno::EBADF | Errno::EINVAL) => nix::unistd::truncate(proc_path(fd).as_c_str(), size)?,
                done => done?,
            }
        }
        if changes.atime.is_some() || changes.mtime.is_some() {
            let (atime, mtime) = (timespec(changes.atime), timespec(changes.mtime));
            if node.vtype == Vtype::Lnk {
                // No race-free way to reach a link's own times but `AT_EMPTY_PATH`, which not
                // every kernel takes for `utimensat`.
                let times = [*atime.as_ref(), *mtime.as_ref()];
                // SAFETY: `times` holds two timespecs and the path is a C string.
                let res = unsafe {
                    nix::libc::utimensat(fd.as_raw_fd(), c"".as_ptr(), times.as_ptr(), nix::libc::AT_EMPTY_PATH)
                };
                Errno::result(res).map_err(|e| if e == Errno::EINVAL { Errno::EPERM } else { e })?;
            } else {
                let path = proc_path(fd);
                nix::sys::stat::utimensat(AT_FDCWD, path.as_c_str(), &atime, &mtime, UtimensatFlags::FollowSymlink)?;
            }
        }
        Ok(host::stat(fd)?.vattr)
    }

    fn node_create(&self, dir: Cookie, name: &OsStr, mode: u32, ctx: &Context<'_>) -> Result<NewNode> {
        self.allow(ctx)?;
        let dir = self.nodes.get(dir)?;
        let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let perm = permissions(mode);
        let fd = {
            let _caller = self.server.act_as(ctx.cred())?;
            nix::fcntl::openat(dir.fd(), name, flags, perm)?
        };
        self.created(File::from(fd), mode)
    }

    fn node_tmpfile(&self, dir: Cookie, mode: u32, ctx: &Context<'_>) -> Result<NewNode> {
        self.allow(ctx)?;
        let dir = self.nodes.get(dir)?;
        let perm = permissions(mode);
        let fd = {
            let _caller = self.server.act_as(ctx.cred())?;
            nix::fcntl::openat(dir.fd(), ".", OFlag::O_TMPFILE | OFlag::O_RDWR | OFlag::O_CLOEXEC, perm)?
        };
        self.created(File::from(fd), mode)
    }

    fn node_mknod(
        &self,
        dir: Cookie,
        name: &OsStr,
        vtype: Vtype,
        mode: u32,
        rdev: u64,
        ctx: &Context<'_>,
    ) -> Result<NewNode> {
        let kind = SFlag::from_bits_truncate(vtype.to_mode_bits() as nix::libc::mode_t);
        let perm = permissions(mode);
        self.make(dir, name, Some(mode), ctx, |dir| nix::sys::stat::mknodat(dir, name, kind, perm, rdev))
    }

    fn node_mkdir(&self, dir: Cookie, name: &OsStr, mode: u32, ctx: &Context<'_>) -> Result<NewNode> {
        let perm = permissions(mode);
        self.make(dir, name, Some(mode), ctx, |dir| nix::sys::stat::mkdirat(dir, name, perm))
    }

    fn node_symlink(&self, dir: Cookie, name: &OsStr, target: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
        self.make(dir, name, None, ctx, |dir| nix::unistd::symlinkat(target, dir, name))
    }

    fn node_open(&self, node: Cookie, flags: OFlag, ctx: &Context<'_>) -> Result<Opened> {
        self.allow(ctx)?;
        let open = self.open(node, flags)?;
        let backing = match &open {
            Open::File(file) if self.passthrough.load(Ordering::Relaxed) => Some(BackingFile::shared(file.clone())),
            _ => None,
        };
        let opened = Opened::handle(self.handles.insert(open));
        Ok(match backing {
            Some(file) => opened.with_backing(file),
            None => opened,
        })
    }

    fn node_close(&self, _node: Cookie, handle: FileHandle, _flags: OFlag) -> Result<()> {
        self.handles.remove(handle);
        Ok(())
    }

    fn node_access(&self, node: Cookie, mode: AccessFlags, ctx: &Context<'_>) -> Result<()> {
        self.allow(ctx)?;
        let node = self.nodes.get(node)?;
        let _caller = self.server.act_as(ctx.cred())?;
        let path = proc_path(node.fd());
        nix::unistd::faccessat(AT_FDCWD, path.as_c_str(), mode, nix::fcntl::AtFlags::AT_EACCESS)
    }

    fn node_read(
        &self,
        _node: Cookie,
        handle: FileHandle,
        offset: u64,
        out: ReadOut<'_>,
        ctx: &Context<'_>,
    ) -> Result<Answered> {
        self.allow(ctx)?;
        out.reply_from_file(&*self.handles.file(handle)?, offset)
    }

    fn node_write(
        &self,
        _node: Cookie,
        handle: FileHandle,
        offset: u64,
        data: &[u8],
        ctx: &Context<'_>,
    ) -> Result<usize> {
        self.allow(ctx)?;
        let file = self.handles.file(handle)?;
        file.write_at(data, offset).map_err(|e| crate::error::io_errno(&e))
    }

    fn node_readdir(
        &self,
        _dir: Cookie,
        handle: FileHandle,
        offset: u64,
        buf: &mut DirBuf<'_>,
        ctx: &Context<'_>,
    ) -> Result<()> {
        self.allow(ctx)?;
        let open = self.handles.get(handle)?;
        let Open::Dir(dir) = &*open else { return Err(Errno::ENOTDIR) };
        let dir = dir.lock().unwrap_or_else(|e| e.into_inner());
        let mut chunk = [0u8; 8192];
        let mut at = offset;
        loop {
            let n = host::read_dir(dir.as_fd(), at, &mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            for entry in host::entries(&chunk[..n]) {
                let vtype = match host::dirent_vtype(entry.d_type) {
                    Some(vtype) => vtype,
                    None => match host::stat_name(dir.as_fd(), entry.name) {
                        Ok(attr) => attr.vattr.vtype,
                        // Gone since it was listed.
                        Err(_) => {
                            at = entry.next;
                            continue;
                        }
                    },
                };
                if !buf.push(entry.ino, entry.next, vtype, entry.name) {
                    return Ok(());
                }
                at = entry.next;
            }
        }
    }

    fn node_readlink(&self, node: Cookie, ctx: &Context<'_>) -> Result<OsString> {
        self.allow(ctx)?;
        nix::fcntl::readlinkat(self.nodes.get(node)?.fd(), "")
    }

    fn node_rmdir(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<()> {
        self.allow(ctx)?;
        nix::unistd::unlinkat(self.nodes.get(dir)?.fd(), name, UnlinkatFlags::RemoveDir)
    }

    fn node_remove(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<()> {
        self.allow(ctx)?;
        nix::unistd::unlinkat(self.nodes.get(dir)?.fd(), name, UnlinkatFlags::NoRemoveDir)
    }

    fn node_link(&self, dir: Cookie, node: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<Vattr> {
        self.allow(ctx)?;
        let (dir, node) = (self.nodes.get(dir)?, self.nodes.get(node)?);
        let path = proc_path(node.fd());
        let follow = nix::fcntl::AtFlags::AT_SYMLINK_FOLLOW;
        nix::unistd::linkat(AT_FDCWD, path.as_c_str(), dir.fd(), name, follow)?;
        Ok(host::stat(node.fd())?.vattr)
    }

    fn node_rename(
        &self,
        dir: Cookie,
        name: &OsStr,
        new_dir: Cookie,
        new_name: &OsStr,
        flags: RenameFlags,
        ctx: &Context<'_>,
    ) -> Result<()> {
        self.allow(ctx)?;
        let (dir, new_dir) = (self.nodes.get(dir)?, self.nodes.get(new_dir)?);
        let flags = nix::fcntl::RenameFlags::from_bits_truncate(flags.bits());
        nix::fcntl::renameat2(dir.fd(), name, new_dir.fd(), new_name, flags)
    }

    fn node_fsync(&self, _node: Cookie, handle: FileHandle, datasync: bool, ctx: &Context<'_>) -> Result<()> {
        self.allow(ctx)?;
        let open = self.handles.get(handle)?;
        let sync = |fd: BorrowedFd<'_>| if datasync { nix::unistd::fdatasync(fd) } else { nix::unistd::fsync(fd) };
        match &*open {
            Open::File(file) => sync(file.as_fd()),
            Open::Dir(dir) => sync(dir.lock().unwrap_or_else(|e| e.into_inner()).as_fd()),
        }
    }

    fn node_reclaim(&self, node: Cookie) {
        self.nodes.forget(node);
        self.created.lock().unwrap_or_else(|e| e.into_inner()).remove(&node);
    }

    fn node_getextattr(&self, node: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<Vec<u8>> {
        self.allow(ctx)?;
        match self.xattr_path(node)? {
            Some(path) => host::get_xattr(&path, name),
            None => Err(Errno::ENODATA),
        }
    }

    fn node_setextattr(
        &self,
        node: Cookie,
        name: &OsStr,
        value: &[u8],
        flags: XattrFlags,
        ctx: &Context<'_>,
    ) -> Result<()> {
        self.allow(ctx)?;
        let path = self.xattr_path(node)?.ok_or(Errno::EPERM)?;
        host::set_xattr(&path, name, value, flags.bits() as i32)
    }

    fn node_listextattr(&self, node: Cookie, ctx: &Context<'_>) -> Result<Vec<OsString>> {
        self.allow(ctx)?;
        match self.xattr_path(node)? {
            Some(path) => host::list_xattr(&path),
            None => Ok(Vec::new()),
        }
    }

    fn node_deleteextattr(&self, node: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<()> {
        self.allow(ctx)?;
        let path = self.xattr_path(node)?.ok_or(Errno::EPERM)?;
        host::remove_xattr(&path, name)
    }

    fn node_flush(&self, _node: Cookie, handle: FileHandle, _owner: LockOwner, ctx: &Context<'_>) -> Result<()> {
        self.allow(ctx)?;
        // What `close(2)` of the caller's descriptor would do on the host: closing a duplicate
        // flushes as a close does, and leaves the file open for the release.
        let dup = nix::unistd::dup(&*self.handles.file(handle)?)?;
        nix::unistd::close(dup)
    }

    fn node_fallocate(
        &self,
        _node: Cookie,
        handle: FileHandle,
        offset: u64,
        len: u64,
        mode: FallocateFlags,
        ctx: &Context<'_>,
    ) -> Result<()> {
        self.allow(ctx)?;
        let file = self.handles.file(handle)?;
        let (offset, len) =
            (i64::try_from(offset).map_err(|_| Errno::EFBIG)?, i64::try_from(len).map_err(|_| Errno::EFBIG)?);
        nix::fcntl::fallocate(&*file, fallocate_flags(mode), offset, len)
    }

    fn node_fdiscard(&self, node: Cookie, handle: FileHandle, offset: u64, len: u64, ctx: &Context<'_>) -> Result<()> {
        let mode = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
        self.node_fallocate(node, handle, offset, len, mode, ctx)
    }

    fn node_seek(
        &self,
        _node: Cookie,
        handle: FileHandle,
        offset: u64,
        whence: SeekWhence,
        ctx: &Context<'_>,
    ) -> Result<u64> {
        self.allow(ctx)?;
        let file = self.handles.file(handle)?;
        let whence = match whence {
            SeekWhence::Data => nix::unistd::Whence::SeekData,
            SeekWhence::Hole => nix::unistd::Whence::SeekHole,
        };
        let at = nix::unistd::lseek(&*file, i64::try_from(offset).map_err(|_| Errno::ENXIO)?, whence)?;
        u64::try_from(at).map_err(|_| Errno::EIO)
    }

    fn node_copy_file_range(
        &self,
        _node: Cookie,
        handle: FileHandle,
        offset: u64,
        _to: Cookie,
        to_handle: FileHandle,
        to_offset: u64,
        len: u64,
        ctx: &Context<'_>,
    ) -> Result<u64> {
        self.allow(ctx)?;
        let (from, to) = (self.handles.file(handle)?, self.handles.file(to_handle)?);
        let mut from_at = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
        let mut to_at = i64::try_from(to_offset).map_err(|_| Errno::EINVAL)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let copied = nix::fcntl::copy_file_range(&*from, Some(&mut from_at), &*to, Some(&mut to_at), len)?;
        Ok(copied as u64)
    }
}
