//! Mounting and unmounting a FUSE file system on Linux with `mount(2)` and `umount2(2)`.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{getegid, geteuid};

use crate::{Errno, MountFlags, Vtype};

/// The FUSE device.
pub(crate) const FUSE_DEVICE: &str = "/dev/fuse";

/// What `mount(2)` is told besides the mount point.
#[derive(Debug, Clone)]
pub(crate) struct FuseMountArgs<'a> {
    pub(crate) source: &'a str,
    pub(crate) subtype: &'a str,
    pub(crate) flags: MountFlags,
    pub(crate) root_vtype: Vtype,
    pub(crate) allow_other: bool,
    pub(crate) default_permissions: bool,
    pub(crate) max_read: Option<u32>,
}

/// Opens `/dev/fuse` and mounts it on `dir`; answers the device descriptor.
pub(crate) fn fuse_mount(dir: &Path, args: &FuseMountArgs<'_>) -> Result<OwnedFd, Errno> {
    let fd = open(FUSE_DEVICE, OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())?;
    let mut data = format!(
        "fd={},rootmode={:o},user_id={},group_id={}",
        fd.as_raw_fd(),
        args.root_vtype.to_mode_bits(),
        geteuid(),
        getegid()
    );
    if args.allow_other {
        data.push_str(",allow_other");
    }
    if args.default_permissions {
        data.push_str(",default_permissions");
    }
    if let Some(max_read) = args.max_read {
        data.push_str(&format!(",max_read={max_read}"));
    }
    let fstype = format!("fuse.{}", args.subtype);
    mount(Some(args.source), dir, Some(fstype.as_str()), args.flags.to_ms_flags(), Some(data.as_str()))?;
    Ok(fd)
}

/// Unmounts `dir`; with `lazy`, detaches it even while busy (`MNT_DETACH`).
pub(crate) fn fuse_unmount(dir: &Path, lazy: bool) -> Result<(), Errno> {
    umount2(dir, if lazy { MntFlags::MNT_DETACH } else { MntFlags::empty() })
}

/// A mount that is undone when dropped: the mount point of a live FUSE mount.
#[derive(Debug)]
pub(crate) struct MountGuard {
    dir: PathBuf,
}

impl MountGuard {
    pub(crate) fn new(dir: PathBuf) -> MountGuard {
        MountGuard { dir }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        // Already gone (unmounted from outside) is the common, harmless case.
        let _ = fuse_unmount(&self.dir, true);
    }
}

impl MountFlags {
    pub(crate) fn to_ms_flags(self) -> MsFlags {
        let pairs = [
            (MountFlags::RDONLY, MsFlags::MS_RDONLY),
            (MountFlags::NOSUID, MsFlags::MS_NOSUID),
            (MountFlags::NODEV, MsFlags::MS_NODEV),
            (MountFlags::NOEXEC, MsFlags::MS_NOEXEC),
            (MountFlags::SYNCHRONOUS, MsFlags::MS_SYNCHRONOUS),
            (MountFlags::NOATIME, MsFlags::MS_NOATIME),
            (MountFlags::DIRSYNC, MsFlags::MS_DIRSYNC),
        ];
        pairs.iter().filter(|(ours, _)| self.contains(*ours)).fold(MsFlags::empty(), |ms, (_, theirs)| ms | *theirs)
    }
}
