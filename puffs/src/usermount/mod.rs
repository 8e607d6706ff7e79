//! The usermount: a file system on its way from `init` through `mount` to running, as a typestate.

mod mount_error;
mod notifier;
mod progress;
mod state;

pub use mount_error::MountError;
pub use notifier::{Notifier, Retrieval};
pub use progress::{BlockingMode, Progress};
pub use state::{BeforeMount, Mounted, MountedState, Running, RunningState, Unmounted, UsermountState};

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::sync::Arc;

use nix::errno::Errno;

use crate::error::Error;
use crate::fs::cookie::Cookie;
use crate::fs::flags::UnmountFlags;
use crate::fs::mask::{vnop_mask, VnopMask};
use crate::fs::FileSystem;
use crate::fuse::Channel;
use crate::os::mount::{fuse_mount, resolve_mount_point, MountGuard};
use crate::os::{daemon, signal};
use crate::server::{Stop, Waiting};
use crate::session::{Handled, Session};
use crate::settings::{round_stack_size, MountFlags, MountInfo, MountOptions, Settings};
#[cfg(doc)]
use crate::settings::{REQUEST_LEN_MAX, REQUEST_LEN_MIN};
use crate::vattr::Vtype;
use state::{LiveBody, UnmountedBody};

/// A file system and its mount (puffs `struct puffs_usermount`), in state `S`: on its way from
/// `init` through `mount` to running, as a typestate.
///
/// ```text
///   Usermount::init(fs, name)
///            │
///            ▼
///   ┌──────────────┐  mount(dir, flags, root)   ┌─────────────┐  start()   ┌─────────────┐
///   │  Unmounted   │ ─────────────────────────▶ │   Mounted   │ ─────────▶ │   Running   │
///   │ (setters)    │ ◀──── Err(MountError) ───── │             │            │ (notify,    │
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
        Usermount { body: UnmountedBody { fs, settings: Settings::new(name) } }
    }
}

impl<F: FileSystem, S: UsermountState> Usermount<F, S> {
    fn settings_mut(&mut self) -> &mut Settings
    where
        S: BeforeMount,
    {
        &mut S::body_mut(&mut self.body).settings
    }

    /// Sets the type of the root node (puffs `puffs_setrootinfo`); a directory unless set.
    pub fn root_info(mut self, vtype: Vtype) -> Self
    where
        S: BeforeMount,
    {
        self.settings_mut().root_vtype = vtype;
        self
    }

    /// Asks for requests of at most `len` bytes (puffs `puffs_setmaxreqlen`). The value is
    /// clamped into [`REQUEST_LEN_MIN`]`..=`[`REQUEST_LEN_MAX`], 0 meaning the maximum; the
    /// mounted usermount's [`mount_info`](Usermount::mount_info) tells what was granted.
    pub fn max_request_len(mut self, len: usize) -> Self
    where
        S: BeforeMount,
    {
        self.settings_mut().max_request_len = len;
        self
    }

    /// Sets the size of NFS file handles (puffs `puffs_setfhsize`). A non-zero size offers the
    /// kernel export support (FUSE `EXPORT_SUPPORT`): the file system must then answer lookups
    /// of `.` and `..` in any directory.
    pub fn fh_size(mut self, size: usize) -> Self
    where
        S: BeforeMount,
    {
        self.settings_mut().fh_size = size;
        self
    }

    /// Sets the number of buckets of the cookie hash, the table of nodes the kernel holds (puffs
    /// `puffs_setncookiehash`); clamped into 1..=65536, 256 unless set.
    pub fn cookie_hash_buckets(mut self, buckets: usize) -> Self
    where
        S: BeforeMount,
    {
        self.settings_mut().cookie_hash_buckets = buckets;
        self
    }

    /// Sets the stack size of worker threads (puffs `puffs_setstacksize`): at least four pages,
    /// rounded up to a power of two.
    pub fn stack_size(mut self, bytes: usize) -> Self
    where
        S: BeforeMount,
    {
        self.settings_mut().stack_size = Some(round_stack_size(bytes));
        self
    }

    /// Sets how many threads process requests (at least 1, the default).
    pub fn threads(mut self, threads: usize) -> Self
    where
        S: BeforeMount,
    {
        self.settings_mut().threads = threads.max(1);
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
        self.settings_mut().daemonize = daemonize;
        self
    }

    /// Dumps every request and reply to standard error (puffs `PUFFS_FLAG_OPDUMP`).
    pub fn opdump(mut self, opdump: bool) -> Self
    where
        S: BeforeMount,
    {
        self.settings_mut().opdump = opdump;
        self
    }

    /// Whether SIGINT and SIGTERM unmount the file system while its main loop runs. Off by
    /// default: a library does not take over the process's signals unless asked. A program
    /// that owns its process asks (the example programs' command line does); the handlers are
    /// installed when the main loop starts and the earlier ones restored when it ends.
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
        self.settings_mut().handle_signals = handle;
        self
    }

    /// Sets mount options, as parsed by [`MountOptions::parse`].
    pub fn mount_options(mut self, options: MountOptions) -> Self
    where
        S: BeforeMount,
    {
        self.settings_mut().options = options;
        self
    }

    /// Mounts the file system on directory `dir` with `flags`, naming its root `root` (puffs
    /// `puffs_mount`), and completes the protocol handshake with the kernel.
    ///
    /// On failure the caller gets a [`MountError`], which holds the unmounted usermount.
    ///
    /// Root (or `CAP_SYS_ADMIN`) mounts with `mount(2)`. Any other user mounts through libfuse's
    /// setuid helper `fusermount3` (package `fuse3`), found in `PATH`: it needs write access to
    /// `dir`, and `allow_other` needs `user_allow_other` in `/etc/fuse.conf`. As in puffs, a
    /// mount by a user who is not root is always `nosuid,nodev`. The `auto_unmount` option
    /// mounts through the helper even as root. The mount is undone the way it was made.
    pub fn mount(
        self,
        dir: impl AsRef<Path>,
        flags: MountFlags,
        root: Cookie,
    ) -> Result<Usermount<F, Mounted>, MountError<F>>
    where
        S: BeforeMount,
    {
        let body = S::into_body(self.body);
        let dir = match resolve_mount_point(dir.as_ref()) {
            Ok(dir) => dir,
            Err(error) => return Err(MountError::new(error, Usermount { body })),
        };
        let daemon = if body.settings.daemonize {
            match daemon::fork(&body.settings.name) {
                Ok(d) => Some(d),
                Err(error) => return Err(MountError::new(error, Usermount { body })),
            }
        } else {
            None
        };
        let mut flags = flags | body.settings.options.flags;
        if !vnop_mask::<F>().intersects(VnopMask::CHANGES) {
            // Nothing could change the file system: writes get EROFS from the kernel, not
            // ENOSYS from the framework.
            flags |= MountFlags::RDONLY;
        }
        if !nix::unistd::geteuid().is_root() {
            flags |= MountFlags::NOSUID | MountFlags::NODEV;
        }
        let result = match fuse_mount(&dir, &body.settings, flags) {
            Ok((fd, unmounter)) => {
                let kernel_name = format!("fuse.{}", body.settings.name);
                let guard = Arc::new(MountGuard::identify(dir.clone(), &kernel_name, unmounter));
                let armed = if body.settings.options.auto_unmount { guard.arm_auto_unmount() } else { Ok(()) };
                match armed {
                    Ok(()) => {
                        Usermount::start_session(body, Arc::new(Channel::new(fd)), root, Some(guard), kernel_name)
                    }
                    // Dropping the guard undoes the mount.
                    Err(error) => Err(MountError::new(error, Usermount { body })),
                }
            }
            Err(error) => Err(MountError::new(error, Usermount { body })),
        };
        if let Some(daemon) = daemon {
            daemon.report(result.as_ref().map(drop).map_err(MountError::error));
        }
        result
    }
}

impl<F: FileSystem> Usermount<F, Unmounted> {
    /// Builds the session on `channel` and answers the kernel's `INIT`; the kernel knows the
    /// mount as `kernel_name`.
    fn start_session(
        body: UnmountedBody<F>,
        channel: Arc<Channel>,
        root: Cookie,
        guard: Option<Arc<MountGuard>>,
        kernel_name: String,
    ) -> Result<Usermount<F, Mounted>, MountError<F>> {
        let UnmountedBody { fs, settings } = body;
        let session = Arc::new(Session::new(fs, channel, root, settings));
        let mut buf = Vec::new();
        let outcome = loop {
            if let Err(e) = session.channel.receive(&mut buf, session.request_len) {
                break Err(Error::new("read INIT from the kernel", e));
            }
            match session.handle_init(&buf, &kernel_name) {
                Ok(info) => break Ok(info),
                // The kernel speaks a newer major version: it retries with ours.
                Err(Errno::EAGAIN) => continue,
                Err(e) => break Err(Error::new("protocol handshake (INIT)", e)),
            }
        };
        match outcome {
            Ok(info) => match Stop::new() {
                Ok(stop) => Ok(Usermount {
                    body: LiveBody { session, stop: Arc::new(stop), guard, info, request_buf: Default::default() },
                }),
                Err(e) => Err(MountError::new(Error::new("make the stop pipe", e), Usermount::recover(session))),
            },
            Err(error) => Err(MountError::new(error, Usermount::recover(session))),
        }
    }

    /// The unmounted usermount again, after a mount that failed once its session existed.
    fn recover(session: Arc<Session<F>>) -> Usermount<F, Unmounted> {
        let (fs, settings) = match Arc::try_unwrap(session) {
            Ok(session) => (session.fs, session.settings),
            Err(_) => unreachable!("the session is not shared before mount completes"),
        };
        Usermount { body: UnmountedBody { fs, settings } }
    }

    /// What is asked of the kernel: the loopback kernel builds its mount arguments from it, as
    /// `puffs_init` fills `puffs_kargs`.
    pub(crate) fn settings(&self) -> &Settings {
        &self.body.settings
    }

    /// Mounts on a descriptor instead of the FUSE device: the peer at the other end plays the
    /// kernel (puffs's `PUFFS_COMFD`). The peer must send `INIT` first, as the kernel does.
    pub fn mount_on_channel(
        self,
        channel: Channel,
        root: Cookie,
        kernel_name: &str,
    ) -> Result<Usermount<F, Mounted>, MountError<F>> {
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
        // The usermount's buffer, grown once; a thread calling while another is inside gets
        // one of its own.
        let mut own = Vec::new();
        let mut kept = live.request_buf.try_lock().ok();
        let buf = kept.as_deref_mut().unwrap_or(&mut own);
        match live.session.channel.receive(buf, live.session.request_len) {
            Ok(()) => Ok(match live.session.handle(buf) {
                Handled::Continue => Progress::Handled,
                Handled::Destroyed => Progress::Finished,
            }),
            Err(Errno::EAGAIN) => Ok(Progress::Idle),
            Err(Errno::ENODEV) => Ok(Progress::Finished),
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
            notices: live.session.notices.clone(),
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
        let LiveBody { session, stop, guard, .. } = live;
        let _signals = match (&guard, session.settings.handle_signals) {
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
        // A forced stop that cannot end the connection must wake the workers itself: they
        // then wait in poll(2) rather than in read(2), at a cost per request.
        let waiting = match (&guard, session.settings.handle_signals) {
            (Some(g), true) if !g.can_abort_connection() => Waiting::InPoll,
            _ => Waiting::InRead,
        };
        let result = crate::server::run(&session, &stop, waiting);
        let _ = session.tell_unmount(UnmountFlags::FORCE);
        drop(_signals);
        // Notifiers may still hold the guard: unmount now (if the mount is still ours), not
        // when the last of them goes.
        if let Some(guard) = &guard {
            if let Err(e) = guard.unmount() {
                log::warn!("{e}");
            }
        }
        result?;
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

            /// What the kernel granted at mount, as [`FileSystem::fs_mounted`] was told: the
            /// request length (puffs `puffs_getmaxreqlen`), the largest write, the cookie hash
            /// and the protocol version.
            pub fn mount_info(&self) -> &MountInfo {
                &self.live_body().info
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
