//! `dtfs`: an in-memory, read-write file system with the semantics of a real one (after NetBSD's
//! `dtfs`, the puffs test file system).
//!
//! It holds regular files (sparse: holes take no memory), directories, symbolic links, hard links,
//! device nodes, FIFOs and sockets, with owners, modes, the three times and extended attributes.
//! Rename supports `RENAME_NOREPLACE` and `RENAME_EXCHANGE`. Space is bounded by a capacity
//! (`ENOSPC` past it), reported by `statvfs`.
//!
//! Node lifetime follows the kernel: a node removed from the tree while the kernel still holds it
//! (an open file that was unlinked) lives on until `node_reclaim`; one the kernel does not hold
//! goes at once. [`Dtfs::node_count`] shows it.
//!
//! Permission checks are the kernel's: dtfs keeps POSIX ACLs
//! ([`FileSystem::POSIX_ACL`]), which turns `default_permissions` on, and the kernel checks
//! every access from the mode bits, the ACLs and the caller's groups before dtfs sees the
//! request. dtfs does not update access times on read (as if mounted
//! `noatime`), so reads can run in parallel.
//!
//! Mounted for real (as root; `dtfs -f MOUNTPOINT` does this):
//!
//! ```no_run
//! use puffs::{MountFlags, MountOptions, Usermount};
//! use puffs_examples::dtfs::Dtfs;
//!
//! let options = MountOptions::parse("default_permissions,allow_other")?;
//! let mounted = Usermount::init(Dtfs::new(), "dtfs")
//!     .mount_options(options)
//!     .mount("/mnt", MountFlags::empty(), Dtfs::ROOT)?;
//! mounted.mainloop()?;
//! # Ok::<(), puffs::Error>(())
//! ```
//!
//! Or in-process on the loopback kernel, keeping a clone to look inside:
//!
//! ```
//! use puffs::loopback::{self, MountArgs};
//! use puffs::{UnmountFlags, Usermount};
//! use puffs_examples::dtfs::Dtfs;
//!
//! let dtfs = Dtfs::new();
//! let usermount = Usermount::init(dtfs.clone(), "dtfs");
//! let args = MountArgs::of(&usermount, Dtfs::ROOT);
//! let mounted = loopback::mount(usermount, args)?;
//! mounted.client().mkdir("docs", 0o755).unwrap();
//! let file = mounted.client().create("docs/note", 0o644).unwrap();
//! mounted.client().write(&file, 0, b"kept in memory").unwrap();
//! mounted.client().close(file).unwrap();
//! assert_eq!(mounted.client().stat("docs/note").unwrap().size, 14);
//! assert_eq!(dtfs.node_count(), 3, "the root, docs and note");
//! mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).unwrap();
//! # Ok::<(), puffs::Error>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

use puffs::{
    puffs_fs, Cookie, Cred, DirBuf, Errno, FileHandle, FileSystem, NewNode, RenameFlags, Result, SetVattr, StatVfs,
    Vattr, Vtype, WaitFor, XattrFlags,
};

/// File content is kept in chunks of at most this size, each only as long as its last written
/// byte; a chunk never written is a hole.
const CHUNK: u64 = 64 * 1024;
/// The block size `statvfs` and `st_blksize` report.
const BLOCK: u64 = 4096;
/// The largest file: offsets past it are `EFBIG`.
const MAX_FILE_SIZE: u64 = 1 << 52;
/// The largest extended attribute value, as Linux's `XATTR_SIZE_MAX`.
const XATTR_SIZE_MAX: usize = 64 * 1024;
/// The largest link count of a node.
const LINK_MAX: u32 = 65_000;
/// Directory positions 0 and 1 are `.` and `..`; entries are numbered from here.
const FIRST_ENTRY_POSITION: u64 = 2;

/// The dtfs file system: its tree behind one lock.
///
/// A clone shares the tree: keep one to look at the file system (say, [`node_count`]) while
/// another is mounted.
///
/// [`node_count`]: Dtfs::node_count
#[derive(Debug, Clone)]
pub struct Dtfs {
    tree: Arc<RwLock<Tree>>,
}

#[derive(Debug)]
struct Tree {
    nodes: HashMap<u64, Node>,
    next_ino: u64,
    /// Bytes in use: file chunks and extended attributes.
    used: u64,
    capacity: u64,
    max_nodes: u64,
}

#[derive(Debug)]
struct Node {
    vattr: Vattr,
    content: Content,
    xattrs: BTreeMap<OsString, Vec<u8>>,
    /// Whether the kernel holds a reference to the node (it was handed out and not yet
    /// reclaimed). Atomic so that lookups, the commonest operation, share the tree's lock.
    known: AtomicBool,
}

#[derive(Debug)]
enum Content {
    File(BTreeMap<u64, Vec<u8>>),
    Dir(Directory),
    Symlink(OsString),
    /// Devices, FIFOs and sockets: only attributes.
    Special,
}

#[derive(Debug)]
struct Directory {
    parent: u64,
    entries: BTreeMap<OsString, Entry>,
    /// Entry names by readdir position: positions are never reused, so a listing that goes on
    /// while entries come and go neither repeats nor skips the ones that stay.
    positions: BTreeMap<u64, OsString>,
    next_position: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    ino: u64,
    position: u64,
}

impl Directory {
    fn new(parent: u64) -> Directory {
        Directory { parent, entries: BTreeMap::new(), positions: BTreeMap::new(), next_position: FIRST_ENTRY_POSITION }
    }

    fn insert(&mut self, name: &OsStr, ino: u64) {
        let position = self.next_position;
        self.next_position += 1;
        self.positions.insert(position, name.to_owned());
        self.entries.insert(name.to_owned(), Entry { ino, position });
    }

    fn remove(&mut self, name: &OsStr) -> Option<u64> {
        let entry = self.entries.remove(name)?;
        self.positions.remove(&entry.position);
        Some(entry.ino)
    }
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn read_lock(lock: &RwLock<Tree>) -> RwLockReadGuard<'_, Tree> {
    // A panic in an operation was answered EIO; the tree itself is left consistent, as every
    // operation checks before it changes anything.
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write_lock(lock: &RwLock<Tree>) -> RwLockWriteGuard<'_, Tree> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl Dtfs {
    /// The root directory's cookie, to pass to `mount`.
    pub const ROOT: Cookie = Cookie(1);

    /// An empty dtfs whose capacity is half the machine's memory; the root directory belongs to
    /// the user running it, mode 0755.
    pub fn new() -> Dtfs {
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten().unwrap_or(4096);
        let pages = nix::unistd::sysconf(nix::unistd::SysconfVar::_PHYS_PAGES).ok().flatten().unwrap_or(1 << 18);
        Dtfs::with_capacity((page as u64).saturating_mul(pages as u64) / 2)
    }

    /// An empty dtfs holding at most `bytes` of data; past it, writes fail with `ENOSPC`.
    pub fn with_capacity(bytes: u64) -> Dtfs {
        let mut root = Vattr::new(Vtype::Dir, 0o755, Dtfs::ROOT.0);
        root.nlink = 2;
        root.uid = nix::unistd::getuid().as_raw();
        root.gid = nix::unistd::getgid().as_raw();
        root.blocksize = BLOCK as u32;
        let mut nodes = HashMap::new();
        nodes.insert(
            Dtfs::ROOT.0,
            Node {
                vattr: root,
                content: Content::Dir(Directory::new(Dtfs::ROOT.0)),
                xattrs: BTreeMap::new(),
                known: AtomicBool::new(true),
            },
        );
        let capacity = bytes.max(CHUNK);
        let tree =
            Tree { nodes, next_ino: Dtfs::ROOT.0 + 1, used: 0, capacity, max_nodes: (capacity / 1024).max(1024) };
        Dtfs { tree: Arc::new(RwLock::new(tree)) }
    }

    /// How many nodes dtfs holds, the root included: nodes removed from the tree but still
    /// held by the kernel count until they are reclaimed.
    pub fn node_count(&self) -> usize {
        read_lock(&self.tree).nodes.len()
    }

    /// Bytes of data held (file content and extended attributes).
    pub fn bytes_used(&self) -> u64 {
        read_lock(&self.tree).used
    }
}

impl Default for Dtfs {
    fn default() -> Dtfs {
        Dtfs::new()
    }
}

impl Tree {
    fn node(&self, ino: Cookie) -> Result<&Node> {
        self.nodes.get(&ino.0).ok_or(Errno::ENOENT)
    }

    fn node_mut(&mut self, ino: u64) -> Result<&mut Node> {
        self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)
    }

    fn dir(&self, ino: u64) -> Result<&Directory> {
        match &self.nodes.get(&ino).ok_or(Errno::ENOENT)?.content {
            Content::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn dir_mut(&mut self, ino: u64) -> Result<&mut Directory> {
        match &mut self.node_mut(ino)?.content {
            Content::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn child(&self, dir: u64, name: &OsStr) -> Result<u64> {
        let directory = self.dir(dir)?;
        directory.entries.get(name).map(|e| e.ino).ok_or(Errno::ENOENT)
    }

    /// Hands `ino` to the kernel: it holds the node until `node_reclaim`.
    fn hand_out(&self, ino: u64) -> Result<NewNode> {
        let node = self.node(Cookie(ino))?;
        node.known.store(true, Ordering::Relaxed);
        Ok(NewNode::new(Cookie(ino), node.vattr.clone()))
    }

    fn touch_dir(&mut self, ino: u64) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            let t = now();
            node.vattr.mtime = t;
            node.vattr.ctime = t;
        }
    }

    /// Makes a node named `name` in `dir`, owned by the caller (the group of a set-gid
    /// directory, which a new directory inherits).
    fn make(
        &mut self,
        dir: u64,
        name: &OsStr,
        vtype: Vtype,
        mode: u32,
        cred: &Cred,
        content: Content,
    ) -> Result<NewNode> {
        let parent = self.node(Cookie(dir))?;
        let Content::Dir(directory) = &parent.content else { return Err(Errno::ENOTDIR) };
        if parent.vattr.nlink == 0 {
            // The directory was removed while the kernel still held it.
            return Err(Errno::ENOENT);
        }
        if directory.entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        if self.nodes.len() as u64 >= self.max_nodes {
            return Err(Errno::ENOSPC);
        }
        if vtype == Vtype::Dir && parent.vattr.nlink >= LINK_MAX {
            return Err(Errno::EMLINK);
        }
        let setgid_dir = parent.vattr.mode & 0o2000 != 0;
        let parent_gid = parent.vattr.gid;
        let ino = self.next_ino;
        self.next_ino += 1;
        let mut vattr = Vattr::new(vtype, mode, ino);
        vattr.uid = cred.uid;
        vattr.gid = if setgid_dir { parent_gid } else { cred.gid };
        if setgid_dir && vtype == Vtype::Dir {
            vattr.mode |= 0o2000;
        }
        vattr.blocksize = BLOCK as u32;
        if let Content::Symlink(target) = &content {
            vattr.size = target.len() as u64;
        }
        if vtype == Vtype::Dir {
            vattr.nlink = 2;
            self.node_mut(dir)?.vattr.nlink += 1;
        }
        self.nodes.insert(ino, Node { vattr, content, xattrs: BTreeMap::new(), known: AtomicBool::new(false) });
        self.dir_mut(dir)?.insert(name, ino);
        self.touch_dir(dir);
        self.hand_out(ino)
    }

    /// Takes one link from `ino`; a node left with no link that the kernel does not hold goes.
    fn unlink_node(&mut self, ino: u64) {
        let Some(node) = self.nodes.get_mut(&ino) else { return };
        node.vattr.nlink = match node.content {
            // A directory's link from its parent and its own `.` go together.
            Content::Dir(_) => 0,
            _ => node.vattr.nlink.saturating_sub(1),
        };
        node.vattr.ctime = now();
        if node.vattr.nlink == 0 && !node.known.load(Ordering::Relaxed) {
            self.free(ino);
        }
    }

    fn free(&mut self, ino: u64) {
        if ino == Dtfs::ROOT.0 {
            return;
        }
        if let Some(node) = self.nodes.remove(&ino) {
            self.used -= node_bytes(&node);
        }
    }

    /// Whether `ino` is `ancestor` or lies below it.
    fn is_within(&self, mut ino: u64, ancestor: u64) -> bool {
        loop {
            if ino == ancestor {
                return true;
            }
            match self.dir(ino) {
                Ok(d) if d.parent != ino => ino = d.parent,
                _ => return false,
            }
        }
    }

    fn file_mut(&mut self, ino: u64) -> Result<FileMut<'_>> {
        let used = &mut self.used;
        let capacity = self.capacity;
        let node = self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        match &mut node.content {
            Content::File(chunks) => Ok(FileMut { vattr: &mut node.vattr, chunks, used, capacity }),
            Content::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }
}

/// A regular file opened for change, with the tree's space accounting.
struct FileMut<'a> {
    vattr: &'a mut Vattr,
    chunks: &'a mut BTreeMap<u64, Vec<u8>>,
    used: &'a mut u64,
    capacity: u64,
}

fn node_bytes(node: &Node) -> u64 {
    let content = match &node.content {
        Content::File(chunks) => chunk_bytes(chunks),
        _ => 0,
    };
    content + node.xattrs.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum::<u64>()
}

fn chunk_bytes(chunks: &BTreeMap<u64, Vec<u8>>) -> u64 {
    chunks.values().map(|c| c.len() as u64).sum()
}

/// What a file's content occupies, in whole blocks (`st_blocks`).
fn allocated(chunks: &BTreeMap<u64, Vec<u8>>) -> u64 {
    chunks.values().map(|c| (c.len() as u64).next_multiple_of(BLOCK)).sum()
}

/// Sets the size of a file's content, freeing what lies past the new end, so that growing the
/// file again reads zeros there.
fn set_file_size(vattr: &mut Vattr, chunks: &mut BTreeMap<u64, Vec<u8>>, used: &mut u64, size: u64) {
    if size < vattr.size {
        let gone = chunks.split_off(&size.div_ceil(CHUNK));
        *used -= chunk_bytes(&gone);
        if let Some(last) = chunks.get_mut(&(size / CHUNK)) {
            let keep = (size % CHUNK) as usize;
            if last.len() > keep {
                *used -= (last.len() - keep) as u64;
                last.truncate(keep);
            }
        }
    }
    vattr.size = size;
    vattr.bytes = allocated(chunks);
}

fn vtype_of(tree: &Tree, ino: u64) -> Vtype {
    tree.nodes.get(&ino).map_or(Vtype::Reg, |n| n.vattr.vtype)
}

#[puffs_fs]
impl FileSystem for Dtfs {
    // dtfs stores the two ACL attributes like any other; the framework and the kernel do the rest.
    const POSIX_ACL: bool = true;

    fn fs_statvfs(&self, _cred: &Cred) -> Result<StatVfs> {
        let tree = read_lock(&self.tree);
        let blocks = tree.capacity / BLOCK;
        let free = tree.capacity.saturating_sub(tree.used) / BLOCK;
        Ok(StatVfs {
            frsize: BLOCK as u32,
            bsize: BLOCK as u32,
            blocks,
            bfree: free,
            bavail: free,
            files: tree.max_nodes,
            ffree: tree.max_nodes.saturating_sub(tree.nodes.len() as u64),
            namemax: 255,
        })
    }

    fn fs_sync(&self, _waitfor: WaitFor, _cred: &Cred) -> Result<()> {
        // Memory is the backing store: everything written is already there.
        Ok(())
    }

    fn node_lookup(&self, dir: Cookie, name: &OsStr, _cred: &Cred) -> Result<NewNode> {
        let tree = read_lock(&self.tree);
        let ino = match name.as_encoded_bytes() {
            b"." => tree.dir(dir.0).map(|_| dir.0)?,
            b".." => tree.dir(dir.0)?.parent,
            _ => tree.child(dir.0, name)?,
        };
        tree.hand_out(ino)
    }

    fn node_getattr(&self, node: Cookie, _cred: &Cred) -> Result<Vattr> {
        Ok(read_lock(&self.tree).node(node)?.vattr.clone())
    }

    fn node_setattr(&self, node: Cookie, changes: &SetVattr, _cred: &Cred) -> Result<Vattr> {
        let mut tree = write_lock(&self.tree);
        let t = now();
        if let Some(size) = changes.size {
            if size > MAX_FILE_SIZE {
                return Err(Errno::EFBIG);
            }
            let FileMut { vattr, chunks, used, .. } = tree.file_mut(node.0)?;
            set_file_size(vattr, chunks, used, size);
            vattr.mtime = t;
        }
        let vattr = &mut tree.node_mut(node.0)?.vattr;
        if let Some(mode) = changes.mode {
            vattr.mode = mode & puffs::MODE_PERMISSION_BITS;
        }
        // A change of owner (without a mode of its own) of a non-directory, or the kernel's
        // say-so, drops set-user-id, and set-group-id where it means "set the group"
        // (group-executable), as Linux does.
        let owner_changed = changes.uid.is_some() || changes.gid.is_some();
        if changes.kill_suid_sgid || (owner_changed && changes.mode.is_none() && vattr.vtype != Vtype::Dir) {
            vattr.mode &= !0o4000;
            if vattr.mode & 0o010 != 0 {
                vattr.mode &= !0o2000;
            }
        }
        if let Some(uid) = changes.uid {
            vattr.uid = uid;
        }
        if let Some(gid) = changes.gid {
            vattr.gid = gid;
        }
        if let Some(atime) = changes.atime {
            vattr.atime = atime.resolve();
        }
        if let Some(mtime) = changes.mtime {
            vattr.mtime = mtime.resolve();
        }
        vattr.ctime = changes.ctime.unwrap_or(t);
        Ok(vattr.clone())
    }

    fn node_create(&self, dir: Cookie, name: &OsStr, mode: u32, cred: &Cred) -> Result<NewNode> {
        write_lock(&self.tree).make(dir.0, name, Vtype::Reg, mode, cred, Content::File(BTreeMap::new()))
    }

    fn node_mknod(
        &self,
        dir: Cookie,
        name: &OsStr,
        vtype: Vtype,
        mode: u32,
        rdev: u64,
        cred: &Cred,
    ) -> Result<NewNode> {
        let content = match vtype {
            Vtype::Reg => Content::File(BTreeMap::new()),
            Vtype::Chr | Vtype::Blk | Vtype::Fifo | Vtype::Sock => Content::Special,
            Vtype::Dir | Vtype::Lnk => return Err(Errno::EINVAL),
        };
        let mut tree = write_lock(&self.tree);
        let made = tree.make(dir.0, name, vtype, mode, cred, content)?;
        let node = tree.node_mut(made.cookie.0)?;
        if matches!(vtype, Vtype::Chr | Vtype::Blk) {
            node.vattr.rdev = rdev;
        }
        Ok(NewNode::new(made.cookie, node.vattr.clone()))
    }

    fn node_read(&self, node: Cookie, _handle: FileHandle, offset: u64, buf: &mut [u8], _cred: &Cred) -> Result<usize> {
        let tree = read_lock(&self.tree);
        let node = tree.node(node)?;
        let chunks = match &node.content {
            Content::File(chunks) => chunks,
            Content::Dir(_) => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        };
        let size = node.vattr.size;
        if offset >= size {
            return Ok(0);
        }
        let n = (size - offset).min(buf.len() as u64) as usize;
        let mut done = 0;
        while done < n {
            let at = offset + done as u64;
            let (index, within) = (at / CHUNK, (at % CHUNK) as usize);
            let len = (CHUNK as usize - within).min(n - done);
            let out = &mut buf[done..done + len];
            let stored = chunks.get(&index).map_or(&[][..], |c| c.get(within..).unwrap_or(&[]));
            let copied = stored.len().min(len);
            out[..copied].copy_from_slice(&stored[..copied]);
            out[copied..].fill(0);
            done += len;
        }
        Ok(n)
    }

    fn node_write(&self, node: Cookie, _handle: FileHandle, offset: u64, data: &[u8], _cred: &Cred) -> Result<usize> {
        let mut tree = write_lock(&self.tree);
        let FileMut { vattr, chunks, used, capacity } = tree.file_mut(node.0)?;
        let end = offset.checked_add(data.len() as u64).filter(|&e| e <= MAX_FILE_SIZE).ok_or(Errno::EFBIG)?;
        if data.is_empty() {
            return Ok(0);
        }
        let growth: u64 = (offset / CHUNK..end.div_ceil(CHUNK))
            .map(|index| {
                let chunk_end = (end - index * CHUNK).min(CHUNK);
                chunk_end.saturating_sub(chunks.get(&index).map_or(0, |c| c.len() as u64))
            })
            .sum();
        if *used + growth > capacity {
            return Err(Errno::ENOSPC);
        }
        let mut done = 0;
        while done < data.len() {
            let at = offset + done as u64;
            let (index, within) = (at / CHUNK, (at % CHUNK) as usize);
            let len = (CHUNK as usize - within).min(data.len() - done);
            let chunk = chunks.entry(index).or_default();
            if chunk.len() < within + len {
                *used += (within + len - chunk.len()) as u64;
                let blocks_before = (chunk.len() as u64).next_multiple_of(BLOCK);
                chunk.resize(within + len, 0);
                vattr.bytes += (chunk.len() as u64).next_multiple_of(BLOCK) - blocks_before;
            }
            chunk[within..within + len].copy_from_slice(&data[done..done + len]);
            done += len;
        }
        vattr.size = vattr.size.max(end);
        let t = now();
        vattr.mtime = t;
        vattr.ctime = t;
        Ok(data.len())
    }

    fn node_readdir(
        &self,
        dir: Cookie,
        _handle: FileHandle,
        offset: u64,
        buf: &mut DirBuf<'_>,
        _cred: &Cred,
    ) -> Result<()> {
        let tree = read_lock(&self.tree);
        let directory = tree.dir(dir.0)?;
        let dots = [(0, dir.0, "."), (1, directory.parent, "..")];
        for (position, ino, name) in dots.into_iter().skip(offset.min(2) as usize) {
            if !buf.push(ino, position + 1, Vtype::Dir, OsStr::new(name)) {
                return Ok(());
            }
        }
        for (&position, name) in directory.positions.range(offset.max(FIRST_ENTRY_POSITION)..) {
            let ino = directory.entries[name].ino;
            if !buf.push(ino, position + 1, vtype_of(&tree, ino), name) {
                break;
            }
        }
        Ok(())
    }

    fn node_readlink(&self, node: Cookie, _cred: &Cred) -> Result<OsString> {
        match &read_lock(&self.tree).node(node)?.content {
            Content::Symlink(target) => Ok(target.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn node_symlink(&self, dir: Cookie, name: &OsStr, target: &OsStr, cred: &Cred) -> Result<NewNode> {
        if target.len() >= 4096 {
            return Err(Errno::ENAMETOOLONG);
        }
        write_lock(&self.tree).make(dir.0, name, Vtype::Lnk, 0o777, cred, Content::Symlink(target.to_owned()))
    }

    fn node_mkdir(&self, dir: Cookie, name: &OsStr, mode: u32, cred: &Cred) -> Result<NewNode> {
        write_lock(&self.tree).make(dir.0, name, Vtype::Dir, mode, cred, Content::Dir(Directory::new(dir.0)))
    }

    fn node_rmdir(&self, dir: Cookie, name: &OsStr, _cred: &Cred) -> Result<()> {
        match name.as_encoded_bytes() {
            b"." => return Err(Errno::EINVAL),
            b".." => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        let mut tree = write_lock(&self.tree);
        let ino = tree.child(dir.0, name)?;
        if !tree.dir(ino)?.entries.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        if ino == Dtfs::ROOT.0 {
            return Err(Errno::EBUSY);
        }
        tree.dir_mut(dir.0)?.remove(name);
        tree.node_mut(dir.0)?.vattr.nlink -= 1;
        tree.touch_dir(dir.0);
        tree.unlink_node(ino);
        Ok(())
    }

    fn node_remove(&self, dir: Cookie, name: &OsStr, _cred: &Cred) -> Result<()> {
        let mut tree = write_lock(&self.tree);
        let ino = tree.child(dir.0, name)?;
        if matches!(tree.node(Cookie(ino))?.content, Content::Dir(_)) {
            return Err(Errno::EISDIR);
        }
        tree.dir_mut(dir.0)?.remove(name);
        tree.touch_dir(dir.0);
        tree.unlink_node(ino);
        Ok(())
    }

    fn node_link(&self, dir: Cookie, node: Cookie, name: &OsStr, _cred: &Cred) -> Result<Vattr> {
        let mut tree = write_lock(&self.tree);
        let target = tree.node(node)?;
        if matches!(target.content, Content::Dir(_)) {
            return Err(Errno::EPERM);
        }
        if target.vattr.nlink >= LINK_MAX {
            return Err(Errno::EMLINK);
        }
        if target.vattr.nlink == 0 {
            return Err(Errno::ENOENT);
        }
        let directory = tree.dir(dir.0)?;
        if directory.entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        if tree.node(dir)?.vattr.nlink == 0 {
            return Err(Errno::ENOENT);
        }
        tree.dir_mut(dir.0)?.insert(name, node.0);
        tree.touch_dir(dir.0);
        let target = tree.node_mut(node.0)?;
        target.vattr.nlink += 1;
        target.vattr.ctime = now();
        Ok(tree.hand_out(node.0)?.vattr)
    }

    fn node_rename(
        &self,
        dir: Cookie,
        name: &OsStr,
        new_dir: Cookie,
        new_name: &OsStr,
        flags: RenameFlags,
        _cred: &Cred,
    ) -> Result<()> {
        if flags.contains(RenameFlags::WHITEOUT) || flags.contains(RenameFlags::EXCHANGE | RenameFlags::NOREPLACE) {
            return Err(Errno::EINVAL);
        }
        let dotted = |n: &OsStr| matches!(n.as_encoded_bytes(), b"." | b"..");
        if dotted(name) || dotted(new_name) {
            return Err(Errno::EINVAL);
        }
        let mut tree = write_lock(&self.tree);
        let (dir, new_dir) = (dir.0, new_dir.0);
        let source = tree.child(dir, name)?;
        tree.dir(new_dir)?;
        if tree.node(Cookie(new_dir))?.vattr.nlink == 0 {
            return Err(Errno::ENOENT);
        }
        let target = match tree.child(new_dir, new_name) {
            Ok(ino) => Some(ino),
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(e),
        };
        let is_dir = |tree: &Tree, ino: u64| matches!(tree.nodes.get(&ino).map(|n| &n.content), Some(Content::Dir(_)));
        let source_is_dir = is_dir(&tree, source);
        if source_is_dir && tree.is_within(new_dir, source) {
            return Err(Errno::EINVAL);
        }
        if flags.contains(RenameFlags::EXCHANGE) {
            let target = target.ok_or(Errno::ENOENT)?;
            let target_is_dir = is_dir(&tree, target);
            if target_is_dir && tree.is_within(dir, target) {
                return Err(Errno::EINVAL);
            }
            if source == target {
                return Ok(());
            }
            tree.dir_mut(dir)?.remove(name);
            tree.dir_mut(new_dir)?.remove(new_name);
            tree.dir_mut(dir)?.insert(name, target);
            tree.dir_mut(new_dir)?.insert(new_name, source);
            if dir != new_dir && source_is_dir != target_is_dir {
                let (gains, loses) = if source_is_dir { (new_dir, dir) } else { (dir, new_dir) };
                tree.node_mut(gains)?.vattr.nlink += 1;
                tree.node_mut(loses)?.vattr.nlink -= 1;
            }
            for (moved, parent) in [(source, new_dir), (target, dir)] {
                if let Ok(d) = tree.dir_mut(moved) {
                    d.parent = parent;
                }
                tree.node_mut(moved)?.vattr.ctime = now();
            }
            tree.touch_dir(dir);
            tree.touch_dir(new_dir);
            return Ok(());
        }
        if let Some(target) = target {
            if flags.contains(RenameFlags::NOREPLACE) {
                return Err(Errno::EEXIST);
            }
            if target == source {
                // Two names of one node: POSIX says do nothing.
                return Ok(());
            }
            match (source_is_dir, is_dir(&tree, target)) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !tree.dir(target)?.entries.is_empty() => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
            if tree.is_within(dir, target) {
                // The target directory holds the source: it is not empty.
                return Err(Errno::ENOTEMPTY);
            }
            tree.dir_mut(new_dir)?.remove(new_name);
            if source_is_dir {
                tree.node_mut(new_dir)?.vattr.nlink -= 1;
            }
            tree.unlink_node(target);
        }
        tree.dir_mut(dir)?.remove(name);
        tree.dir_mut(new_dir)?.insert(new_name, source);
        if source_is_dir && dir != new_dir {
            tree.dir_mut(source)?.parent = new_dir;
            tree.node_mut(dir)?.vattr.nlink -= 1;
            tree.node_mut(new_dir)?.vattr.nlink += 1;
        }
        tree.node_mut(source)?.vattr.ctime = now();
        tree.touch_dir(dir);
        tree.touch_dir(new_dir);
        Ok(())
    }

    fn node_fsync(&self, node: Cookie, _handle: FileHandle, _datasync: bool, _cred: &Cred) -> Result<()> {
        read_lock(&self.tree).node(node).map(drop)
    }

    fn node_reclaim(&self, node: Cookie) {
        let mut tree = write_lock(&self.tree);
        if let Some(n) = tree.nodes.get_mut(&node.0) {
            n.known.store(false, Ordering::Relaxed);
            if n.vattr.nlink == 0 {
                tree.free(node.0);
            }
        }
    }

    fn node_getextattr(&self, node: Cookie, name: &OsStr, _cred: &Cred) -> Result<Vec<u8>> {
        read_lock(&self.tree).node(node)?.xattrs.get(name).cloned().ok_or(Errno::ENODATA)
    }

    fn node_setextattr(&self, node: Cookie, name: &OsStr, value: &[u8], flags: XattrFlags, _cred: &Cred) -> Result<()> {
        if name.is_empty() {
            return Err(Errno::EINVAL);
        }
        if value.len() > XATTR_SIZE_MAX {
            return Err(Errno::E2BIG);
        }
        let mut tree = write_lock(&self.tree);
        let (used, capacity) = (tree.used, tree.capacity);
        let node = tree.node_mut(node.0)?;
        let old = node.xattrs.get(name).map(|v| (name.len() + v.len()) as u64);
        match (old.is_some(), flags.contains(XattrFlags::CREATE), flags.contains(XattrFlags::REPLACE)) {
            (true, true, _) => return Err(Errno::EEXIST),
            (false, _, true) => return Err(Errno::ENODATA),
            _ => {}
        }
        let new = (name.len() + value.len()) as u64;
        let used = used - old.unwrap_or(0) + new;
        if used > capacity {
            return Err(Errno::ENOSPC);
        }
        node.xattrs.insert(name.to_owned(), value.to_vec());
        node.vattr.ctime = now();
        tree.used = used;
        Ok(())
    }

    fn node_listextattr(&self, node: Cookie, _cred: &Cred) -> Result<Vec<OsString>> {
        Ok(read_lock(&self.tree).node(node)?.xattrs.keys().cloned().collect())
    }

    fn node_deleteextattr(&self, node: Cookie, name: &OsStr, _cred: &Cred) -> Result<()> {
        let mut tree = write_lock(&self.tree);
        let node = tree.node_mut(node.0)?;
        let value = node.xattrs.remove(name).ok_or(Errno::ENODATA)?;
        node.vattr.ctime = now();
        tree.used -= (name.len() + value.len()) as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: Cred = Cred::ROOT;

    fn write(fs: &Dtfs, node: Cookie, offset: u64, data: &[u8]) {
        assert_eq!(fs.node_write(node, FileHandle::NONE, offset, data, &ROOT), Ok(data.len()));
    }

    fn read(fs: &Dtfs, node: Cookie, offset: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0xaa; len];
        let n = fs.node_read(node, FileHandle::NONE, offset, &mut buf, &ROOT).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn holes_read_as_zeros_and_take_no_space() {
        let fs = Dtfs::with_capacity(1 << 30);
        let file = fs.node_create(Dtfs::ROOT, OsStr::new("f"), 0o644, &ROOT).unwrap().cookie;
        write(&fs, file, 10 * CHUNK + 5, b"tail");
        assert_eq!(fs.bytes_used(), 9);
        assert_eq!(fs.node_getattr(file, &ROOT).unwrap().bytes, BLOCK);
        assert_eq!(fs.node_getattr(file, &ROOT).unwrap().size, 10 * CHUNK + 9);
        assert_eq!(read(&fs, file, 3 * CHUNK, 4), vec![0; 4]);
        assert_eq!(read(&fs, file, 10 * CHUNK + 3, 100), b"\0\0tail");
        // A write across a chunk boundary lands in both chunks.
        write(&fs, file, CHUNK - 2, b"abcd");
        assert_eq!(read(&fs, file, CHUNK - 2, 4), b"abcd");
    }

    #[test]
    fn shrinking_then_growing_reads_zeros_past_the_old_end() {
        let fs = Dtfs::with_capacity(1 << 30);
        let file = fs.node_create(Dtfs::ROOT, OsStr::new("f"), 0o644, &ROOT).unwrap().cookie;
        write(&fs, file, 0, &[7; 100]);
        let shrink = SetVattr { size: Some(10), ..SetVattr::default() };
        fs.node_setattr(file, &shrink, &ROOT).unwrap();
        let grow = SetVattr { size: Some(100), ..SetVattr::default() };
        fs.node_setattr(file, &grow, &ROOT).unwrap();
        let data = read(&fs, file, 0, 200);
        assert_eq!(&data[..10], &[7; 10]);
        assert_eq!(&data[10..], &[0; 90]);
        let empty = SetVattr { size: Some(0), ..SetVattr::default() };
        fs.node_setattr(file, &empty, &ROOT).unwrap();
        assert_eq!(fs.bytes_used(), 0);
    }

    #[test]
    fn capacity_is_enforced() {
        let fs = Dtfs::with_capacity(2 * CHUNK);
        let file = fs.node_create(Dtfs::ROOT, OsStr::new("f"), 0o644, &ROOT).unwrap().cookie;
        write(&fs, file, 0, &[1; 2 * CHUNK as usize]);
        assert_eq!(fs.node_write(file, FileHandle::NONE, 2 * CHUNK, b"x", &ROOT), Err(Errno::ENOSPC));
        assert_eq!(fs.node_write(file, FileHandle::NONE, MAX_FILE_SIZE, b"x", &ROOT), Err(Errno::EFBIG));
    }

    #[test]
    fn unlinked_nodes_live_until_the_kernel_lets_go() {
        let fs = Dtfs::with_capacity(1 << 30);
        let file = fs.node_create(Dtfs::ROOT, OsStr::new("f"), 0o644, &ROOT).unwrap().cookie;
        write(&fs, file, 0, b"still here");
        fs.node_remove(Dtfs::ROOT, OsStr::new("f"), &ROOT).unwrap();
        assert_eq!(fs.node_count(), 2, "the kernel still holds the node");
        assert_eq!(read(&fs, file, 0, 64), b"still here");
        fs.node_reclaim(file);
        assert_eq!(fs.node_count(), 1);
        assert_eq!(fs.bytes_used(), 0);
        // A linked node survives reclaim: the kernel may look it up again.
        let kept = fs.node_mkdir(Dtfs::ROOT, OsStr::new("d"), 0o755, &ROOT).unwrap().cookie;
        fs.node_reclaim(kept);
        assert_eq!(fs.node_lookup(Dtfs::ROOT, OsStr::new("d"), &ROOT).unwrap().cookie, kept);
        // A node the kernel no longer holds goes as soon as its last link does.
        fs.node_reclaim(kept);
        fs.node_rmdir(Dtfs::ROOT, OsStr::new("d"), &ROOT).unwrap();
        assert_eq!(fs.node_count(), 1);
    }

    #[test]
    fn rename_keeps_directory_links_and_refuses_loops() {
        let fs = Dtfs::with_capacity(1 << 30);
        let cred = &ROOT;
        let a = fs.node_mkdir(Dtfs::ROOT, OsStr::new("a"), 0o755, cred).unwrap().cookie;
        let b = fs.node_mkdir(Dtfs::ROOT, OsStr::new("b"), 0o755, cred).unwrap().cookie;
        let c = fs.node_mkdir(a, OsStr::new("c"), 0o755, cred).unwrap().cookie;
        let none = RenameFlags::empty();
        assert_eq!(fs.node_rename(Dtfs::ROOT, OsStr::new("a"), c, OsStr::new("x"), none, cred), Err(Errno::EINVAL));
        fs.node_rename(a, OsStr::new("c"), b, OsStr::new("c2"), none, cred).unwrap();
        assert_eq!(fs.node_getattr(a, cred).unwrap().nlink, 2);
        assert_eq!(fs.node_getattr(b, cred).unwrap().nlink, 3);
        assert_eq!(fs.node_lookup(c, OsStr::new(".."), cred).unwrap().cookie, b);
        // A non-empty directory is not replaced; an empty one is.
        assert_eq!(
            fs.node_rename(Dtfs::ROOT, OsStr::new("a"), Dtfs::ROOT, OsStr::new("b"), none, cred),
            Err(Errno::ENOTEMPTY)
        );
        fs.node_rename(Dtfs::ROOT, OsStr::new("b"), Dtfs::ROOT, OsStr::new("a"), none, cred).unwrap();
        assert_eq!(fs.node_getattr(Dtfs::ROOT, cred).unwrap().nlink, 3);
        // Exchange swaps the two names.
        fs.node_create(Dtfs::ROOT, OsStr::new("f"), 0o644, cred).unwrap();
        fs.node_rename(Dtfs::ROOT, OsStr::new("f"), Dtfs::ROOT, OsStr::new("a"), RenameFlags::EXCHANGE, cred).unwrap();
        assert_eq!(fs.node_lookup(Dtfs::ROOT, OsStr::new("f"), cred).unwrap().vattr.vtype, Vtype::Dir);
        assert_eq!(fs.node_lookup(Dtfs::ROOT, OsStr::new("a"), cred).unwrap().vattr.vtype, Vtype::Reg);
    }
}
