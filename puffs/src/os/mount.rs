//! Mounting and unmounting a FUSE file system on Linux: with `mount(2)` and `umount2(2)` where
//! the process may, through the helper `fusermount3` otherwise (see [`crate::os::fusermount`]).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{getegid, geteuid};

use crate::error::io_errno;
use crate::error::Error;
use crate::os::auto_unmount::Watchdog;
use crate::os::fusermount;
use crate::os::mount_table;
use crate::settings::{MountFlags, Settings};

/// The FUSE device.
pub(crate) const FUSE_DEVICE: &str = "/dev/fuse";

/// Mounts the FUSE device on `dir` as `settings` ask, with `flags` (the caller's and the
/// options' together): directly with `mount(2)` when the process may (root, or
/// `CAP_SYS_ADMIN`), through the helper `fusermount3` otherwise. Answers the device and who
/// unmounts.
pub(crate) fn fuse_mount(dir: &Path, settings: &Settings, flags: MountFlags) -> Result<(OwnedFd, Unmounter), Error> {
    match mount_directly(dir, settings, flags) {
        Ok(fd) => return Ok((fd, Unmounter::Kernel)),
        // Not privileged (mount(2) refused, or /dev/fuse is root's only): the helper can.
        Err(Errno::EPERM | Errno::EACCES) if !geteuid().is_root() => {}
        Err(errno) => return Err(Error::new(format!("mount {}", dir.display()), errno)),
    }
    if settings.options.allow_other && !geteuid().is_root() && !fusermount::user_allow_other() {
        return Err(Error::new(
            format!(
                "mount {}: option allow_other lets other users in, which a user who is not root may \
                 ask for only where {} has a line `user_allow_other` (ask the administrator), or \
                 mount without allow_other",
                dir.display(),
                fusermount::FUSE_CONF
            ),
            Errno::EPERM,
        ));
    }
    Ok((fusermount::mount(dir, &helper_options(settings, flags))?, Unmounter::Helper))
}

/// Opens `/dev/fuse` and mounts it on `dir` with `mount(2)`; answers the device descriptor.
fn mount_directly(dir: &Path, settings: &Settings, flags: MountFlags) -> Result<OwnedFd, Errno> {
    let fd = open(FUSE_DEVICE, OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())?;
    let mut data = format!(
        "fd={},rootmode={:o},user_id={},group_id={}",
        fd.as_raw_fd(),
        settings.root_vtype.to_mode_bits(),
        geteuid(),
        getegid()
    );
    if settings.options.allow_other {
        data.push_str(",allow_other");
    }
    if settings.options.default_permissions {
        data.push_str(",default_permissions");
    }
    let fstype = format!("fuse.{}", settings.name);
    mount(Some(settings.source()), dir, Some(fstype.as_str()), flags.to_ms_flags(), Some(data.as_str()))?;
    Ok(fd)
}

/// The helper's `-o` list for `settings` and `flags`: the same mount, in the helper's words
/// (it finds the root mode from the mount point and the user from who runs it).
fn helper_options(settings: &Settings, flags: MountFlags) -> String {
    let mut options = vec![
        format!("fsname={}", fusermount::escape_option_value(settings.source())),
        format!("subtype={}", fusermount::escape_option_value(&settings.name)),
    ];
    options.extend(flags.option_names().into_iter().map(str::to_string));
    if settings.options.allow_other {
        options.push("allow_other".into());
    }
    if settings.options.default_permissions {
        options.push("default_permissions".into());
    }
    options.join(",")
}

/// Who undoes a mount: the process itself with `umount2(2)`, or the helper `fusermount3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unmounter {
    /// `umount2(2)` by this process.
    Kernel,
    /// `fusermount3 -u`.
    Helper,
}

/// The mount a usermount made, told apart from anything else mounted at the same place: by its
/// mount id and its FUSE device, read from the mount table right after `mount(2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MountIdentity {
    id: u64,
    dev: (u32, u32),
}

/// A mount that is undone when dropped, and only if it is still there: the mount point of a
/// live FUSE mount and the identity of the mount made on it.
///
/// Unmounting checks the mount table first: once the kernel ended the mount (`umount` from
/// outside, or the mount was detached), what is at the mount point now is somebody else's (a
/// tmpfs beneath, a later mount) and is left alone.
#[derive(Debug)]
pub(crate) struct MountGuard {
    dir: PathBuf,
    identity: Option<MountIdentity>,
    unmounter: Unmounter,
    /// The `auto_unmount` watchdog, let go once the mount is undone or found gone.
    watchdog: Mutex<Option<Watchdog>>,
    done: AtomicBool,
    /// The connection's `abort` file in the fusectl file system, opened when the mount was
    /// made (root only). Opened then, it stays bound to this connection: once the connection
    /// is gone, writing to it does nothing, even if a later mount gets the same number.
    abort: Option<std::fs::File>,
}

impl MountGuard {
    /// The guard of the FUSE mount of type `fstype` just made on `dir`, undone by `unmounter`.
    pub(crate) fn identify(dir: PathBuf, fstype: &str, unmounter: Unmounter) -> MountGuard {
        let table = mount_table::read().unwrap_or_default();
        let identity = mount_table::top_at(&table, &dir)
            .filter(|entry| entry.fstype == fstype)
            .map(|entry| MountIdentity { id: entry.id, dev: entry.dev });
        if identity.is_none() {
            log::warn!("the mount on {} is not in the mount table: it will not be unmounted by puffs", dir.display());
        }
        let abort = identity.and_then(|identity| {
            let path = format!("/sys/fs/fuse/connections/{}/abort", mount_table::fuse_connection(identity.dev));
            std::fs::OpenOptions::new().write(true).open(path).ok()
        });
        MountGuard { dir, identity, unmounter, watchdog: Mutex::new(None), done: AtomicBool::new(false), abort }
    }

    /// Starts the `auto_unmount` watchdog: if this process ends without undoing the mount,
    /// the watchdog does.
    pub(crate) fn arm_auto_unmount(&self) -> Result<(), Error> {
        let Some(identity) = self.identity else {
            return Err(Error::new(
                format!("auto_unmount of {}: the mount is not in the mount table", self.dir.display()),
                Errno::ENOENT,
            ));
        };
        let watchdog = Watchdog::start(&self.dir, identity.id, identity.dev)?;
        *self.watchdog.lock().unwrap_or_else(|p| p.into_inner()) = Some(watchdog);
        Ok(())
    }

    /// Lets the watchdog go, if any: the mount was undone or is gone.
    fn release_watchdog(&self) {
        drop(self.watchdog.lock().unwrap_or_else(|p| p.into_inner()).take());
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the mount made is still the one visible at the mount point.
    pub(crate) fn is_present(&self) -> bool {
        let Some(identity) = self.identity else { return false };
        let table = mount_table::read().unwrap_or_default();
        mount_table::top_at(&table, &self.dir).is_some_and(|e| e.id == identity.id && e.dev == identity.dev)
    }

    /// Whether [`abort_connection`](MountGuard::abort_connection) can end the connection: the
    /// fusectl file system showed it when the mount was made, and this process could open its
    /// `abort` file (root).
    pub(crate) fn can_abort_connection(&self) -> bool {
        self.abort.is_some()
    }

    /// Ends the FUSE connection of the mount at once, where the fusectl file system is mounted
    /// (`/sys/fs/fuse/connections/N/abort`): every waiting and later request fails with
    /// `ENOTCONN`, and the server's reads with `ENODEV`; also once the mount was detached with
    /// clients still inside. Without fusectl, or for a user who is not root, the connection
    /// ends when the server closes `/dev/fuse`.
    pub(crate) fn abort_connection(&self) {
        use std::io::Write;
        if let Some(mut file) = self.abort.as_ref() {
            if let Err(e) = file.write_all(b"1") {
                log::warn!("abort the FUSE connection of {}: {e}", self.dir.display());
            }
        }
    }

    /// Detaches the mount if it is still the one at the mount point; afterwards, never again.
    /// Answers whether it detached it.
    pub(crate) fn unmount(&self) -> Result<bool, Error> {
        if self.done.load(Ordering::Acquire) {
            return Ok(false);
        }
        if !self.is_present() {
            self.done.store(true, Ordering::Release);
            self.release_watchdog();
            return Ok(false);
        }
        // Detached (lazily): clients still inside keep the file system until they let go.
        match self.unmounter {
            Unmounter::Kernel => match umount2(&self.dir, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW) {
                Ok(()) | Err(Errno::EINVAL) => {}
                Err(e) => return Err(Error::new(format!("unmount {}", self.dir.display()), e)),
            },
            Unmounter::Helper => fusermount::unmount(&self.dir)?,
        }
        self.done.store(true, Ordering::Release);
        self.release_watchdog();
        Ok(true)
    }
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        if let Err(e) = self.unmount() {
            log::warn!("{e}");
        }
    }
}

/// Checks that nothing FUSE is mounted on `dir` already, live or dead: mounting on top would
/// hide it, and a dead one (its server gone: `Transport endpoint is not connected`) needs
/// cleaning first. The error says what is there and what to do.
pub(crate) fn check_mount_point(dir: &Path) -> Result<(), Error> {
    let table = mount_table::read().unwrap_or_default();
    let Some(entry) = mount_table::top_at(&table, dir).filter(|e| e.is_fuse()) else { return Ok(()) };
    let state = match probe(dir) {
        Some(Ok(())) => "a live one, served by a running program",
        Some(Err(Errno::ENOTCONN)) => "a dead one: its server has gone (Transport endpoint is not connected)",
        Some(Err(_)) | None => "one whose server does not answer",
    };
    Err(Error::new(
        format!(
            "mount {dir}: {dir} already carries a FUSE mount ({fstype}, source `{source}`), {state}; \
             unmount it first with `fusermount3 -u {dir}` (or `umount -l {dir}` as root)",
            dir = dir.display(),
            fstype = entry.fstype,
            source = entry.source,
        ),
        Errno::EBUSY,
    ))
}

/// Asks the server of the mount on `dir` for its root's attributes (`statx(2)` past the
/// kernel's cache), bounded by a second so that a hung server cannot hang the caller.
fn probe(dir: &Path) -> Option<Result<(), Errno>> {
    use std::os::unix::ffi::OsStrExt;
    let (tell, told) = std::sync::mpsc::channel();
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    std::thread::Builder::new()
        .name("puffs-probe".into())
        .spawn(move || {
            let mut stx = std::mem::MaybeUninit::<nix::libc::statx>::uninit();
            // SAFETY: `path` is NUL-terminated and `stx` is writable memory of the right size.
            let rc = unsafe {
                nix::libc::statx(
                    nix::libc::AT_FDCWD,
                    path.as_ptr(),
                    nix::libc::AT_STATX_FORCE_SYNC,
                    nix::libc::STATX_MODE,
                    stx.as_mut_ptr(),
                )
            };
            let _ = tell.send(Errno::result(rc).map(drop));
        })
        .ok()?;
    told.recv_timeout(std::time::Duration::from_secs(1)).ok()
}

/// The absolute, resolved mount point for `dir`. A dead FUSE mount cannot be resolved (its
/// `stat` fails), so the check for one comes first where resolving fails.
pub(crate) fn resolve_mount_point(dir: &Path) -> Result<PathBuf, Error> {
    let failed = |e: std::io::Error| Error::new(format!("mount point {}", dir.display()), io_errno(&e));
    match std::fs::canonicalize(dir) {
        Ok(resolved) => {
            check_mount_point(&resolved)?;
            Ok(resolved)
        }
        Err(e) => {
            let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if let (Ok(parent), Some(name)) = (std::fs::canonicalize(parent), dir.file_name()) {
                check_mount_point(&parent.join(name))?;
            }
            Err(failed(e))
        }
    }
}

/// Each mount flag: ours, `mount(2)`'s, and its `mount -o` name.
const MOUNT_FLAGS: [(MountFlags, MsFlags, &str); 7] = [
    (MountFlags::RDONLY, MsFlags::MS_RDONLY, "ro"),
    (MountFlags::NOSUID, MsFlags::MS_NOSUID, "nosuid"),
    (MountFlags::NODEV, MsFlags::MS_NODEV, "nodev"),
    (MountFlags::NOEXEC, MsFlags::MS_NOEXEC, "noexec"),
    (MountFlags::SYNCHRONOUS, MsFlags::MS_SYNCHRONOUS, "sync"),
    (MountFlags::NOATIME, MsFlags::MS_NOATIME, "noatime"),
    (MountFlags::DIRSYNC, MsFlags::MS_DIRSYNC, "dirsync"),
];

impl MountFlags {
    /// The flags as `mount -o` names them (`ro`, `nosuid` …), for the helper.
    pub(crate) fn option_names(self) -> Vec<&'static str> {
        MOUNT_FLAGS.iter().filter(|(ours, _, _)| self.contains(*ours)).map(|(_, _, name)| *name).collect()
    }

    /// The flags for `mount(2)`.
    pub(crate) fn to_ms_flags(self) -> MsFlags {
        MOUNT_FLAGS
            .iter()
            .filter(|(ours, _, _)| self.contains(*ours))
            .fold(MsFlags::empty(), |ms, (_, theirs, _)| ms | *theirs)
    }
}
