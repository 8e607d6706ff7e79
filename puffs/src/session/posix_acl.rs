//! What the framework does for a file system with POSIX ACLs ([`FileSystem::POSIX_ACL`]), so
//! that the file system only stores two extended attributes:
//!
//! - at `INIT` it asks for `FUSE_POSIX_ACL` (the kernel then enforces ACLs, with
//!   `default_permissions`) and `FUSE_DONT_MASK` (the umask reaches the framework, which
//!   applies it only where no default ACL is inherited);
//! - a node created in a directory with a default ACL inherits it (`posix_acl_create`);
//! - setting `system.posix_acl_access` validates the ACL and sets the mode from it, storing the
//!   ACL only where the mode cannot say it all;
//! - `chmod` brings a stored access ACL in step with the new mode (`posix_acl_chmod`).
//!
//! The kernel leaves all three to the server. Without `POSIX_ACL` (or on a kernel that does
//! not offer it) the two attribute names answer `EOPNOTSUPP`, never reaching the file system:
//! tools then fall back to `chmod`, and no ACL is stored that nothing enforces.

use std::ffi::OsStr;

use nix::errno::Errno;

use crate::acl::{Acl, ACCESS_XATTR, DEFAULT_XATTR};
use crate::fs::context::Context;
use crate::fs::cookie::Cookie;
use crate::fs::dispatch::Op;
use crate::fs::flags::XattrFlags;
use crate::fs::FileSystem;
use crate::vattr::SetVattr;

use super::Session;

/// Whether `name` is one of the two attributes that hold POSIX ACLs.
pub(crate) fn is_acl_name(name: &OsStr) -> bool {
    name == ACCESS_XATTR || name == DEFAULT_XATTR
}

/// What a node about to be created gets: its mode, and the ACLs to store on it once it exists.
#[derive(Debug)]
pub(crate) struct Inherited {
    pub(crate) mode: u32,
    access: Option<Acl>,
    default: Option<Acl>,
}

impl<F: FileSystem> Session<F> {
    /// The mode and ACLs of a node created with `mode` in `dir` by a caller whose umask is
    /// `umask`: the directory's default ACL masks the mode, or else the umask does.
    pub(crate) fn inherit_acl(&self, dir: Cookie, mode: u32, umask: u32, is_dir: bool, ctx: &Context<'_>) -> Inherited {
        if !self.acl_granted() {
            // The kernel applied the umask already.
            return Inherited { mode, access: None, default: None };
        }
        let default =
            self.call(Op::Getextattr { node: dir, name: OsStr::new(DEFAULT_XATTR) }, ctx).value().ok().and_then(
                |bytes| {
                    // What the file system stored came through `set_acl`: valid unless it was changed
                    // behind the framework's back, and then it is ignored.
                    Acl::from_xattr(&bytes).ok()
                },
            );
        match default {
            Some(default) => {
                let (mode, access) = default.inherit(mode);
                Inherited { mode, access, default: is_dir.then_some(default) }
            }
            None => Inherited { mode: mode & !(umask & 0o777), access: None, default: None },
        }
    }

    /// Stores the ACLs a new node inherited.
    pub(crate) fn store_inherited_acl(
        &self,
        node: Cookie,
        inherited: &Inherited,
        ctx: &Context<'_>,
    ) -> Result<(), Errno> {
        for (name, acl) in [(ACCESS_XATTR, &inherited.access), (DEFAULT_XATTR, &inherited.default)] {
            if let Some(acl) = acl {
                self.call(
                    Op::Setextattr { node, name: OsStr::new(name), value: &acl.to_xattr(), flags: XattrFlags::empty() },
                    ctx,
                )
                .done()?;
            }
        }
        Ok(())
    }

    /// Brings the stored access ACL of `node`, if any, in step with its new `mode`.
    pub(crate) fn chmod_acl(&self, node: Cookie, mode: u32, ctx: &Context<'_>) -> Result<(), Errno> {
        if !self.acl_granted() {
            return Ok(());
        }
        let name = OsStr::new(ACCESS_XATTR);
        let Ok(Ok(mut acl)) =
            self.call(Op::Getextattr { node, name }, ctx).value().map(|bytes| Acl::from_xattr(&bytes))
        else {
            return Ok(());
        };
        acl.chmod(mode);
        self.call(Op::Setextattr { node, name, value: &acl.to_xattr(), flags: XattrFlags::empty() }, ctx).done()
    }

    /// Sets one of the ACL attributes of `node` (`setfacl`, `cp -a`).
    pub(crate) fn set_acl(
        &self,
        node: Cookie,
        name: &OsStr,
        value: &[u8],
        flags: XattrFlags,
        kill_sgid: bool,
        ctx: &Context<'_>,
    ) -> Result<(), Errno> {
        if !self.acl_granted() {
            return Err(Errno::EOPNOTSUPP);
        }
        let acl = Acl::from_xattr(value)?;
        if name == DEFAULT_XATTR {
            return self.call(Op::Setextattr { node, name, value: &acl.to_xattr(), flags }, ctx).done();
        }
        // The access ACL decides the permission bits; set-id and sticky bits stay, but for
        // set-group-id when the kernel says the caller may not keep it (not in the file's
        // group, not privileged: `SETXATTR_ACL_KILL_SGID`).
        let current = self.call(Op::Getattr { node }, ctx).vattr()?.mode;
        let mut mode = (current & !0o777) | acl.mode_bits();
        if kill_sgid {
            mode &= !0o2000;
        }
        // Granted only to a file system with setattr and the xattr operations (see INIT).
        let changes = SetVattr { mode: Some(mode), ..SetVattr::default() };
        self.call(Op::Setattr { node, changes: &changes }, ctx).vattr()?;
        if acl.is_equivalent_to_mode() {
            // The mode says it all: no ACL is kept (as every disk file system does).
            match self.call(Op::Deleteextattr { node, name }, ctx).done() {
                Ok(()) | Err(Errno::ENODATA) => Ok(()),
                Err(e) => Err(e),
            }
        } else {
            self.call(Op::Setextattr { node, name, value: &acl.to_xattr(), flags }, ctx).done()
        }
    }
}
