//! Open files of a loopback mount: open, create, read, write, fsync, close, and directory
//! listing (the kernel's `struct file`).

use std::ffi::OsStr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::fcntl::OFlag;

use crate::dirent::{parse_direntplus, parse_dirents, Dirent};
use crate::fs::cookie::FileHandle;
use crate::fs::lock::{FileLock, LockKind, LockOwner};
use crate::fuse::abi::InitFlags;
use crate::fuse::reply::{attr_from_wire, decode_body, ReplyBody, ReplyKind};
use crate::fuse::request::Operation;
use crate::settings::REQUEST_LEN_MAX;
use crate::vattr::{SetVattr, Vattr, Vtype};

use super::client::{attr_of, empty_of, entry_of, Client, Op};
use super::kernel::Flavor;
use super::namei::Node;

/// One listed entry, with the node id and attributes `READDIRPLUS` gave it (a lookup held).
pub(super) type Listed = (Dirent, Option<(u64, Vattr)>);

/// The entries of a `READDIRPLUS` reply. When it is unreadable, the node ids that could be
/// read are handed to `forget` (the kernel forgets what it could not use) and it is `EIO`.
fn parse_listing_plus(body: &[u8], forget: impl FnOnce(&[u64])) -> Result<Vec<Listed>, Errno> {
    let records = parse_direntplus(body).ok_or(Errno::EIO)?;
    let nodeids: Vec<u64> = records.iter().map(|(entry, _, _)| entry.nodeid).filter(|&id| id != 0).collect();
    let mut listed = Vec::with_capacity(records.len());
    for (entry, attr, dirent) in records {
        let found = match (entry.nodeid, attr_from_wire(&attr)) {
            (0, _) => None,
            (nodeid, Some(vattr)) => Some((nodeid, vattr)),
            (_, None) => {
                forget(&nodeids);
                return Err(Errno::EIO);
            }
        };
        listed.push((dirent, found));
    }
    Ok(listed)
}

/// Bytes asked for in one `READDIR`.
pub(super) const READDIR_CHUNK: u32 = 4096;

/// An open file or directory of a loopback mount (the kernel's `struct file`): pass it to
/// [`Client::read`], [`Client::write`] and [`Client::fsync`]. It holds its node until it is
/// closed: by [`Client::close`], which answers errors, or when it is dropped, as a process's
/// descriptors close when it exits (`RELEASE`, then its node is forgotten).
#[derive(Debug)]
pub struct OpenFile {
    /// The client that closes it on drop; `None` once closed, or for a file a call opens and
    /// closes itself.
    pub(super) owner: Option<Client>,
    pub(super) nodeid: u64,
    pub(super) fh: u64,
    pub(super) flags: OFlag,
    pub(super) vtype: Vtype,
    /// Opened without asking the file system (no `OPEN` support): no `RELEASE` at close.
    pub(super) unasked: bool,
    /// The open file description's own number: the owner of its `flock` lock.
    pub(super) description: u64,
    /// A `flock` lock was asked through it: its release drops the lock.
    pub(super) flocked: AtomicBool,
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        if let Some(client) = self.owner.take() {
            client.release(self);
            client.forget(&[self.nodeid]);
        }
    }
}

impl OpenFile {
    /// The handle the file system chose ([`FileHandle::NONE`] without `node_open`).
    pub fn handle(&self) -> FileHandle {
        FileHandle(self.fh)
    }

    /// The flags it was opened with.
    pub fn flags(&self) -> OFlag {
        self.flags
    }

    /// The type of the node.
    pub fn vtype(&self) -> Vtype {
        self.vtype
    }

    fn access_mode(&self) -> OFlag {
        self.flags & OFlag::O_ACCMODE
    }

    /// `EBADF` unless open for writing.
    pub(super) fn writable(&self) -> Result<(), Errno> {
        if self.access_mode() == OFlag::O_RDONLY {
            return Err(Errno::EBADF);
        }
        Ok(())
    }
}

impl Client {
    /// The attributes of an open file (`fstat(2)`: `GETATTR` with its handle).
    pub fn fstat(&self, file: &OpenFile) -> Result<Vattr, Errno> {
        let _op = self.enter()?;
        attr_of(&self.call(file.nodeid, &Operation::Getattr { fh: Some(file.fh) }, Flavor::Client)?)
    }

    /// Opens `path` (`open(2)`): with `O_CREAT` a missing file is created with permissions
    /// `mode` (`CREATE`, or `MKNOD` and `OPEN` if the file system has no create), `O_EXCL`
    /// refuses an existing one with `EEXIST`, `O_TRUNC` truncates (in the `OPEN` when the file
    /// system granted `ATOMIC_O_TRUNC`, else by a `SETATTR`). Directories open read-only
    /// (`OPENDIR`). The returned file holds its node until [`close`](Client::close).
    pub fn open(&self, path: impl AsRef<Path>, flags: OFlag, mode: u32) -> Result<OpenFile, Errno> {
        let path = path.as_ref();
        let mut op = self.enter()?;
        let atomic_trunc = self.shared.lock().granted.contains(InitFlags::ATOMIC_O_TRUNC);
        let mut wire_flags = flags & !(OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOCTTY);
        if !atomic_trunc {
            wire_flags.remove(OFlag::O_TRUNC);
        }
        let mut created = None;
        let node = if flags.contains(OFlag::O_CREAT) {
            let (dir, name) = self.parent(&mut op, path, Errno::EISDIR)?;
            match self.lookup(&mut op, &dir, &name) {
                Ok(_) if flags.contains(OFlag::O_EXCL) => return Err(Errno::EEXIST),
                Ok(node) if node.vattr.vtype == Vtype::Lnk => self.resolve(&mut op, path, true)?,
                Ok(node) => node,
                Err(Errno::ENOENT) => {
                    let (node, fh) = self.create_node(&mut op, &dir, &name, flags, mode)?;
                    created = fh;
                    node
                }
                Err(e) => return Err(e),
            }
        } else {
            self.resolve(&mut op, path, true)?
        };
        let access = flags & OFlag::O_ACCMODE;
        match node.vattr.vtype {
            Vtype::Dir if access != OFlag::O_RDONLY => return Err(Errno::EISDIR),
            Vtype::Dir => {}
            _ if flags.contains(OFlag::O_DIRECTORY) => return Err(Errno::ENOTDIR),
            Vtype::Lnk => return Err(Errno::ELOOP),
            _ => {}
        }
        let dir = node.vattr.vtype == Vtype::Dir;
        let truncates = created.is_none() && flags.contains(OFlag::O_TRUNC) && !dir && access != OFlag::O_RDONLY;
        let kill_suidgid = self.kills_privileges(truncates && !self.cred.is_root());
        let (fh, unasked) = match created {
            Some(fh) => (fh, false),
            None => self.open_node(&node, wire_flags, dir, kill_suidgid)?,
        };
        let mut file = self.open_file(node.nodeid, fh, flags, node.vattr.vtype, unasked);
        if truncates && !atomic_trunc {
            // As the kernel truncates for open: a SETATTR without the open file's handle. With
            // ATOMIC_O_TRUNC it leaves truncation to the OPEN, even an OPEN it no longer sends.
            let setattr =
                Operation::Setattr { changes: SetVattr { size: Some(0), ..SetVattr::default() }, kill_suidgid };
            if let Err(e) = self.call(node.nodeid, &setattr, Flavor::Client) {
                self.release(&file);
                return Err(e);
            }
        }
        op.keep(node.nodeid);
        file.owner = Some(self.clone());
        Ok(file)
    }

    /// Opens a new file without a name in directory `dir` (`open(2)` with `O_TMPFILE`:
    /// `TMPFILE`); `flags` must write. `EOPNOTSUPP` when the file system cannot, as the kernel
    /// answers. [`link_open`](Client::link_open) gives it a name.
    pub fn tmpfile(&self, dir: impl AsRef<Path>, flags: OFlag, mode: u32) -> Result<OpenFile, Errno> {
        let mut op = self.enter()?;
        if flags & OFlag::O_ACCMODE == OFlag::O_RDONLY {
            return Err(Errno::EINVAL);
        }
        let dir = self.resolve(&mut op, dir.as_ref(), true)?;
        if dir.vattr.vtype != Vtype::Dir {
            return Err(Errno::ENOTDIR);
        }
        let flags = flags & !(OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOCTTY | OFlag::O_TRUNC | OFlag::O_TMPFILE);
        let tmpfile = Operation::Tmpfile { mode: mode & crate::MODE_PERMISSION_BITS, umask: 0, flags };
        let body = match self.call(dir.nodeid, &tmpfile, Flavor::Client) {
            Err(Errno::ENOSYS) => return Err(Errno::EOPNOTSUPP),
            outcome => outcome?,
        };
        let Some(ReplyBody::Create { entry, attr, open }) = decode_body(ReplyKind::Create, &body) else {
            return Err(Errno::EIO);
        };
        if entry.nodeid == 0 {
            return Err(Errno::EIO);
        }
        op.held.push(entry.nodeid);
        let mut file = self.open_file(entry.nodeid, open.fh, flags, Vtype::Reg, false);
        if attr_from_wire(&attr).is_none() {
            // The file system opened it: close it, as the kernel does with a reply it cannot use.
            self.release(&file);
            return Err(Errno::EIO);
        }
        op.keep(entry.nodeid);
        file.owner = Some(self.clone());
        Ok(file)
    }

    /// Gives open file `file` the name `new` (`linkat(2)` with `AT_EMPTY_PATH`: `LINK` of its
    /// node), as a file opened with [`tmpfile`](Client::tmpfile) is kept.
    pub fn link_open(&self, file: &OpenFile, new: impl AsRef<Path>) -> Result<(), Errno> {
        let mut op = self.enter()?;
        self.link_node(&mut op, file.nodeid, file.vtype, new.as_ref())
    }
}

impl Client {
    /// Creates `name` in `dir` and opens it: the node and, if the file system opened it, its
    /// handle.
    pub(super) fn create_node(
        &self,
        op: &mut Op<'_>,
        dir: &Node,
        name: &OsStr,
        flags: OFlag,
        mode: u32,
    ) -> Result<(Node, Option<u64>), Errno> {
        let mode = mode & crate::MODE_PERMISSION_BITS;
        let create = Operation::Create { name, mode, umask: 0, flags: flags & !OFlag::O_NOCTTY };
        match self.call(dir.nodeid, &create, Flavor::Client) {
            Ok(body) => match decode_body(ReplyKind::Create, &body) {
                Some(ReplyBody::Create { entry, attr, open }) if entry.nodeid != 0 => {
                    op.held.push(entry.nodeid);
                    let vattr = attr_from_wire(&attr).ok_or(Errno::EIO)?;
                    Ok((Node { nodeid: entry.nodeid, vattr }, Some(open.fh)))
                }
                _ => Err(Errno::EIO),
            },
            Err(Errno::ENOSYS) => {
                // No create: make the node, then open it like any other.
                let mknod = Operation::Mknod { name, vtype: Vtype::Reg, mode, rdev: 0, umask: 0 };
                let body = self.call(dir.nodeid, &mknod, Flavor::Client)?;
                let (nodeid, vattr) = entry_of(&body)?;
                if nodeid == 0 {
                    return Err(Errno::EIO);
                }
                op.held.push(nodeid);
                Ok((Node { nodeid, vattr }, None))
            }
            Err(e) => Err(e),
        }
    }

    /// `OPEN`/`OPENDIR` of `node`: the handle, and whether the open went unasked.
    /// `kill_suidgid`: a truncating open drops the set-id bits.
    pub(super) fn open_node(
        &self,
        node: &Node,
        flags: OFlag,
        dir: bool,
        kill_suidgid: bool,
    ) -> Result<(u64, bool), Errno> {
        let unasked = {
            let state = self.shared.lock();
            if dir {
                state.no_opendir
            } else {
                state.no_open
            }
        };
        if unasked {
            return Ok((0, true));
        }
        match self.call(node.nodeid, &Operation::Open { flags, dir, kill_suidgid }, Flavor::Client) {
            Ok(body) => match decode_body(ReplyKind::Open, &body) {
                Some(ReplyBody::Open(out)) => Ok((out.fh, false)),
                _ => Err(Errno::EIO),
            },
            Err(Errno::ENOSYS) => {
                // FUSE_NO_OPEN(DIR)_SUPPORT: opens succeed without the file system from now on.
                let mut state = self.shared.lock();
                if dir {
                    state.no_opendir = true;
                } else {
                    state.no_open = true;
                }
                Ok((0, true))
            }
            Err(e) => Err(e),
        }
    }

    /// An open file of `nodeid`, with a description number of its own.
    pub(super) fn open_file(&self, nodeid: u64, fh: u64, flags: OFlag, vtype: Vtype, unasked: bool) -> OpenFile {
        let description = self.shared.next_unique.fetch_add(1, Ordering::Relaxed);
        OpenFile { owner: None, nodeid, fh, flags, vtype, unasked, description, flocked: AtomicBool::new(false) }
    }

    /// Closing an open file, as the kernel does: `FLUSH` of a file (with the caller's lock
    /// owner, unless the file system said `ENOSYS` once), then `RELEASE`/`RELEASEDIR`, which
    /// drops a `flock` lock taken through it, unless the file was opened unasked.
    pub(super) fn release(&self, file: &OpenFile) {
        let fh = FileHandle(file.fh);
        if file.vtype != Vtype::Dir && !self.shared.lock().no_flush {
            let flush = Operation::Flush { fh, owner: self.lock_owner() };
            if self.call(file.nodeid, &flush, Flavor::Client) == Err(Errno::ENOSYS) {
                self.shared.lock().no_flush = true;
            }
        }
        let flock_owner = file.flocked.load(Ordering::Relaxed).then_some(LockOwner(file.description));
        if file.unasked {
            if let Some(owner) = flock_owner {
                let unlock = FileLock::whole(LockKind::Unlock, self.cred.pid);
                let _ = self.call(
                    file.nodeid,
                    &Operation::Setlk { fh, owner, lock: unlock, flock: true, wait: false },
                    Flavor::Client,
                );
            }
            return;
        }
        let release = Operation::Release { fh, flags: file.flags, dir: file.vtype == Vtype::Dir, flock_owner };
        let _ = self.call(file.nodeid, &release, Flavor::Client);
    }
}

impl Client {
    /// Creates `path` with permissions `mode`, or truncates it if it exists, and opens it for
    /// reading and writing (`open(path, O_CREAT | O_RDWR | O_TRUNC, mode)`).
    pub fn create(&self, path: impl AsRef<Path>, mode: u32) -> Result<OpenFile, Errno> {
        self.open(path, OFlag::O_CREAT | OFlag::O_RDWR | OFlag::O_TRUNC, mode)
    }

    /// Reads at most `len` bytes at `offset` (`pread(2)`), in `READ`s of at most
    /// [`max_write`](Client::max_write) bytes; fewer at the end of the file.
    pub fn read(&self, file: &OpenFile, offset: u64, len: usize) -> Result<Vec<u8>, Errno> {
        let _op = self.enter()?;
        if file.vtype == Vtype::Dir {
            return Err(Errno::EISDIR);
        }
        if file.access_mode() == OFlag::O_WRONLY {
            return Err(Errno::EBADF);
        }
        let chunk = (self.max_write().max(4096) as usize).min(REQUEST_LEN_MAX);
        let mut data = Vec::new();
        while data.len() < len {
            let size = (len - data.len()).min(chunk);
            let read = Operation::Read {
                fh: FileHandle(file.fh),
                offset: offset.saturating_add(data.len() as u64),
                size: size as u32,
            };
            let body = self.call(file.nodeid, &read, Flavor::Client)?;
            if body.len() > size {
                return Err(Errno::EIO);
            }
            let short = body.len() < size;
            data.extend_from_slice(&body);
            if short {
                break;
            }
        }
        Ok(data)
    }

    /// Writes `data` at `offset` (`pwrite(2)`), in `WRITE`s of at most
    /// [`max_write`](Client::max_write) bytes; answers how many bytes were written.
    pub fn write(&self, file: &OpenFile, offset: u64, data: &[u8]) -> Result<usize, Errno> {
        let _op = self.enter()?;
        if file.vtype == Vtype::Dir {
            return Err(Errno::EISDIR);
        }
        if file.access_mode() == OFlag::O_RDONLY {
            return Err(Errno::EBADF);
        }
        let chunk = self.max_write().max(1) as usize;
        // As the kernel writes for a caller without CAP_FSETID.
        let kill_suidgid = self.kills_privileges(!self.cred.is_root());
        let mut written = 0;
        for piece in data.chunks(chunk) {
            let write = Operation::Write {
                fh: FileHandle(file.fh),
                offset: offset.saturating_add(written as u64),
                data: piece,
                kill_suidgid,
            };
            let body = self.call(file.nodeid, &write, Flavor::Client)?;
            let n = match decode_body(ReplyKind::Write, &body) {
                Some(ReplyBody::Write(out)) if out.size as usize <= piece.len() => out.size as usize,
                _ => return Err(Errno::EIO),
            };
            written += n;
            if n < piece.len() {
                break;
            }
        }
        Ok(written)
    }

    /// Flushes an open file to stable storage (`fsync(2)`, `fdatasync(2)` if `datasync`).
    /// A file system without `node_fsync` has nothing to flush.
    pub fn fsync(&self, file: &OpenFile, datasync: bool) -> Result<(), Errno> {
        let _op = self.enter()?;
        let fsync = Operation::Fsync { fh: FileHandle(file.fh), datasync, dir: file.vtype == Vtype::Dir };
        match self.call(file.nodeid, &fsync, Flavor::Client) {
            Ok(body) => empty_of(&body),
            Err(Errno::ENOSYS) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Closes an open file: `RELEASE` (unless it was opened without asking), then its node is
    /// forgotten.
    pub fn close(&self, mut file: OpenFile) -> Result<(), Errno> {
        // Closed here, whatever happens: not again on drop.
        file.owner = None;
        let mut op = self.enter()?;
        self.release(&file);
        op.held.push(file.nodeid);
        Ok(())
    }

    /// The entries of directory `path` as the file system lists them (`.` and `..` included if
    /// it gives them): `OPENDIR`, `READDIR` until an empty reply, `RELEASEDIR`.
    pub fn readdir(&self, path: impl AsRef<Path>) -> Result<Vec<Dirent>, Errno> {
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, path.as_ref(), true)?;
        if node.vattr.vtype != Vtype::Dir {
            return Err(Errno::ENOTDIR);
        }
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
        let (fh, unasked) = self.open_node(&node, flags, true, false)?;
        let file = self.open_file(node.nodeid, fh, flags, Vtype::Dir, unasked);
        let listed = self.read_entries(&file, false).map(|entries| entries.into_iter().map(|(d, _)| d).collect());
        self.release(&file);
        listed
    }

    /// The entries of directory `path` with their attributes, as `ls -l` needs them: with
    /// `READDIRPLUS` when the file system's side granted it at `INIT` (the framework answers
    /// it from `node_readdir` and `node_lookup`; each node it hands out is forgotten when the
    /// call ends), else `READDIR` and a lookup of each entry, as the kernel does. `.` and `..`,
    /// and entries the file system could not look up, come without attributes.
    pub fn readdir_plus(&self, path: impl AsRef<Path>) -> Result<Vec<(Dirent, Option<Vattr>)>, Errno> {
        let path = path.as_ref();
        let plus = self.shared.lock().granted.contains(InitFlags::DO_READDIRPLUS);
        let listed = {
            let mut op = self.enter()?;
            let node = self.resolve(&mut op, path, true)?;
            if node.vattr.vtype != Vtype::Dir {
                return Err(Errno::ENOTDIR);
            }
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
            let (fh, unasked) = self.open_node(&node, flags, true, false)?;
            let file = self.open_file(node.nodeid, fh, flags, Vtype::Dir, unasked);
            let listed = self.read_entries(&file, plus);
            self.release(&file);
            let listed = listed?;
            op.held.extend(listed.iter().filter_map(|(_, found)| found.as_ref().map(|(nodeid, _)| *nodeid)));
            listed
        };
        let mut entries = Vec::with_capacity(listed.len());
        for (dirent, found) in listed {
            let vattr = match found {
                Some((_, vattr)) => Some(vattr),
                None if plus || dirent.name == "." || dirent.name == ".." => None,
                None => self.stat(path.join(&dirent.name)).ok(),
            };
            entries.push((dirent, vattr));
        }
        Ok(entries)
    }
}

impl Client {
    /// The entries of open directory `dir`, with `plus` by `READDIRPLUS`: then each entry
    /// that came with a node has its node id and attributes, and the caller holds one lookup
    /// of each such node id (a node listed twice, twice). On failure nothing is held.
    pub(super) fn read_entries(&self, dir: &OpenFile, plus: bool) -> Result<Vec<Listed>, Errno> {
        let mut entries: Vec<Listed> = Vec::new();
        let listing = self.list_into(dir, plus, &mut entries);
        if listing.is_err() {
            self.forget(
                &entries.iter().filter_map(|(_, found)| found.as_ref().map(|(nodeid, _)| *nodeid)).collect::<Vec<_>>(),
            );
        }
        listing.map(|()| entries)
    }

    fn list_into(&self, dir: &OpenFile, plus: bool, entries: &mut Vec<Listed>) -> Result<(), Errno> {
        let mut offset = 0;
        loop {
            let readdir = Operation::Readdir { fh: FileHandle(dir.fh), offset, size: READDIR_CHUNK, plus };
            let body = self.call(dir.nodeid, &readdir, Flavor::Client)?;
            let batch = if plus {
                parse_listing_plus(&body, |nodeids| self.forget(nodeids))?
            } else {
                parse_dirents(&body).ok_or(Errno::EIO)?.into_iter().map(|dirent| (dirent, None)).collect()
            };
            if body.len() > READDIR_CHUNK as usize {
                entries.extend(batch);
                return Err(Errno::EIO);
            }
            let Some(next) = batch.last().map(|(last, _)| last.next_offset) else { return Ok(()) };
            entries.extend(batch);
            // An offset that does not move would list forever.
            if next == offset || entries.len() > 1 << 20 {
                return Err(Errno::EIO);
            }
            offset = next;
        }
    }
}
