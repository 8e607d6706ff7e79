//! The path walk (the kernel's `namei`): components checked, looked up one by one, symbolic
//! links followed; every node looked up is held by the call until it ends.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use nix::errno::Errno;

use crate::fuse::abi::ROOT_ID;
use crate::fuse::request::{Operation, NAME_MAX};
use crate::vattr::{Vattr, Vtype};

use super::args::PATH_MAX;
use super::client::{entry_of, Client, Op};
use super::kernel::{synthesized_root, Flavor};

/// How many symbolic links one path walk follows before `ELOOP` (Linux `MAXSYMLINKS`).
pub(super) const MAX_SYMLINKS: usize = 40;

/// A node a call holds: its node id and attributes.
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) nodeid: u64,
    pub(super) vattr: Vattr,
}

/// Splits a path into components, refusing what no kernel would send.
pub(super) fn components(path: &Path) -> Result<Vec<OsString>, Errno> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.contains(&0) {
        return Err(Errno::EINVAL);
    }
    if bytes.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    bytes
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .map(|c| if c.len() > NAME_MAX { Err(Errno::ENAMETOOLONG) } else { Ok(OsStr::from_bytes(c).to_owned()) })
        .collect()
}

impl Client {
    pub(super) fn root(&self) -> Node {
        let vattr = self.shared.lock().root_vattr.clone().unwrap_or_else(|| synthesized_root(&self.shared.args));
        Node { nodeid: ROOT_ID, vattr }
    }

    /// `LOOKUP` of `name` in `dir`; the node is held by `op`.
    pub(super) fn lookup(&self, op: &mut Op<'_>, dir: &Node, name: &OsStr) -> Result<Node, Errno> {
        if dir.vattr.vtype != Vtype::Dir {
            return Err(Errno::ENOTDIR);
        }
        let body = self.call(dir.nodeid, &Operation::Lookup { name }, Flavor::Client)?;
        // A negative entry is ENOENT: no node, nothing to forget.
        let (nodeid, vattr) = entry_of(&body)?;
        op.held.push(nodeid);
        Ok(Node { nodeid, vattr })
    }

    /// Walks `path` from the cached root; the final component's symbolic link is followed only
    /// if `follow`.
    pub(super) fn resolve(&self, op: &mut Op<'_>, path: &Path, follow: bool) -> Result<Node, Errno> {
        let mut queue: VecDeque<OsString> = components(path)?.into();
        let mut stack = vec![self.root()];
        let mut links = 0;
        while let Some(name) = queue.pop_front() {
            let current = stack.last().expect("root stays").clone();
            if name == "." {
                if current.vattr.vtype != Vtype::Dir {
                    return Err(Errno::ENOTDIR);
                }
                continue;
            }
            if name == ".." {
                if current.vattr.vtype != Vtype::Dir {
                    return Err(Errno::ENOTDIR);
                }
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            let node = self.lookup(op, &current, &name)?;
            if node.vattr.vtype == Vtype::Lnk && (follow || !queue.is_empty()) {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let body = self.call(node.nodeid, &Operation::Readlink, Flavor::Client)?;
                if body.is_empty() {
                    return Err(Errno::ENOENT);
                }
                let target = OsString::from_vec(body);
                let mut spliced: VecDeque<OsString> = components(Path::new(&target))?.into();
                spliced.extend(queue.drain(..));
                queue = spliced;
                if target.as_bytes().first() == Some(&b'/') {
                    stack.truncate(1);
                }
                continue;
            }
            stack.push(node);
        }
        Ok(stack.pop().expect("root stays"))
    }

    /// The directory and the name of the last component of `path`; `on_root` when `path` names
    /// the root, `EINVAL` for `.` and `..`.
    pub(super) fn parent(&self, op: &mut Op<'_>, path: &Path, on_root: Errno) -> Result<(Node, OsString), Errno> {
        let mut parts = components(path)?;
        let Some(name) = parts.pop() else { return Err(on_root) };
        if name == "." || name == ".." {
            return Err(Errno::EINVAL);
        }
        let dir = self.resolve(op, &parts.iter().collect::<std::path::PathBuf>(), true)?;
        if dir.vattr.vtype != Vtype::Dir {
            return Err(Errno::ENOTDIR);
        }
        Ok((dir, name))
    }
}
