//! The [`Client`] every test body takes: a file system driven by path, whichever kernel is
//! beneath, and the time bound on a body.

use std::sync::mpsc;
use std::time::Duration;

use puffs::{Errno, StatVfs, Vtype};

/// How long one test body may run before its mount is aborted and the test fails.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// The result of a client call: a value or the errno the kernel gave.
pub type Outcome<T> = Result<T, Errno>;

/// What `stat` tells about a node (`lstat`: a final symbolic link is not followed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub vtype: Vtype,
    /// Permission bits.
    pub mode: u32,
    pub nlink: u64,
    pub size: u64,
    pub uid: u32,
    pub gid: u32,
    pub ino: u64,
    /// The device number of a device node.
    pub rdev: u64,
    /// Bytes allocated (`st_blocks` × 512).
    pub allocated: u64,
}

/// A file system seen by path, relative to its root ("" is the root).
pub trait Client: Sync {
    /// Which kernel answers: "real" or "loopback".
    fn kernel(&self) -> &'static str;
    /// Creates or truncates `path` (mode 0644) and writes `data` to it.
    fn write_file(&self, path: &str, data: &[u8]) -> Outcome<()>;
    /// Writes `data` at `offset` of the existing file `path`.
    fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> Outcome<()>;
    /// The whole content of `path`.
    fn read_file(&self, path: &str) -> Outcome<Vec<u8>>;
    /// At most `len` bytes of `path` from `offset`.
    fn read_at(&self, path: &str, offset: u64, len: usize) -> Outcome<Vec<u8>>;
    fn stat(&self, path: &str) -> Outcome<Stat>;
    /// The names in directory `path`, sorted, without `.` and `..`.
    fn list(&self, path: &str) -> Outcome<Vec<String>>;
    fn mkdir(&self, path: &str, mode: u32) -> Outcome<()>;
    fn rmdir(&self, path: &str) -> Outcome<()>;
    fn unlink(&self, path: &str) -> Outcome<()>;
    fn rename(&self, from: &str, to: &str) -> Outcome<()>;
    /// `renameat2(2)` with `flags`.
    fn rename_with(&self, from: &str, to: &str, flags: puffs::RenameFlags) -> Outcome<()>;
    /// `mknod(2)`: a device, FIFO, socket or regular file.
    fn mknod(&self, path: &str, vtype: Vtype, mode: u32, rdev: u64) -> Outcome<()>;
    fn symlink(&self, target: &str, path: &str) -> Outcome<()>;
    fn readlink(&self, path: &str) -> Outcome<String>;
    fn link(&self, existing: &str, new: &str) -> Outcome<()>;
    fn chmod(&self, path: &str, mode: u32) -> Outcome<()>;
    fn truncate(&self, path: &str, size: u64) -> Outcome<()>;
    fn set_xattr(&self, path: &str, name: &str, value: &[u8]) -> Outcome<()>;
    fn get_xattr(&self, path: &str, name: &str) -> Outcome<Vec<u8>>;
    /// Attribute names, sorted.
    fn list_xattr(&self, path: &str) -> Outcome<Vec<String>>;
    fn remove_xattr(&self, path: &str, name: &str) -> Outcome<()>;
    fn statvfs(&self) -> Outcome<StatVfs>;
    /// `fallocate(2)` of the existing file `path`, opened for writing.
    fn fallocate(&self, path: &str, mode: puffs::FallocateFlags, offset: u64, len: u64) -> Outcome<()>;
    /// `lseek(2)` with `SEEK_DATA` or `SEEK_HOLE` in `path`, opened for reading.
    fn seek(&self, path: &str, offset: u64, whence: puffs::SeekWhence) -> Outcome<u64>;
    /// `copy_file_range(2)` of up to `len` bytes from `from` at `from_offset` to the existing
    /// file `to` at `to_offset`; answers how many were copied.
    fn copy_range(&self, from: &str, from_offset: u64, to: &str, to_offset: u64, len: u64) -> Outcome<u64>;
    /// `open(2)` of directory `dir` with `O_TMPFILE | O_RDWR` (mode 0600); writes `data` and
    /// reads it back through that descriptor, then, with `link_as`, gives the file that name
    /// (`linkat(2)` of the descriptor). Answers what was read back.
    fn tmpfile(&self, dir: &str, data: &[u8], link_as: Option<&str>) -> Outcome<Vec<u8>>;
    /// The birth time `statx(2)` reports for `path`, if any.
    fn birth_time(&self, path: &str) -> Outcome<Option<std::time::SystemTime>>;
    /// `ioctl(2)` of `command` on `path` opened read-only (a file or a directory): `data` is
    /// the argument buffer for a command that moves data, else `arg` is passed as a number.
    /// Answers what `ioctl` returns.
    fn ioctl(&self, path: &str, command: u32, arg: u64, data: &mut [u8]) -> Outcome<i32>;
    /// Makes every pending and later call fail instead of waiting: used when a body hangs.
    fn abort(&self);
}

/// Runs `body` on `client`, failing the test if it takes longer than [`BODY_TIMEOUT`]: the
/// client is aborted so that the body's blocked calls return, and the test panics.
pub fn bounded<C: Client>(client: &C, body: impl FnOnce(&C) + Send) {
    std::thread::scope(|scope| {
        let (done, finished) = mpsc::channel();
        let runner = scope.spawn(move || {
            body(client);
            let _ = done.send(());
        });
        let timed_out = matches!(finished.recv_timeout(BODY_TIMEOUT), Err(mpsc::RecvTimeoutError::Timeout));
        if timed_out {
            client.abort();
        }
        if let Err(panic) = runner.join() {
            std::panic::resume_unwind(panic);
        }
        assert!(!timed_out, "the test body did not finish within {BODY_TIMEOUT:?} on the {} kernel", client.kernel());
    });
}

/// Polls `cond` until it holds, failing the test after ten seconds: for what the kernel does
/// on its own time (forgets, reclaims, notifications read by another thread).
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "{what} did not happen within ten seconds");
        std::thread::sleep(Duration::from_millis(5));
    }
}
