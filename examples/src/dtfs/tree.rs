//! dtfs's tree: nodes by inode number, directories with stable readdir positions, and the space
//! accounting behind `ENOSPC` (file content, in sparse chunks, is `content`'s). The operations in `ops` work
//! on it under the one lock of [`Dtfs`](super::Dtfs).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

use puffs::{Cookie, Cred, Errno, NewNode, Result, Vattr, Vtype};
use rustc_hash::FxHashMap;

use super::content::{chunk_bytes, FileMut};
use super::Dtfs;

/// File content is kept in chunks of at most this size, each only as long as its last written
/// byte; a chunk never written is a hole.
pub(super) const CHUNK: u64 = 64 * 1024;
/// The block size `statvfs` and `st_blksize` report.
pub(super) const BLOCK: u64 = 4096;
/// The largest file: offsets past it are `EFBIG`.
pub(super) const MAX_FILE_SIZE: u64 = 1 << 52;
/// The largest extended attribute value, as Linux's `XATTR_SIZE_MAX`.
pub(super) const XATTR_SIZE_MAX: usize = 64 * 1024;
/// The largest link count of a node.
pub(super) const LINK_MAX: u32 = 65_000;
/// Directory positions 0 and 1 are `.` and `..`; entries are numbered from here.
pub(super) const FIRST_ENTRY_POSITION: u64 = 2;

#[derive(Debug)]
pub(super) struct Tree {
    pub(super) nodes: FxHashMap<u64, Node>,
    pub(super) next_ino: u64,
    /// Bytes in use: file chunks and extended attributes.
    pub(super) used: u64,
    pub(super) capacity: u64,
    pub(super) max_nodes: u64,
}

#[derive(Debug)]
pub(super) struct Node {
    pub(super) vattr: Vattr,
    pub(super) content: Content,
    pub(super) xattrs: BTreeMap<OsString, Vec<u8>>,
    /// Whether the kernel holds a reference to the node (it was handed out and not yet
    /// reclaimed). Atomic so that lookups, the commonest operation, share the tree's lock.
    pub(super) known: AtomicBool,
    /// Made without a name (`O_TMPFILE`) and never linked since: its first link may come
    /// while it has none (the kernel's `I_LINKABLE`).
    pub(super) linkable: bool,
}

#[derive(Debug)]
pub(super) enum Content {
    File(super::content::Chunks),
    Dir(Directory),
    Symlink(OsString),
    /// Devices, FIFOs and sockets: only attributes.
    Special,
}

#[derive(Debug)]
pub(super) struct Directory {
    pub(super) parent: u64,
    pub(super) entries: BTreeMap<OsString, Entry>,
    /// Entry names by readdir position: positions are never reused, so a listing that goes on
    /// while entries come and go neither repeats nor skips the ones that stay.
    pub(super) positions: BTreeMap<u64, OsString>,
    next_position: u64,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    pub(super) ino: u64,
    position: u64,
}

impl Directory {
    pub(super) fn new(parent: u64) -> Directory {
        Directory { parent, entries: BTreeMap::new(), positions: BTreeMap::new(), next_position: FIRST_ENTRY_POSITION }
    }

    pub(super) fn insert(&mut self, name: &OsStr, ino: u64) {
        let position = self.next_position;
        self.next_position += 1;
        self.positions.insert(position, name.to_owned());
        self.entries.insert(name.to_owned(), Entry { ino, position });
    }

    pub(super) fn remove(&mut self, name: &OsStr) -> Option<u64> {
        let entry = self.entries.remove(name)?;
        self.positions.remove(&entry.position);
        Some(entry.ino)
    }
}

pub(super) fn now() -> SystemTime {
    SystemTime::now()
}

pub(super) fn read_lock(lock: &RwLock<Tree>) -> RwLockReadGuard<'_, Tree> {
    // A panic in an operation was answered EIO; the tree itself is left consistent, as every
    // operation checks before it changes anything.
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn write_lock(lock: &RwLock<Tree>) -> RwLockWriteGuard<'_, Tree> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl Tree {
    pub(super) fn node(&self, ino: Cookie) -> Result<&Node> {
        self.nodes.get(&ino.0).ok_or(Errno::ENOENT)
    }

    pub(super) fn node_mut(&mut self, ino: u64) -> Result<&mut Node> {
        self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)
    }

    pub(super) fn dir(&self, ino: u64) -> Result<&Directory> {
        match &self.nodes.get(&ino).ok_or(Errno::ENOENT)?.content {
            Content::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    pub(super) fn dir_mut(&mut self, ino: u64) -> Result<&mut Directory> {
        match &mut self.node_mut(ino)?.content {
            Content::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    pub(super) fn child(&self, dir: u64, name: &OsStr) -> Result<u64> {
        let directory = self.dir(dir)?;
        directory.entries.get(name).map(|e| e.ino).ok_or(Errno::ENOENT)
    }

    /// Hands `ino` to the kernel: it holds the node until `node_reclaim`.
    pub(super) fn hand_out(&self, ino: u64) -> Result<NewNode> {
        let node = self.node(Cookie(ino))?;
        node.known.store(true, Ordering::Relaxed);
        Ok(NewNode::new(Cookie(ino), node.vattr.clone()))
    }

    pub(super) fn touch_dir(&mut self, ino: u64) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            let t = now();
            node.vattr.mtime = t;
            node.vattr.ctime = t;
        }
    }

    /// Makes a node named `name` in `dir`, owned by the caller (the group of a set-gid
    /// directory, which a new directory inherits).
    pub(super) fn make(
        &mut self,
        dir: u64,
        name: &OsStr,
        vtype: Vtype,
        mode: u32,
        cred: &Cred,
        content: Content,
    ) -> Result<NewNode> {
        self.make_in(dir, Some(name), vtype, mode, cred, content)
    }

    /// Makes a regular file without a name in `dir` (`O_TMPFILE`): no links until one is given.
    pub(super) fn make_unnamed(&mut self, dir: u64, mode: u32, cred: &Cred) -> Result<NewNode> {
        self.make_in(dir, None, Vtype::Reg, mode, cred, Content::File(BTreeMap::new()))
    }

    fn make_in(
        &mut self,
        dir: u64,
        name: Option<&OsStr>,
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
        if name.is_some_and(|name| directory.entries.contains_key(name)) {
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
        vattr.birthtime = Some(vattr.ctime);
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
        let Some(name) = name else {
            vattr.nlink = 0;
            let node = Node { vattr, content, xattrs: BTreeMap::new(), known: AtomicBool::new(false), linkable: true };
            self.nodes.insert(ino, node);
            return self.hand_out(ino);
        };
        let node = Node { vattr, content, xattrs: BTreeMap::new(), known: AtomicBool::new(false), linkable: false };
        self.nodes.insert(ino, node);
        self.dir_mut(dir)?.insert(name, ino);
        self.touch_dir(dir);
        self.hand_out(ino)
    }

    /// Takes one link from `ino`; a node left with no link that the kernel does not hold goes.
    pub(super) fn unlink_node(&mut self, ino: u64) {
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

    pub(super) fn free(&mut self, ino: u64) {
        if ino == Dtfs::ROOT.0 {
            return;
        }
        if let Some(node) = self.nodes.remove(&ino) {
            self.used -= node_bytes(&node);
        }
    }

    /// Whether `ino` is `ancestor` or lies below it.
    pub(super) fn is_within(&self, mut ino: u64, ancestor: u64) -> bool {
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

    pub(super) fn file_mut(&mut self, ino: u64) -> Result<FileMut<'_>> {
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

fn node_bytes(node: &Node) -> u64 {
    let content = match &node.content {
        Content::File(chunks) => chunk_bytes(chunks),
        _ => 0,
    };
    content + node.xattrs.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum::<u64>()
}

pub(super) fn vtype_of(tree: &Tree, ino: u64) -> Vtype {
    tree.nodes.get(&ino).map_or(Vtype::Reg, |n| n.vattr.vtype)
}
