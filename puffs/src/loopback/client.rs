//! The POSIX-like side of a loopback mount: a [`Client`] makes calls by path, each admitted
//! through the suspension gate and forgetting the nodes it looked up when it ends.

use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use nix::errno::Errno;
use nix::unistd::AccessFlags;

use crate::cred::Cred;
use crate::fs::answer::StatVfs;
use crate::fs::flags::RenameFlags;
use crate::fuse::abi::{self, InitFlags, ROOT_ID};
use crate::fuse::reply::{attr_from_wire, decode_body, statfs_from_wire, statx_from_wire, ReplyBody, ReplyKind};
use crate::fuse::request::Operation;
use crate::vattr::{SetVattr, Vattr, Vtype};

use super::args::{MountArgs, PATH_MAX};
use super::kernel::{Flavor, Shared, Status, Suspension};
use super::request::{Notification, Request};

/// The POSIX-like side of a loopback mount: calls by path, from any number of threads.
///
/// A `Client` is cheap to clone and outlives the [`Loopback`](super::Loopback) it came from; once the mount is
/// gone every call fails with `ENXIO`. Paths are relative to the root of the mount (a leading `/`
/// changes nothing, `""` is the root). Requests carry [`Client::cred`], root unless
/// [`Client::with_cred`] said otherwise.
#[derive(Debug, Clone)]
pub struct Client {
    pub(super) shared: Arc<Shared>,
    pub(super) cred: Cred,
}

/// One client call in progress: admitted through the suspension gate, holding the lookups it
/// made, which it forgets when it ends.
pub(super) struct Op<'a> {
    pub(super) client: &'a Client,
    pub(super) held: Vec<u64>,
}

impl Drop for Op<'_> {
    fn drop(&mut self) {
        self.client.forget(&self.held);
        let mut state = self.client.shared.lock();
        state.active -= 1;
        self.client.shared.changed.notify_all();
    }
}

impl Op<'_> {
    /// Keeps one lookup of `nodeid` beyond the call (an open file's node).
    pub(super) fn keep(&mut self, nodeid: u64) {
        if let Some(at) = self.held.iter().position(|&n| n == nodeid) {
            self.held.swap_remove(at);
        }
    }
}

/// The node an entry reply hands out; `ENOENT` for a negative entry (node id 0).
pub(super) fn entry_of(body: &[u8]) -> Result<(u64, Vattr), Errno> {
    match decode_body(ReplyKind::Entry, body) {
        Some(ReplyBody::Entry { entry, .. }) if entry.nodeid == 0 => Err(Errno::ENOENT),
        Some(ReplyBody::Entry { entry, attr }) => Ok((entry.nodeid, attr_from_wire(&attr).ok_or(Errno::EIO)?)),
        _ => Err(Errno::EIO),
    }
}

pub(super) fn attr_of(body: &[u8]) -> Result<Vattr, Errno> {
    match decode_body(ReplyKind::Attr, body) {
        Some(ReplyBody::Attr { attr, .. }) => attr_from_wire(&attr).ok_or(Errno::EIO),
        _ => Err(Errno::EIO),
    }
}

pub(super) fn empty_of(body: &[u8]) -> Result<(), Errno> {
    match decode_body(ReplyKind::Empty, body) {
        Some(ReplyBody::Empty) => Ok(()),
        _ => Err(Errno::EIO),
    }
}

impl Client {
    /// A client of the same mount whose requests carry `cred` (for permission tests).
    pub fn with_cred(&self, cred: Cred) -> Client {
        Client { shared: self.shared.clone(), cred }
    }

    /// The credentials requests carry.
    pub fn cred(&self) -> Cred {
        self.cred
    }

    /// Where the mount is in its life.
    pub fn status(&self) -> Status {
        self.shared.lock().status
    }

    /// The mount arguments as the kernel granted them: flags stripped, name prefixed, lengths
    /// clamped (puffs copies them back to the server the same way).
    pub fn args(&self) -> &MountArgs {
        &self.shared.args
    }

    /// The attributes of the cached root node, fetched with a `GETATTR` when the mount started;
    /// `None` while [`Status::Mounting`].
    pub fn root_vattr(&self) -> Option<Vattr> {
        self.shared.lock().root_vattr.clone()
    }

    /// The largest write the file system accepts, from its `INIT` reply.
    pub fn max_write(&self) -> u32 {
        self.shared.lock().max_write
    }

    /// How many requests of a kind this mount has sent: a testing facility, to check how often
    /// a file system was asked (`client.requests_sent(Request::Open)`).
    pub fn requests_sent(&self, request: Request) -> u64 {
        self.shared.lock().sent.get(&request.opcode()).copied().unwrap_or(0)
    }

    /// How many notifications of kind `notification` the file system's side has sent
    /// (`client.notifications_received(Notification::InvalidateEntry)`).
    pub fn notifications_received(&self, notification: Notification) -> u64 {
        self.shared.lock().noticed.get(&notification.code()).copied().unwrap_or(0)
    }

    /// How many frames from the file system's side answered no waiting request (unreadable
    /// headers, unknown unique ids).
    pub fn unroutable_replies(&self) -> u64 {
        self.shared.lock().unroutable
    }

    /// Waits until the mount has started ([`Status::Serving`]), within the timeout.
    pub fn wait_started(&self) -> Result<(), Errno> {
        let deadline = Instant::now() + self.shared.args.timeout;
        let mut state = self.shared.lock();
        loop {
            match state.status {
                Status::Serving => return Ok(()),
                Status::Dying | Status::Finished => return Err(Errno::ENXIO),
                Status::Mounting => {}
            }
            let (guard, in_time) = self.shared.wait_until(state, deadline);
            state = guard;
            if !in_time {
                return Err(Errno::ETIMEDOUT);
            }
        }
    }

    /// Interrupts every call waiting on this mount, as a signal interrupts a process's system
    /// call: the kernel sends `INTERRUPT` for each (again while the file system answers
    /// `EAGAIN`, not knowing the call yet). An operation sees it through its
    /// [`Context`](crate::Context) and may answer `EINTR`, which the call then returns. Answers
    /// how many calls were interrupted.
    pub fn interrupt(&self) -> usize {
        let mut state = self.shared.lock();
        let targets: Vec<u64> =
            state.pending.iter().filter(|(_, p)| p.client && p.awaited()).map(|(&unique, _)| unique).collect();
        let frames: Vec<Vec<u8>> =
            targets.iter().map(|&target| self.shared.interrupt_frame(&mut state, target)).collect();
        drop(state);
        for frame in &frames {
            let _ = self.shared.channel.send(&[frame]);
        }
        frames.len()
    }

    /// Cuts the connection as a FUSE abort does (the kernel-side `puffs_userdead`): every
    /// waiting and later call fails with `ENXIO`, and the file system's main loop ends. The
    /// mount is [`Status::Dying`]; [`Loopback::unmount`](super::Loopback::unmount) still hands the file system back.
    pub fn abort(&self) {
        {
            let mut state = self.shared.lock();
            if matches!(state.status, Status::Dying | Status::Finished) {
                return;
            }
            self.shared.release_waiters(&mut state, Status::Dying, Errno::ENXIO);
        }
        let _ = nix::sys::socket::shutdown(self.shared.channel.as_raw_fd(), nix::sys::socket::Shutdown::Both);
    }
}

impl Client {
    /// Enters the gate of client operations: waits while mounting or suspended.
    pub(super) fn enter(&self) -> Result<Op<'_>, Errno> {
        let deadline = Instant::now() + self.shared.args.timeout;
        let mut state = self.shared.lock();
        loop {
            match (state.status, state.suspension) {
                (Status::Dying | Status::Finished, _) => return Err(Errno::ENXIO),
                (Status::Serving, Suspension::Normal) => {
                    state.active += 1;
                    return Ok(Op { client: self, held: Vec::new() });
                }
                _ => {}
            }
            let (guard, in_time) = self.shared.wait_until(state, deadline);
            state = guard;
            if !in_time {
                return Err(Errno::ETIMEDOUT);
            }
        }
    }

    /// Takes the node a creating operation answered, to be forgotten with the call.
    pub(super) fn made(&self, op: &mut Op<'_>, body: Vec<u8>) -> Result<(), Errno> {
        let (nodeid, _) = entry_of(&body)?;
        if nodeid == 0 {
            return Err(Errno::EIO);
        }
        op.held.push(nodeid);
        Ok(())
    }
}

impl Client {
    /// The attributes of `path`, without following a final symbolic link (`lstat(2)`). The
    /// root's come from a fresh `GETATTR`, other nodes' from their `LOOKUP`.
    pub fn stat(&self, path: impl AsRef<Path>) -> Result<Vattr, Errno> {
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, path.as_ref(), false)?;
        if node.nodeid == ROOT_ID {
            match self.call(ROOT_ID, &Operation::Getattr { fh: None }, Flavor::Client) {
                Ok(body) => attr_of(&body),
                Err(Errno::ENOSYS) => Ok(node.vattr),
                Err(e) => Err(e),
            }
        } else {
            Ok(node.vattr)
        }
    }

    /// Makes directory `path` with permissions `mode` (`MKDIR`).
    pub fn mkdir(&self, path: impl AsRef<Path>, mode: u32) -> Result<(), Errno> {
        let mut op = self.enter()?;
        let (dir, name) = self.parent(&mut op, path.as_ref(), Errno::EEXIST)?;
        let mkdir = Operation::Mkdir { name: &name, mode: mode & crate::MODE_PERMISSION_BITS, umask: 0 };
        self.made(&mut op, self.call(dir.nodeid, &mkdir, Flavor::Client)?)
    }

    /// Removes the empty directory `path` (`RMDIR`).
    pub fn rmdir(&self, path: impl AsRef<Path>) -> Result<(), Errno> {
        let mut op = self.enter()?;
        let (dir, name) = self.parent(&mut op, path.as_ref(), Errno::EBUSY)?;
        empty_of(&self.call(dir.nodeid, &Operation::Rmdir { name: &name }, Flavor::Client)?)
    }

    /// Removes the non-directory `path` (`UNLINK`). An open file keeps its node until closed.
    pub fn unlink(&self, path: impl AsRef<Path>) -> Result<(), Errno> {
        let mut op = self.enter()?;
        let (dir, name) = self.parent(&mut op, path.as_ref(), Errno::EISDIR)?;
        empty_of(&self.call(dir.nodeid, &Operation::Unlink { name: &name }, Flavor::Client)?)
    }

    /// Moves `from` to `to`, replacing `to` if the file system allows (`RENAME`).
    pub fn rename(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> Result<(), Errno> {
        self.rename_with(from, to, RenameFlags::empty())
    }

    /// Renames `from` to `to` as `renameat2(2)` does with `flags`: [`RenameFlags::NOREPLACE`]
    /// refuses an existing `to` with `EEXIST`, [`RenameFlags::EXCHANGE`] swaps the two names
    /// (`RENAME2`; plain `RENAME` without flags).
    pub fn rename_with(&self, from: impl AsRef<Path>, to: impl AsRef<Path>, flags: RenameFlags) -> Result<(), Errno> {
        if flags.contains(RenameFlags::NOREPLACE | RenameFlags::EXCHANGE) {
            return Err(Errno::EINVAL);
        }
        let mut op = self.enter()?;
        let (dir, name) = self.parent(&mut op, from.as_ref(), Errno::EBUSY)?;
        let (new_dir, new_name) = self.parent(&mut op, to.as_ref(), Errno::EBUSY)?;
        let rename = Operation::Rename { newdir: new_dir.nodeid, flags, name: &name, newname: &new_name };
        empty_of(&self.call(dir.nodeid, &rename, Flavor::Client)?)
    }

    /// Makes a node of type `vtype` (a regular file, device, FIFO or socket) named `path` with
    /// permissions `mode` and, for a device, number `rdev` (`mknod(2)`: `MKNOD`).
    pub fn mknod(&self, path: impl AsRef<Path>, vtype: Vtype, mode: u32, rdev: u64) -> Result<(), Errno> {
        if matches!(vtype, Vtype::Dir | Vtype::Lnk) {
            return Err(Errno::EINVAL);
        }
        let mut op = self.enter()?;
        let (dir, name) = self.parent(&mut op, path.as_ref(), Errno::EEXIST)?;
        let mknod = Operation::Mknod { name: &name, vtype, mode: mode & crate::MODE_PERMISSION_BITS, rdev, umask: 0 };
        self.made(&mut op, self.call(dir.nodeid, &mknod, Flavor::Client)?)
    }

    /// Makes `linkpath` a symbolic link to `target` (`SYMLINK`).
    pub fn symlink(&self, target: impl AsRef<Path>, linkpath: impl AsRef<Path>) -> Result<(), Errno> {
        let target = target.as_ref().as_os_str();
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.as_bytes().contains(&0) {
            return Err(Errno::EINVAL);
        }
        if target.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut op = self.enter()?;
        let (dir, name) = self.parent(&mut op, linkpath.as_ref(), Errno::EEXIST)?;
        self.made(&mut op, self.call(dir.nodeid, &Operation::Symlink { name: &name, target }, Flavor::Client)?)
    }

    /// The target of the symbolic link `path` (`READLINK`); `EINVAL` if it is no link.
    pub fn readlink(&self, path: impl AsRef<Path>) -> Result<OsString, Errno> {
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, path.as_ref(), false)?;
        if node.vattr.vtype != Vtype::Lnk {
            return Err(Errno::EINVAL);
        }
        Ok(OsString::from_vec(self.call(node.nodeid, &Operation::Readlink, Flavor::Client)?))
    }

    /// Makes `new` another name of the non-directory `existing` (`LINK`).
    pub fn link(&self, existing: impl AsRef<Path>, new: impl AsRef<Path>) -> Result<(), Errno> {
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, existing.as_ref(), false)?;
        self.link_node(&mut op, node.nodeid, node.vattr.vtype, new.as_ref())
    }

    /// `LINK` of node `nodeid`, of type `vtype`, as `new` (`EPERM` for a directory).
    pub(super) fn link_node(&self, op: &mut Op<'_>, nodeid: u64, vtype: Vtype, new: &Path) -> Result<(), Errno> {
        if vtype == Vtype::Dir {
            return Err(Errno::EPERM);
        }
        let (dir, name) = self.parent(op, new, Errno::EEXIST)?;
        let link = Operation::Link { oldnodeid: nodeid, name: &name };
        self.made(op, self.call(dir.nodeid, &link, Flavor::Client)?)
    }

    /// The attributes of `path` as `statx(2)` asking for the birth time gets them (`STATX`):
    /// [`Vattr::birthtime`] is set when the file system keeps it.
    pub fn statx(&self, path: impl AsRef<Path>) -> Result<Vattr, Errno> {
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, path.as_ref(), false)?;
        let statx =
            Operation::Statx { fh: None, flags: 0, mask: abi::statx_mask::BASIC_STATS | abi::statx_mask::BTIME };
        let body = self.call(node.nodeid, &statx, Flavor::Client)?;
        match decode_body(ReplyKind::Statx, &body) {
            Some(ReplyBody::Statx { stat, .. }) => statx_from_wire(&stat).ok_or(Errno::EIO),
            _ => Err(Errno::EIO),
        }
    }

    /// Changes attributes of `path` (`chmod`, `chown`, `truncate`, `utimensat`: `SETATTR`);
    /// answers the attributes after the change. As the kernel does with `HANDLE_KILLPRIV_V2`,
    /// a change of owner of a file that is not a directory, and a truncate by a caller who is
    /// not root, ask the file system to drop the set-id bits.
    pub fn setattr(&self, path: impl AsRef<Path>, changes: &SetVattr) -> Result<Vattr, Errno> {
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, path.as_ref(), true)?;
        if changes.size.is_some() && node.vattr.vtype == Vtype::Dir {
            return Err(Errno::EISDIR);
        }
        let chown = (changes.uid.is_some() || changes.gid.is_some()) && node.vattr.vtype != Vtype::Dir;
        let kill_suidgid = self.kills_privileges(chown || (changes.size.is_some() && !self.cred.is_root()));
        let setattr = Operation::Setattr { changes: changes.clone(), kill_suidgid };
        attr_of(&self.call(node.nodeid, &setattr, Flavor::Client)?)
    }

    /// Whether a change that drops privileges (`drops`) is to say so to the file system: with
    /// `HANDLE_KILLPRIV_V2` granted, the file system drops the set-id bits itself.
    pub(super) fn kills_privileges(&self, drops: bool) -> bool {
        drops && self.shared.lock().granted.contains(InitFlags::HANDLE_KILLPRIV_V2)
    }

    /// May the caller access `path` as `mode` asks (`access(2)`: `ACCESS`)? A file system
    /// without `node_access` allows everything, as FUSE does.
    pub fn access(&self, path: impl AsRef<Path>, mode: AccessFlags) -> Result<(), Errno> {
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, path.as_ref(), true)?;
        match self.call(node.nodeid, &Operation::Access { mode }, Flavor::Client) {
            Ok(body) => empty_of(&body),
            Err(Errno::ENOSYS) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Statistics of the file system (`statvfs(2)`: `STATFS`). While the mount is
    /// [`Status::Mounting`] the answer is `EINPROGRESS`, without asking the file system (puffs:
    /// asking the server from inside its own `mount(2)` would deadlock).
    pub fn statvfs(&self) -> Result<StatVfs, Errno> {
        if self.status() == Status::Mounting {
            return Err(Errno::EINPROGRESS);
        }
        let _op = self.enter()?;
        match decode_body(ReplyKind::Statfs, &self.call(ROOT_ID, &Operation::Statfs, Flavor::Client)?) {
            Some(ReplyBody::Statfs(st)) => Ok(statfs_from_wire(&st)),
            _ => Err(Errno::EIO),
        }
    }

    /// Writes everything to stable storage (`syncfs(2)`: `SYNCFS` → `fs_sync`). A file system
    /// without `fs_sync` has nothing to write, as FUSE takes `ENOSYS`.
    pub fn sync(&self) -> Result<(), Errno> {
        let _op = self.enter()?;
        match self.call(ROOT_ID, &Operation::Syncfs, Flavor::Client) {
            Ok(body) => empty_of(&body),
            Err(Errno::ENOSYS) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
