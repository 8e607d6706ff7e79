//! Mounting on the loopback kernel and unmounting: the threads of a [`Loopback`], the `INIT`
//! handshake, the cached root, and the one teardown path.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::errno::Errno;

use crate::cred::Cred;
use crate::error::io_errno;
use crate::error::Error;
use crate::fs::flags::UnmountFlags;
use crate::fs::FileSystem;
use crate::fuse::abi::{self, InitFlags, ROOT_ID};
use crate::fuse::reply::{decode_body, ReplyBody, ReplyKind};
use crate::fuse::request::Operation;
use crate::fuse::Channel;
use crate::settings::{MountInfo, REQUEST_LEN_MAX};
use crate::usermount::{MountError, Notifier, Unmounted, Usermount};

use super::args::MountArgs;
use super::client::{empty_of, Client};
use super::kernel::{Flavor, Pending, Shared, State, Status};
use super::xattr::XATTR_SIZE_MAX;

/// The file system's main-loop thread and how to know it ended.
#[derive(Debug)]
struct FsThread<F: FileSystem> {
    handle: JoinHandle<Option<Result<F, Error>>>,
    /// Behind a lock only so that the [`Loopback`] is `Sync`.
    done: Mutex<mpsc::Receiver<()>>,
}

/// A file system mounted on the loopback kernel: its main loop runs on a thread this value owns,
/// and the [`Client`] it dereferences to makes calls by path.
///
/// Give it back with [`unmount`](Loopback::unmount) to get the file system back. Dropping it
/// aborts the mount (every call fails with `ENXIO`, the main loop ends) and waits for the
/// thread within the timeout.
pub struct Loopback<F: FileSystem> {
    client: Client,
    reader: Option<JoinHandle<()>>,
    fs: Option<FsThread<F>>,
    notifier: Notifier,
    info: MountInfo,
}

impl<F: FileSystem> std::fmt::Debug for Loopback<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loopback")
            .field("fs", &std::any::type_name::<F>())
            .field("status", &self.client.status())
            .field("args", &self.client.args())
            .finish()
    }
}

/// Why [`Loopback::unmount`] did not hand the file system back.
pub enum UnmountError<F: FileSystem> {
    /// The file system refused a non-forced unmount with `errno` (or did not answer within the
    /// timeout: `ETIMEDOUT`). The mount is untouched and usable: here it is back.
    Refused {
        /// The file system's answer.
        errno: Errno,
        /// The mount, still running (boxed: it is large).
        loopback: Box<Loopback<F>>,
    },
    /// The mount is gone but the file system could not be recovered: its main loop ended in an
    /// error, panicked, or did not end within the timeout.
    Lost(Error),
}

impl<F: FileSystem> UnmountError<F> {
    /// The errno behind the failure.
    pub fn errno(&self) -> Errno {
        match self {
            UnmountError::Refused { errno, .. } => *errno,
            UnmountError::Lost(error) => error.errno(),
        }
    }
}

impl<F: FileSystem> std::fmt::Debug for UnmountError<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnmountError::Refused { errno, .. } => f.debug_struct("Refused").field("errno", errno).finish(),
            UnmountError::Lost(error) => f.debug_tuple("Lost").field(error).finish(),
        }
    }
}

impl<F: FileSystem> std::fmt::Display for UnmountError<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnmountError::Refused { errno, .. } => write!(f, "the file system refuses to unmount: {}", errno.desc()),
            UnmountError::Lost(error) => write!(f, "unmounted, but the file system is lost: {error}"),
        }
    }
}

impl<F: FileSystem> std::error::Error for UnmountError<F> {}

/// Mounts `usermount` on a new loopback kernel with `args` and waits until its main loop has
/// started ([`Status::Serving`]). See [`mount_nowait`] for the steps and errors.
pub fn mount<F: FileSystem>(usermount: Usermount<F, Unmounted>, args: MountArgs) -> Result<Loopback<F>, MountError<F>> {
    let loopback = mount_nowait(usermount, args)?;
    // A file system that never starts shows in every call (`ETIMEDOUT`, `ENXIO`); the mount
    // itself stands, so that unmount can hand the file system back.
    let _ = loopback.client.wait_started();
    Ok(loopback)
}

/// Mounts `usermount` on a new loopback kernel with `args`, and answers as soon as the file
/// system completed the handshake, while the mount may still be [`Status::Mounting`] (as puffs's
/// `mount(2)` returns before the server's start).
///
/// The kernel checks the arguments ([`MountArgs::granted`]: `EINVAL`, `EOPNOTSUPP`), sends
/// `INIT`, and the usermount mounts on the socket with the granted request length, bucket count
/// and prefixed name, on the calling thread ([`Usermount::mount_on_channel`], which calls
/// [`fs_mounted`](FileSystem::fs_mounted)). Then the kernel sends the `GETATTR` of the root it
/// caches, and the main loop starts on its own thread: the mount is [`Status::Serving`] once it
/// has answered. On failure the usermount comes back with the error.
pub fn mount_nowait<F: FileSystem>(
    usermount: Usermount<F, Unmounted>,
    args: MountArgs,
) -> Result<Loopback<F>, MountError<F>> {
    use nix::sys::socket::{setsockopt, socketpair, sockopt, AddressFamily, SockFlag, SockType};

    let mut granted = match args.granted() {
        Ok(granted) => granted,
        Err(errno) => return Err(MountError::new(Error::new("loopback mount arguments", errno), usermount)),
    };
    let (kernel_end, fs_end) = match socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
    {
        Ok(pair) => pair,
        Err(errno) => return Err(MountError::new(Error::new("loopback socket pair", errno), usermount)),
    };
    // Every message must fit the socket pair in one piece: a write request one way, a read
    // reply the other. Where the buffers cannot grow that far (`net.core.wmem_max`, for a
    // caller without CAP_NET_ADMIN), the request length is clamped to what they carry.
    let carried = message_capacity(&kernel_end).min(message_capacity(&fs_end));
    if granted.max_request_len > carried {
        granted.max_request_len = (carried / 4096 * 4096).max(crate::REQUEST_LEN_MIN);
    }
    let send_timeout = nix::sys::time::TimeVal::new(
        granted.timeout.as_secs().min(i64::MAX as u64) as i64,
        i64::from(granted.timeout.subsec_micros()),
    );
    if let Err(errno) = setsockopt(&kernel_end, sockopt::SendTimeout, &send_timeout) {
        return Err(MountError::new(Error::new("loopback socket timeout", errno), usermount));
    }
    let shared = Arc::new(Shared {
        channel: Channel::new(kernel_end),
        state: Mutex::new(State::new()),
        changed: Condvar::new(),
        next_unique: AtomicU64::new(2),
        args: granted.clone(),
    });
    let client = Client { shared: shared.clone(), cred: Cred::ROOT };

    // The threads come first, so that failing to start one still hands the usermount back.
    let capacity = granted.max_request_len.max(XATTR_SIZE_MAX as usize) + 4096;
    let reader = {
        let shared = shared.clone();
        std::thread::Builder::new().name("puffs-loopback-kernel".into()).spawn(move || {
            let mut buf = Vec::new();
            while shared.channel.receive(&mut buf, capacity).is_ok() {
                shared.deliver(&buf);
            }
            shared.peer_gone();
        })
    };
    let reader = match reader {
        Ok(reader) => reader,
        Err(e) => return Err(MountError::new(spawn_error(&e), usermount)),
    };
    let abandon = |reader: JoinHandle<()>| close_kernel(&shared, Some(reader));
    let (start, started) = mpsc::channel::<Usermount<F, crate::usermount::Running>>();
    let (done_tx, done) = mpsc::channel::<()>();
    let fs_thread = std::thread::Builder::new().name("puffs-loopback-fs".into()).spawn(move || {
        let running = started.recv().ok()?;
        let result = running.run();
        let _ = done_tx.send(());
        Some(result)
    });
    let fs_thread = match fs_thread {
        Ok(handle) => handle,
        Err(e) => {
            abandon(reader);
            return Err(MountError::new(spawn_error(&e), usermount));
        }
    };

    let offered = InitFlags::ASYNC_READ
        | InitFlags::BIG_WRITES
        | InitFlags::MAX_PAGES
        | InitFlags::PARALLEL_DIROPS
        | InitFlags::ABORT_ERROR
        | InitFlags::EXPORT_SUPPORT
        | InitFlags::CACHE_SYMLINKS
        | InitFlags::NO_OPEN_SUPPORT
        | InitFlags::NO_OPENDIR_SUPPORT
        | InitFlags::POSIX_ACL
        | InitFlags::DONT_MASK
        | InitFlags::INIT_EXT
        | InitFlags::HAS_EXPIRE_ONLY
        | InitFlags::DO_READDIRPLUS
        | InitFlags::READDIRPLUS_AUTO
        | InitFlags::HAS_IOCTL_DIR
        | InitFlags::HANDLE_KILLPRIV_V2
        | InitFlags::ATOMIC_O_TRUNC
        | InitFlags::SETXATTR_EXT;
    let init = Operation::Init(abi::InitIn {
        major: abi::KERNEL_VERSION,
        minor: abi::KERNEL_MINOR_VERSION,
        max_readahead: 1 << 17,
        flags: offered.to_words().0,
        flags2: offered.to_words().1,
    });
    let init_unique = match client.send(0, &init, Flavor::Kernel) {
        Ok(unique) => unique,
        Err(errno) => {
            abandon(reader);
            let _ = fs_thread.join();
            return Err(MountError::new(Error::new("send INIT", errno), usermount));
        }
    };
    let usermount = usermount.max_request_len(granted.max_request_len).cookie_hash_buckets(granted.cookie_hash_buckets);
    let mounted = match usermount.mount_on_channel(Channel::new(fs_end), granted.root_cookie, &granted.fs_name) {
        Ok(mounted) => mounted,
        Err(error) => {
            abandon(reader);
            let _ = fs_thread.join();
            return Err(error);
        }
    };
    let running = mounted.start();
    let notifier = running.notifier();
    let info = running.mount_info().clone();
    // The thread is parked on `started` and only ends without the usermount if it panicked.
    let _ = start.send(running);
    let loopback = Loopback {
        client,
        reader: Some(reader),
        fs: Some(FsThread { handle: fs_thread, done: Mutex::new(done) }),
        notifier,
        info,
    };

    // The kernel's side of the handshake: the reply must be readable and speak our major.
    let init_reply = loopback.client.wait(init_unique).and_then(|body| match decode_body(ReplyKind::Init, &body) {
        Some(ReplyBody::Init(out)) if out.major == abi::KERNEL_VERSION && out.max_write > 0 => Ok(out),
        _ => Err(Errno::EPROTO),
    });
    match init_reply {
        Ok(out) => {
            let mut state = loopback.client.shared.lock();
            state.max_write = out.max_write;
            state.granted = InitFlags::from_words(out.flags, out.flags2) & offered;
        }
        Err(_) => {
            loopback.client.abort();
            return Ok(loopback);
        }
    }
    // The root node, cached for the life of the mount (puffs_root); its answer starts the mount.
    let root_unique = loopback.client.shared.next_unique.fetch_add(1, Ordering::Relaxed);
    {
        let mut state = loopback.client.shared.lock();
        state.pending.insert(root_unique, Pending { outcome: None, client: false, abandoned: false, root: true });
        *state.sent.entry(abi::opcode::GETATTR).or_default() += 1;
    }
    let getattr = Operation::Getattr { fh: None }.encode(loopback.client.header(ROOT_ID, root_unique));
    if loopback.client.shared.channel.send(&[&getattr]).is_err() {
        loopback.client.abort();
    }
    Ok(loopback)
}

/// Grows the send buffer of `end` to hold a request of [`REQUEST_LEN_MAX`] with room to spare
/// (forced where the caller may, else as far as `net.core.wmem_max` allows), and answers the
/// largest message it then carries in one piece.
fn message_capacity(end: &OwnedFd) -> usize {
    use nix::sys::socket::{getsockopt, setsockopt, sockopt};
    /// What a Unix datagram costs beyond its bytes, as the kernel counts it against the buffer.
    const OVERHEAD: usize = 32;
    let want = 2 * (REQUEST_LEN_MAX + 4096);
    if setsockopt(end, sockopt::SndBufForce, &want).is_err() {
        let _ = setsockopt(end, sockopt::SndBuf, &want);
    }
    getsockopt(end, sockopt::SndBuf).map_or(0, |size| size.saturating_sub(OVERHEAD))
}

fn spawn_error(e: &std::io::Error) -> Error {
    Error::new("start a loopback thread", io_errno(e))
}

impl<F: FileSystem> Loopback<F> {
    /// The client of this mount, to make calls by path. Clone it for other threads; a clone
    /// outlives the mount (its calls then fail with `ENXIO`).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The file system's own notifier (as [`Usermount::notifier`] gives it): its
    /// [`unmount`](Notifier::unmount) is puffs's `puffs_exit`, which makes the mount
    /// [`Status::Dying`].
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// What the usermount's side was granted, as its
    /// [`mount_info`](Usermount::mount_info) reported after mount.
    pub fn mount_info(&self) -> &MountInfo {
        &self.info
    }

    /// Unmounts (puffs `puffs_unmount`). Unless the mount is [`Status::Dying`] the file system is
    /// asked first ([`fs_unmount`](FileSystem::fs_unmount) with `flags`, over the puffs-specific
    /// `PUFFS_UNMOUNT`); if it refuses and `flags` lacks [`UnmountFlags::FORCE`], the mount is
    /// handed back untouched in [`UnmountError::Refused`]. Otherwise the unmount happens: every
    /// waiting and later call fails with `ENXIO`, `DESTROY` is sent, the connection is closed,
    /// and the file system comes back from its thread.
    pub fn unmount(self, flags: UnmountFlags) -> Result<F, UnmountError<F>> {
        if self.client.status() != Status::Dying {
            let _ = self.client.wait_started();
            let verdict = self
                .client
                .call(ROOT_ID, &Operation::PuffsUnmount { flags }, Flavor::Kernel)
                .and_then(|body| empty_of(&body));
            match verdict {
                Err(errno) if !flags.contains(UnmountFlags::FORCE) && errno != Errno::ENXIO => {
                    return Err(UnmountError::Refused { errno, loopback: Box::new(self) });
                }
                _ => {}
            }
        }
        self.finish()
    }

    /// Tears the mount down: waiters released, `DESTROY`, connection closed, threads joined.
    fn finish(mut self) -> Result<F, UnmountError<F>> {
        let shared = self.client.shared.clone();
        let was_dying = {
            let mut state = shared.lock();
            let was_dying = state.status == Status::Dying;
            shared.release_waiters(&mut state, Status::Dying, Errno::ENXIO);
            was_dying
        };
        if !was_dying {
            let _ = self.client.call(ROOT_ID, &Operation::Destroy, Flavor::Final);
        }
        close_kernel(&shared, self.reader.take());
        let fs = self.fs.take().expect("taken only here and in drop");
        match fs.join(shared.args.timeout) {
            None => Err(UnmountError::Lost(Error::new("wait for the file system's main loop", Errno::ETIMEDOUT))),
            Some(Some(Ok(fs))) => Ok(fs),
            Some(Some(Err(error))) => Err(UnmountError::Lost(error)),
            Some(None) => Err(UnmountError::Lost(Error::new("the file system's main loop panicked", Errno::EIO))),
        }
    }
}

/// Closes the kernel's end, the one way every mount ends (unmounted, dropped, or failed while
/// mounting): every waiting and later call fails with `ENXIO`, the socket is shut down, which
/// ends the file system's main loop, and the thread reading replies is joined.
fn close_kernel(shared: &Shared, reader: Option<JoinHandle<()>>) {
    {
        let mut state = shared.lock();
        shared.release_waiters(&mut state, Status::Finished, Errno::ENXIO);
    }
    let _ = nix::sys::socket::shutdown(shared.channel.as_raw_fd(), nix::sys::socket::Shutdown::Both);
    if let Some(reader) = reader {
        let _ = reader.join();
    }
}

impl<F: FileSystem> FsThread<F> {
    /// Waits up to `timeout` for the main loop to end: `None` if it did not; then what the
    /// thread answered (`None` inside if it panicked or never got the usermount).
    fn join(self, timeout: Duration) -> Option<Option<Result<F, Error>>> {
        match self.done.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv_timeout(timeout) {
            Err(mpsc::RecvTimeoutError::Timeout) if !self.handle.is_finished() => None,
            _ => Some(self.handle.join().unwrap_or(None)),
        }
    }
}

impl<F: FileSystem> Drop for Loopback<F> {
    fn drop(&mut self) {
        let Some(fs) = self.fs.take() else { return };
        close_kernel(&self.client.shared, self.reader.take());
        let _ = fs.join(self.client.shared.args.timeout);
    }
}
