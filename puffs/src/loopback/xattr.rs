//! Extended attributes through a loopback mount: names checked as `setxattr(2)` does, values
//! asked for size first, `ENOSYS` shown as `EOPNOTSUPP`.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

use crate::acl::ACCESS_XATTR;
use crate::fs::flags::XattrFlags;
use crate::fuse::abi::InitFlags;
use crate::fuse::reply::{decode_body, ReplyBody, ReplyKind};
use crate::fuse::request::{Operation, NAME_MAX};

use super::client::{empty_of, Client};
use super::kernel::Flavor;

/// Largest extended attribute value or list (`XATTR_SIZE_MAX`).
pub(super) const XATTR_SIZE_MAX: u32 = 65536;

/// Checks the name of an extended attribute as `setxattr(2)` does.
pub(super) fn check_xattr_name(name: &OsStr) -> Result<(), Errno> {
    let bytes = name.as_bytes();
    if bytes.contains(&0) {
        Err(Errno::EINVAL)
    } else if bytes.is_empty() || bytes.len() > NAME_MAX {
        Err(Errno::ERANGE)
    } else {
        Ok(())
    }
}

/// What a caller sees of an extended-attribute operation the file system does not implement:
/// `EOPNOTSUPP`, as Linux answers once FUSE said `ENOSYS`.
pub(super) fn xattr_errno(errno: Errno) -> Errno {
    if errno == Errno::ENOSYS {
        Errno::EOPNOTSUPP
    } else {
        errno
    }
}

impl Client {
    /// Asks for a value of at most `XATTR_SIZE_MAX` bytes: its size first, then the value.
    pub(super) fn sized<'n>(&self, nodeid: u64, ask: impl Fn(u32) -> Operation<'n>) -> Result<Vec<u8>, Errno> {
        for _ in 0..4 {
            let answer = self.call(nodeid, &ask(0), Flavor::Client).map_err(xattr_errno)?;
            let size = match decode_body(ReplyKind::XattrSize, &answer) {
                Some(ReplyBody::XattrSize(out)) => out.size,
                _ => return Err(Errno::EIO),
            };
            if size == 0 {
                return Ok(Vec::new());
            }
            if size > XATTR_SIZE_MAX {
                return Err(Errno::E2BIG);
            }
            match self.call(nodeid, &ask(size), Flavor::Client) {
                Ok(value) if value.len() <= size as usize => return Ok(value),
                Ok(_) => return Err(Errno::EIO),
                // It grew in between: ask again.
                Err(Errno::ERANGE) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Errno::ERANGE)
    }
}

impl Client {
    /// The value of extended attribute `name` of `path` (`GETXATTR`, size first).
    pub fn getxattr(&self, path: impl AsRef<Path>, name: impl AsRef<OsStr>) -> Result<Vec<u8>, Errno> {
        let name = name.as_ref();
        check_xattr_name(name)?;
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, path.as_ref(), true)?;
        self.sized(node.nodeid, |size| Operation::Getxattr { name, size })
    }

    /// Sets extended attribute `name` of `path` to `value` (`SETXATTR`). As Linux does with
    /// `SETXATTR_EXT` granted, setting the access ACL of a file whose group the caller is not
    /// in, not being root, says to drop set-group-id.
    pub fn setxattr(
        &self,
        path: impl AsRef<Path>,
        name: impl AsRef<OsStr>,
        value: &[u8],
        flags: XattrFlags,
    ) -> Result<(), Errno> {
        let name = name.as_ref();
        check_xattr_name(name)?;
        if value.len() > XATTR_SIZE_MAX as usize {
            return Err(Errno::E2BIG);
        }
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, path.as_ref(), true)?;
        let extended = self.shared.lock().granted.contains(InitFlags::SETXATTR_EXT);
        let outsider = !self.cred.is_root() && self.cred.gid != node.vattr.gid;
        let acl_kill_sgid = extended && name == ACCESS_XATTR && outsider;
        let set = Operation::Setxattr { name, value, flags, extended, acl_kill_sgid };
        empty_of(&self.call(node.nodeid, &set, Flavor::Client).map_err(xattr_errno)?)
    }

    /// The names of the extended attributes of `path` (`LISTXATTR`, size first).
    pub fn listxattr(&self, path: impl AsRef<Path>) -> Result<Vec<OsString>, Errno> {
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, path.as_ref(), true)?;
        let list = self.sized(node.nodeid, |size| Operation::Listxattr { size })?;
        if list.last().is_some_and(|&b| b != 0) {
            return Err(Errno::EIO);
        }
        Ok(list.split(|&b| b == 0).filter(|n| !n.is_empty()).map(|n| OsStr::from_bytes(n).to_owned()).collect())
    }

    /// Removes extended attribute `name` of `path` (`REMOVEXATTR`).
    pub fn removexattr(&self, path: impl AsRef<Path>, name: impl AsRef<OsStr>) -> Result<(), Errno> {
        let name = name.as_ref();
        check_xattr_name(name)?;
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, path.as_ref(), true)?;
        empty_of(&self.call(node.nodeid, &Operation::Removexattr { name }, Flavor::Client).map_err(xattr_errno)?)
    }
}
