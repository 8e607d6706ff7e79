//! Mount settings: what is asked before mount ([`Settings`], which the setters of an unmounted
//! usermount fill, with its [`MountOptions`] and [`MountFlags`]) and what the kernel granted
//! after it ([`MountInfo`]). Everything else reads these two: the FUSE mount is made from a
//! `Settings`, the session runs with it, the loopback kernel builds its arguments from it.

use std::time::Duration;

use bitflags::bitflags;
use nix::errno::Errno;

use crate::error::Error;
use crate::fuse::abi;
use crate::vattr::Vtype;

/// Bytes reserved in a request buffer beyond the largest write, for headers.
pub(crate) const REQUEST_HEADER_ROOM: usize = 4096;

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

/// Smallest number of cookie hash buckets.
pub(crate) const COOKIE_HASH_MIN: usize = 1;
/// Largest number of cookie hash buckets.
pub(crate) const COOKIE_HASH_MAX: usize = 65536;
/// Number of cookie hash buckets when none is set.
pub(crate) const COOKIE_HASH_DEFAULT: usize = 256;

/// Clamps a requested bucket count into `[COOKIE_HASH_MIN, COOKIE_HASH_MAX]`, as the puffs kernel
/// does with `pmp_npnodehash`; zero asks for the default.
pub(crate) fn clamp_cookie_hash(buckets: usize) -> usize {
    if buckets == 0 {
        COOKIE_HASH_DEFAULT
    } else {
        buckets.clamp(COOKIE_HASH_MIN, COOKIE_HASH_MAX)
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
    /// `default_permissions`: the kernel checks permissions from the mode bits before a request
    /// reaches the file system (at the cost of a `GETATTR` where its attributes are not cached).
    /// Without it, the file system makes its own checks, with [`crate::access`].
    /// `nodefault_permissions` undoes it (a program's default options come before `-o`).
    pub default_permissions: bool,
    /// `noacl`: a file system with [`FileSystem::POSIX_ACL`](crate::FileSystem::POSIX_ACL)
    /// mounts without ACLs (and so without the kernel's checks that come with them, unless
    /// `default_permissions` asks for those); `acl` undoes it.
    pub noacl: bool,
    /// `fsname=NAME`: the source shown in the mount table.
    pub fs_name: Option<String>,
    /// `attr_timeout=SECONDS`: how long the kernel caches attributes.
    pub attr_timeout: Option<Duration>,
    /// `entry_timeout=SECONDS`: how long the kernel caches names.
    pub entry_timeout: Option<Duration>,
    /// `negative_timeout=SECONDS`: how long the kernel remembers that a name does not exist
    /// (a lookup answered `ENOENT`); none by default. A lookup can set its own lifetime with
    /// [`Context::set_entry_ttl`](crate::Context::set_entry_ttl).
    pub negative_timeout: Option<Duration>,
    /// `cache_symlinks`: the kernel caches symbolic link targets (FUSE `CACHE_SYMLINKS`). Right
    /// when targets never change behind the kernel's back, which holds for every file system
    /// whose links change only through the mount: a link's target never changes, only the
    /// link is replaced. A network file system whose links change elsewhere leaves it off, or
    /// invalidates the link's node when it learns of the change.
    pub cache_symlinks: bool,
    /// When the kernel drops cached file data: `auto_inval_data`, `explicit_inval_data`, or
    /// at every open by default.
    pub data_cache: DataCache,
    /// `nostatx`: the kernel's `STATX` requests are refused (`ENOSYS`, after which it sends no
    /// more), so `statx(2)` reports no birth time. By default they are answered from
    /// `node_getattr` with [`Vattr::birthtime`](crate::Vattr::birthtime); but the attributes a
    /// lookup or a listing brings carry no birth time, so the kernel then asks the file system
    /// again for every stat that wants one, and Rust's `std::fs::metadata` always does: one
    /// more round trip per stat of a freshly looked-up name. libfuse before 3.18 and fuser
    /// answer no `STATX` either.
    pub nostatx: bool,
    /// `kernel_cache`: every open of a file keeps the data the kernel cached from earlier
    /// opens (FUSE `FOPEN_KEEP_CACHE`, libfuse's option of the same name), so warm reads are
    /// served from memory. Without it, each open drops the file's cached data (unless its
    /// `node_open` answers [`OpenedFlags::KEEP_CACHE`](crate::OpenedFlags::KEEP_CACHE)). For
    /// file systems whose files change only through this mount, or that announce other
    /// changes with the notifier.
    pub kernel_cache: bool,
    /// `writeback_cache`: the kernel caches writes and writes them back later, in larger
    /// requests (FUSE `WRITEBACK_CACHE`), for file systems that implement `node_write`. Its
    /// rules: the kernel keeps the file's size and modification time while it caches, and
    /// sends them by `node_setattr`; it reads a file to fill a partly written page, so the
    /// framework opens write-only files for reading and writing and leaves `O_APPEND` to the
    /// kernel (the file system never sees either); a change made behind the kernel's back must
    /// be announced with the notifier.
    pub writeback_cache: bool,
    /// `direct_io_allow_mmap`: files opened with `direct_io` may still be mapped shared (FUSE
    /// `DIRECT_IO_ALLOW_MMAP`); off, `mmap(MAP_SHARED)` of such a file fails with `ENODEV`.
    pub direct_io_allow_mmap: bool,
    /// `readdirplus=auto|yes|no`: whether listings carry each entry's node and attributes, for
    /// file systems with both `node_readdir` and `node_lookup` (FUSE `READDIRPLUS`, answered by
    /// the framework from those two).
    pub readdirplus: ReaddirPlus,
    /// `io_uring`: requests come through FUSE over io_uring where the kernel offers it
    /// (Linux 6.14 on, with `/sys/module/fuse/parameters/enable_uring` set to `Y`), one queue
    /// per CPU; elsewhere, and with `noio_uring` (the default), through `/dev/fuse`.
    /// [`MountInfo::transport`] says which.
    pub io_uring: bool,
    /// `passthrough`: opens that [`node_open`](crate::FileSystem::node_open) answers with a
    /// host file ([`Opened::with_backing`](crate::Opened::with_backing)) are read and written
    /// by the kernel on that file, without the file system (FUSE `PASSTHROUGH`, Linux 6.9 on).
    /// Asked only by a server with `CAP_SYS_ADMIN` (the kernel takes backing files from no
    /// one else) and without `writeback_cache` (the kernel allows one or the other);
    /// [`MountInfo::passthrough`] says whether it was granted.
    pub passthrough: bool,
}

/// How requests reach the file system ([`MountInfo::transport`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// `read(2)` and `writev(2)` on `/dev/fuse` (or the loopback kernel's socket).
    #[default]
    Device,
    /// FUSE over io_uring: `queues` queues (one per possible CPU) served by `rings` threads;
    /// `FORGET`, `INTERRUPT` and notifications still use `/dev/fuse`.
    IoUring {
        /// Queues the kernel keeps: one per possible CPU.
        queues: usize,
        /// Threads serving them, each with its own ring.
        rings: usize,
    },
}

/// Whether the kernel lists directories with `READDIRPLUS` (the `readdirplus=` mount option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReaddirPlus {
    /// `auto`: the kernel chooses, per directory, by whether a listing is followed by lookups
    /// of its entries (`ls -l`) or not (`ls`) (FUSE `READDIRPLUS_AUTO`).
    #[default]
    Auto,
    /// `yes`: every listing.
    Always,
    /// `no`: never; the kernel looks each entry up when it needs it.
    Never,
}

/// When the kernel drops the file data it caches (the `*_inval_data` mount options).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataCache {
    /// At every open, unless the open answers `keep_cache`: the kernel's default.
    #[default]
    OnOpen,
    /// `auto_inval_data`: also when fresh attributes show a changed size or modification
    /// time (FUSE `AUTO_INVAL_DATA`): right for data that changes behind the kernel's back.
    Auto,
    /// `explicit_inval_data`: only when the file system says so with the notifier's
    /// [`invalidate_data`](crate::Notifier::invalidate_data) or
    /// [`invalidate_node`](crate::Notifier::invalidate_node) (FUSE `EXPLICIT_INVAL_DATA`), and
    /// at open unless `keep_cache`.
    Explicit,
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

    fn apply(&mut self, option: &str) -> Result<(), Error> {
        let bad = || Error::new(format!("mount option `{option}`"), Errno::EINVAL);
        let seconds =
            |v: &str| v.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64);
        let flag = |set: bool, f: MountFlags, flags: &mut MountFlags| flags.set(f, set);
        match option.split_once('=') {
            Some(("fsname", v)) if !v.is_empty() => self.fs_name = Some(v.to_string()),
            Some(("attr_timeout", v)) => self.attr_timeout = Some(seconds(v).ok_or_else(bad)?),
            Some(("entry_timeout", v)) => self.entry_timeout = Some(seconds(v).ok_or_else(bad)?),
            Some(("negative_timeout", v)) => self.negative_timeout = Some(seconds(v).ok_or_else(bad)?),
            Some(("readdirplus", v)) => {
                self.readdirplus = match v {
                    "auto" => ReaddirPlus::Auto,
                    "yes" => ReaddirPlus::Always,
                    "no" => ReaddirPlus::Never,
                    _ => return Err(bad()),
                }
            }
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
                "default_permissions" | "nodefault_permissions" => {
                    self.default_permissions = option == "default_permissions"
                }
                "noacl" | "acl" => self.noacl = option == "noacl",
                "io_uring" | "noio_uring" => self.io_uring = option == "io_uring",
                "passthrough" | "nopassthrough" => self.passthrough = option == "passthrough",
                "cache_symlinks" => self.cache_symlinks = true,
                "auto_inval_data" => self.data_cache = DataCache::Auto,
                "explicit_inval_data" => self.data_cache = DataCache::Explicit,
                "writeback_cache" => self.writeback_cache = true,
                "kernel_cache" => self.kernel_cache = true,
                "nostatx" | "statx" => self.nostatx = option == "nostatx",
                "direct_io_allow_mmap" => self.direct_io_allow_mmap = true,
                _ => return Err(bad()),
            },
        }
        Ok(())
    }
}

/// What is asked before mount (puffs `puffs_kargs` plus the library's own settings): filled by
/// the setters of an unmounted [`Usermount`](crate::Usermount), fixed from `mount` on, and read
/// by everything that mounts or serves. Values are as asked; where the kernel clamps one, the
/// granted value is in [`MountInfo`].
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The file-system type (`puffs_init`'s name): the mount table shows `fuse.NAME`.
    pub(crate) name: String,
    /// The type of the root node (`puffs_setrootinfo`).
    pub(crate) root_vtype: Vtype,
    /// The longest request wanted (`puffs_setmaxreqlen`); 0 asks for the maximum.
    pub(crate) max_request_len: usize,
    /// The size of NFS file handles (`puffs_setfhsize`); not 0 offers export support.
    pub(crate) fh_size: usize,
    /// Buckets of the cookie hash (`puffs_setncookiehash`); 0 asks for the default.
    pub(crate) cookie_hash_buckets: usize,
    /// Stack size of worker threads, already rounded (`puffs_setstacksize`).
    pub(crate) stack_size: Option<usize>,
    /// How many threads process requests.
    pub(crate) threads: usize,
    /// Fork into the background at mount (`puffs_daemon`).
    pub(crate) daemonize: bool,
    /// Dump every request and reply (`PUFFS_FLAG_OPDUMP`).
    pub(crate) opdump: bool,
    /// SIGINT and SIGTERM unmount while the main loop runs.
    pub(crate) handle_signals: bool,
    /// The `mount -o` options.
    pub(crate) options: MountOptions,
}

impl Settings {
    /// The settings of a fresh usermount named `name`: every value its default.
    pub(crate) fn new(name: &str) -> Settings {
        Settings {
            name: name.to_string(),
            root_vtype: Vtype::Dir,
            max_request_len: 0,
            fh_size: 0,
            cookie_hash_buckets: 0,
            stack_size: None,
            threads: 1,
            daemonize: false,
            opdump: false,
            handle_signals: false,
            options: MountOptions::default(),
        }
    }

    /// The source the mount table shows: the `fsname` option, else the name.
    pub(crate) fn source(&self) -> &str {
        self.options.fs_name.as_deref().unwrap_or(&self.name)
    }

    /// How long the kernel may cache attributes: the `attr_timeout` option, else a second.
    pub(crate) fn attr_ttl(&self) -> Duration {
        self.options.attr_timeout.unwrap_or(Duration::from_secs(1))
    }

    /// How long the kernel may cache names: the `entry_timeout` option, else a second.
    pub(crate) fn entry_ttl(&self) -> Duration {
        self.options.entry_timeout.unwrap_or(Duration::from_secs(1))
    }

    /// How long the kernel may remember a missing name: the `negative_timeout` option, else
    /// not at all.
    pub(crate) fn negative_ttl(&self) -> Duration {
        self.options.negative_timeout.unwrap_or(Duration::ZERO)
    }

    /// Whether NFS-style export (lookups of `.` and `..` by node id) is offered: a file-handle
    /// size was given.
    pub(crate) fn export_support(&self) -> bool {
        self.fh_size > 0
    }
}

/// What the kernel granted at mount: told to the file system once through
/// [`FileSystem::fs_mounted`](crate::FileSystem::fs_mounted), and shown by a mounted
/// usermount's [`mount_info`](crate::Usermount::mount_info).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// The file-system name the kernel knows, with its prefix (`puffs|dtfs`, `fuse.dtfs`).
    pub fs_name: String,
    /// The longest request the kernel will send, after clamping (puffs `pa_maxreqlen`, read
    /// with `puffs_getmaxreqlen`).
    pub max_request_len: usize,
    /// The largest single write the kernel will send (FUSE `max_write`).
    pub max_write: u32,
    /// Buckets of the cookie hash, after clamping (puffs `pa_nhashbuckets`).
    pub cookie_hash_buckets: usize,
    /// The negotiated protocol version, `(major, minor)`.
    pub protocol: (u32, u32),
    /// Whether POSIX ACLs were negotiated (FUSE `POSIX_ACL`): the kernel enforces the ACLs the
    /// file system keeps in extended attributes.
    pub posix_acl: bool,
    /// Whether the kernel checks permissions before requests reach the file system: mounted
    /// with `default_permissions`, or with POSIX ACLs, which imply it. When not, the file
    /// system checks, with [`crate::access`]. (The loopback kernel checks nothing either way.)
    pub kernel_checks: bool,
    /// How requests come: through `/dev/fuse`, or FUSE over io_uring when asked for with
    /// [`MountOptions::io_uring`] and the kernel offered it.
    pub transport: Transport,
    /// Whether opens answered with a backing file are passed through to it (FUSE
    /// `PASSTHROUGH` granted, see [`MountOptions::passthrough`]).
    pub passthrough: bool,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use nix::errno::Errno;

    use super::{DataCache, MountFlags, MountOptions, ReaddirPlus};

    #[test]
    fn mount_options_parse_with_their_values_and_refuse_the_unknown() {
        let options = MountOptions::parse(
            "ro,default_permissions,entry_timeout=2.5,negative_timeout=7,cache_symlinks,explicit_inval_data,\
             writeback_cache,direct_io_allow_mmap,fsname=src,readdirplus=no,noacl,io_uring,passthrough,kernel_cache,nostatx",
        )
        .expect("parses");
        assert_eq!(options.flags, MountFlags::RDONLY);
        assert!(options.default_permissions && options.cache_symlinks && options.writeback_cache);
        assert!(options.kernel_cache && !MountOptions::default().kernel_cache);
        assert!(options.nostatx && !MountOptions::default().nostatx);
        assert!(options.direct_io_allow_mmap && options.noacl && options.io_uring && options.passthrough);
        assert_eq!(options.entry_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(options.negative_timeout, Some(Duration::from_secs(7)));
        assert_eq!(options.data_cache, DataCache::Explicit);
        assert_eq!(options.fs_name.as_deref(), Some("src"));
        assert_eq!(options.readdirplus, ReaddirPlus::Never);
        assert_eq!(MountOptions::default().readdirplus, ReaddirPlus::Auto);
        assert_eq!(MountOptions::parse("auto_inval_data").unwrap().data_cache, DataCache::Auto);
        let undone = MountOptions::parse("default_permissions,passthrough,nodefault_permissions,nopassthrough");
        let undone = undone.expect("parses");
        assert!(!undone.default_permissions && !undone.passthrough);
        for bad in ["frobnicate", "negative_timeout=-1", "attr_timeout=x", "fsname=", "readdirplus=maybe"] {
            assert_eq!(MountOptions::parse(bad).map_err(|e| e.errno()).err(), Some(Errno::EINVAL), "{bad}");
        }
    }
}
