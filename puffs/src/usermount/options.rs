//! What is asked before mount: request length, mount flags and options, and the settings the
//! setters of an unmounted usermount collect.

use std::time::Duration;

use bitflags::bitflags;

use crate::fuse::abi::{self};
use crate::session::REQUEST_HEADER_ROOM;
use crate::{Errno, Error, Vtype};

/// Largest request length: a 1 MiB write plus header room. Longer (or 0) asks are clamped here.
pub const REQUEST_LEN_MAX: usize = (1 << 20) + REQUEST_HEADER_ROOM;
/// Smallest request length: the kernel's minimal read buffer. Shorter asks are clamped here.
pub const REQUEST_LEN_MIN: usize = abi::MIN_READ_BUFFER;

/// Clamps a requested maximum request length as the puffs kernel does with `pa_maxreqlen`:
/// 0 or too large gives [`REQUEST_LEN_MAX`], too small gives [`REQUEST_LEN_MIN`].
pub(crate) fn clamp_request_len(len: usize) -> usize {
    if len == 0 || len > REQUEST_LEN_MAX {
        REQUEST_LEN_MAX
    } else {
        len.max(REQUEST_LEN_MIN)
    }
}

/// Rounds a worker stack size as `puffs_setstacksize` does: at least four pages, and a size
/// that is not a power of two goes up to the next one.
pub(crate) fn round_stack_size(bytes: usize) -> usize {
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten().unwrap_or(4096) as usize;
    bytes.max(4 * page).next_power_of_two()
}

bitflags! {
    /// Flags of a mount (`mount(2)` `MS_*` flags; puffs `mntflags`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct MountFlags: u32 {
        /// Read-only.
        const RDONLY = 1 << 0;
        /// Ignore set-uid and set-gid bits.
        const NOSUID = 1 << 1;
        /// Do not open devices.
        const NODEV = 1 << 2;
        /// Do not execute programs.
        const NOEXEC = 1 << 3;
        /// All writes are synchronous.
        const SYNCHRONOUS = 1 << 4;
        /// Do not update access times.
        const NOATIME = 1 << 5;
        /// Directory changes are synchronous.
        const DIRSYNC = 1 << 6;
    }
}

/// Mount options as `mount -o` spells them, parsed once (`ro,allow_other,default_permissions`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MountOptions {
    /// `ro`, `nosuid`, `nodev`, `noexec`, `sync`, `noatime`, `dirsync` (and `rw`, `suid`, `dev`,
    /// `exec`, `async`, `atime` to clear them).
    pub flags: MountFlags,
    /// `allow_other`: users other than the mounter may access the file system. A user who is
    /// not root may ask for it only where `/etc/fuse.conf` says `user_allow_other`.
    pub allow_other: bool,
    /// `auto_unmount`: the file system is unmounted when the server ends without unmounting
    /// it, even by `kill -9`, so that no dead mount is left behind (libfuse's option of the
    /// same name; a small watchdog process does it, see the usermount's docs).
    pub auto_unmount: bool,
    /// `default_permissions`: the kernel checks permissions from the mode bits.
    pub default_permissions: bool,
    /// `fsname=NAME`: the source shown in the mount table.
    pub fs_name: Option<String>,
    /// `attr_timeout=SECONDS`: how long the kernel caches attributes.
    pub attr_timeout: Option<Duration>,
    /// `entry_timeout=SECONDS`: how long the kernel caches names.
    pub entry_timeout: Option<Duration>,
}

impl MountOptions {
    /// Parses a comma-separated option list; an unknown option or a bad value is an `EINVAL`
    /// error naming it.
    pub fn parse(list: &str) -> Result<MountOptions, Error> {
        let mut options = MountOptions::default();
        for option in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            options.apply(option)?;
        }
        Ok(options)
    }

    /// Whether this process may mount with `allow_other`: as root, or where `/etc/fuse.conf`
    /// lets users (a line `user_allow_other`, read by the helper `fusermount3`).
    pub fn allow_other_permitted() -> bool {
        nix::unistd::geteuid().is_root() || crate::os::fusermount::user_allow_other()
    }

    fn apply(&mut self, option: &str) -> Result<(), Error> {
        let bad = || Error::new(format!("mount option `{option}`"), Errno::EINVAL);
        let seconds =
            |v: &str| v.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64);
        let flag = |set: bool, f: MountFlags, flags: &mut MountFlags| flags.set(f, set);
        match option.split_once('=') {
            Some(("fsname", v)) if !v.is_empty() => self.fs_name = Some(v.to_string()),
            Some(("attr_timeout", v)) => self.attr_timeout = Some(seconds(v).ok_or_else(bad)?),
            Some(("entry_timeout", v)) => self.entry_timeout = Some(seconds(v).ok_or_else(bad)?),
            Some(_) => return Err(bad()),
            None => match option {
                "ro" | "rw" => flag(option == "ro", MountFlags::RDONLY, &mut self.flags),
                "nosuid" | "suid" => flag(option == "nosuid", MountFlags::NOSUID, &mut self.flags),
                "nodev" | "dev" => flag(option == "nodev", MountFlags::NODEV, &mut self.flags),
                "noexec" | "exec" => flag(option == "noexec", MountFlags::NOEXEC, &mut self.flags),
                "sync" | "async" => flag(option == "sync", MountFlags::SYNCHRONOUS, &mut self.flags),
                "noatime" | "atime" => flag(option == "noatime", MountFlags::NOATIME, &mut self.flags),
                "dirsync" => self.flags |= MountFlags::DIRSYNC,
                "allow_other" => self.allow_other = true,
                "auto_unmount" => self.auto_unmount = true,
                "default_permissions" => self.default_permissions = true,
                _ => return Err(bad()),
            },
        }
        Ok(())
    }
}

/// How [`Usermount::process_request`](super::Usermount::process_request) waits for the kernel (puffs `PUFFSDEV_BLOCK` and
/// `PUFFSDEV_NONBLOCK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockingMode {
    /// Wait until a request arrives.
    Block,
    /// Answer [`Progress::Idle`] at once when none is pending.
    NonBlock,
}

/// What one [`Usermount::process_request`](super::Usermount::process_request) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A request was handled.
    Handled,
    /// Non-blocking mode and nothing was pending.
    Idle,
    /// The file system was unmounted; no request will come again.
    Finished,
}

/// Everything fixed before mount.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) name: String,
    pub(crate) root_vtype: Vtype,
    pub(crate) max_request_len: usize,
    pub(crate) fh_size: usize,
    pub(crate) cookie_hash_buckets: usize,
    pub(crate) stack_size: Option<usize>,
    pub(crate) threads: usize,
    pub(crate) daemonize: bool,
    pub(crate) opdump: bool,
    pub(crate) handle_signals: bool,
    pub(crate) options: MountOptions,
}
