//! The usermount: a file system on its way from `init` through `mount` to running, as a typestate.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bitflags::bitflags;

use crate::fuse::abi::{self, notify};
use crate::fuse::Channel;
use crate::mount::{fuse_mount, resolve_mount_point, FuseMountArgs, MountGuard};
use crate::session::{Handled, Session, SessionConfig, REQUEST_HEADER_ROOM};
use crate::{Cookie, Errno, Error, FileSystem, UnmountFlags, VnopMask, Vtype};

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
        nix::unistd::geteuid().is_root() || crate::fusermount::user_allow_other()
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

/// How [`Usermount::process_request`] waits for the kernel (puffs `PUFFSDEV_BLOCK` and
/// `PUFFSDEV_NONBLOCK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockingMode {
    /// Wait until a request arrives.
    Block,
    /// Answer [`Progress::Idle`] at once when none is pending.
    NonBlock,
}

/// What one [`Usermount::process_request`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A request was handled.
    Handled,
    /// Non-blocking mode and nothing was pending.
    Idle,
    /// The file system was unmounted; no request will come again.
    Unmounted,
}

/// Everything fixed before mount.
#[derive(Debug, Clone)]
struct Config {
    name: String,
    root_vtype: Vtype,
    max_request_len: usize,
    fh_size: usize,
    cookie_hash_buckets: usize,
    stack_size: Option<usize>,
    threads: usize,
    daemonize: bool,
    opdump: bool,
    handle_signals: bool,
    options: MountOptions,
}

mod sealed {
    pub trait Sealed {}
}

/// A state of a [`Usermount`]: [`Unmounted`], [`Mounted`] or [`Running`].
pub trait UsermountState: sealed::Sealed {
    /// What a usermount holds in this state.
    #[doc(hidden)]
    type Body<F: FileSystem>;
}

/// Before `mount`: options may be set (puffs `PUFFS_STATE_BEFOREMOUNT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unmounted;

/// Mounted: the kernel knows the file system; the main loop has not started
/// (puffs `PUFFS_STATE_RUNNING` before `puffs_mainloop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mounted;

/// Running: requests are being processed; notifications and blocking mode are available
/// (puffs `PUFFS_STATE_RUNNING` inside `puffs_mainloop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Running;

impl sealed::Sealed for Unmounted {}
impl sealed::Sealed for Mounted {}
impl sealed::Sealed for Running {}

#[doc(hidden)]
#[derive(Debug)]
pub struct UnmountedBody<F: FileSystem> {
    fs: F,
    config: Config,
}

#[doc(hidden)]
#[derive(Debug)]
pub struct LiveBody<F: FileSystem> {
    session: Arc<Session<F>>,
    stop: Arc<Stop>,
    guard: Option<Arc<MountGuard>>,
    config: Config,
    protocol: (u32, u32),
}

impl UsermountState for Unmounted {
    type Body<F: FileSystem> = UnmountedBody<F>;
}
impl UsermountState for Mounted {
    type Body<F: FileSystem> = LiveBody<F>;
}
impl UsermountState for Running {
    type Body<F: FileSystem> = LiveBody<F>;
}

/// The states in which options may still be set and the file system mounted: only [`Unmounted`].
#[diagnostic::on_unimplemented(
    message = "this usermount is already `{Self}`: the call exists only before `mount`",
    label = "only an `Unmounted` usermount takes settings or can be mounted",
    note = "set options between `Usermount::init` and `mount`; a usermount is mounted once"
)]
pub trait BeforeMount: UsermountState {
    #[doc(hidden)]
    fn body_mut<F: FileSystem>(body: &mut Self::Body<F>) -> &mut UnmountedBody<F>;
    #[doc(hidden)]
    fn into_body<F: FileSystem>(body: Self::Body<F>) -> UnmountedBody<F>;
}

impl BeforeMount for Unmounted {
    fn body_mut<F: FileSystem>(body: &mut UnmountedBody<F>) -> &mut UnmountedBody<F> {
        body
    }
    fn into_body<F: FileSystem>(body: UnmountedBody<F>) -> UnmountedBody<F> {
        body
    }
}

/// The state from which the main loop starts: only [`Mounted`].
#[diagnostic::on_unimplemented(
    message = "`mainloop` and `start` run a `Mounted` usermount, and this one is `{Self}`",
    label = "the main loop starts once, from the `Mounted` state",
    note = "`mount(dir, flags, root)` turns an `Unmounted` usermount into a `Mounted` one; `start` and `mainloop` consume it"
)]
pub trait MountedState: UsermountState {
    #[doc(hidden)]
    fn into_live<F: FileSystem>(body: Self::Body<F>) -> LiveBody<F>;
}

impl MountedState for Mounted {
    fn into_live<F: FileSystem>(body: LiveBody<F>) -> LiveBody<F> {
        body
    }
}

/// The state in which requests are processed: only [`Running`].
#[diagnostic::on_unimplemented(
    message = "this call needs a running file system, and this usermount is `{Self}`",
    label = "only a `Running` usermount processes requests and sends notifications",
    note = "`start()` turns a `Mounted` usermount into a `Running` one"
)]
pub trait RunningState: UsermountState {
    #[doc(hidden)]
    fn live<F: FileSystem>(body: &Self::Body<F>) -> &LiveBody<F>;
    #[doc(hidden)]
    fn into_live<F: FileSystem>(body: Self::Body<F>) -> LiveBody<F>;
}

impl RunningState for Running {
    fn live<F: FileSystem>(body: &LiveBody<F>) -> &LiveBody<F> {
        body
    }
    fn into_live<F: FileSystem>(body: LiveBody<F>) -> LiveBody<F> {
        body
    }
}

/// A file system and its mount (puffs `struct puffs_usermount`), in state `S`: on its way from
/// `init` through `mount` to running, as a typestate.
///
/// ```text
///   Usermount::init(fs, name)
///            │
///            ▼
///   ┌──────────────┐  mount(dir, flags, root)   ┌─────────────┐  start()   ┌─────────────┐
///   │  Unmounted   │ ─────────────────────────▶ │   Mounted   │ ─────────▶ │   Running   │
///   │ (setters)    │ ◀──── Err((error, self)) ── │             │            │ (notify,    │
///   └──────────────┘                            └─────────────┘            │  blocking)  │
///                                                  │ mainloop() = start().run()  └─────────────┘
///                                                  ▼                           │ run()
///                                           runs until unmount ◀───────────────┘
/// ```
///
/// Which call exists in which state, and which run-time check of NetBSD's `puffs.c` the type
/// replaces:
///
/// | call | state | `puffs.c` check it replaces |
/// |---|---|---|
/// | [`root_info`](Usermount::root_info) | Unmounted | `puffs_setrootinfo`: state `!= BEFOREMOUNT` → warning, ignored |
/// | [`max_request_len`](Usermount::max_request_len) | Unmounted | `puffs_setmaxreqlen`: warning "call has effect only before mount" |
/// | [`fh_size`](Usermount::fh_size) | Unmounted | `puffs_setfhsize`: same warning |
/// | [`cookie_hash_buckets`](Usermount::cookie_hash_buckets) | Unmounted | `puffs_setncookiehash`: same warning |
/// | [`stack_size`](Usermount::stack_size) | Unmounted | `puffs_setstacksize`: `assert(state == BEFOREMOUNT)` |
/// | [`threads`](Usermount::threads), [`daemonize`](Usermount::daemonize), [`opdump`](Usermount::opdump), [`mount_options`](Usermount::mount_options) | Unmounted | `puffs_daemon` and flags fixed at `puffs_init` |
/// | [`mount`](Usermount::mount) | Unmounted, consumed | `puffs_mount` sets `RUNNING`; calling it twice is undefined in C |
/// | [`mainloop`](Usermount::mainloop), [`start`](Usermount::start) | Mounted, consumed | `puffs_mainloop`: `assert(state >= RUNNING)` |
/// | [`set_blocking_mode`](Usermount::set_blocking_mode), [`process_request`](Usermount::process_request), [`notifier`](Usermount::notifier), [`invalidate_node`](Usermount::invalidate_node), [`invalidate_entry`](Usermount::invalidate_entry), [`run`](Usermount::run) | Running | `puffs_setblockingmode`: `assert(state == RUNNING)` |
///
/// Every check is a compile error here: a setter called on a mounted usermount, `mount` called
/// twice, or `mainloop` before `mount` does not build.
pub struct Usermount<F: FileSystem, S: UsermountState = Unmounted> {
    body: S::Body<F>,
}

impl<F: FileSystem, S: UsermountState> std::fmt::Debug for Usermount<F, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = std::any::type_name::<S>().rsplit("::").next().unwrap_or("?");
        f.debug_struct("Usermount").field("fs", &std::any::type_name::<F>()).field("state", &state).finish()
    }
}

impl<F: FileSystem> Usermount<F, Unmounted> {
    /// Starts a usermount of `fs` under file-system type `name` (puffs `puffs_init`). The name
    /// shows in the mount table as `fuse.NAME`.
    pub fn init(fs: F, name: &str) -> Usermount<F, Unmounted> {
        Usermount {
            body: UnmountedBody {
                fs,
                config: Config {
                    name: name.to_string(),
                    root_vtype: Vtype::Dir,
                    max_request_len: 0,
                    fh_size: 0,
                    cookie_hash_buckets: 0,
                    stack_size: None,
                    threads: 1,
                    daemonize: false,
                    opdump: false,
                    handle_signals: true,
                    options: MountOptions::default(),
                },
            },
        }
    }
}

impl<F: FileSystem, S: UsermountState> Usermount<F, S> {
    fn config_mut(&mut self) -> &mut Config
    where
        S: BeforeMount,
    {
        &mut S::body_mut(&mut self.body).config
    }

    /// Sets the type of the root node (puffs `puffs_setrootinfo`); a directory unless set.
    pub fn root_info(mut self, vtype: Vtype) -> Self
    where
        S: BeforeMount,
    {
        self.config_mut().root_vtype = vtype;
        self
    }

    /// Asks for requests of at most `len` bytes (puffs `puffs_setmaxreqlen`). The value is
    /// clamped into [`REQUEST_LEN_MIN`]`..=`[`REQUEST_LEN_MAX`], 0 meaning the maximum; the
    /// mounted usermount tells what was granted.
    pub fn max_request_len(mut self, len: usize) -> Self
    where
        S: BeforeMount,
    {
        self.config_mut().max_request_len = len;
        self
    }

    /// Sets the size of NFS file handles (puffs `puffs_setfhsize`). A non-zero size offers the
    /// kernel export support (FUSE `EXPORT_SUPPORT`): the file system must then answer lookups
    /// of `.` and `..` in any directory.
    pub fn fh_size(mut self, size: usize) -> Self
    where
        S: BeforeMount,
    {
        self.config_mut().fh_size = size;
        self
    }

    /// Sets the number of buckets of the cookie hash, the table of nodes the kernel holds (puffs
    /// `puffs_setncookiehash`); clamped into 1..=65536, 256 unless set.
    pub fn cookie_hash_buckets(mut self, buckets: usize) -> Self
    where
        S: BeforeMount,
    {
        self.config_mut().cookie_hash_buckets = buckets;
        self
    }

    /// Sets the stack size of worker threads (puffs `puffs_setstacksize`): at least four pages,
    /// rounded up to a power of two.
    pub fn stack_size(mut self, bytes: usize) -> Self
    where
        S: BeforeMount,
    {
        self.config_mut().stack_size = Some(round_stack_size(bytes));
        self
    }

    /// Sets how many threads process requests (at least 1, the default).
    pub fn threads(mut self, threads: usize) -> Self
    where
        S: BeforeMount,
    {
        self.config_mut().threads = threads.max(1);
        self
    }

    /// Detaches from the terminal at mount (puffs `puffs_daemon`): the process forks, the
    /// parent exits once the child's mount succeeded (status 0) or failed (status 1, with the
    /// error on standard error), and the child goes on in a new session with standard streams
    /// on `/dev/null`. Forking is safe only while the process runs one thread: with more, the
    /// mount is refused (`EBUSY`) and says so.
    pub fn daemonize(mut self, daemonize: bool) -> Self
    where
        S: BeforeMount,
    {
        self.config_mut().daemonize = daemonize;
        self
    }

    /// Dumps every request and reply to standard error (puffs `PUFFS_FLAG_OPDUMP`).
    pub fn opdump(mut self, opdump: bool) -> Self
    where
        S: BeforeMount,
    {
        self.config_mut().opdump = opdump;
        self
    }

    /// Whether SIGINT and SIGTERM unmount the file system while its main loop runs (default on).
    ///
    /// The first signal asks `fs_unmount` and, if the file system agrees, detaches the mount:
    /// new clients no longer see it, and the server goes on serving clients still inside (a
    /// working directory, an open file) until they let go, then the main loop ends. A second
    /// signal forces: the FUSE connection is ended at once, clients get `ENOTCONN` for every
    /// call (nothing they write is accepted and then lost) and the main loop ends.
    pub fn handle_signals(mut self, handle: bool) -> Self
    where
        S: BeforeMount,
    {
        self.config_mut().handle_signals = handle;
        self
    }

    /// Sets mount options, as parsed by [`MountOptions::parse`].
    pub fn mount_options(mut self, options: MountOptions) -> Self
    where
        S: BeforeMount,
    {
        self.config_mut().options = options;
        self
    }

    /// Mounts the file system on directory `dir` with `flags`, naming its root `root` (puffs
    /// `puffs_mount`), and completes the protocol handshake with the kernel.
    ///
    /// On failure the caller gets the error and the unmounted usermount back.
    ///
    /// Root (or `CAP_SYS_ADMIN`) mounts with `mount(2)`. Any other user mounts through libfuse's
    /// setuid helper `fusermount3` (package `fuse3`), found in `PATH`: it needs write access to
    /// `dir`, and `allow_other` needs `user_allow_other` in `/etc/fuse.conf`. As in puffs, a
    /// mount by a user who is not root is always `nosuid,nodev`. The `auto_unmount` option
    /// mounts through the helper even as root. The mount is undone the way it was made.
    #[allow(clippy::type_complexity)]
    pub fn mount(
        self,
        dir: impl AsRef<Path>,
        flags: MountFlags,
        root: Cookie,
    ) -> Result<Usermount<F, Mounted>, (Error, Usermount<F, Unmounted>)>
    where
        S: BeforeMount,
    {
        let mut body = S::into_body(self.body);
        let dir = match resolve_mount_point(dir.as_ref()) {
            Ok(dir) => dir,
            Err(error) => return Err((error, Usermount { body })),
        };
        let daemon = if body.config.daemonize {
            match daemon::fork(&body.config.name) {
                Ok(d) => Some(d),
                Err(error) => return Err((error, Usermount { body })),
            }
        } else {
            None
        };
        body.config.max_request_len = clamp_request_len(body.config.max_request_len);
        let mut flags = flags | body.config.options.flags;
        if !crate::fs::mask::vnop_mask::<F>().intersects(VnopMask::CHANGES) {
            // Nothing could change the file system: writes get EROFS from the kernel, not
            // ENOSYS from the framework.
            flags |= MountFlags::RDONLY;
        }
        if !nix::unistd::geteuid().is_root() {
            flags |= MountFlags::NOSUID | MountFlags::NODEV;
        }
        let fs_name = body.config.options.fs_name.clone().unwrap_or_else(|| body.config.name.clone());
        let args = FuseMountArgs {
            source: &fs_name,
            subtype: &body.config.name,
            flags,
            root_vtype: body.config.root_vtype,
            allow_other: body.config.options.allow_other,
            default_permissions: body.config.options.default_permissions,
            max_read: None,
        };
        let result = match fuse_mount(&dir, &args) {
            Ok((fd, unmounter)) => {
                let kernel_name = format!("fuse.{}", body.config.name);
                let guard = Arc::new(MountGuard::identify(dir.clone(), &kernel_name, unmounter));
                let armed = if body.config.options.auto_unmount { guard.arm_auto_unmount() } else { Ok(()) };
                match armed {
                    Ok(()) => {
                        Usermount::start_session(body, Arc::new(Channel::new(fd)), root, Some(guard), kernel_name)
                    }
                    // Dropping the guard undoes the mount.
                    Err(error) => Err((error, Usermount { body })),
                }
            }
            Err(error) => Err((error, Usermount { body })),
        };
        if let Some(daemon) = daemon {
            daemon.report(result.as_ref().map(drop).map_err(|(e, _)| e));
        }
        result
    }
}

fn libc_eio() -> i32 {
    Errno::EIO as i32
}

impl<F: FileSystem> Usermount<F, Unmounted> {
    /// Builds the session on `channel` and answers the kernel's `INIT`.
    #[allow(clippy::type_complexity)]
    fn start_session(
        body: UnmountedBody<F>,
        channel: Arc<Channel>,
        root: Cookie,
        guard: Option<Arc<MountGuard>>,
        kernel_name: String,
    ) -> Result<Usermount<F, Mounted>, (Error, Usermount<F, Unmounted>)> {
        let UnmountedBody { fs, config } = body;
        let session_config = SessionConfig {
            max_request_len: config.max_request_len,
            attr_ttl: config.options.attr_timeout.unwrap_or(Duration::from_secs(1)),
            entry_ttl: config.options.entry_timeout.unwrap_or(Duration::from_secs(1)),
            export_support: config.fh_size > 0,
            opdump: config.opdump,
            fs_name: kernel_name,
        };
        let session = Arc::new(Session::new(fs, channel, root, config.cookie_hash_buckets, session_config));
        let mut buf = Vec::new();
        let outcome = loop {
            if let Err(e) = session.channel.receive(&mut buf, config.max_request_len) {
                break Err(Error::new("read INIT from the kernel", e));
            }
            match session.handle_init(&buf) {
                Ok(negotiated) => break Ok((abi::KERNEL_VERSION, negotiated.minor)),
                // The kernel speaks a newer major version: it retries with ours.
                Err(Errno::EAGAIN) => continue,
                Err(e) => break Err(Error::new("protocol handshake (INIT)", e)),
            }
        };
        match outcome {
            Ok(protocol) => match Stop::new() {
                Ok(stop) => Ok(Usermount { body: LiveBody { session, stop: Arc::new(stop), guard, config, protocol } }),
                Err(e) => Err((Error::new("make the stop pipe", e), Usermount::recover(session, config))),
            },
            Err(error) => Err((error, Usermount::recover(session, config))),
        }
    }

    /// The unmounted usermount again, after a mount that failed once its session existed.
    fn recover(session: Arc<Session<F>>, config: Config) -> Usermount<F, Unmounted> {
        let fs = match Arc::try_unwrap(session) {
            Ok(session) => session.fs,
            Err(_) => unreachable!("the session is not shared before mount completes"),
        };
        Usermount { body: UnmountedBody { fs, config } }
    }
}

/// What an unmounted usermount asks of the kernel: the loopback kernel builds its mount
/// arguments from it, as `puffs_init` fills `puffs_kargs`.
#[derive(Debug, Clone)]
pub(crate) struct Requested {
    pub(crate) name: String,
    pub(crate) max_request_len: usize,
    pub(crate) cookie_hash_buckets: usize,
    pub(crate) root_vtype: Vtype,
}

impl<F: FileSystem> Usermount<F, Unmounted> {
    /// The settings the kernel is asked for, before any clamping.
    pub(crate) fn requested(&self) -> Requested {
        let config = &self.body.config;
        Requested {
            name: config.name.clone(),
            max_request_len: config.max_request_len,
            cookie_hash_buckets: config.cookie_hash_buckets,
            root_vtype: config.root_vtype,
        }
    }

    /// Mounts on a descriptor instead of the FUSE device: the peer at the other end plays the
    /// kernel (puffs's `PUFFS_COMFD`). The peer must send `INIT` first, as the kernel does.
    #[allow(clippy::type_complexity)]
    pub fn mount_on_channel(
        mut self,
        channel: Channel,
        root: Cookie,
        kernel_name: &str,
    ) -> Result<Usermount<F, Mounted>, (Error, Usermount<F, Unmounted>)> {
        self.body.config.max_request_len = clamp_request_len(self.body.config.max_request_len);
        self.body.config.handle_signals = false;
        Usermount::start_session(self.body, Arc::new(channel), root, None, kernel_name.to_string())
    }
}

impl<F: FileSystem, S: UsermountState> Usermount<F, S> {
    /// Runs the main loop until the file system is unmounted (puffs `puffs_mainloop`): starts
    /// [`threads`](Usermount::threads) workers, answers every request, and answers the file
    /// system back once the kernel is gone. Equivalent to `start()` then `run()`.
    pub fn mainloop(self) -> Result<F, Error>
    where
        S: MountedState,
    {
        self.start().run()
    }

    /// Starts processing: answers a [`Running`] usermount, whose requests are handled by
    /// [`run`](Usermount::run) or one at a time by [`process_request`](Usermount::process_request).
    pub fn start(self) -> Usermount<F, Running>
    where
        S: MountedState,
    {
        Usermount { body: S::into_live(self.body) }
    }

    fn live(&self) -> &LiveBody<F>
    where
        S: RunningState,
    {
        S::live(&self.body)
    }

    /// Sets whether [`process_request`](Usermount::process_request) waits for a request
    /// (puffs `puffs_setblockingmode`).
    pub fn set_blocking_mode(&self, mode: BlockingMode) -> Result<(), Error>
    where
        S: RunningState,
    {
        self.live()
            .session
            .channel
            .set_nonblocking(mode == BlockingMode::NonBlock)
            .map_err(|e| Error::new("set blocking mode", e))
    }

    /// Handles one request: for file systems that run their own event loop around
    /// [`as_fd`](Usermount::as_fd) (puffs `puffs_getselectable`).
    pub fn process_request(&self) -> Result<Progress, Error>
    where
        S: RunningState,
    {
        let live = self.live();
        let mut buf = Vec::new();
        match live.session.channel.receive(&mut buf, live.config.max_request_len) {
            Ok(()) => Ok(match live.session.handle(&buf) {
                Handled::Continue => Progress::Handled,
                Handled::Destroyed => Progress::Unmounted,
            }),
            Err(Errno::EAGAIN) => Ok(Progress::Idle),
            Err(Errno::ENODEV) => Ok(Progress::Unmounted),
            Err(e) => Err(Error::new("read a request", e)),
        }
    }

    /// The descriptor requests arrive on, to wait for with `poll(2)` (puffs
    /// `puffs_getselectable`).
    pub fn as_fd(&self) -> BorrowedFd<'_>
    where
        S: RunningState,
    {
        self.live().session.channel.as_fd()
    }

    /// A handle for sending notifications from other threads while [`run`](Usermount::run) runs.
    pub fn notifier(&self) -> Notifier
    where
        S: RunningState,
    {
        let live = self.live();
        Notifier {
            channel: Arc::downgrade(&live.session.channel),
            root: live.session.nodes.root(),
            mount: live.guard.clone(),
        }
    }

    /// Tells the kernel to drop cached data and attributes of `node` (FUSE
    /// `NOTIFY_INVAL_INODE`).
    pub fn invalidate_node(&self, node: Cookie) -> Result<(), Error>
    where
        S: RunningState,
    {
        self.notifier().invalidate_node(node)
    }

    /// Tells the kernel to forget the name `name` in directory `dir` (FUSE
    /// `NOTIFY_INVAL_ENTRY`).
    pub fn invalidate_entry(&self, dir: Cookie, name: &std::ffi::OsStr) -> Result<(), Error>
    where
        S: RunningState,
    {
        self.notifier().invalidate_entry(dir, name)
    }

    /// Processes requests with the configured worker threads until the file system is
    /// unmounted, then tells the file system (`fs_unmount`, forced: the kernel is gone) and
    /// answers it back.
    pub fn run(self) -> Result<F, Error>
    where
        S: RunningState,
    {
        let live = S::into_live(self.body);
        let LiveBody { session, stop, guard, config, .. } = live;
        let _signals = match (&guard, config.handle_signals) {
            (Some(g), true) => Some(signal::watch(g.clone(), {
                // Weak: the file system is handed back once the loop ends, which needs the
                // only strong reference.
                let session = Arc::downgrade(&session);
                let stop = stop.clone();
                let mount = g.clone();
                move |force| {
                    let flags = if force { UnmountFlags::FORCE } else { UnmountFlags::empty() };
                    let verdict = session.upgrade().map_or(Ok(()), |session| session.tell_unmount(flags));
                    if force {
                        // Clients still inside (a working directory, an open file) would keep
                        // a detached mount alive: end the connection instead, so that they get
                        // errors rather than writes that are accepted and then lost.
                        mount.abort_connection();
                        stop.stop();
                    }
                    verdict
                }
            })),
            _ => None,
        };
        if let Err(e) = session.channel.set_nonblocking(true) {
            return Err(Error::new("make the request channel non-blocking", e));
        }
        let mut workers = Vec::new();
        for index in 1..config.threads {
            let session = session.clone();
            let mut builder = std::thread::Builder::new().name(format!("puffs-worker-{index}"));
            if let Some(size) = config.stack_size {
                builder = builder.stack_size(size);
            }
            let stop = stop.clone();
            match builder.spawn(move || serve(&session, &stop)) {
                Ok(handle) => workers.push(handle),
                Err(e) => {
                    let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc_eio()));
                    return Err(Error::new("start a worker thread", errno));
                }
            }
        }
        let mut result = serve(&session, &stop);
        for worker in workers {
            let outcome = worker.join().unwrap_or(Err(Errno::EIO));
            result = result.and(outcome);
        }
        let _ = session.tell_unmount(UnmountFlags::FORCE);
        drop(_signals);
        // Notifiers may still hold the guard: unmount now (if the mount is still ours), not
        // when the last of them goes.
        if let Some(guard) = &guard {
            if let Err(e) = guard.unmount() {
                log::warn!("{e}");
            }
        }
        result.map_err(|e| Error::new("read a request", e))?;
        match Arc::try_unwrap(session) {
            Ok(session) => Ok(session.fs),
            Err(_) => Err(Error::new("recover the file system after unmount", Errno::EBUSY)),
        }
    }
}

impl<F: FileSystem> Usermount<F, Mounted> {
    fn live_body(&self) -> &LiveBody<F> {
        &self.body
    }
}

impl<F: FileSystem> Usermount<F, Running> {
    fn live_body(&self) -> &LiveBody<F> {
        &self.body
    }
}

macro_rules! live_getters {
    ($state:ty) => {
        impl<F: FileSystem> Usermount<F, $state> {
            /// The file system.
            pub fn fs(&self) -> &F {
                &self.live_body().session.fs
            }

            /// The request length the kernel granted, after clamping (puffs
            /// `puffs_getmaxreqlen`).
            pub fn granted_request_len(&self) -> usize {
                self.live_body().config.max_request_len
            }

            /// The largest write the kernel will send.
            pub fn max_write(&self) -> u32 {
                self.live_body().session.max_write()
            }

            /// The negotiated protocol version, `(major, minor)`.
            pub fn protocol(&self) -> (u32, u32) {
                self.live_body().protocol
            }

            /// How many buckets the cookie hash has, after clamping.
            pub fn cookie_hash_buckets_granted(&self) -> usize {
                self.live_body().session.nodes.bucket_count()
            }

            /// Where the file system is mounted; `None` on a channel mount.
            pub fn mount_point(&self) -> Option<&Path> {
                self.live_body().guard.as_ref().map(|g| g.dir())
            }
        }
    };
}
live_getters!(Mounted);
live_getters!(Running);

/// Handles requests on a non-blocking channel until the kernel is gone or `stop` is told.
fn serve<F: FileSystem>(session: &Session<F>, stop: &Stop) -> Result<(), Errno> {
    let mut buf = Vec::new();
    loop {
        if stop.is_stopped() || session.is_destroyed() {
            return Ok(());
        }
        match session.channel.receive(&mut buf, session.config.max_request_len) {
            Ok(()) => {
                if session.handle(&buf) == Handled::Destroyed {
                    return Ok(());
                }
            }
            Err(Errno::ENODEV) | Err(Errno::ECONNABORTED) => return Ok(()),
            // Nothing pending: wait for a request or for the stop, whichever comes first.
            Err(Errno::EAGAIN) => stop.wait_with(session.channel.as_fd())?,
            Err(e) => return Err(e),
        }
    }
}

/// Tells the worker threads to leave the request loop at once (a forced stop): each waits for
/// its next request together with this pipe, which stays readable once written.
#[derive(Debug)]
struct Stop {
    stopped: std::sync::atomic::AtomicBool,
    wake_read: std::os::fd::OwnedFd,
    wake_write: std::os::fd::OwnedFd,
}

impl Stop {
    fn new() -> Result<Stop, Errno> {
        let (wake_read, wake_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        Ok(Stop { stopped: std::sync::atomic::AtomicBool::new(false), wake_read, wake_write })
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(std::sync::atomic::Ordering::Acquire)
    }

    fn stop(&self) {
        self.stopped.store(true, std::sync::atomic::Ordering::Release);
        let _ = nix::unistd::write(&self.wake_write, &[1]);
    }

    /// Waits until `channel` has a request or the stop was told.
    fn wait_with(&self, channel: BorrowedFd<'_>) -> Result<(), Errno> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(channel, PollFlags::POLLIN), PollFd::new(self.wake_read.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Sends notifications to the kernel from any thread (a cloneable part of a [`Running`]
/// usermount).
#[derive(Debug, Clone)]
pub struct Notifier {
    /// Weak: a notifier kept after the main loop ended must not keep the connection open.
    channel: std::sync::Weak<Channel>,
    root: Cookie,
    mount: Option<Arc<MountGuard>>,
}

impl Notifier {
    /// The channel to the kernel, while the file system is served.
    fn channel(&self) -> Result<Arc<Channel>, Error> {
        self.channel.upgrade().ok_or_else(|| Error::new("notify the kernel: the main loop has ended", Errno::ENODEV))
    }

    fn nodeid(&self, cookie: Cookie) -> Result<u64, Error> {
        crate::node::nodeid_of(self.root, cookie).ok_or_else(|| Error::new("notify about cookie 0", Errno::EINVAL))
    }

    /// Tells the kernel to drop cached data and attributes of `node` (FUSE `INVAL_INODE`).
    /// `ENOENT` means the kernel does not hold the node: nothing was cached.
    pub fn invalidate_node(&self, node: Cookie) -> Result<(), Error> {
        let mut body = Vec::new();
        abi::NotifyInvalInodeOut { ino: self.nodeid(node)?, off: 0, len: 0 }.encode(&mut body);
        crate::session::notify(&*self.channel()?, notify::INVAL_INODE, &[&body])
            .map_err(|e| Error::new("invalidate node", e))
    }

    /// Tells the kernel to forget the name `name` in `dir` (FUSE `INVAL_ENTRY`).
    pub fn invalidate_entry(&self, dir: Cookie, name: &std::ffi::OsStr) -> Result<(), Error> {
        use std::os::unix::ffi::OsStrExt;
        crate::fuse::request::check_name(name.as_bytes()).map_err(|(e, _)| Error::new("invalidate entry", e))?;
        let mut body = Vec::new();
        abi::NotifyInvalEntryOut { parent: self.nodeid(dir)?, namelen: name.len() as u32, flags: 0 }.encode(&mut body);
        crate::session::notify(&*self.channel()?, notify::INVAL_ENTRY, &[&body, name.as_bytes(), &[0]])
            .map_err(|e| Error::new("invalidate entry", e))
    }

    /// Unmounts the file system from inside (puffs `puffs_exit`): the main loop ends. A FUSE
    /// mount is detached; a channel mount is shut down.
    pub fn unmount(&self) -> Result<(), Error> {
        match &self.mount {
            Some(guard) => guard.unmount().map(drop),
            None => nix::sys::socket::shutdown(
                std::os::fd::AsRawFd::as_raw_fd(&*self.channel()?),
                nix::sys::socket::Shutdown::Both,
            )
            .map_err(|e| Error::new("shut down the channel", e)),
        }
    }
}

mod daemon {
    //! `puffs_daemon`: fork, and let the parent exit with the child's mount result.

    use std::os::fd::OwnedFd;

    use nix::unistd::{self, ForkResult};

    use crate::{Errno, Error};

    /// The child's end of the report pipe.
    #[derive(Debug)]
    pub(super) struct Daemon {
        report: OwnedFd,
    }

    /// How many threads this process runs, from `/proc/self/status`.
    fn thread_count() -> Option<usize> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        status.lines().find_map(|l| l.strip_prefix("Threads:"))?.trim().parse().ok()
    }

    /// Forks. The parent waits for the child's report and exits; the child answers.
    pub(super) fn fork(name: &str) -> Result<Daemon, Error> {
        // After fork only the calling thread exists in the child: a lock another thread held
        // (the allocator's, say) would stay locked forever. Refuse rather than risk it.
        match thread_count() {
            Some(1) => {}
            Some(n) => {
                return Err(Error::new(
                    format!(
                        "daemonize: the process runs {n} threads, and forking is safe only with one; \
                         daemonize before starting any thread, or stay in the foreground"
                    ),
                    Errno::EBUSY,
                ))
            }
            None => return Err(Error::new("daemonize: count the threads (/proc/self/status)", Errno::ENOENT)),
        }
        let failed = |e: Errno| Error::new("daemonize", e);
        // Close-on-exec: a program the child starts (the auto_unmount watchdog) must not keep
        // the parent waiting.
        let (read_end, write_end) = unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(failed)?;
        // SAFETY: the process runs one thread (checked above), so the child may go on running
        // arbitrary code.
        match unsafe { unistd::fork() }.map_err(failed)? {
            ForkResult::Parent { .. } => {
                drop(write_end);
                // The child writes nothing on success, and the error's text on failure; the
                // pipe closes either way.
                let mut report = Vec::new();
                let mut chunk = [0u8; 512];
                let complete = loop {
                    match unistd::read(&read_end, &mut chunk) {
                        Ok(0) => break true,
                        Ok(n) => report.extend_from_slice(&chunk[..n]),
                        Err(Errno::EINTR) => continue,
                        Err(_) => break false,
                    }
                };
                if complete && report == b"ok" {
                    std::process::exit(0);
                }
                let text = String::from_utf8_lossy(&report);
                let text = if text.is_empty() { "the daemon ended before it mounted".into() } else { text };
                // The same words as in the foreground, where the program prints `NAME: error`.
                eprintln!("{name}: {text}");
                std::process::exit(1);
            }
            ForkResult::Child => {
                drop(read_end);
                unistd::setsid().map_err(failed)?;
                let _ = unistd::chdir("/");
                let null = nix::fcntl::open("/dev/null", nix::fcntl::OFlag::O_RDWR, nix::sys::stat::Mode::empty())
                    .map_err(failed)?;
                unistd::dup2_stdin(&null).map_err(failed)?;
                unistd::dup2_stdout(&null).map_err(failed)?;
                unistd::dup2_stderr(&null).map_err(failed)?;
                Ok(Daemon { report: write_end })
            }
        }
    }

    impl Daemon {
        /// Tells the waiting parent how the mount went.
        pub(super) fn report(self, result: Result<(), &Error>) {
            let text = result.map_or_else(|e| e.to_string(), |()| "ok".to_string());
            let _ = unistd::write(&self.report, text.as_bytes());
        }
    }
}

mod signal {
    //! SIGINT and SIGTERM unmount the running file systems of the process.

    use std::os::fd::{AsRawFd, OwnedFd};
    use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
    use std::sync::{Arc, Mutex, OnceLock};

    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    use nix::unistd;

    use crate::mount::MountGuard;
    use crate::Errno;

    type AskUnmount = Arc<dyn Fn(bool) -> Result<(), Errno> + Send + Sync>;

    struct Registry {
        next_id: u64,
        mounts: Vec<(u64, Arc<MountGuard>, AskUnmount)>,
        previous: Vec<(Signal, SigAction)>,
    }

    static REGISTRY: Mutex<Registry> = Mutex::new(Registry { next_id: 0, mounts: Vec::new(), previous: Vec::new() });
    static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
    static SIGNALS: AtomicU32 = AtomicU32::new(0);
    static WATCHER: OnceLock<OwnedFd> = OnceLock::new();

    extern "C" fn on_signal(_: nix::libc::c_int) {
        SIGNALS.fetch_add(1, Ordering::SeqCst);
        let fd = WAKE_FD.load(Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: write(2) is async-signal-safe; the buffer is a valid one-byte array.
            unsafe { nix::libc::write(fd, [1u8].as_ptr().cast(), 1) };
        }
    }

    /// Keeps the mount registered for unmount by signal while alive.
    #[derive(Debug)]
    pub(super) struct Watch {
        id: u64,
    }

    fn watcher_thread(read_end: &'static OwnedFd) {
        let mut byte = [0u8; 1];
        loop {
            match unistd::read(read_end, &mut byte) {
                Ok(0) => return,
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(_) => return,
            }
            let force = SIGNALS.load(Ordering::SeqCst) >= 2;
            let mounts: Vec<_> = REGISTRY.lock().map(|r| r.mounts.clone()).unwrap_or_default();
            for (_, mount, ask) in mounts {
                match ask(force) {
                    Ok(()) => {
                        if let Err(e) = mount.unmount() {
                            log::warn!("{e}");
                        }
                    }
                    Err(e) => log::warn!(
                        "the file system at {} refuses to unmount ({}); signal again to force",
                        mount.dir().display(),
                        e.desc()
                    ),
                }
            }
        }
    }

    /// Registers `mount` to be unmounted on SIGINT or SIGTERM after `ask(force)` agrees.
    pub(super) fn watch(
        mount: Arc<MountGuard>,
        ask: impl Fn(bool) -> Result<(), Errno> + Send + Sync + 'static,
    ) -> Watch {
        if WATCHER.get().is_none() {
            if let Ok((read_end, write_end)) = unistd::pipe() {
                if WATCHER.set(read_end).is_ok() {
                    WAKE_FD.store(write_end.as_raw_fd(), Ordering::SeqCst);
                    std::mem::forget(write_end);
                    let _ = std::thread::Builder::new().name("puffs-signals".into()).spawn(move || {
                        if let Some(fd) = WATCHER.get() {
                            watcher_thread(fd)
                        }
                    });
                }
            }
        }
        let mut registry = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
        if registry.mounts.is_empty() {
            SIGNALS.store(0, Ordering::SeqCst);
            let action = SigAction::new(SigHandler::Handler(on_signal), SaFlags::empty(), SigSet::empty());
            for signal in [Signal::SIGINT, Signal::SIGTERM] {
                // SAFETY: the handler only touches atomics and calls write(2).
                if let Ok(previous) = unsafe { sigaction(signal, &action) } {
                    registry.previous.push((signal, previous));
                }
            }
        }
        let id = registry.next_id;
        registry.next_id += 1;
        registry.mounts.push((id, mount, Arc::new(ask)));
        Watch { id }
    }

    impl Drop for Watch {
        fn drop(&mut self) {
            let mut registry = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
            registry.mounts.retain(|(id, _, _)| *id != self.id);
            if registry.mounts.is_empty() {
                for (signal, previous) in std::mem::take(&mut registry.previous) {
                    // SAFETY: restores the disposition that was in place before.
                    let _ = unsafe { sigaction(signal, &previous) };
                }
            }
        }
    }
}
