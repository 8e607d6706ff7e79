//! Real FUSE mounts for tests: fresh mount points, a mount served on a thread of the test
//! ([`RealMount`], a [`Client`] through system calls), and cleanup that detaches only the
//! test's own mount.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::libc;
use nix::mount::{umount2, MntFlags};
use puffs::{
    Cookie, Errno, Error, FileSystem, MountFlags, MountInfo, MountOptions, Notifier, StatVfs, Transport, Usermount,
    Vtype,
};

use super::client::{Client, Outcome, Stat};

/// Fails the test unless real mounts can be made here. A real-mount test carries
/// `#[cfg_attr(puffs_cannot_mount, ignore = "…")]`, decided when the tests were built (see
/// `examples/build.rs`), so it shows as ignored where it cannot run; if it runs anyway (built
/// as root, run as another user), it fails instead of passing without mounting anything.
pub fn require_mount() {
    let why_not = if !Path::new("/dev/fuse").exists() {
        Some("/dev/fuse is missing")
    } else if !nix::unistd::geteuid().is_root() {
        Some("mount(2) needs root")
    } else {
        None
    };
    if let Some(reason) = why_not {
        panic!("this real-mount test cannot run: {reason} (tests built as root must run as root)");
    }
}

static MOUNT_SERIAL: AtomicUsize = AtomicUsize::new(0);

/// Unmounts `dir`, retrying for up to `patience` while it is busy: open files the kernel is
/// letting go of, or a program another test starts at that moment, which holds a copy of this
/// process's descriptors between its fork and its exec. Any other error ends it at once.
pub fn umount_when_idle(dir: &Path, patience: Duration) -> Result<(), Errno> {
    let deadline = Instant::now() + patience;
    loop {
        match umount2(dir, MntFlags::empty()) {
            Err(Errno::EBUSY) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            outcome => return outcome,
        }
    }
}

/// A fresh, empty directory to mount on.
pub fn mount_point(tag: &str) -> PathBuf {
    let serial = MOUNT_SERIAL.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("puffs-test-{tag}-{}-{serial}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the mount point");
    dir
}

/// Detaches the FUSE mount on `dir` if there is one, and only if it is of FUSE connection
/// `connection` when that is known: a test never unmounts what it did not mount (a tmpfs
/// beneath, another test's mount).
pub fn detach_fuse(dir: &Path, connection: Option<u64>) {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let table = puffs::mount_table::read().unwrap_or_default();
    let ours = puffs::mount_table::top_at(&table, &dir)
        .is_some_and(|e| e.is_fuse() && connection.is_none_or(|c| c == e.fuse_connection()));
    if ours {
        let _ = umount2(&dir, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW);
    }
}

/// The FUSE connection of the mount on `dir`, for aborting it
/// (`/sys/fs/fuse/connections/N/abort`).
pub fn fuse_connection(dir: &Path) -> Option<u64> {
    let dev = std::fs::metadata(dir).ok()?.dev();
    Some(nix::sys::stat::minor(dev) | (nix::sys::stat::major(dev) << 20))
}

/// Aborts FUSE connection `connection`: every waiting and later request fails with ENOTCONN.
pub fn abort_connection(connection: u64) {
    let _ = std::fs::write(format!("/sys/fs/fuse/connections/{connection}/abort"), "1");
}

/// Waits until a FUSE mount is (or is no longer) the mount visible at `dir`, for at most ten
/// seconds.
pub fn wait_mounted(dir: &Path, mounted: bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    let want = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    while Instant::now() < deadline {
        let table = puffs::mount_table::read().unwrap_or_default();
        let present = puffs::mount_table::top_at(&table, &want).is_some_and(|e| e.is_fuse());
        if present == mounted {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A fresh mount point, removed (and its FUSE mount detached, should a test fail while
/// mounted) when dropped. Dereferences to its path.
pub struct MountDir(PathBuf);

impl MountDir {
    /// A new mount point named after `tag` (see [`mount_point`]).
    pub fn new(tag: &str) -> MountDir {
        MountDir(mount_point(tag))
    }
}

impl std::ops::Deref for MountDir {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl Drop for MountDir {
    fn drop(&mut self) {
        // Only a FUSE mount made on this fresh directory is detached, never what lies beneath.
        detach_fuse(&self.0, None);
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// A file system mounted for real through `/dev/fuse` on a temporary directory, served by a
/// thread of this process. Dropping it unmounts (aborting the connection first if the file
/// system no longer answers), so a failing test leaves no mount behind.
pub struct RealMount<F: FileSystem> {
    dir: PathBuf,
    connection: Option<u64>,
    notifier: Notifier,
    info: MountInfo,
    server: Option<JoinHandle<Result<F, Error>>>,
}

impl<F: FileSystem> RealMount<F> {
    /// Mounts `fs` as `name` with mount options `options` (see [`require_mount`]).
    pub fn mount(fs: F, name: &str, root: Cookie, flags: MountFlags, options: &str) -> RealMount<F> {
        RealMount::mount_threads(fs, name, root, flags, options, 1)
    }

    /// [`mount`](RealMount::mount), served by `threads` worker threads.
    pub fn mount_threads(
        fs: F,
        name: &str,
        root: Cookie,
        flags: MountFlags,
        options: &str,
        threads: usize,
    ) -> RealMount<F> {
        require_mount();
        // Modes the tests expect assume the usual umask; a real mount applies the process's.
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
        let dir = mount_point(name);
        let options = MountOptions::parse(options).expect("mount options");
        let running = Usermount::init(fs, name)
            .handle_signals(false)
            .threads(threads)
            .mount_options(options)
            .mount(&dir, flags, root)
            .map_err(puffs::Error::from)
            .unwrap_or_else(|e| panic!("mount {name} on {}: {e}", dir.display()))
            .start();
        let notifier = running.notifier();
        let info = running.mount_info().clone();
        let server = std::thread::Builder::new()
            .name(format!("{name}-server"))
            .spawn(move || running.run())
            .expect("start the server thread");
        let connection = fuse_connection(&dir);
        RealMount { dir, connection, notifier, info, server: Some(server) }
    }

    /// The mount point.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How requests reach the file system: `/dev/fuse`, or io_uring (the `io_uring` option).
    pub fn transport(&self) -> Transport {
        self.info.transport
    }

    /// What the kernel granted at `INIT`.
    pub fn mount_info(&self) -> &MountInfo {
        &self.info
    }

    /// The running file system's notifier, for tests that change what the kernel caches.
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    fn path(&self, path: &str) -> PathBuf {
        if path.is_empty() {
            self.dir.clone()
        } else {
            self.dir.join(path)
        }
    }

    /// Unmounts and gives the file system back once its main loop has ended.
    pub fn unmount(mut self) -> F {
        // Busy for a moment while the kernel lets go of the last open files.
        if let Err(e) = umount_when_idle(&self.dir, Duration::from_secs(2)) {
            panic!("unmount {}: {e}", self.dir.display());
        }
        let server = self.server.take().expect("the server runs until unmount");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server.is_finished() {
            assert!(Instant::now() < deadline, "the main loop did not end after unmount");
            std::thread::sleep(Duration::from_millis(10));
        }
        server.join().expect("the server thread panicked").expect("the main loop failed")
    }
}

impl<F: FileSystem> Drop for RealMount<F> {
    fn drop(&mut self) {
        if self.server.is_some() {
            if let Some(connection) = self.connection {
                abort_connection(connection);
            }
            detach_fuse(&self.dir, self.connection);
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn errno(e: io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

fn cstring(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("no NUL in test paths")
}

fn libc_result(rc: libc::ssize_t) -> Outcome<usize> {
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(rc as usize)
    }
}

impl<F: FileSystem> Client for RealMount<F> {
    fn kernel(&self) -> &'static str {
        "real"
    }

    fn write_file(&self, path: &str, data: &[u8]) -> Outcome<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(self.path(path))
            .map_err(errno)?;
        io::Write::write_all(&mut file, data).map_err(errno)
    }

    fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> Outcome<()> {
        use std::os::unix::fs::FileExt;
        let file = std::fs::OpenOptions::new().write(true).open(self.path(path)).map_err(errno)?;
        file.write_all_at(data, offset).map_err(errno)
    }

    fn read_file(&self, path: &str) -> Outcome<Vec<u8>> {
        std::fs::read(self.path(path)).map_err(errno)
    }

    fn read_at(&self, path: &str, offset: u64, len: usize) -> Outcome<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let file = std::fs::File::open(self.path(path)).map_err(errno)?;
        let mut buf = vec![0; len];
        let mut done = 0;
        while done < len {
            match file.read_at(&mut buf[done..], offset + done as u64).map_err(errno)? {
                0 => break,
                n => done += n,
            }
        }
        buf.truncate(done);
        Ok(buf)
    }

    fn stat(&self, path: &str) -> Outcome<Stat> {
        let meta = std::fs::symlink_metadata(self.path(path)).map_err(errno)?;
        Ok(Stat {
            vtype: Vtype::from_mode_bits(meta.mode()).expect("a known file type"),
            mode: meta.permissions().mode() & 0o7777,
            nlink: meta.nlink(),
            size: meta.size(),
            uid: meta.uid(),
            gid: meta.gid(),
            ino: meta.ino(),
            rdev: meta.rdev(),
            allocated: meta.blocks() * 512,
        })
    }

    fn fallocate(&self, path: &str, mode: puffs::FallocateFlags, offset: u64, len: u64) -> Outcome<()> {
        let file = std::fs::OpenOptions::new().write(true).open(self.path(path)).map_err(errno)?;
        let mode = nix::fcntl::FallocateFlags::from_bits_retain(mode.bits() as libc::c_int);
        nix::fcntl::fallocate(&file, mode, offset as libc::off_t, len as libc::off_t)
    }

    fn seek(&self, path: &str, offset: u64, whence: puffs::SeekWhence) -> Outcome<u64> {
        let file = std::fs::File::open(self.path(path)).map_err(errno)?;
        let whence = match whence {
            puffs::SeekWhence::Data => nix::unistd::Whence::SeekData,
            puffs::SeekWhence::Hole => nix::unistd::Whence::SeekHole,
        };
        nix::unistd::lseek(&file, offset as libc::off_t, whence).map(|at| at as u64)
    }

    fn copy_range(&self, from: &str, from_offset: u64, to: &str, to_offset: u64, len: u64) -> Outcome<u64> {
        let source = std::fs::File::open(self.path(from)).map_err(errno)?;
        let dest = std::fs::OpenOptions::new().write(true).open(self.path(to)).map_err(errno)?;
        let (mut off_in, mut off_out) = (from_offset as libc::off_t, to_offset as libc::off_t);
        nix::fcntl::copy_file_range(&source, Some(&mut off_in), &dest, Some(&mut off_out), len as usize)
            .map(|n| n as u64)
    }

    fn tmpfile(&self, dir: &str, data: &[u8], link_as: Option<&str>) -> Outcome<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let flags = nix::fcntl::OFlag::O_TMPFILE | nix::fcntl::OFlag::O_RDWR;
        let fd = nix::fcntl::open(&self.path(dir), flags, nix::sys::stat::Mode::from_bits_truncate(0o600))?;
        let file = std::fs::File::from(fd);
        file.write_all_at(data, 0).map_err(errno)?;
        let mut back = vec![0; data.len() + 1];
        let n = file.read_at(&mut back, 0).map_err(errno)?;
        back.truncate(n);
        if let Some(name) = link_as {
            // Through /proc, which needs no privilege (AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH).
            let fd_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
            nix::unistd::linkat(
                nix::fcntl::AT_FDCWD,
                fd_path.as_str(),
                nix::fcntl::AT_FDCWD,
                &self.path(name),
                nix::fcntl::AtFlags::AT_SYMLINK_FOLLOW,
            )?;
        }
        Ok(back)
    }

    fn ioctl(&self, path: &str, command: u32, arg: u64, data: &mut [u8]) -> Outcome<i32> {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(self.path(path)).map_err(errno)?;
        // A command that moves no data takes its argument as a number, any other a buffer
        // (its size in the bits the x86 and Arm layout of `_IOC` gives it).
        let size = (command >> 16) & 0x3fff;
        let arg = if size == 0 { arg as libc::c_ulong } else { data.as_mut_ptr() as libc::c_ulong };
        assert!(data.len() >= size as usize, "the buffer must hold what the command declares");
        // SAFETY: a data-moving command reads and writes at most its declared size, which
        // `data` holds; the descriptor is open for the call.
        let result = unsafe { libc::ioctl(file.as_raw_fd(), command as libc::c_ulong, arg) };
        Errno::result(result)
    }

    fn birth_time(&self, path: &str) -> Outcome<Option<std::time::SystemTime>> {
        // std asks statx(2) for every field, the birth time included.
        let meta = std::fs::symlink_metadata(self.path(path)).map_err(errno)?;
        match meta.created() {
            Ok(born) => Ok(Some(born)),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(None),
            Err(e) => Err(errno(e)),
        }
    }

    fn list(&self, path: &str) -> Outcome<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(self.path(path)).map_err(errno)? {
            names.push(entry.map_err(errno)?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn mkdir(&self, path: &str, mode: u32) -> Outcome<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(mode).create(self.path(path)).map_err(errno)
    }

    fn rmdir(&self, path: &str) -> Outcome<()> {
        std::fs::remove_dir(self.path(path)).map_err(errno)
    }

    fn unlink(&self, path: &str) -> Outcome<()> {
        std::fs::remove_file(self.path(path)).map_err(errno)
    }

    fn rename(&self, from: &str, to: &str) -> Outcome<()> {
        std::fs::rename(self.path(from), self.path(to)).map_err(errno)
    }

    fn rename_with(&self, from: &str, to: &str, flags: puffs::RenameFlags) -> Outcome<()> {
        let (from, to) = (cstring(&self.path(from)), cstring(&self.path(to)));
        // SAFETY: both paths are NUL-terminated; AT_FDCWD with absolute paths.
        let rc = unsafe { libc::renameat2(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), flags.bits()) };
        libc_result(rc as libc::ssize_t).map(drop)
    }

    fn mknod(&self, path: &str, vtype: Vtype, mode: u32, rdev: u64) -> Outcome<()> {
        use nix::sys::stat::{Mode, SFlag};
        let kind = SFlag::from_bits_truncate(vtype.to_mode_bits() as libc::mode_t);
        nix::sys::stat::mknod(
            &self.path(path),
            kind,
            Mode::from_bits_truncate(mode as libc::mode_t),
            rdev as libc::dev_t,
        )
    }

    fn symlink(&self, target: &str, path: &str) -> Outcome<()> {
        std::os::unix::fs::symlink(target, self.path(path)).map_err(errno)
    }

    fn readlink(&self, path: &str) -> Outcome<String> {
        Ok(std::fs::read_link(self.path(path)).map_err(errno)?.to_string_lossy().into_owned())
    }

    fn link(&self, existing: &str, new: &str) -> Outcome<()> {
        std::fs::hard_link(self.path(existing), self.path(new)).map_err(errno)
    }

    fn chmod(&self, path: &str, mode: u32) -> Outcome<()> {
        std::fs::set_permissions(self.path(path), std::fs::Permissions::from_mode(mode)).map_err(errno)
    }

    fn truncate(&self, path: &str, size: u64) -> Outcome<()> {
        nix::unistd::truncate(&self.path(path), size as libc::off_t)
    }

    fn set_xattr(&self, path: &str, name: &str, value: &[u8]) -> Outcome<()> {
        let (path, name) = (cstring(&self.path(path)), CString::new(name).expect("no NUL"));
        // SAFETY: both strings are NUL-terminated and `value` is valid for its length.
        let rc = unsafe { libc::lsetxattr(path.as_ptr(), name.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
        libc_result(rc as libc::ssize_t).map(drop)
    }

    fn get_xattr(&self, path: &str, name: &str) -> Outcome<Vec<u8>> {
        let (path, name) = (cstring(&self.path(path)), CString::new(name).expect("no NUL"));
        let mut buf = vec![0u8; 64 * 1024];
        // SAFETY: both strings are NUL-terminated and `buf` is writable for its length.
        let rc = unsafe { libc::lgetxattr(path.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        buf.truncate(libc_result(rc)?);
        Ok(buf)
    }

    fn list_xattr(&self, path: &str) -> Outcome<Vec<String>> {
        let path = cstring(&self.path(path));
        let mut buf = vec![0u8; 64 * 1024];
        // SAFETY: `path` is NUL-terminated and `buf` is writable for its length.
        let rc = unsafe { libc::llistxattr(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        buf.truncate(libc_result(rc)?);
        let mut names: Vec<String> =
            buf.split(|&b| b == 0).filter(|n| !n.is_empty()).map(|n| String::from_utf8_lossy(n).into_owned()).collect();
        names.sort();
        Ok(names)
    }

    fn remove_xattr(&self, path: &str, name: &str) -> Outcome<()> {
        let (path, name) = (cstring(&self.path(path)), CString::new(name).expect("no NUL"));
        // SAFETY: both strings are NUL-terminated.
        let rc = unsafe { libc::lremovexattr(path.as_ptr(), name.as_ptr()) };
        libc_result(rc as libc::ssize_t).map(drop)
    }

    fn statvfs(&self) -> Outcome<StatVfs> {
        Ok(StatVfs::from(&nix::sys::statvfs::statvfs(&self.dir)?))
    }

    fn abort(&self) {
        if let Some(connection) = self.connection {
            abort_connection(connection);
        }
    }
}
