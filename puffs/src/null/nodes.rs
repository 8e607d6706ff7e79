//! What the null file system keeps: its nodes, each an `O_PATH` descriptor of a host inode
//! named by a cookie of its own, one per host inode (hard links share it); and its open
//! files and directories, by handle.
//!
//! Holding a descriptor rather than a path keeps a node valid when the host renames it or a
//! directory above it, as libfuse's passthrough_ll does. Cookies are never reused, so the
//! generation of every node is 0.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use nix::errno::Errno;
use rustc_hash::FxHashMap;

use crate::fs::cookie::{Cookie, FileHandle};
use crate::fs::Result;
use crate::vattr::Vtype;

/// One host inode the kernel knows.
#[derive(Debug)]
pub(crate) struct Node {
    fd: OwnedFd,
    key: (u64, u64),
    /// The inode's type, which never changes.
    pub(crate) vtype: Vtype,
}

impl Node {
    /// The node's `O_PATH` descriptor.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The nodes, by cookie and by host inode.
#[derive(Debug)]
pub(super) struct Nodes {
    table: RwLock<Table>,
}

#[derive(Debug)]
struct Table {
    by_cookie: FxHashMap<Cookie, Arc<Node>>,
    by_key: FxHashMap<(u64, u64), Cookie>,
    next: u64,
}

impl Nodes {
    /// A table holding the root, `root`'s descriptor of the inode `key`.
    pub(super) fn new(root: OwnedFd, key: (u64, u64), root_cookie: Cookie) -> Nodes {
        let node = Arc::new(Node { fd: root, key, vtype: Vtype::Dir });
        let table = Table {
            by_cookie: FxHashMap::from_iter([(root_cookie, node)]),
            by_key: FxHashMap::from_iter([(key, root_cookie)]),
            next: root_cookie.0 + 1,
        };
        Nodes { table: RwLock::new(table) }
    }

    /// The node `cookie`; `ESTALE` for a cookie the kernel should no longer hold.
    pub(super) fn get(&self, cookie: Cookie) -> Result<Arc<Node>> {
        self.table.read().unwrap_or_else(|e| e.into_inner()).by_cookie.get(&cookie).cloned().ok_or(Errno::ESTALE)
    }

    /// The cookie of the host inode `key`, which `fd` (an `O_PATH` descriptor of it) opens:
    /// the node's own if the kernel knows the inode already (and `fd` is dropped), a new one
    /// otherwise.
    pub(super) fn enter(&self, fd: OwnedFd, key: (u64, u64), vtype: Vtype) -> Cookie {
        let mut table = self.table.write().unwrap_or_else(|e| e.into_inner());
        if let Some(&cookie) = table.by_key.get(&key) {
            return cookie;
        }
        let cookie = Cookie(table.next);
        table.next += 1;
        table.by_key.insert(key, cookie);
        table.by_cookie.insert(cookie, Arc::new(Node { fd, key, vtype }));
        cookie
    }

    /// Forgets `cookie`, which the kernel no longer holds; its descriptor closes with the last
    /// operation still using it.
    pub(super) fn forget(&self, cookie: Cookie) {
        let mut table = self.table.write().unwrap_or_else(|e| e.into_inner());
        if let Some(node) = table.by_cookie.remove(&cookie) {
            if table.by_key.get(&node.key) == Some(&cookie) {
                table.by_key.remove(&node.key);
            }
        }
    }

    /// How many nodes are kept, the root included.
    pub(super) fn len(&self) -> usize {
        self.table.read().unwrap_or_else(|e| e.into_inner()).by_cookie.len()
    }
}

/// An open file or directory.
#[derive(Debug)]
pub(crate) enum Open {
    /// A file, shared with the kernel as a backing file where it passes reads through.
    File(Arc<File>),
    /// A directory, read from where each listing request says; the lock keeps its position
    /// for the one reading.
    Dir(Mutex<OwnedFd>),
}

/// The open files and directories, by handle.
#[derive(Debug, Default)]
pub(super) struct Handles {
    open: RwLock<FxHashMap<FileHandle, Arc<Open>>>,
    next: AtomicU64,
}

impl Handles {
    /// Keeps `open`; answers its handle.
    pub(super) fn insert(&self, open: Open) -> FileHandle {
        let handle = FileHandle(self.next.fetch_add(1, Ordering::Relaxed) + 1);
        self.open.write().unwrap_or_else(|e| e.into_inner()).insert(handle, Arc::new(open));
        handle
    }

    /// The open file or directory `handle`; `EBADF` for one that is not open.
    pub(super) fn get(&self, handle: FileHandle) -> Result<Arc<Open>> {
        self.open.read().unwrap_or_else(|e| e.into_inner()).get(&handle).cloned().ok_or(Errno::EBADF)
    }

    /// The open file `handle`; `EISDIR` for a directory.
    pub(super) fn file(&self, handle: FileHandle) -> Result<Arc<File>> {
        match &*self.get(handle)? {
            Open::File(file) => Ok(file.clone()),
            Open::Dir(_) => Err(Errno::EISDIR),
        }
    }

    /// Closes `handle`.
    pub(super) fn remove(&self, handle: FileHandle) {
        self.open.write().unwrap_or_else(|e| e.into_inner()).remove(&handle);
    }

    /// How many files and directories are open.
    pub(super) fn len(&self) -> usize {
        self.open.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}
