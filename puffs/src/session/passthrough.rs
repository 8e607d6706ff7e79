//! FUSE passthrough: opens answered with a host file ([`Opened::with_backing`]) are read and
//! written by the kernel on it.
//!
//! The kernel knows a backing file by the id it answered when the framework registered it
//! (`FUSE_DEV_IOC_BACKING_OPEN`), and wants every open of a file that is open with one to use
//! that same one. So the session keeps, per node, the id in use and the handles of its opens:
//! the first open registers its file, later ones share the id, and the release of the last
//! forgets it (`FUSE_DEV_IOC_BACKING_CLOSE`; the kernel's own references keep the file as
//! long as it needs it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use nix::errno::Errno;

use crate::fs::answer::Opened;
use crate::fs::cookie::{Cookie, FileHandle};
use crate::fs::flags::OpenedFlags;
use crate::fs::FileSystem;
use crate::fuse::abi::{self, InitFlags};

use super::Session;

/// `CAP_SYS_ADMIN`'s bit in the capability sets (`linux/capability.h`).
const CAP_SYS_ADMIN: u32 = 21;

/// The backing files in use, by node.
#[derive(Debug, Default)]
pub(super) struct Backings {
    nodes: Mutex<HashMap<Cookie, Backed>>,
    /// Registering failed for a reason that will not change (`EPERM`): opens go on without.
    refused: AtomicBool,
}

/// One node's backing file: its id and the handles of the opens that use it.
#[derive(Debug)]
struct Backed {
    id: u32,
    handles: Vec<FileHandle>,
}

impl<F: FileSystem> Session<F> {
    /// Whether to ask for `PASSTHROUGH` at `INIT`: the `passthrough` option, without
    /// `writeback_cache` (the kernel grants one or the other), by a server the kernel takes
    /// backing files from.
    pub(super) fn wants_passthrough(&self, fs_name: &str) -> bool {
        let options = &self.settings.options;
        if !options.passthrough {
            return false;
        }
        if options.writeback_cache {
            log::warn!("{fs_name}: passthrough is off, as writeback_cache is on (the kernel allows one or the other)");
            return false;
        }
        if !has_sys_admin() {
            log::info!(
                "{fs_name}: passthrough is off: the kernel takes backing files only from a server with CAP_SYS_ADMIN"
            );
            return false;
        }
        true
    }

    /// The `fuse_open_out` answering `opened`, an open of `node` (of a directory when `dir`):
    /// keeping the page cache when the mount says `kernel_cache`, with its backing file where
    /// the kernel can pass it through.
    pub(super) fn open_out(&self, node: Cookie, opened: &Opened, dir: bool) -> abi::OpenOut {
        let mut flags = opened.flags;
        if !dir && self.settings.options.kernel_cache {
            flags |= OpenedFlags::KEEP_CACHE;
        }
        let mut out = abi::OpenOut { fh: opened.handle.0, open_flags: flags.bits(), backing_id: 0 };
        let Some(file) = &opened.backing else { return out };
        if dir || !self.granted().contains(InitFlags::PASSTHROUGH) || self.backings.refused.load(Ordering::Relaxed) {
            return out;
        }
        let flags = flags - OpenedFlags::KEEP_CACHE;
        if flags.bits() & !abi::FOPEN_PASSTHROUGH_MASK != 0 {
            log::debug!("an open with {flags:?} is not passed through: the kernel takes no such flag with it");
            return out;
        }
        let mut nodes = self.backings.nodes.lock().unwrap_or_else(|e| e.into_inner());
        let id = match nodes.get_mut(&node) {
            Some(backed) => {
                backed.handles.push(opened.handle);
                backed.id
            }
            None => match self.channel.backing_open(std::os::fd::AsFd::as_fd(file)) {
                Ok(id) => {
                    nodes.insert(node, Backed { id, handles: vec![opened.handle] });
                    id
                }
                Err(e) => {
                    if e == Errno::EPERM {
                        self.backings.refused.store(true, Ordering::Relaxed);
                    }
                    log::warn!("a backing file was refused ({e}): its open is served by the file system");
                    return out;
                }
            },
        };
        out.open_flags = flags.bits() | abi::FOPEN_PASSTHROUGH;
        out.backing_id = id as i32;
        out
    }

    /// The kernel released open `handle` of `node`: the last open with the node's backing
    /// file forgets it.
    pub(super) fn release_backing(&self, node: Cookie, handle: FileHandle) {
        let mut nodes = self.backings.nodes.lock().unwrap_or_else(|e| e.into_inner());
        let Some(backed) = nodes.get_mut(&node) else { return };
        let Some(at) = backed.handles.iter().position(|&h| h == handle) else { return };
        backed.handles.swap_remove(at);
        if backed.handles.is_empty() {
            let id = backed.id;
            nodes.remove(&node);
            if let Err(e) = self.channel.backing_close(id) {
                log::warn!("backing file {id} could not be forgotten: {e}");
            }
        }
    }
}

/// Whether this process holds `CAP_SYS_ADMIN` in its effective set (the `CapEff` line of
/// `/proc/self/status`), as the kernel requires of whoever registers backing files. In a user
/// namespace the answer is about that namespace, where the kernel asks about the first, so a
/// registration may still meet `EPERM`: its open is then served without passthrough.
fn has_sys_admin() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return false };
    effective_has(&status, CAP_SYS_ADMIN)
}

/// Whether the `CapEff` line of a `status` text has capability `bit`.
fn effective_has(status: &str, bit: u32) -> bool {
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|set| set >> bit & 1 == 1)
}

#[cfg(test)]
mod tests {
    use super::{effective_has, CAP_SYS_ADMIN};

    #[test]
    fn the_effective_set_is_read_from_its_line() {
        let root = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        let user = "CapPrm:\t000001ffffffffff\nCapEff:\t0000000000000000\n";
        assert!(effective_has(root, CAP_SYS_ADMIN));
        assert!(!effective_has(user, CAP_SYS_ADMIN));
        assert!(!effective_has("CapEff:\tzz\n", CAP_SYS_ADMIN));
        assert!(!effective_has("", CAP_SYS_ADMIN));
    }
}
