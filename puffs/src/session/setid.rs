//! Privileges a file loses when it changes (FUSE `HANDLE_KILLPRIV_V2`): the set-id bits and the
//! file capabilities, at a write or truncate by someone who may not keep them and at a change
//! of owner. The kernel says when (`KILL_SUIDGID` flags); the framework does it for every file
//! system with `node_getattr` and `node_setattr`, in the file system's own operations, so none
//! can forget it and leave a set-user-id program that anyone who could write it has rewritten.
//! It also spares most of the kernel's own way: a `GETXATTR` of `security.capability` before
//! every write becomes one per file (the kernel then marks files it found without privileges).

use std::ffi::OsStr;

use nix::errno::Errno;

use crate::fs::context::Context;
use crate::fs::cookie::Cookie;
use crate::fs::dispatch::Op;
use crate::fs::mask::{vnop_mask, VnopMask};
use crate::fs::FileSystem;
use crate::vattr::SetVattr;

use super::Session;

/// Where file capabilities live (`setcap(8)`); they go with the set-id bits.
const CAPABILITY_XATTR: &str = "security.capability";

const SET_UID: u32 = 0o4000;
const SET_GID: u32 = 0o2000;
const GROUP_EXEC: u32 = 0o010;

/// `mode` without the set-id bits Linux drops: set-user-id always, set-group-id where it
/// means "run as the group" (group-executable; without it the bit marks mandatory locking).
/// `None` when there is nothing to drop.
pub(super) fn without_setid(mode: u32) -> Option<u32> {
    let mut kept = mode & !SET_UID;
    if mode & GROUP_EXEC != 0 {
        kept &= !SET_GID;
    }
    (kept != mode).then_some(kept)
}

impl<F: FileSystem> Session<F> {
    /// Whether the framework can drop privileges itself, and so asks the kernel for
    /// `HANDLE_KILLPRIV_V2`: it reads and changes modes through the file system.
    pub(super) fn drops_privileges() -> bool {
        vnop_mask::<F>().contains(VnopMask::GETATTR | VnopMask::SETATTR)
    }

    /// `changes` of a `SETATTR` that drops privileges (a truncate or a change of owner): with
    /// the mode that drops `node`'s set-id bits added, unless it sets a mode itself, and
    /// `node`'s capabilities dropped. One `node_setattr` then does both.
    pub(super) fn dropping_privileges(&self, node: Cookie, changes: &SetVattr) -> Result<SetVattr, Errno> {
        let mut changes = changes.clone();
        if changes.mode.is_none() {
            changes.mode = without_setid(self.call(Op::Getattr { node }, &Context::ROOT).vattr()?.mode);
        }
        self.drop_capabilities(node);
        Ok(changes)
    }

    /// Drops `node`'s set-id bits and capabilities before a write or a truncating open, as
    /// the kernel would: with the file system's own operations, as root.
    pub(super) fn drop_privileges(&self, node: Cookie) -> Result<(), Errno> {
        let mode = self.call(Op::Getattr { node }, &Context::ROOT).vattr()?.mode;
        if let Some(mode) = without_setid(mode) {
            let changes = SetVattr { mode: Some(mode), ..SetVattr::default() };
            self.change_attributes(node, &changes, &Context::ROOT)?;
        }
        self.drop_capabilities(node);
        Ok(())
    }

    /// Removes `node`'s file capabilities, if the file system keeps extended attributes.
    fn drop_capabilities(&self, node: Cookie) {
        if !vnop_mask::<F>().contains(VnopMask::DELETEEXTATTR) {
            return;
        }
        let name = OsStr::new(CAPABILITY_XATTR);
        match self.call(Op::Deleteextattr { node, name }, &Context::ROOT).done() {
            Ok(()) | Err(Errno::ENODATA | Errno::EOPNOTSUPP | Errno::ENOSYS) => {}
            Err(e) => log::warn!("dropping the file capabilities of {node:?}: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::without_setid;

    #[test]
    fn set_group_id_goes_only_where_it_means_run_as_the_group() {
        assert_eq!(without_setid(0o4755), Some(0o755));
        assert_eq!(without_setid(0o6755), Some(0o755));
        assert_eq!(without_setid(0o6745), Some(0o2745), "no group execute: a locking mark, kept");
        assert_eq!(without_setid(0o2745), None);
        assert_eq!(without_setid(0o1777), None, "sticky stays");
        assert_eq!(without_setid(0o644), None);
    }
}
