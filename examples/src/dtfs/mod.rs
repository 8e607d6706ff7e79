//! `dtfs`: an in-memory, read-write file system with the semantics of a real one (after NetBSD's
//! `dtfs`, the puffs test file system).
//!
//! It holds regular files (sparse: holes take no memory), directories, symbolic links, hard links,
//! device nodes, FIFOs and sockets, with owners, modes, the three times and extended attributes.
//! File bytes live in 64 KiB chunks carved from 2 MiB huge-page slabs; a removed file's
//! slabs are kept for the next files (up to 1 GiB, which the kernel may take back whenever
//! it needs memory), the rest given back to the system.
//! Rename supports `RENAME_NOREPLACE` and `RENAME_EXCHANGE`. Space is bounded by a capacity
//! (`ENOSPC` past it), reported by `statvfs`.
//!
//! Node lifetime follows the kernel: a node removed from the tree while the kernel still holds it
//! (an open file that was unlinked) lives on until `node_reclaim`; one the kernel does not hold
//! goes at once. [`Dtfs::node_count`] shows it.
//!
//! Permission checks are the kernel's by default: dtfs keeps POSIX ACLs
//! ([`FileSystem::POSIX_ACL`]), which turns `default_permissions` on, and the kernel checks
//! every access from the mode bits, the ACLs and the caller's groups before dtfs sees the
//! request. Mounted with `noacl` (and without `default_permissions`), dtfs checks the mode
//! bits itself with [`puffs::access`], which saves the kernel a `GETATTR` whenever its cached
//! attributes have expired, and opens then reach it. dtfs does not update access times on
//! read (as if mounted `noatime`), so reads can run in parallel.
//!
//! Mounted for real (as root; `dtfs -f MOUNTPOINT` does this):
//!
//! ```no_run
//! use puffs::{MountFlags, MountOptions, Usermount};
//! use puffs_examples::dtfs::Dtfs;
//!
//! let options = MountOptions::parse("allow_other")?;
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

mod content;
mod ops;
mod permissions;
mod slab;
#[cfg(test)]
mod tests;
mod tree;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};

use puffs::locks::LockTable;
#[cfg(doc)]
use puffs::FileSystem;
use puffs::{Cookie, Vattr, Vtype};
use rustc_hash::FxHashMap;

use tree::{read_lock, Content, Directory, Node, Tree, BLOCK, CHUNK};

/// The dtfs file system: its tree behind one lock.
///
/// A clone shares the tree: keep one to look at the file system (say, [`node_count`]) while
/// another is mounted.
///
/// [`node_count`]: Dtfs::node_count
#[derive(Debug, Clone)]
pub struct Dtfs {
    tree: Arc<RwLock<Tree>>,
    /// Byte-range and `flock` locks, kept apart from the tree: lock traffic never waits for
    /// data.
    locks: Arc<LockTable>,
    /// Whether dtfs checks permissions itself (see `permissions`): until the kernel says at
    /// mount that it checks.
    checks: Arc<AtomicBool>,
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
        root.birthtime = Some(root.ctime);
        let mut nodes = FxHashMap::default();
        nodes.insert(
            Dtfs::ROOT.0,
            Node {
                vattr: root,
                content: Content::Dir(Directory::new(Dtfs::ROOT.0)),
                xattrs: BTreeMap::new(),
                known: AtomicBool::new(true),
                linkable: false,
            },
        );
        let capacity = bytes.max(CHUNK);
        let tree =
            Tree { nodes, next_ino: Dtfs::ROOT.0 + 1, used: 0, capacity, max_nodes: (capacity / 1024).max(1024) };
        Dtfs {
            tree: Arc::new(RwLock::new(tree)),
            locks: Arc::new(LockTable::new()),
            checks: Arc::new(AtomicBool::new(true)),
        }
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
