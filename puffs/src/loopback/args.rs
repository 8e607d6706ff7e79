//! The arguments of a loopback mount: what the file system asks for and what the kernel grants
//! (puffs `struct puffs_kargs`), the loopback kernel's own form of a usermount's settings.

use std::time::Duration;

use bitflags::bitflags;
use nix::errno::Errno;

use crate::fs::cookie::Cookie;
use crate::fs::FileSystem;
use crate::settings::{clamp_cookie_hash, clamp_request_len};
use crate::usermount::{Unmounted, Usermount};
use crate::vattr::Vtype;

/// The version of the mount arguments this kernel speaks (puffs `PUFFSVERSION | PUFFSDEVELVERS`).
/// Anything else in [`MountArgs::version`] is refused with `EINVAL`.
pub const PUFFS_VERSION: u32 = 0x8000_0000 | 1;

/// The prefix the kernel puts before a file system's name (puffs `PUFFS_NAMEPREFIX`).
pub const NAME_PREFIX: &str = "puffs|";

/// Longest file-system name the kernel keeps, prefix included (puffs `PUFFSNAMESIZE` less the
/// terminating NUL); longer names are cut.
pub const FS_NAME_MAX: usize = 31;

/// How long a call waits for a reply unless [`MountArgs::timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest path a call accepts (`PATH_MAX`).
pub const PATH_MAX: usize = 4096;

bitflags! {
    /// Kernel flags of a mount (puffs `PUFFS_KFLAG_*`, the `pa_flags` the kernel keeps). Bits
    /// outside these are stripped at mount, as `puffs_mount` does with `PUFFS_KFLAG_MASK`.
    ///
    /// The loopback keeps no name or page cache, so the flags change nothing but what
    /// [`Client::args`](super::Client::args) reports: they are accepted for fidelity.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct KernelFlags: u32 {
        /// Do not cache names (`PUFFS_KFLAG_NOCACHE_NAME`).
        const NOCACHE_NAME = 0x01;
        /// Do not cache pages (`PUFFS_KFLAG_NOCACHE_PAGE`).
        const NOCACHE_PAGE = 0x02;
        /// Pass every vnode operation, whatever the mask (`PUFFS_KFLAG_ALLOPS`).
        const ALLOPS = 0x04;
        /// Write-through page cache (`PUFFS_KFLAG_WTCACHE`).
        const WTCACHE = 0x08;
        /// Inactive on demand only (`PUFFS_KFLAG_IAONDEMAND`).
        const IAONDEMAND = 0x10;
        /// Full path buffer in lookups (`PUFFS_KFLAG_LOOKUP_FULLPNBUF`).
        const LOOKUP_FULLPNBUF = 0x20;
    }
}

/// The arguments of a loopback mount (puffs `struct puffs_kargs`), as the file system's side
/// hands them to the kernel. [`mount`](super::mount()) validates and clamps them; [`Client::args`](super::Client::args) shows what
/// was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountArgs {
    /// Version of these arguments (`pa_vers`): must be [`PUFFS_VERSION`].
    pub version: u32,
    /// Kernel flags (`pa_flags`); may carry unknown bits (`KernelFlags::from_bits_retain`),
    /// which the kernel strips.
    pub flags: KernelFlags,
    /// An update of an existing mount (`MNT_UPDATE`): not supported, `EOPNOTSUPP`.
    pub update: bool,
    /// The file system's name (`pa_typename`); the kernel prefixes [`NAME_PREFIX`].
    pub fs_name: String,
    /// The longest request the file system wants (`pa_maxreqlen`); 0 asks for the maximum.
    pub max_request_len: usize,
    /// Buckets of the cookie hash (`pa_nhashbuckets`); 0 asks for the default, 256.
    pub cookie_hash_buckets: usize,
    /// The cookie of the root node (`pa_root_cookie`): the file system sees it in every
    /// operation on the root.
    pub root_cookie: Cookie,
    /// The type of the root node (`pa_root_vtype`), used for its attributes if the file system
    /// cannot tell them.
    pub root_vtype: Vtype,
    /// How long a call waits for a reply, for the operations in flight to drain at suspension,
    /// and for the file system's thread to end at unmount (not a puffs argument: the bound that
    /// keeps a test from hanging).
    pub timeout: Duration,
}

impl MountArgs {
    /// Arguments for a file system named `fs_name` whose root is `root_cookie`: the current
    /// version, no flags, a directory root, default request length, buckets and timeout.
    pub fn new(fs_name: &str, root_cookie: Cookie) -> MountArgs {
        MountArgs {
            version: PUFFS_VERSION,
            flags: KernelFlags::empty(),
            update: false,
            fs_name: fs_name.to_string(),
            max_request_len: 0,
            cookie_hash_buckets: 0,
            root_cookie,
            root_vtype: Vtype::Dir,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The arguments `usermount` asks for, as `puffs_init` and the setters fill `puffs_kargs`:
    /// its name, [`max_request_len`](Usermount::max_request_len),
    /// [`cookie_hash_buckets`](Usermount::cookie_hash_buckets) and
    /// [`root_info`](Usermount::root_info), with root `root_cookie`.
    pub fn of<F: FileSystem>(usermount: &Usermount<F, Unmounted>, root_cookie: Cookie) -> MountArgs {
        let settings = usermount.settings();
        MountArgs {
            max_request_len: settings.max_request_len,
            cookie_hash_buckets: settings.cookie_hash_buckets,
            root_vtype: settings.root_vtype,
            ..MountArgs::new(&settings.name, root_cookie)
        }
    }

    /// What the kernel grants for these arguments, checked and clamped as `puffs_mount` does:
    /// `EINVAL` for another version, `EOPNOTSUPP` for an update; otherwise the arguments with
    /// unknown flags stripped, the name prefixed and cut to [`FS_NAME_MAX`], the request length
    /// clamped into [`REQUEST_LEN_MIN`](crate::REQUEST_LEN_MIN)`..=`[`REQUEST_LEN_MAX`](crate::REQUEST_LEN_MAX) (0 meaning the maximum) and the
    /// buckets into `1..=65536` (0 meaning 256).
    pub fn granted(&self) -> Result<MountArgs, Errno> {
        if self.update {
            return Err(Errno::EOPNOTSUPP);
        }
        if self.version != PUFFS_VERSION {
            return Err(Errno::EINVAL);
        }
        let mut fs_name = format!("{NAME_PREFIX}{}", self.fs_name);
        if fs_name.len() > FS_NAME_MAX {
            let mut end = FS_NAME_MAX;
            while !fs_name.is_char_boundary(end) {
                end -= 1;
            }
            fs_name.truncate(end);
        }
        Ok(MountArgs {
            flags: self.flags & KernelFlags::all(),
            fs_name,
            max_request_len: clamp_request_len(self.max_request_len),
            cookie_hash_buckets: clamp_cookie_hash(self.cookie_hash_buckets),
            ..self.clone()
        })
    }
}
