//! Notifications to the kernel from any thread of a running usermount (FUSE `NOTIFY_*`).

use std::sync::Arc;

use nix::errno::Errno;

use crate::error::Error;
use crate::fs::cookie::Cookie;
use crate::fuse::abi::{self, notify};
use crate::fuse::Channel;
use crate::os::mount::MountGuard;

/// Sends notifications to the kernel from any thread (a cloneable part of a [`Running`](super::Running)
/// usermount).
#[derive(Debug, Clone)]
pub struct Notifier {
    /// Weak: a notifier kept after the main loop ended must not keep the connection open.
    pub(crate) channel: std::sync::Weak<Channel>,
    pub(crate) root: Cookie,
    pub(crate) mount: Option<Arc<MountGuard>>,
}

impl Notifier {
    /// The channel to the kernel, while the file system is served.
    fn channel(&self) -> Result<Arc<Channel>, Error> {
        self.channel.upgrade().ok_or_else(|| Error::new("notify the kernel: the main loop has ended", Errno::ENODEV))
    }

    fn nodeid(&self, cookie: Cookie) -> Result<u64, Error> {
        crate::session::node::nodeid_of(self.root, cookie)
            .ok_or_else(|| Error::new("notify about cookie 0", Errno::EINVAL))
    }

    /// Tells the kernel to drop cached data and attributes of `node` (FUSE `INVAL_INODE`).
    /// `ENOENT` means the kernel does not hold the node: nothing was cached.
    pub fn invalidate_node(&self, node: Cookie) -> Result<(), Error> {
        let mut body = Vec::new();
        abi::NotifyInvalInodeOut { ino: self.nodeid(node)?, off: 0, len: 0 }.encode(&mut body);
        crate::session::notify(&*self.channel()?, notify::INVAL_INODE, &[&body])
            .map_err(|e| Error::new("invalidate node", e))
    }

    /// Tells the kernel to forget the name `name` in `dir` (FUSE `INVAL_ENTRY`).
    pub fn invalidate_entry(&self, dir: Cookie, name: &std::ffi::OsStr) -> Result<(), Error> {
        use std::os::unix::ffi::OsStrExt;
        crate::fuse::request::check_name(name.as_bytes()).map_err(|(e, _)| Error::new("invalidate entry", e))?;
        let mut body = Vec::new();
        abi::NotifyInvalEntryOut { parent: self.nodeid(dir)?, namelen: name.len() as u32, flags: 0 }.encode(&mut body);
        crate::session::notify(&*self.channel()?, notify::INVAL_ENTRY, &[&body, name.as_bytes(), &[0]])
            .map_err(|e| Error::new("invalidate entry", e))
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
