//! Making host nodes as the caller: a file, directory, link or device the caller creates
//! must be theirs on the host, with the group and set-group-id bit the host's rules give
//! (set-group-id directories, the caller's groups), as if they had made it themselves.
//!
//! A server running as root takes the caller's file-system identity for the one call that
//! makes the node: `setfsuid`/`setfsgid` and the `setgroups` system call, all three of which
//! change only the calling thread (the C library's `setgroups` would change every thread, so
//! the system call is made directly). Any other server makes nodes as itself, which for a
//! mount without `allow_other` is the caller.

use nix::errno::Errno;
use nix::libc;
use nix::unistd::{Gid, Uid};

use crate::access::supplementary_groups;
use crate::cred::Cred;
use crate::fs::Result;

/// Who the server is, read once: what [`AsCaller`] switches from and back to.
#[derive(Debug)]
pub(super) struct Server {
    uid: u32,
    gid: u32,
    groups: Vec<libc::gid_t>,
}

impl Server {
    /// This process's identity.
    pub(super) fn current() -> Server {
        Server {
            uid: Uid::effective().as_raw(),
            gid: Gid::effective().as_raw(),
            groups: nix::unistd::getgroups().unwrap_or_default().into_iter().map(Gid::as_raw).collect(),
        }
    }

    /// The server's effective user id.
    pub(super) fn uid(&self) -> u32 {
        self.uid
    }

    /// Takes `cred`'s identity on this thread until the guard is dropped: only a server that
    /// is root can, and only a caller who is someone else needs it.
    pub(super) fn act_as(&self, cred: &Cred) -> Result<AsCaller<'_>> {
        if self.uid != 0 || (cred.uid, cred.gid) == (self.uid, self.gid) {
            return Ok(AsCaller { server: None });
        }
        let groups: Vec<libc::gid_t> = supplementary_groups(cred).unwrap_or_default();
        set_thread_groups(&groups)?;
        let guard = AsCaller { server: Some(self) };
        nix::unistd::setfsgid(Gid::from_raw(cred.gid));
        nix::unistd::setfsuid(Uid::from_raw(cred.uid));
        Ok(guard)
    }
}

/// The caller's identity on this thread, taken by [`Server::act_as`]; dropping it gives the
/// server's back.
#[must_use = "the identity is the caller's only while the guard lives"]
#[derive(Debug)]
pub(super) struct AsCaller<'a> {
    server: Option<&'a Server>,
}

impl Drop for AsCaller<'_> {
    fn drop(&mut self) {
        if let Some(server) = self.server {
            nix::unistd::setfsuid(Uid::from_raw(server.uid));
            nix::unistd::setfsgid(Gid::from_raw(server.gid));
            if let Err(e) = set_thread_groups(&server.groups) {
                log::error!("null: the server's groups could not be restored on this thread: {e}");
            }
        }
    }
}

/// Sets the supplementary groups of the calling thread only (the raw `setgroups` system call).
fn set_thread_groups(groups: &[libc::gid_t]) -> Result<()> {
    // SAFETY: `groups` is readable for its length, which is what the kernel is told.
    let res = unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) };
    Errno::result(res).map(drop)
}
