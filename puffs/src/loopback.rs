//! The loopback kernel: run any [`#[puffs_fs]`](crate::puffs_fs) file system in-process, without
//! root and without `/dev/fuse`, over the same wire path as a real mount.
//!
//! puffs has a hidden mode, `PUFFS_COMFD`, in which the file system talks to a descriptor instead
//! of the kernel device so that a userspace peer can play the kernel. This module is that peer,
//! made first-class: [`mount`] opens a `SOCK_SEQPACKET` socket pair, mounts the usermount on one
//! end with [`Usermount::mount_on_channel`], runs its main loop ([`Usermount::run`], with its
//! [`threads`](Usermount::threads)) on a thread the [`Loopback`] owns, and plays the kernel on
//! the other end. Every request is a FUSE frame built by the encoder in
//! [`fuse::request`](crate::fuse::request), decoded by the same decoder a real mount uses,
//! dispatched by the same session, and its reply is read back by the decoder in
//! [`fuse::reply`](crate::fuse::reply).
//!
//! ```
//! use std::ffi::OsStr;
//! use puffs::{puffs_fs, Cookie, Cred, Errno, FileSystem, NewNode, Result, Usermount, Vattr, Vtype};
//! use puffs::loopback::{self, MountArgs};
//!
//! struct One;
//!
//! #[puffs_fs]
//! impl FileSystem for One {
//!     fn node_lookup(&self, _dir: Cookie, name: &OsStr, _cred: &Cred) -> Result<NewNode> {
//!         if name != "one" {
//!             return Err(Errno::ENOENT);
//!         }
//!         Ok(NewNode::new(Cookie(2), Vattr { size: 1, ..Vattr::new(Vtype::Reg, 0o444, 2) }))
//!     }
//! }
//!
//! let usermount = Usermount::init(One, "one");
//! let args = MountArgs::of(&usermount, Cookie(1));
//! let mounted = loopback::mount(usermount, args).map_err(|(error, _)| error).unwrap();
//! assert_eq!(mounted.stat("one").unwrap().size, 1);
//! assert_eq!(mounted.stat("two").unwrap_err(), Errno::ENOENT);
//! let _fs: One = mounted.unmount(puffs::UnmountFlags::empty()).map_err(|e| e.errno()).unwrap();
//! ```
//!
//! # Kernel semantics
//!
//! The loopback reproduces what NetBSD's `puffs_vfsops.c` does on the kernel side, and says what
//! the same thing is in FUSE terms:
//!
//! | `puffs_vfsops.c` | loopback kernel | FUSE |
//! |---|---|---|
//! | `puffs_mount`: `pa_vers` mismatch → `EINVAL` | [`mount`] checks [`MountArgs::version`] against [`PUFFS_VERSION`]: `EINVAL`, the usermount handed back | `INIT` major/minor negotiation (the session refuses kernels older than 7.31) |
//! | `MNT_UPDATE` → `EOPNOTSUPP` | [`MountArgs::update`] → `EOPNOTSUPP` | `mount -o remount` is not passed to the server |
//! | `pa_flags &= PUFFS_KFLAG_MASK` ("nuke spy bits") | unknown [`KernelFlags`] bits are stripped; the result is [`Client::args`] | `INIT` flags: only bits both sides know are granted |
//! | name built as `PUFFS_NAMEPREFIX` + `pa_name` | [`MountArgs::fs_name`] becomes `puffs|NAME` (at most [`FS_NAME_MAX`] bytes), told to the file system in [`MountInfo::fs_name`](crate::MountInfo) | the `fuse.NAME` type of the mount table |
//! | `pa_maxreqlen` 0 or too large → maximum, too small → minimum, copied back to the server | [`MountArgs::max_request_len`] clamped into [`REQUEST_LEN_MIN`](crate::REQUEST_LEN_MIN)`..=`[`REQUEST_LEN_MAX`]; where the socket pair cannot carry a message that long (an unprivileged caller's `net.core.wmem_max`), clamped further to what it carries; the usermount mounts with the granted value and [`FileSystem::fs_mounted`] is told it | `max_write` in the `INIT` reply |
//! | `pmp_npnodehash` clamped into `1..=PUFFS_MAXPNODEBUCKETS`, default 256 | [`MountArgs::cookie_hash_buckets`] clamped into `1..=65536`, 0 meaning 256; the session's cookie table gets that many buckets | — (a server-side table) |
//! | `pmp_status = PUFFSTAT_MOUNTING` until `puffs_start2` | [`Status::Mounting`] from [`mount_nowait`] until the started main loop answers the root `GETATTR`; [`mount`] waits for it | the `INIT` handshake |
//! | `puffs_statvfs` while `MOUNTING` → `EINPROGRESS` (no deadlock) | [`Client::statvfs`] answers `EINPROGRESS` without asking the file system while [`Status::Mounting`]; afterwards the file system's [`fs_statvfs`](FileSystem::fs_statvfs) | `STATFS` |
//! | `puffs_root`: the root vnode is cached with `pmp_rootcookie` | the root node (node id `FUSE_ROOT_ID` = [`MountArgs::root_cookie`] on the file-system side) is held for the life of the mount, never looked up nor forgotten, its attributes from a `GETATTR` at mount ([`Client::root_vattr`]) | `FUSE_ROOT_ID` |
//! | `puffs_unmount`: ask the server unless `PUFFSTAT_DYING`; an error refuses unless `MNT_FORCE` | [`Loopback::unmount`] sends the puffs-specific [`PUFFS_UNMOUNT`](crate::fuse::abi::opcode::PUFFS_UNMOUNT) (→ [`fs_unmount`](FileSystem::fs_unmount)) unless [`Status::Dying`]; a refusal hands the mount back usable ([`UnmountError::Refused`]) unless [`UnmountFlags::FORCE`] | `DESTROY` (FUSE never asks: an unmount always happens) |
//! | `puffs_userdead`: waiters are woken with `ENXIO` | once the unmount is decided, every waiting and later call fails with `ENXIO`; then `DESTROY` is sent and the file system handed back | `ENOTCONN` after a connection abort |
//! | `puffs_sync` asks the server (`PUFFS_VFS_SYNC`) | [`Client::sync`] sends `SYNCFS` (→ [`fs_sync`](FileSystem::fs_sync)) | `SYNCFS` (`ENOSYS` means nothing to do) |
//! | `puffs_suspendctl`: `START`, flush, then `SUSPENDED` or `ERROR`; `RESUME` | [`Client::suspend`] stops new operations, tells `Start`, drains the operations in flight, then tells `Suspended` (or `Error` and resumes normal operation if they do not drain within the timeout); [`Client::resume`] tells `Resume`. Each phase travels as the puffs-specific [`PUFFS_SUSPEND`](crate::fuse::abi::opcode::PUFFS_SUSPEND) (→ [`fs_suspend`](FileSystem::fs_suspend)) | — (FUSE has no suspension) |
//! | the kernel's vnode cache and `VOP_RECLAIM` | the loopback caches no vnode but the root: every node a path walk looks up is forgotten when the call ends (`FORGET`, or `BATCH_FORGET` for several), an open file holds its node until [`Client::close`], so [`node_reclaim`](FileSystem::node_reclaim) runs | `FORGET`, `BATCH_FORGET` |
//!
//! And what the loopback does as the Linux kernel would: a file system without `node_open`
//! answers `OPEN` with `ENOSYS`, which the loopback takes as "opens always succeed, with handle
//! 0" and stops sending `OPEN` and `RELEASE` (FUSE `NO_OPEN_SUPPORT`); writes and reads are cut
//! into pieces of the negotiated `max_write`; intermediate symbolic links of a path are followed
//! (at most 40, then `ELOOP`); bad names are refused before anything is sent (`EINVAL` for a NUL,
//! `ENAMETOOLONG` for a component over 255 bytes or a path over 4096).
//!
//! # Errors and bounds
//!
//! Calls answer [`Errno`] values: the file system's own, or `ENXIO` once the mount is dying or
//! gone (the file system's side closed, the mount was unmounted or [aborted](Client::abort)),
//! `EIO` for a reply the decoder cannot read (wrong length, a body that does not fit the
//! request, a positive error), `ETIMEDOUT` when no reply came within [`MountArgs::timeout`], and
//! `EINPROGRESS` for `statvfs` while mounting. Nothing waits without a bound, and nothing the
//! file system's side sends can make the kernel side panic.

use std::collections::{HashMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bitflags::bitflags;

use crate::dirent::parse_dirents;
use crate::fuse::abi::{self, init_flag, InHeader, ROOT_ID};
use crate::fuse::reply::{attr_from_wire, decode_body, split_reply, statfs_from_wire, ReplyBody, ReplyKind};
use crate::fuse::request::{Operation, NAME_MAX};
use crate::fuse::Channel;
use crate::node::clamp_cookie_hash;
use crate::usermount::clamp_request_len;
use crate::{
    AccessFlags, Cookie, Cred, Dirent, Errno, Error, FileHandle, FileSystem, Notifier, OFlag, RenameFlags, SetVattr,
    StatVfs, SuspendPhase, UnmountFlags, Unmounted, Usermount, Vattr, Vtype, XattrFlags, REQUEST_LEN_MAX,
};

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

/// How many symbolic links one path walk follows before `ELOOP` (Linux `MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// Bytes asked for in one `READDIR`.
const READDIR_CHUNK: u32 = 4096;

/// Largest extended attribute value or list (`XATTR_SIZE_MAX`).
const XATTR_SIZE_MAX: u32 = 65536;

bitflags! {
    /// Kernel flags of a mount (puffs `PUFFS_KFLAG_*`, the `pa_flags` the kernel keeps). Bits
    /// outside these are stripped at mount, as `puffs_mount` does with `PUFFS_KFLAG_MASK`.
    ///
    /// The loopback keeps no name or page cache, so the flags change nothing but what
    /// [`Client::args`] reports: they are accepted for fidelity.
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
/// hands them to the kernel. [`mount`] validates and clamps them; [`Client::args`] shows what
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
        let requested = usermount.requested();
        MountArgs {
            max_request_len: requested.max_request_len,
            cookie_hash_buckets: requested.cookie_hash_buckets,
            root_vtype: requested.root_vtype,
            ..MountArgs::new(&requested.name, root_cookie)
        }
    }

    /// What the kernel grants for these arguments, checked and clamped as `puffs_mount` does:
    /// `EINVAL` for another version, `EOPNOTSUPP` for an update; otherwise the arguments with
    /// unknown flags stripped, the name prefixed and cut to [`FS_NAME_MAX`], the request length
    /// clamped into [`REQUEST_LEN_MIN`](crate::REQUEST_LEN_MIN)`..=`[`REQUEST_LEN_MAX`] (0 meaning the maximum) and the
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

/// Where a loopback mount is in its life (puffs `pmp_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Mounted, but the file system's main loop has not answered yet (`PUFFSTAT_MOUNTING`):
    /// `statvfs` answers `EINPROGRESS`, other calls wait.
    Mounting,
    /// Serving (`PUFFSTAT_RUNNING`).
    Running,
    /// The file system's side is gone, or an unmount was decided (`PUFFSTAT_DYING`): calls fail
    /// with `ENXIO`, and an unmount no longer asks the file system.
    Dying,
    /// Unmounted: calls fail with `ENXIO`.
    Unmounted,
}

/// How far a suspension got (NetBSD `fstrans` states).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Suspension {
    Normal,
    Suspending,
    Suspended,
}

/// What the usermount's side of the mount reports once mounted: the values it runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerInfo {
    /// [`Usermount::granted_request_len`]: the request length the file system was granted.
    pub granted_request_len: usize,
    /// [`Usermount::cookie_hash_buckets_granted`]: buckets of its cookie table.
    pub cookie_hash_buckets: usize,
    /// [`Usermount::max_write`]: the largest write it will be sent.
    pub max_write: u32,
    /// [`Usermount::protocol`]: the negotiated FUSE version.
    pub protocol: (u32, u32),
}

/// A request waiting for its reply.
#[derive(Debug)]
struct Pending {
    /// The answer: the reply body, or an errno.
    outcome: Option<Result<Vec<u8>, Errno>>,
    /// Sent on behalf of a client operation (counts for draining at suspension).
    client: bool,
    /// The caller gave up waiting; the entry goes when the reply comes.
    abandoned: bool,
    /// The root `GETATTR` of the mount: its answer starts the mount.
    root: bool,
}

#[derive(Debug)]
struct State {
    status: Status,
    suspension: Suspension,
    /// Client operations inside the gate.
    active: usize,
    pending: HashMap<u64, Pending>,
    root_vattr: Option<Vattr>,
    max_write: u32,
    /// The file system answered `OPEN` with `ENOSYS`: opens succeed without asking.
    no_open: bool,
    /// Same for `OPENDIR`.
    no_opendir: bool,
    sent: HashMap<u32, u64>,
    /// Frames from the file system's side that answered nothing readable.
    unroutable: u64,
}

impl State {
    fn new() -> State {
        State {
            status: Status::Mounting,
            suspension: Suspension::Normal,
            active: 0,
            pending: HashMap::new(),
            root_vattr: None,
            max_write: 0,
            no_open: false,
            no_opendir: false,
            sent: HashMap::new(),
            unroutable: 0,
        }
    }
}

#[derive(Debug)]
struct Shared {
    channel: Channel,
    state: Mutex<State>,
    changed: Condvar,
    next_unique: AtomicU64,
    args: MountArgs,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits on the condition variable until `deadline`; `false` once it passed.
    fn wait_until<'a>(&self, guard: MutexGuard<'a, State>, deadline: Instant) -> (MutexGuard<'a, State>, bool) {
        let now = Instant::now();
        if now >= deadline {
            return (guard, false);
        }
        let (guard, _) = self.changed.wait_timeout(guard, deadline - now).unwrap_or_else(|p| p.into_inner());
        (guard, true)
    }

    /// Fails every waiting request with `errno` and sets `status`.
    fn release_waiters(&self, state: &mut State, status: Status, errno: Errno) {
        state.status = status;
        state.pending.retain(|_, p| !p.abandoned && !p.root);
        for pending in state.pending.values_mut() {
            if pending.outcome.is_none() {
                pending.outcome = Some(Err(errno));
            }
        }
        self.changed.notify_all();
    }

    /// The file system's side closed its end (or ours was shut down).
    fn peer_gone(&self) {
        let mut state = self.lock();
        let status = if state.status == Status::Unmounted { Status::Unmounted } else { Status::Dying };
        self.release_waiters(&mut state, status, Errno::ENXIO);
    }

    /// Routes one frame from the file system's side to the request it answers.
    fn deliver(&self, frame: &[u8]) {
        let (unique, outcome) = match split_reply(frame) {
            Ok((header, _)) if header.unique == 0 => {
                // A notification (cache invalidation): the loopback caches nothing to drop.
                return;
            }
            Ok((header, _)) if header.error != 0 => (header.unique, Err(Errno::from_raw(-header.error))),
            Ok((header, body)) => (header.unique, Ok(body.to_vec())),
            Err(e) => match e.unique {
                Some(unique) => (unique, Err(Errno::EIO)),
                None => {
                    self.lock().unroutable += 1;
                    return;
                }
            },
        };
        let mut state = self.lock();
        let Some(pending) = state.pending.get_mut(&unique) else {
            state.unroutable += 1;
            return;
        };
        if pending.root {
            state.pending.remove(&unique);
            let fetched = outcome.ok().and_then(|body| match decode_body(ReplyKind::Attr, &body) {
                Some(ReplyBody::Attr { attr, .. }) => attr_from_wire(&attr),
                _ => None,
            });
            state.root_vattr = Some(fetched.unwrap_or_else(|| synthesized_root(&self.args)));
            if state.status == Status::Mounting {
                state.status = Status::Running;
            }
        } else if pending.abandoned {
            state.pending.remove(&unique);
        } else {
            pending.outcome = Some(outcome);
        }
        self.changed.notify_all();
    }
}

/// The root's attributes when the file system cannot tell them (puffs builds the root vnode from
/// `pa_root_vtype` alone).
fn synthesized_root(args: &MountArgs) -> Vattr {
    let vattr = Vattr::new(args.root_vtype, 0o755, ROOT_ID);
    Vattr { nlink: if args.root_vtype == Vtype::Dir { 2 } else { 1 }, ..vattr }
}

/// How a request is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// On behalf of a client call.
    Client,
    /// The kernel's own business (suspension phases, the unmount question).
    Kernel,
    /// `DESTROY`: sent after the mount was declared dying.
    Final,
}

/// A node a call holds: its node id and attributes.
#[derive(Debug, Clone)]
struct Node {
    nodeid: u64,
    vattr: Vattr,
}

/// The POSIX-like side of a loopback mount: calls by path, from any number of threads.
///
/// A `Client` is cheap to clone and outlives the [`Loopback`] it came from; once the mount is
/// gone every call fails with `ENXIO`. Paths are relative to the root of the mount (a leading `/`
/// changes nothing, `""` is the root). Requests carry [`Client::cred`], root unless
/// [`Client::with_cred`] said otherwise.
#[derive(Debug, Clone)]
pub struct Client {
    shared: Arc<Shared>,
    cred: Cred,
}

/// An open file or directory of a loopback mount (the kernel's `struct file`): pass it to
/// [`Client::read`], [`Client::write`] and [`Client::fsync`], and give it back to
/// [`Client::close`], which releases it and forgets its node.
#[derive(Debug)]
pub struct OpenFile {
    nodeid: u64,
    fh: u64,
    flags: OFlag,
    vtype: Vtype,
    /// Opened without asking the file system (no `OPEN` support): no `RELEASE` at close.
    unasked: bool,
}

impl OpenFile {
    /// The handle the file system chose ([`FileHandle::NONE`] without `node_open`).
    pub fn handle(&self) -> FileHandle {
        FileHandle(self.fh)
    }

    /// The flags it was opened with.
    pub fn flags(&self) -> OFlag {
        self.flags
    }

    /// The type of the node.
    pub fn vtype(&self) -> Vtype {
        self.vtype
    }

    fn access_mode(&self) -> OFlag {
        self.flags & OFlag::O_ACCMODE
    }
}

/// One client call in progress: admitted through the suspension gate, holding the lookups it
/// made, which it forgets when it ends.
struct Op<'a> {
    client: &'a Client,
    held: Vec<u64>,
}

impl Drop for Op<'_> {
    fn drop(&mut self) {
        self.client.forget(&self.held);
        let mut state = self.client.shared.lock();
        state.active -= 1;
        self.client.shared.changed.notify_all();
    }
}

impl Op<'_> {
    /// Keeps one lookup of `nodeid` beyond the call (an open file's node).
    fn keep(&mut self, nodeid: u64) {
        if let Some(at) = self.held.iter().position(|&n| n == nodeid) {
            self.held.swap_remove(at);
        }
    }
}

/// Splits a path into components, refusing what no kernel would send.
fn components(path: &Path) -> Result<Vec<OsString>, Errno> {
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

/// Checks the name of an extended attribute as `setxattr(2)` does.
fn check_xattr_name(name: &OsStr) -> Result<(), Errno> {
    let bytes = name.as_bytes();
    if bytes.contains(&0) {
        Err(Errno::EINVAL)
    } else if bytes.is_empty() || bytes.len() > NAME_MAX {
        Err(Errno::ERANGE)
    } else {
        Ok(())
    }
}

fn entry_of(body: &[u8]) -> Result<(u64, Vattr), Errno> {
    match decode_body(ReplyKind::Entry, body) {
        Some(ReplyBody::Entry { entry, attr }) => Ok((entry.nodeid, attr_from_wire(&attr).ok_or(Errno::EIO)?)),
        _ => Err(Errno::EIO),
    }
}

fn attr_of(body: &[u8]) -> Result<Vattr, Errno> {
    match decode_body(ReplyKind::Attr, body) {
        Some(ReplyBody::Attr { attr, .. }) => attr_from_wire(&attr).ok_or(Errno::EIO),
        _ => Err(Errno::EIO),
    }
}

fn empty_of(body: &[u8]) -> Result<(), Errno> {
    match decode_body(ReplyKind::Empty, body) {
        Some(ReplyBody::Empty) => Ok(()),
        _ => Err(Errno::EIO),
    }
}

impl Client {
    /// A client of the same mount whose requests carry `cred` (for permission tests).
    pub fn with_cred(&self, cred: Cred) -> Client {
        Client { shared: self.shared.clone(), cred }
    }

    /// The credentials requests carry.
    pub fn cred(&self) -> Cred {
        self.cred
    }

    /// Where the mount is in its life.
    pub fn status(&self) -> Status {
        self.shared.lock().status
    }

    /// The mount arguments as the kernel granted them: flags stripped, name prefixed, lengths
    /// clamped (puffs copies them back to the server the same way).
    pub fn args(&self) -> &MountArgs {
        &self.shared.args
    }

    /// The attributes of the cached root node, fetched with a `GETATTR` when the mount started;
    /// `None` while [`Status::Mounting`].
    pub fn root_vattr(&self) -> Option<Vattr> {
        self.shared.lock().root_vattr.clone()
    }

    /// The largest write the file system accepts, from its `INIT` reply.
    pub fn max_write(&self) -> u32 {
        self.shared.lock().max_write
    }

    /// How many requests with `opcode` ([`abi::opcode`]) this mount has sent.
    pub fn requests_sent(&self, opcode: u32) -> u64 {
        self.shared.lock().sent.get(&opcode).copied().unwrap_or(0)
    }

    /// How many frames from the file system's side answered no waiting request (unreadable
    /// headers, unknown unique ids).
    pub fn unroutable_replies(&self) -> u64 {
        self.shared.lock().unroutable
    }

    /// Waits until the mount has started ([`Status::Running`]), within the timeout.
    pub fn wait_started(&self) -> Result<(), Errno> {
        let deadline = Instant::now() + self.shared.args.timeout;
        let mut state = self.shared.lock();
        loop {
            match state.status {
                Status::Running => return Ok(()),
                Status::Dying | Status::Unmounted => return Err(Errno::ENXIO),
                Status::Mounting => {}
            }
            let (guard, in_time) = self.shared.wait_until(state, deadline);
            state = guard;
            if !in_time {
                return Err(Errno::ETIMEDOUT);
            }
        }
    }

    /// Cuts the connection as a FUSE abort does (the kernel-side `puffs_userdead`): every
    /// waiting and later call fails with `ENXIO`, and the file system's main loop ends. The
    /// mount is [`Status::Dying`]; [`Loopback::unmount`] still hands the file system back.
    pub fn abort(&self) {
        {
            let mut state = self.shared.lock();
            if matches!(state.status, Status::Dying | Status::Unmounted) {
                return;
            }
            self.shared.release_waiters(&mut state, Status::Dying, Errno::ENXIO);
        }
        let _ = nix::sys::socket::shutdown(self.shared.channel.as_raw_fd(), nix::sys::socket::Shutdown::Both);
    }

    /// Enters the gate of client operations: waits while mounting or suspended.
    fn enter(&self) -> Result<Op<'_>, Errno> {
        let deadline = Instant::now() + self.shared.args.timeout;
        let mut state = self.shared.lock();
        loop {
            match (state.status, state.suspension) {
                (Status::Dying | Status::Unmounted, _) => return Err(Errno::ENXIO),
                (Status::Running, Suspension::Normal) => {
                    state.active += 1;
                    return Ok(Op { client: self, held: Vec::new() });
                }
                _ => {}
            }
            let (guard, in_time) = self.shared.wait_until(state, deadline);
            state = guard;
            if !in_time {
                return Err(Errno::ETIMEDOUT);
            }
        }
    }

    fn header(&self, nodeid: u64, unique: u64) -> InHeader {
        InHeader { unique, nodeid, uid: self.cred.uid, gid: self.cred.gid, pid: self.cred.pid, ..Default::default() }
    }

    /// Registers a request and sends it; the unique id to wait for.
    fn send(&self, nodeid: u64, op: &Operation<'_>, flavor: Flavor) -> Result<u64, Errno> {
        let unique = self.shared.next_unique.fetch_add(1, Ordering::Relaxed);
        let opcode = op.opcode().unwrap_or(0);
        {
            let mut state = self.shared.lock();
            let open = match flavor {
                Flavor::Final => state.status == Status::Dying,
                _ => matches!(state.status, Status::Mounting | Status::Running),
            };
            if !open {
                return Err(Errno::ENXIO);
            }
            state.pending.insert(
                unique,
                Pending { outcome: None, client: flavor == Flavor::Client, abandoned: false, root: false },
            );
            *state.sent.entry(opcode).or_default() += 1;
        }
        let frame = op.encode(self.header(nodeid, unique));
        if let Err(e) = self.shared.channel.send(&[&frame]) {
            self.shared.lock().pending.remove(&unique);
            return Err(match e {
                Errno::EAGAIN => Errno::ETIMEDOUT,
                Errno::EPIPE | Errno::ECONNRESET | Errno::ENOTCONN => Errno::ENXIO,
                other => other,
            });
        }
        Ok(unique)
    }

    /// Waits for the reply to `unique`, within the timeout.
    fn wait(&self, unique: u64) -> Result<Vec<u8>, Errno> {
        let deadline = Instant::now() + self.shared.args.timeout;
        let mut state = self.shared.lock();
        loop {
            match state.pending.get(&unique) {
                Some(Pending { outcome: Some(_), .. }) => {
                    let pending = state.pending.remove(&unique).expect("present");
                    return pending.outcome.expect("answered");
                }
                Some(_) => {}
                None => return Err(Errno::ENXIO),
            }
            let (guard, in_time) = self.shared.wait_until(state, deadline);
            state = guard;
            if !in_time {
                if let Some(pending) = state.pending.get_mut(&unique) {
                    if pending.outcome.is_none() {
                        pending.abandoned = true;
                        return Err(Errno::ETIMEDOUT);
                    }
                }
            }
        }
    }

    /// Sends a request and waits for its reply body.
    fn call(&self, nodeid: u64, op: &Operation<'_>, flavor: Flavor) -> Result<Vec<u8>, Errno> {
        let unique = self.send(nodeid, op, flavor)?;
        self.wait(unique)
    }

    /// Forgets one lookup of each node in `nodes` (`FORGET` for one, `BATCH_FORGET` for more).
    fn forget(&self, nodes: &[u64]) {
        let mut counts: Vec<abi::ForgetOne> = Vec::new();
        for &nodeid in nodes {
            match counts.iter_mut().find(|c| c.nodeid == nodeid) {
                Some(one) => one.nlookup += 1,
                None => counts.push(abi::ForgetOne { nodeid, nlookup: 1 }),
            }
        }
        let (nodeid, op) = match counts.as_slice() {
            [] => return,
            [one] => (one.nodeid, Operation::Forget { nlookup: one.nlookup }),
            _ => (0, Operation::BatchForget { nodes: counts }),
        };
        let unique = self.shared.next_unique.fetch_add(1, Ordering::Relaxed);
        {
            let mut state = self.shared.lock();
            if !matches!(state.status, Status::Running | Status::Mounting) {
                return;
            }
            *state.sent.entry(op.opcode().unwrap_or(0)).or_default() += 1;
        }
        // No reply comes; a failure means the mount is going away, which forgets everything.
        let _ = self.shared.channel.send(&[&op.encode(self.header(nodeid, unique))]);
    }

    fn root(&self) -> Node {
        let vattr = self.shared.lock().root_vattr.clone().unwrap_or_else(|| synthesized_root(&self.shared.args));
        Node { nodeid: ROOT_ID, vattr }
    }

    /// `LOOKUP` of `name` in `dir`; the node is held by `op`.
    fn lookup(&self, op: &mut Op<'_>, dir: &Node, name: &OsStr) -> Result<Node, Errno> {
        if dir.vattr.vtype != Vtype::Dir {
            return Err(Errno::ENOTDIR);
        }
        let body = self.call(dir.nodeid, &Operation::Lookup { name }, Flavor::Client)?;
        let (nodeid, vattr) = entry_of(&body)?;
        if nodeid == 0 {
            // A negative entry: no node, nothing to forget.
            return Err(Errno::ENOENT);
        }
        op.held.push(nodeid);
        Ok(Node { nodeid, vattr })
    }

    /// Walks `path` from the cached root; the final component's symbolic link is followed only
    /// if `follow`.
    fn resolve(&self, op: &mut Op<'_>, path: &Path, follow: bool) -> Result<Node, Errno> {
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
    fn parent(&self, op: &mut Op<'_>, path: &Path, on_root: Errno) -> Result<(Node, OsString), Errno> {
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

    /// The attributes of `path`, without following a final symbolic link (`lstat(2)`). The
    /// root's come from a fresh `GETATTR`, other nodes' from their `LOOKUP`.
    pub fn stat(&self, path: impl AsRef<Path>) -> Result<Vattr, Errno> {
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, path.as_ref(), false)?;
        if node.nodeid == ROOT_ID {
            match self.call(ROOT_ID, &Operation::Getattr { fh: None }, Flavor::Client) {
                Ok(body) => attr_of(&body),
                Err(Errno::ENOSYS) => Ok(node.vattr),
                Err(e) => Err(e),
            }
        } else {
            Ok(node.vattr)
        }
    }

    /// The attributes of an open file (`fstat(2)`: `GETATTR` with its handle).
    pub fn fstat(&self, file: &OpenFile) -> Result<Vattr, Errno> {
        let _op = self.enter()?;
        attr_of(&self.call(file.nodeid, &Operation::Getattr { fh: Some(file.fh) }, Flavor::Client)?)
    }

    /// Opens `path` (`open(2)`): with `O_CREAT` a missing file is created with permissions
    /// `mode` (`CREATE`, or `MKNOD` and `OPEN` if the file system has no create), `O_EXCL`
    /// refuses an existing one with `EEXIST`, `O_TRUNC` truncates (`SETATTR`). Directories open
    /// read-only (`OPENDIR`). The returned file holds its node until [`close`](Client::close).
    pub fn open(&self, path: impl AsRef<Path>, flags: OFlag, mode: u32) -> Result<OpenFile, Errno> {
        let path = path.as_ref();
        let mut op = self.enter()?;
        let wire_flags = flags & !(OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOCTTY | OFlag::O_TRUNC);
        let mut created = None;
        let node = if flags.contains(OFlag::O_CREAT) {
            let (dir, name) = self.parent(&mut op, path, Errno::EISDIR)?;
            match self.lookup(&mut op, &dir, &name) {
                Ok(_) if flags.contains(OFlag::O_EXCL) => return Err(Errno::EEXIST),
                Ok(node) if node.vattr.vtype == Vtype::Lnk => self.resolve(&mut op, path, true)?,
                Ok(node) => node,
                Err(Errno::ENOENT) => {
                    let (node, fh) = self.create_node(&mut op, &dir, &name, flags, mode)?;
                    created = fh;
                    node
                }
                Err(e) => return Err(e),
            }
        } else {
            self.resolve(&mut op, path, true)?
        };
        let access = flags & OFlag::O_ACCMODE;
        match node.vattr.vtype {
            Vtype::Dir if access != OFlag::O_RDONLY => return Err(Errno::EISDIR),
            Vtype::Dir => {}
            _ if flags.contains(OFlag::O_DIRECTORY) => return Err(Errno::ENOTDIR),
            Vtype::Lnk => return Err(Errno::ELOOP),
            _ => {}
        }
        let dir = node.vattr.vtype == Vtype::Dir;
        let (fh, unasked) = match created {
            Some(fh) => (fh, false),
            None => self.open_node(&node, wire_flags, dir)?,
        };
        let file = OpenFile { nodeid: node.nodeid, fh, flags, vtype: node.vattr.vtype, unasked };
        if created.is_none() && flags.contains(OFlag::O_TRUNC) && !dir && access != OFlag::O_RDONLY {
            let changes = SetVattr { size: Some(0), handle: Some(FileHandle(fh)), ..SetVattr::default() };
            if let Err(e) = self.call(node.nodeid, &Operation::Setattr(changes), Flavor::Client) {
                self.release(&file);
                return Err(e);
            }
        }
        op.keep(node.nodeid);
        Ok(file)
    }

    /// Creates `name` in `dir` and opens it: the node and, if the file system opened it, its
    /// handle.
    fn create_node(
        &self,
        op: &mut Op<'_>,
        dir: &Node,
        name: &OsStr,
        flags: OFlag,
        mode: u32,
    ) -> Result<(Node, Option<u64>), Errno> {
        let mode = mode & crate::MODE_PERMISSION_BITS;
        let create = Operation::Create { name, mode, umask: 0, flags: flags & !OFlag::O_NOCTTY };
        match self.call(dir.nodeid, &create, Flavor::Client) {
            Ok(body) => match decode_body(ReplyKind::Create, &body) {
                Some(ReplyBody::Create { entry, attr, open }) if entry.nodeid != 0 => {
                    op.held.push(entry.nodeid);
                    let vattr = attr_from_wire(&attr).ok_or(Errno::EIO)?;
                    Ok((Node { nodeid: entry.nodeid, vattr }, Some(open.fh)))
                }
                _ => Err(Errno::EIO),
            },
            Err(Errno::ENOSYS) => {
                // No create: make the node, then open it like any other.
                let mknod = Operation::Mknod { name, vtype: Vtype::Reg, mode, rdev: 0, umask: 0 };
                let body = self.call(dir.nodeid, &mknod, Flavor::Client)?;
                let (nodeid, vattr) = entry_of(&body)?;
                if nodeid == 0 {
                    return Err(Errno::EIO);
                }
                op.held.push(nodeid);
                Ok((Node { nodeid, vattr }, None))
            }
            Err(e) => Err(e),
        }
    }

    /// `OPEN`/`OPENDIR` of `node`: the handle, and whether the open went unasked.
    fn open_node(&self, node: &Node, flags: OFlag, dir: bool) -> Result<(u64, bool), Errno> {
        let unasked = {
            let state = self.shared.lock();
            if dir {
                state.no_opendir
            } else {
                state.no_open
            }
        };
        if unasked {
            return Ok((0, true));
        }
        match self.call(node.nodeid, &Operation::Open { flags, dir }, Flavor::Client) {
            Ok(body) => match decode_body(ReplyKind::Open, &body) {
                Some(ReplyBody::Open(out)) => Ok((out.fh, false)),
                _ => Err(Errno::EIO),
            },
            Err(Errno::ENOSYS) => {
                // FUSE_NO_OPEN(DIR)_SUPPORT: opens succeed without the file system from now on.
                let mut state = self.shared.lock();
                if dir {
                    state.no_opendir = true;
                } else {
                    state.no_open = true;
                }
                Ok((0, true))
            }
            Err(e) => Err(e),
        }
    }

    /// `RELEASE`/`RELEASEDIR` of an open file, unless it was opened unasked.
    fn release(&self, file: &OpenFile) {
        if file.unasked {
            return;
        }
        let release = Operation::Release { fh: FileHandle(file.fh), flags: file.flags, dir: file.vtype == Vtype::Dir };
        let _ = self.call(file.nodeid, &release, Flavor::Client);
    }

    /// Creates `path` with permissions `mode`, or truncates it if it exists, and opens it for
    /// reading and writing (`open(path, O_CREAT | O_RDWR | O_TRUNC, mode)`).
    pub fn create(&self, path: impl AsRef<Path>, mode: u32) -> Result<OpenFile, Errno> {
        self.open(path, OFlag::O_CREAT | OFlag::O_RDWR | OFlag::O_TRUNC, mode)
    }

    /// Reads at most `len` bytes at `offset` (`pread(2)`), in `READ`s of at most
    /// [`max_write`](Client::max_write) bytes; fewer at the end of the file.
    pub fn read(&self, file: &OpenFile, offset: u64, len: usize) -> Result<Vec<u8>, Errno> {
        let _op = self.enter()?;
        if file.vtype == Vtype::Dir {
            return Err(Errno::EISDIR);
        }
        if file.access_mode() == OFlag::O_WRONLY {
            return Err(Errno::EBADF);
        }
        let chunk = (self.max_write().max(4096) as usize).min(REQUEST_LEN_MAX);
        let mut data = Vec::new();
        while data.len() < len {
            let size = (len - data.len()).min(chunk);
            let read = Operation::Read {
                fh: FileHandle(file.fh),
                offset: offset.saturating_add(data.len() as u64),
                size: size as u32,
            };
            let body = self.call(file.nodeid, &read, Flavor::Client)?;
            if body.len() > size {
                return Err(Errno::EIO);
            }
            let short = body.len() < size;
            data.extend_from_slice(&body);
            if short {
                break;
            }
        }
        Ok(data)
    }

    /// Writes `data` at `offset` (`pwrite(2)`), in `WRITE`s of at most
    /// [`max_write`](Client::max_write) bytes; answers how many bytes were written.
    pub fn write(&self, file: &OpenFile, offset: u64, data: &[u8]) -> Result<usize, Errno> {
        let _op = self.enter()?;
        if file.vtype == Vtype::Dir {
            return Err(Errno::EISDIR);
        }
        if file.access_mode() == OFlag::O_RDONLY {
            return Err(Errno::EBADF);
        }
        let chunk = self.max_write().max(1) as usize;
        let mut written = 0;
        for piece in data.chunks(chunk) {
            let write = Operation::Write {
                fh: FileHandle(file.fh),
                offset: offset.saturating_add(written as u64),
                data: piece,
            };
            let body = self.call(file.nodeid, &write, Flavor::Client)?;
            let n = match decode_body(ReplyKind::Write, &body) {
                Some(ReplyBody::Write(out)) if out.size as usize <= piece.len() => out.size as usize,
                _ => return Err(Errno::EIO),
            };
            written += n;
            if n < piece.len() {
                break;
            }
        }
        Ok(written)
    }

    /// Flushes an open file to stable storage (`fsync(2)`, `fdatasync(2)` if `datasync`).
    /// A file system without `node_fsync` has nothing to flush.
    pub fn fsync(&self, file: &OpenFile, datasync: bool) -> Result<(), Errno> {
        let _op = self.enter()?;
        let fsync = Operation::Fsync { fh: FileHandle(file.fh), datasync, dir: file.vtype == Vtype::Dir };
        match self.call(file.nodeid, &fsync, Flavor::Client) {
            Ok(body) => empty_of(&body),
            Err(Errno::ENOSYS) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Closes an open file: `RELEASE` (unless it was opened without asking), then its node is
    /// forgotten.
    pub fn close(&self, file: OpenFile) -> Result<(), Errno> {
        let mut op = self.enter()?;
        self.release(&file);
        op.held.push(file.nodeid);
        Ok(())
    }

    /// The entries of directory `path` as the file system lists them (`.` and `..` included if
    /// it gives them): `OPENDIR`, `READDIR` until an empty reply, `RELEASEDIR`.
    pub fn readdir(&self, path: impl AsRef<Path>) -> Result<Vec<Dirent>, Errno> {
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, path.as_ref(), true)?;
        if node.vattr.vtype != Vtype::Dir {
            return Err(Errno::ENOTDIR);
        }
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
        let (fh, unasked) = self.open_node(&node, flags, true)?;
        let file = OpenFile { nodeid: node.nodeid, fh, flags, vtype: Vtype::Dir, unasked };
        let listed = self.read_entries(&file);
        self.release(&file);
        listed
    }

    fn read_entries(&self, dir: &OpenFile) -> Result<Vec<Dirent>, Errno> {
        let mut entries: Vec<Dirent> = Vec::new();
        let mut offset = 0;
        loop {
            let readdir = Operation::Readdir { fh: FileHandle(dir.fh), offset, size: READDIR_CHUNK };
            let body = self.call(dir.nodeid, &readdir, Flavor::Client)?;
            if body.len() > READDIR_CHUNK as usize {
                return Err(Errno::EIO);
            }
            let batch = parse_dirents(&body).ok_or(Errno::EIO)?;
            let Some(last) = batch.last() else { return Ok(entries) };
            // An offset that does not move would list forever.
            if last.next_offset == offset || entries.len() + batch.len() > 1 << 20 {
                return Err(Errno::EIO);
            }
            offset = last.next_offset;
            entries.extend(batch);
        }
    }

    /// Makes directory `path` with permissions `mode` (`MKDIR`).
    pub fn mkdir(&self, path: impl AsRef<Path>, mode: u32) -> Result<(), Errno> {
        let mut op = self.enter()?;
        let (dir, name) = self.parent(&mut op, path.as_ref(), Errno::EEXIST)?;
        let mkdir = Operation::Mkdir { name: &name, mode: mode & crate::MODE_PERMISSION_BITS, umask: 0 };
        self.made(&mut op, self.call(dir.nodeid, &mkdir, Flavor::Client)?)
    }

    /// Takes the node a creating operation answered, to be forgotten with the call.
    fn made(&self, op: &mut Op<'_>, body: Vec<u8>) -> Result<(), Errno> {
        let (nodeid, _) = entry_of(&body)?;
        if nodeid == 0 {
            return Err(Errno::EIO);
        }
        op.held.push(nodeid);
        Ok(())
    }

    /// Removes the empty directory `path` (`RMDIR`).
    pub fn rmdir(&self, path: impl AsRef<Path>) -> Result<(), Errno> {
        let mut op = self.enter()?;
        let (dir, name) = self.parent(&mut op, path.as_ref(), Errno::EBUSY)?;
        empty_of(&self.call(dir.nodeid, &Operation::Rmdir { name: &name }, Flavor::Client)?)
    }

    /// Removes the non-directory `path` (`UNLINK`). An open file keeps its node until closed.
    pub fn unlink(&self, path: impl AsRef<Path>) -> Result<(), Errno> {
        let mut op = self.enter()?;
        let (dir, name) = self.parent(&mut op, path.as_ref(), Errno::EISDIR)?;
        empty_of(&self.call(dir.nodeid, &Operation::Unlink { name: &name }, Flavor::Client)?)
    }

    /// Moves `from` to `to`, replacing `to` if the file system allows (`RENAME`).
    pub fn rename(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> Result<(), Errno> {
        self.rename_with(from, to, RenameFlags::empty())
    }

    /// Renames `from` to `to` as `renameat2(2)` does with `flags`: [`RenameFlags::NOREPLACE`]
    /// refuses an existing `to` with `EEXIST`, [`RenameFlags::EXCHANGE`] swaps the two names
    /// (`RENAME2`; plain `RENAME` without flags).
    pub fn rename_with(&self, from: impl AsRef<Path>, to: impl AsRef<Path>, flags: RenameFlags) -> Result<(), Errno> {
        if flags.contains(RenameFlags::NOREPLACE | RenameFlags::EXCHANGE) {
            return Err(Errno::EINVAL);
        }
        let mut op = self.enter()?;
        let (dir, name) = self.parent(&mut op, from.as_ref(), Errno::EBUSY)?;
        let (new_dir, new_name) = self.parent(&mut op, to.as_ref(), Errno::EBUSY)?;
        let rename = Operation::Rename { newdir: new_dir.nodeid, flags, name: &name, newname: &new_name };
        empty_of(&self.call(dir.nodeid, &rename, Flavor::Client)?)
    }

    /// Makes a node of type `vtype` (a regular file, device, FIFO or socket) named `path` with
    /// permissions `mode` and, for a device, number `rdev` (`mknod(2)`: `MKNOD`).
    pub fn mknod(&self, path: impl AsRef<Path>, vtype: Vtype, mode: u32, rdev: u64) -> Result<(), Errno> {
        if matches!(vtype, Vtype::Dir | Vtype::Lnk) {
            return Err(Errno::EINVAL);
        }
        let mut op = self.enter()?;
        let (dir, name) = self.parent(&mut op, path.as_ref(), Errno::EEXIST)?;
        let mknod = Operation::Mknod { name: &name, vtype, mode: mode & crate::MODE_PERMISSION_BITS, rdev, umask: 0 };
        self.made(&mut op, self.call(dir.nodeid, &mknod, Flavor::Client)?)
    }

    /// Makes `linkpath` a symbolic link to `target` (`SYMLINK`).
    pub fn symlink(&self, target: impl AsRef<Path>, linkpath: impl AsRef<Path>) -> Result<(), Errno> {
        let target = target.as_ref().as_os_str();
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.as_bytes().contains(&0) {
            return Err(Errno::EINVAL);
        }
        if target.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut op = self.enter()?;
        let (dir, name) = self.parent(&mut op, linkpath.as_ref(), Errno::EEXIST)?;
        self.made(&mut op, self.call(dir.nodeid, &Operation::Symlink { name: &name, target }, Flavor::Client)?)
    }

    /// The target of the symbolic link `path` (`READLINK`); `EINVAL` if it is no link.
    pub fn readlink(&self, path: impl AsRef<Path>) -> Result<OsString, Errno> {
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, path.as_ref(), false)?;
        if node.vattr.vtype != Vtype::Lnk {
            return Err(Errno::EINVAL);
        }
        Ok(OsString::from_vec(self.call(node.nodeid, &Operation::Readlink, Flavor::Client)?))
    }

    /// Makes `new` another name of the non-directory `existing` (`LINK`).
    pub fn link(&self, existing: impl AsRef<Path>, new: impl AsRef<Path>) -> Result<(), Errno> {
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, existing.as_ref(), false)?;
        if node.vattr.vtype == Vtype::Dir {
            return Err(Errno::EPERM);
        }
        let (dir, name) = self.parent(&mut op, new.as_ref(), Errno::EEXIST)?;
        let link = Operation::Link { oldnodeid: node.nodeid, name: &name };
        self.made(&mut op, self.call(dir.nodeid, &link, Flavor::Client)?)
    }

    /// Changes attributes of `path` (`chmod`, `chown`, `truncate`, `utimensat`: `SETATTR`);
    /// answers the attributes after the change.
    pub fn setattr(&self, path: impl AsRef<Path>, changes: &SetVattr) -> Result<Vattr, Errno> {
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, path.as_ref(), true)?;
        if changes.size.is_some() && node.vattr.vtype == Vtype::Dir {
            return Err(Errno::EISDIR);
        }
        attr_of(&self.call(node.nodeid, &Operation::Setattr(changes.clone()), Flavor::Client)?)
    }

    /// May the caller access `path` as `mode` asks (`access(2)`: `ACCESS`)? A file system
    /// without `node_access` allows everything, as FUSE does.
    pub fn access(&self, path: impl AsRef<Path>, mode: AccessFlags) -> Result<(), Errno> {
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, path.as_ref(), true)?;
        match self.call(node.nodeid, &Operation::Access { mode }, Flavor::Client) {
            Ok(body) => empty_of(&body),
            Err(Errno::ENOSYS) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Asks for a value of at most `XATTR_SIZE_MAX` bytes: its size first, then the value.
    fn sized<'n>(&self, nodeid: u64, ask: impl Fn(u32) -> Operation<'n>) -> Result<Vec<u8>, Errno> {
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

    /// The value of extended attribute `name` of `path` (`GETXATTR`, size first).
    pub fn getxattr(&self, path: impl AsRef<Path>, name: impl AsRef<OsStr>) -> Result<Vec<u8>, Errno> {
        let name = name.as_ref();
        check_xattr_name(name)?;
        let mut op = self.enter()?;
        let node = self.resolve(&mut op, path.as_ref(), true)?;
        self.sized(node.nodeid, |size| Operation::Getxattr { name, size })
    }

    /// Sets extended attribute `name` of `path` to `value` (`SETXATTR`).
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
        let set = Operation::Setxattr { name, value, flags };
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

    /// Statistics of the file system (`statvfs(2)`: `STATFS`). While the mount is
    /// [`Status::Mounting`] the answer is `EINPROGRESS`, without asking the file system (puffs:
    /// asking the server from inside its own `mount(2)` would deadlock).
    pub fn statvfs(&self) -> Result<StatVfs, Errno> {
        if self.status() == Status::Mounting {
            return Err(Errno::EINPROGRESS);
        }
        let _op = self.enter()?;
        match decode_body(ReplyKind::Statfs, &self.call(ROOT_ID, &Operation::Statfs, Flavor::Client)?) {
            Some(ReplyBody::Statfs(st)) => Ok(statfs_from_wire(&st)),
            _ => Err(Errno::EIO),
        }
    }

    /// Writes everything to stable storage (`syncfs(2)`: `SYNCFS` → `fs_sync`). A file system
    /// without `fs_sync` has nothing to write, as FUSE takes `ENOSYS`.
    pub fn sync(&self) -> Result<(), Errno> {
        let _op = self.enter()?;
        match self.call(ROOT_ID, &Operation::Syncfs, Flavor::Client) {
            Ok(body) => empty_of(&body),
            Err(Errno::ENOSYS) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Tells the file system a suspension phase.
    fn tell_suspend(&self, phase: SuspendPhase) -> Result<(), Errno> {
        empty_of(&self.call(ROOT_ID, &Operation::PuffsSuspend { phase }, Flavor::Kernel)?)
    }

    /// Suspends the file system (puffs `puffs_suspendctl(SUSPEND_SUSPEND)`): new calls wait,
    /// the file system is told [`SuspendPhase::Start`], the calls in flight drain, and it is told
    /// [`SuspendPhase::Suspended`]. If they do not drain within the timeout it is told
    /// [`SuspendPhase::Error`], the mount goes back to normal and the answer is `ETIMEDOUT`.
    /// `EBUSY` if a suspension is under way or in place already.
    pub fn suspend(&self) -> Result<(), Errno> {
        self.wait_started()?;
        {
            let mut state = self.shared.lock();
            if state.suspension != Suspension::Normal {
                return Err(Errno::EBUSY);
            }
            state.suspension = Suspension::Suspending;
        }
        let started = self.tell_suspend(SuspendPhase::Start);
        let drained = started.and_then(|()| {
            let deadline = Instant::now() + self.shared.args.timeout;
            let mut state = self.shared.lock();
            loop {
                let in_flight = state.pending.values().any(|p| p.client);
                if state.active == 0 && !in_flight {
                    state.suspension = Suspension::Suspended;
                    return Ok(());
                }
                if matches!(state.status, Status::Dying | Status::Unmounted) {
                    return Err(Errno::ENXIO);
                }
                let (guard, in_time) = self.shared.wait_until(state, deadline);
                state = guard;
                if !in_time {
                    return Err(Errno::ETIMEDOUT);
                }
            }
        });
        match drained {
            Ok(()) => self.tell_suspend(SuspendPhase::Suspended),
            Err(e) => {
                let _ = self.tell_suspend(SuspendPhase::Error);
                self.shared.lock().suspension = Suspension::Normal;
                self.shared.changed.notify_all();
                Err(e)
            }
        }
    }

    /// Resumes normal operation (puffs `puffs_suspendctl(SUSPEND_RESUME)`): the file system is
    /// told [`SuspendPhase::Resume`], then the waiting calls go on, so that none reaches it
    /// before it heard of the resumption. Like puffs, resuming a mount that is not suspended
    /// only tells the file system.
    pub fn resume(&self) -> Result<(), Errno> {
        let told = self.tell_suspend(SuspendPhase::Resume);
        self.shared.lock().suspension = Suspension::Normal;
        self.shared.changed.notify_all();
        told
    }
}

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
    server: ServerInfo,
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

impl<F: FileSystem> std::ops::Deref for Loopback<F> {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
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
/// started ([`Status::Running`]). See [`mount_nowait`] for the steps and errors.
#[allow(clippy::type_complexity)]
pub fn mount<F: FileSystem>(
    usermount: Usermount<F, Unmounted>,
    args: MountArgs,
) -> Result<Loopback<F>, (Error, Usermount<F, Unmounted>)> {
    let loopback = mount_nowait(usermount, args)?;
    // A file system that never starts shows in every call (`ETIMEDOUT`, `ENXIO`); the mount
    // itself stands, so that unmount can hand the file system back.
    let _ = loopback.wait_started();
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
/// caches, and the main loop starts on its own thread: the mount is [`Status::Running`] once it
/// has answered. On failure the usermount comes back with the error.
#[allow(clippy::type_complexity)]
pub fn mount_nowait<F: FileSystem>(
    usermount: Usermount<F, Unmounted>,
    args: MountArgs,
) -> Result<Loopback<F>, (Error, Usermount<F, Unmounted>)> {
    use nix::sys::socket::{setsockopt, socketpair, sockopt, AddressFamily, SockFlag, SockType};

    let mut granted = match args.granted() {
        Ok(granted) => granted,
        Err(errno) => return Err((Error::new("loopback mount arguments", errno), usermount)),
    };
    let (kernel_end, fs_end) = match socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
    {
        Ok(pair) => pair,
        Err(errno) => return Err((Error::new("loopback socket pair", errno), usermount)),
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
        return Err((Error::new("loopback socket timeout", errno), usermount));
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
        Err(e) => return Err((spawn_error(&e), usermount)),
    };
    let abandon = |reader: JoinHandle<()>| {
        shared.lock().status = Status::Unmounted;
        let _ = nix::sys::socket::shutdown(shared.channel.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        let _ = reader.join();
    };
    let (start, started) = mpsc::channel::<Usermount<F, crate::Running>>();
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
            return Err((spawn_error(&e), usermount));
        }
    };

    let offered = init_flag::ASYNC_READ
        | init_flag::BIG_WRITES
        | init_flag::MAX_PAGES
        | init_flag::PARALLEL_DIROPS
        | init_flag::ABORT_ERROR
        | init_flag::EXPORT_SUPPORT
        | init_flag::CACHE_SYMLINKS
        | init_flag::NO_OPEN_SUPPORT
        | init_flag::NO_OPENDIR_SUPPORT
        | init_flag::POSIX_ACL
        | init_flag::DONT_MASK;
    let init = Operation::Init(abi::InitIn {
        major: abi::KERNEL_VERSION,
        minor: abi::KERNEL_MINOR_VERSION,
        max_readahead: 1 << 17,
        flags: offered as u32,
        flags2: (offered >> 32) as u32,
    });
    let init_unique = match client.send(0, &init, Flavor::Kernel) {
        Ok(unique) => unique,
        Err(errno) => {
            abandon(reader);
            let _ = fs_thread.join();
            return Err((Error::new("send INIT", errno), usermount));
        }
    };
    let usermount = usermount.max_request_len(granted.max_request_len).cookie_hash_buckets(granted.cookie_hash_buckets);
    let mounted = match usermount.mount_on_channel(Channel::new(fs_end), granted.root_cookie, &granted.fs_name) {
        Ok(mounted) => mounted,
        Err((error, usermount)) => {
            abandon(reader);
            let _ = fs_thread.join();
            return Err((error, usermount));
        }
    };
    let running = mounted.start();
    let notifier = running.notifier();
    let server = ServerInfo {
        granted_request_len: running.granted_request_len(),
        cookie_hash_buckets: running.cookie_hash_buckets_granted(),
        max_write: running.max_write(),
        protocol: running.protocol(),
    };
    // The thread is parked on `started` and only ends without the usermount if it panicked.
    let _ = start.send(running);
    let loopback = Loopback {
        client,
        reader: Some(reader),
        fs: Some(FsThread { handle: fs_thread, done: Mutex::new(done) }),
        notifier,
        server,
    };

    // The kernel's side of the handshake: the reply must be readable and speak our major.
    let init_reply = loopback.client.wait(init_unique).and_then(|body| match decode_body(ReplyKind::Init, &body) {
        Some(ReplyBody::Init(out)) if out.major == abi::KERNEL_VERSION && out.max_write > 0 => Ok(out),
        _ => Err(Errno::EPROTO),
    });
    match init_reply {
        Ok(out) => loopback.shared.lock().max_write = out.max_write,
        Err(_) => {
            loopback.client.abort();
            return Ok(loopback);
        }
    }
    // The root node, cached for the life of the mount (puffs_root); its answer starts the mount.
    let root_unique = loopback.shared.next_unique.fetch_add(1, Ordering::Relaxed);
    {
        let mut state = loopback.shared.lock();
        state.pending.insert(root_unique, Pending { outcome: None, client: false, abandoned: false, root: true });
        *state.sent.entry(abi::opcode::GETATTR).or_default() += 1;
    }
    let getattr = Operation::Getattr { fh: None }.encode(loopback.client.header(ROOT_ID, root_unique));
    if loopback.shared.channel.send(&[&getattr]).is_err() {
        loopback.client.abort();
    }
    Ok(loopback)
}

/// What a caller sees of an extended-attribute operation the file system does not implement:
/// `EOPNOTSUPP`, as Linux answers once FUSE said `ENOSYS`.
fn xattr_errno(errno: Errno) -> Errno {
    if errno == Errno::ENOSYS {
        Errno::EOPNOTSUPP
    } else {
        errno
    }
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
    Error::new("start a loopback thread", Errno::from_raw(e.raw_os_error().unwrap_or(Errno::EAGAIN as i32)))
}

impl<F: FileSystem> Loopback<F> {
    /// Another client of this mount, for other threads; it outlives the mount (its calls then
    /// fail with `ENXIO`).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The file system's own notifier (as [`Usermount::notifier`] gives it): its
    /// [`unmount`](Notifier::unmount) is puffs's `puffs_exit`, which makes the mount
    /// [`Status::Dying`].
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// What the usermount's side runs with, as it reported after mount.
    pub fn server_info(&self) -> ServerInfo {
        self.server
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
        {
            let mut state = shared.lock();
            shared.release_waiters(&mut state, Status::Unmounted, Errno::ENXIO);
        }
        let _ = nix::sys::socket::shutdown(shared.channel.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let fs = self.fs.take().expect("taken only here and in drop");
        match fs.done.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv_timeout(shared.args.timeout) {
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(UnmountError::Lost(Error::new("wait for the file system's main loop", Errno::ETIMEDOUT)))
            }
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {}
        }
        match fs.handle.join() {
            Ok(Some(Ok(fs))) => Ok(fs),
            Ok(Some(Err(error))) => Err(UnmountError::Lost(error)),
            Ok(None) | Err(_) => {
                Err(UnmountError::Lost(Error::new("the file system's main loop panicked", Errno::EIO)))
            }
        }
    }
}

impl<F: FileSystem> Drop for Loopback<F> {
    fn drop(&mut self) {
        let Some(fs) = self.fs.take() else { return };
        {
            let shared = &self.client.shared;
            let mut state = shared.lock();
            shared.release_waiters(&mut state, Status::Unmounted, Errno::ENXIO);
        }
        let _ = nix::sys::socket::shutdown(self.client.shared.channel.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        if fs
            .done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .recv_timeout(self.client.shared.args.timeout)
            .is_ok()
            || fs.handle.is_finished()
        {
            let _ = fs.handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::OwnedFd;

    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

    use super::*;
    use crate::fuse::abi::OutHeader;
    use crate::fuse::reply::Reply;

    /// A running kernel side whose file-system end the test plays by hand.
    fn kernel() -> (Client, OwnedFd) {
        let (ours, theirs) =
            socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).expect("socketpair");
        let args = MountArgs { timeout: Duration::from_millis(50), ..MountArgs::new("t", Cookie(1)) };
        let shared = Arc::new(Shared {
            channel: Channel::new(ours),
            state: Mutex::new(State::new()),
            changed: Condvar::new(),
            next_unique: AtomicU64::new(2),
            args,
        });
        shared.lock().status = Status::Running;
        (Client { shared, cred: Cred::ROOT }, theirs)
    }

    fn lookup(client: &Client) -> u64 {
        client.send(ROOT_ID, &Operation::Lookup { name: OsStr::new("x") }, Flavor::Client).expect("send")
    }

    fn frame(unique: u64, error: i32, body: &[u8]) -> Vec<u8> {
        let mut frame = Vec::new();
        OutHeader { len: (OutHeader::SIZE + body.len()) as u32, error, unique }.encode(&mut frame);
        frame.extend_from_slice(body);
        frame
    }

    #[test]
    fn malformed_replies_answer_eio_and_unroutable_ones_are_counted() {
        let (client, _peer) = kernel();
        let unique = lookup(&client);
        let mut long = frame(unique, 0, &[0; 8]);
        long[0] = 99;
        client.shared.deliver(&long);
        assert_eq!(client.wait(unique), Err(Errno::EIO), "length differs from the frame");
        let unique = lookup(&client);
        client.shared.deliver(&frame(unique, 5, &[]));
        assert_eq!(client.wait(unique), Err(Errno::EIO), "a positive error");
        let unique = lookup(&client);
        client.shared.deliver(&frame(unique, -(Errno::EACCES as i32), &[1, 2]));
        assert_eq!(client.wait(unique), Err(Errno::EIO), "an error with a body");
        let unique = lookup(&client);
        client.shared.deliver(&frame(unique, 0, &[0; 10]));
        let body = client.wait(unique).expect("a well-framed reply");
        assert_eq!(entry_of(&body), Err(Errno::EIO), "a body that does not fit a lookup");
        let unique = lookup(&client);
        client.shared.deliver(&Reply::error(unique, Errno::ENOENT as i32));
        assert_eq!(client.wait(unique), Err(Errno::ENOENT), "the file system's errno");
        // Garbage, a stranger's reply and a notification touch no waiter.
        let unique = lookup(&client);
        client.shared.deliver(&[1, 2, 3]);
        client.shared.deliver(&frame(unique + 1000, 0, &[]));
        client.shared.deliver(&frame(0, abi::notify::INVAL_INODE, &[0; 24]));
        assert_eq!(client.unroutable_replies(), 2);
        assert_eq!(client.wait(unique), Err(Errno::ETIMEDOUT), "bounded: no answer came");
        // The late answer to an abandoned request is dropped quietly.
        client.shared.deliver(&Reply::new(unique, 0).finish());
        assert_eq!(client.unroutable_replies(), 2);
        assert!(client.shared.lock().pending.is_empty());
    }

    #[test]
    fn a_closed_peer_releases_waiters_with_enxio() {
        let (client, peer) = kernel();
        let unique = lookup(&client);
        drop(peer);
        client.shared.peer_gone();
        assert_eq!(client.wait(unique), Err(Errno::ENXIO));
        assert_eq!(client.status(), Status::Dying);
        assert_eq!(client.stat(""), Err(Errno::ENXIO));
        assert_eq!(lookup_result(&client), Err(Errno::ENXIO));
    }

    fn lookup_result(client: &Client) -> Result<u64, Errno> {
        client.send(ROOT_ID, &Operation::Lookup { name: OsStr::new("x") }, Flavor::Client)
    }

    #[test]
    fn paths_split_into_checked_components() {
        assert_eq!(components(Path::new("/a//b/")).unwrap(), vec![OsString::from("a"), OsString::from("b")]);
        assert!(components(Path::new("")).unwrap().is_empty());
        assert_eq!(components(Path::new(OsStr::from_bytes(&[b'a', 0, b'b']))), Err(Errno::EINVAL));
        assert_eq!(components(Path::new(&"x".repeat(256))), Err(Errno::ENAMETOOLONG));
    }
}
