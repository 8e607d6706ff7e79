//! Notifications to the kernel from any thread of a running usermount (FUSE `NOTIFY_*`): the
//! puffs cache-invalidation calls (`puffs_inval_*`) and FUSE's store and retrieve.

use std::ffi::OsStr;
use std::ops::{Bound, RangeBounds};
use std::os::unix::ffi::OsStrExt;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::time::Duration;

use nix::errno::Errno;

use crate::error::Error;
use crate::fs::cookie::Cookie;
use crate::fuse::abi::{self, notify, InitFlags};
use crate::fuse::request::check_name;
use crate::fuse::Channel;
use crate::os::mount::MountGuard;
use crate::session::node::nodeid_of;
use crate::session::notify::{notify as send_notification, Notices};

/// Sends notifications to the kernel from any thread (a cloneable part of a
/// [`Running`](super::Running) usermount).
///
/// Every notification is about what the kernel caches, and the kernel answers at once: an
/// error means it was refused (`ENOENT`: the kernel does not hold that node or name, so nothing
/// was cached; `ENOSYS`: this kernel does not know the notification). A notification changes
/// nothing in the file system itself.
///
/// | puffs | here | FUSE |
/// |---|---|---|
/// | `puffs_inval_pagecache_node` (and the attributes) | [`invalidate_node`](Notifier::invalidate_node) | `NOTIFY_INVAL_INODE`, offset 0, length 0 |
/// | `puffs_inval_pagecache_node_range` | [`invalidate_data`](Notifier::invalidate_data) | `NOTIFY_INVAL_INODE` with a range |
/// | (attribute cache only) | [`invalidate_attributes`](Notifier::invalidate_attributes) | `NOTIFY_INVAL_INODE`, offset −1 |
/// | `puffs_inval_namecache_node` | [`invalidate_entry`](Notifier::invalidate_entry) | `NOTIFY_INVAL_ENTRY` |
/// | — | [`expire_entry`](Notifier::expire_entry) | `NOTIFY_INVAL_ENTRY` with `FUSE_EXPIRE_ONLY` |
/// | — | [`delete_entry`](Notifier::delete_entry) | `NOTIFY_DELETE` |
/// | `puffs_inval_namecache_all` | [`invalidate_all_names`](Notifier::invalidate_all_names) | `NOTIFY_INC_EPOCH` (7.44) |
/// | — | [`store`](Notifier::store), [`retrieve`](Notifier::retrieve) | `NOTIFY_STORE`, `NOTIFY_RETRIEVE` |
/// | — | [`prune`](Notifier::prune) | `NOTIFY_PRUNE` (7.45) |
/// | `puffs_exit` | [`unmount`](Notifier::unmount) | unmount (or shut the channel) |
///
/// puffs's `puffs_inval_namecache_dir` (every name in one directory) has no FUSE counterpart:
/// invalidate the names one by one, or all of them. The kernel's `NOTIFY_RESEND` (send the
/// requests in flight again) is not offered: it serves a server restarted on a saved device
/// descriptor, which a usermount never is.
#[derive(Debug, Clone)]
pub struct Notifier {
    /// Weak: a notifier kept after the main loop ended must not keep the connection open.
    pub(crate) channel: Weak<Channel>,
    pub(crate) notices: Arc<Notices>,
    pub(crate) root: Cookie,
    pub(crate) mount: Option<Arc<MountGuard>>,
}

impl Notifier {
    /// The channel to the kernel, while the file system is served.
    fn channel(&self) -> Result<Arc<Channel>, Error> {
        self.channel.upgrade().ok_or_else(|| Error::new("notify the kernel: the main loop has ended", Errno::ENODEV))
    }

    fn nodeid(&self, cookie: Cookie) -> Result<u64, Error> {
        nodeid_of(self.root, cookie).ok_or_else(|| Error::new("notify about cookie 0", Errno::EINVAL))
    }

    fn send(&self, what: &str, code: i32, body: &[&[u8]]) -> Result<(), Error> {
        send_notification(&*self.channel()?, code, body).map_err(|e| Error::new(what.to_string(), e))
    }

    fn checked_name<'n>(what: &str, name: &'n OsStr) -> Result<&'n [u8], Error> {
        check_name(name.as_bytes()).map_err(|(e, why)| Error::new(format!("{what}: {why}"), e))?;
        Ok(name.as_bytes())
    }

    /// Tells the kernel to drop the cached attributes and all cached data of `node` (FUSE
    /// `NOTIFY_INVAL_INODE` over the whole file; puffs `puffs_inval_pagecache_node`).
    pub fn invalidate_node(&self, node: Cookie) -> Result<(), Error> {
        self.invalidate_inode("invalidate node", node, 0, 0)
    }

    /// Tells the kernel to drop the cached attributes of `node` and its cached data in `range`
    /// (FUSE `NOTIFY_INVAL_INODE` with an offset and a length; puffs
    /// `puffs_inval_pagecache_node_range`). The kernel drops whole pages: the pages `range`
    /// touches. `EINVAL` for an empty range or one past the largest file offset.
    pub fn invalidate_data(&self, node: Cookie, range: impl RangeBounds<u64>) -> Result<(), Error> {
        let what = "invalidate node data";
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => Some(e.saturating_add(1)),
            Bound::Excluded(&e) => Some(e),
            Bound::Unbounded => None,
        };
        let offset =
            i64::try_from(start).map_err(|_| Error::new(format!("{what}: offset {start} too large"), Errno::EINVAL))?;
        // Length 0 means "to the end of the file".
        let len = match end {
            None => 0,
            Some(end) if end > start => {
                i64::try_from(end - start).map_err(|_| Error::new(format!("{what}: range too long"), Errno::EINVAL))?
            }
            Some(_) => return Err(Error::new(format!("{what}: empty range"), Errno::EINVAL)),
        };
        self.invalidate_inode(what, node, offset, len)
    }

    /// Tells the kernel to drop the cached attributes of `node` only, keeping its data (FUSE
    /// `NOTIFY_INVAL_INODE` with offset −1).
    pub fn invalidate_attributes(&self, node: Cookie) -> Result<(), Error> {
        self.invalidate_inode("invalidate attributes", node, -1, 0)
    }

    fn invalidate_inode(&self, what: &str, node: Cookie, off: i64, len: i64) -> Result<(), Error> {
        let mut body = Vec::new();
        abi::NotifyInvalInodeOut { ino: self.nodeid(node)?, off, len }.encode(&mut body);
        self.send(what, notify::INVAL_INODE, &[&body])
    }

    /// Tells the kernel to forget the name `name` in `dir` (FUSE `NOTIFY_INVAL_ENTRY`; puffs
    /// `puffs_inval_namecache_node`): its next use is looked up again. The kernel also drops
    /// `dir`'s cached attributes.
    pub fn invalidate_entry(&self, dir: Cookie, name: &OsStr) -> Result<(), Error> {
        self.inval_entry("invalidate entry", dir, name, 0)
    }

    /// Tells the kernel that the name `name` in `dir` is stale, without dropping it from what
    /// already uses it (FUSE `NOTIFY_INVAL_ENTRY` with `FUSE_EXPIRE_ONLY`): a working directory
    /// or a mount under it stays, the next lookup asks again. `ENOSYS` when the kernel did not
    /// grant `HAS_EXPIRE_ONLY` (before 7.38).
    pub fn expire_entry(&self, dir: Cookie, name: &OsStr) -> Result<(), Error> {
        if !self.notices.granted().contains(InitFlags::HAS_EXPIRE_ONLY) {
            return Err(Error::new("expire entry: the kernel cannot expire entries", Errno::ENOSYS));
        }
        self.inval_entry("expire entry", dir, name, notify::EXPIRE_ONLY)
    }

    fn inval_entry(&self, what: &str, dir: Cookie, name: &OsStr, flags: u32) -> Result<(), Error> {
        let name = Self::checked_name(what, name)?;
        let mut body = Vec::new();
        abi::NotifyInvalEntryOut { parent: self.nodeid(dir)?, namelen: name.len() as u32, flags }.encode(&mut body);
        self.send(what, notify::INVAL_ENTRY, &[&body, name, &[0]])
    }

    /// Tells the kernel that the name `name` in `dir`, which named `node`, was removed (FUSE
    /// `NOTIFY_DELETE`): like [`invalidate_entry`](Notifier::invalidate_entry), and the kernel
    /// also unhashes the name from whoever has it open, as a local unlink would. `ENOENT` when
    /// the name no longer leads to `node` in the kernel's cache.
    pub fn delete_entry(&self, dir: Cookie, node: Cookie, name: &OsStr) -> Result<(), Error> {
        let what = "delete entry";
        let name = Self::checked_name(what, name)?;
        let mut body = Vec::new();
        abi::NotifyDeleteOut {
            parent: self.nodeid(dir)?,
            child: self.nodeid(node)?,
            namelen: name.len() as u32,
            padding: 0,
        }
        .encode(&mut body);
        self.send(what, notify::DELETE, &[&body, name, &[0]])
    }

    /// Tells the kernel to forget every name it caches on this mount (FUSE `NOTIFY_INC_EPOCH`,
    /// 7.44; puffs `puffs_inval_namecache_all`): each is looked up again at its next use.
    /// `ENOSYS` on a kernel before 7.44.
    pub fn invalidate_all_names(&self) -> Result<(), Error> {
        if !self.notices.kernel_knows(notify::INC_EPOCH_SINCE) {
            return Err(Error::new("invalidate all names: the kernel is older than 7.44", Errno::ENOSYS));
        }
        self.send("invalidate all names", notify::INC_EPOCH, &[])
    }

    /// Hands the kernel `data` as the contents of `node` from `offset` (FUSE `NOTIFY_STORE`):
    /// the pages are put in its cache as if read, and the file's cached size grows to cover
    /// them. The file system must hold the same bytes: they are what later reads see.
    /// `ENOENT` when the kernel does not hold `node`.
    pub fn store(&self, node: Cookie, offset: u64, data: &[u8]) -> Result<(), Error> {
        let what = "store data";
        let size = u32::try_from(data.len()).map_err(|_| Error::new(format!("{what}: too long"), Errno::EFBIG))?;
        if crate::fuse::request::ends_past_max(offset, u64::from(size)) {
            return Err(Error::new(format!("{what}: range past the largest file offset"), Errno::EFBIG));
        }
        let mut body = Vec::new();
        abi::NotifyStoreOut { nodeid: self.nodeid(node)?, offset, size, padding: 0 }.encode(&mut body);
        self.send(what, notify::STORE, &[&body, data])
    }

    /// Asks the kernel for the data of `node` it caches from `offset`, at most `size` bytes
    /// (FUSE `NOTIFY_RETRIEVE`); the kernel answers with a request of its own, which a worker
    /// of the main loop hands to the returned [`Retrieval`]. `ENOENT` when the kernel does
    /// not hold `node`.
    ///
    /// Wait for it from a thread that is not the main loop's only worker: that worker reads
    /// the answer.
    pub fn retrieve(&self, node: Cookie, offset: u64, size: u32) -> Result<Retrieval, Error> {
        let what = "retrieve data";
        let nodeid = self.nodeid(node)?;
        let (unique, answer) = self.notices.expect_retrieval();
        let retrieval = Retrieval { unique, answer, notices: self.notices.clone() };
        let mut body = Vec::new();
        abi::NotifyRetrieveOut { notify_unique: unique, nodeid, offset, size, padding: 0 }.encode(&mut body);
        self.send(what, notify::RETRIEVE, &[&body])?;
        Ok(retrieval)
    }

    /// Asks the kernel to let go of `nodes` where nothing uses them (FUSE `NOTIFY_PRUNE`,
    /// 7.45): it drops their names and forgets them, and the file system's
    /// [`node_reclaim`](crate::FileSystem::node_reclaim) follows. Nodes in use stay. `ENOSYS`
    /// on a kernel before 7.45.
    pub fn prune(&self, nodes: &[Cookie]) -> Result<(), Error> {
        let what = "prune nodes";
        if !self.notices.kernel_knows(notify::PRUNE_SINCE) {
            return Err(Error::new(format!("{what}: the kernel is older than 7.45"), Errno::ENOSYS));
        }
        let count = u32::try_from(nodes.len()).map_err(|_| Error::new(format!("{what}: too many"), Errno::EINVAL))?;
        let mut body = Vec::with_capacity(abi::NotifyPruneOut::SIZE + nodes.len() * 8);
        abi::NotifyPruneOut { count, padding: 0, spare: 0 }.encode(&mut body);
        for &node in nodes {
            body.extend_from_slice(&self.nodeid(node)?.to_le_bytes());
        }
        self.send(what, notify::PRUNE, &[&body])
    }

    /// Unmounts the file system from inside (puffs `puffs_exit`): the main loop ends. A FUSE
    /// mount is detached; a channel mount is shut down.
    pub fn unmount(&self) -> Result<(), Error> {
        match &self.mount {
            Some(guard) => guard.unmount().map(drop),
            None => nix::sys::socket::shutdown(
                std::os::fd::AsRawFd::as_raw_fd(&*self.channel()?),
                nix::sys::socket::Shutdown::Both,
            )
            .map_err(|e| Error::new("shut down the channel", e)),
        }
    }
}

/// A [`retrieve`](Notifier::retrieve) the kernel has yet to answer.
#[derive(Debug)]
pub struct Retrieval {
    unique: u64,
    answer: Receiver<Vec<u8>>,
    notices: Arc<Notices>,
}

impl Retrieval {
    /// Waits at most `timeout` for the kernel's answer: the bytes it caches from the asked
    /// offset, as many as it has in one run (none when it caches none there, or the offset is
    /// past the end of the file). `ETIMEDOUT` when no answer came.
    pub fn wait(self, timeout: Duration) -> Result<Vec<u8>, Error> {
        match self.answer.recv_timeout(timeout) {
            Ok(data) => Ok(data),
            Err(RecvTimeoutError::Timeout) => Err(Error::new("retrieve data: no answer", Errno::ETIMEDOUT)),
            Err(RecvTimeoutError::Disconnected) => Err(Error::new("retrieve data: session over", Errno::ENODEV)),
        }
    }
}

impl Drop for Retrieval {
    fn drop(&mut self) {
        self.notices.forget_retrieval(self.unique);
    }
}
