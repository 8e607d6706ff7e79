//! Advisory locks reach the file system (dtfs's `node_advlock`): byte-range locks contended by
//! two processes, `flock` locks by two open files, a waiting lock granted when the holder lets
//! go (at unlock or at close), and an interrupted wait ending with `EINTR`, on the loopback
//! kernel and on a real mount. The mounts run one worker thread: a waiting lock must not hold
//! it, or the release that lets it through could never be read.

mod common;

use std::time::{Duration, Instant};

use nix::libc;
use puffs::loopback::{self, MountArgs, Request};
use puffs::{Cred, Errno, FileLock, LockKind, MountFlags, OFlag, UnmountFlags, Usermount};
use puffs_examples::dtfs::Dtfs;

/// How long a granted wait may take to come back before the test calls it lost.
const BOUND: Duration = Duration::from_secs(10);

fn bytes(kind: LockKind, start: u64, end: u64) -> FileLock {
    FileLock { kind, start, end, pid: 0 }
}

fn loopback_dtfs() -> loopback::Loopback<Dtfs> {
    let usermount = Usermount::init(Dtfs::new(), "dtfs").threads(1);
    let args = MountArgs::of(&usermount, Dtfs::ROOT);
    loopback::mount(usermount, args).map_err(puffs::Error::from).expect("mount")
}

#[test]
fn byte_range_locks_contend_between_processes_on_the_loopback_kernel() {
    let mounted = loopback_dtfs();
    let a = mounted.client().with_cred(Cred { pid: 100, ..Cred::ROOT });
    let b = mounted.client().with_cred(Cred { pid: 200, ..Cred::ROOT });
    let fa = a.create("f", 0o644).unwrap();
    let fb = b.open("f", OFlag::O_RDWR, 0).unwrap();
    a.setlk(&fa, bytes(LockKind::Write, 0, 99), false).unwrap();
    assert_eq!(b.setlk(&fb, bytes(LockKind::Read, 50, 50), false), Err(Errno::EAGAIN));
    b.setlk(&fb, bytes(LockKind::Write, 100, 199), false).expect("the next bytes are free");
    let found = b.getlk(&fb, bytes(LockKind::Read, 0, 0)).unwrap();
    assert_eq!((found.kind, found.start, found.end, found.pid), (LockKind::Write, 0, 99, 100), "a's lock, by a's pid");
    assert_eq!(a.getlk(&fa, bytes(LockKind::Write, 0, 99)).unwrap().kind, LockKind::Unlock, "one's own lock");

    // b waits; a's unlock of part of its range lets b through.
    let waiting = {
        let (b, fb) = (b.clone(), b.open("f", OFlag::O_RDWR, 0).unwrap());
        std::thread::spawn(move || {
            let started = Instant::now();
            (b.setlk(&fb, bytes(LockKind::Write, 10, 19), true), started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    assert!(!waiting.is_finished(), "the wait waits");
    a.setlk(&fa, bytes(LockKind::Unlock, 5, 25), false).unwrap();
    let (granted, took) = waiting.join().unwrap();
    assert_eq!(granted, Ok(()));
    assert!(took < BOUND);
    assert_eq!(mounted.client().requests_sent(Request::Setlkw), 1);

    // Closing a's file releases the rest of a's locks (FLUSH with a's lock owner).
    a.close(fa).unwrap();
    b.setlk(&fb, bytes(LockKind::Write, 0, 4), false).expect("released at close");
    assert!(mounted.client().requests_sent(Request::Flush) >= 1);
    drop(fb);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).unwrap();
}

#[test]
fn an_interrupted_lock_wait_ends_with_eintr_on_the_loopback_kernel() {
    let mounted = loopback_dtfs();
    let a = mounted.client().with_cred(Cred { pid: 100, ..Cred::ROOT });
    let b = mounted.client().with_cred(Cred { pid: 200, ..Cred::ROOT });
    let fa = a.create("f", 0o644).unwrap();
    a.setlk(&fa, bytes(LockKind::Write, 0, FileLock::TO_END), false).unwrap();
    let waiting = {
        let (b, fb) = (b.clone(), b.open("f", OFlag::O_RDWR, 0).unwrap());
        std::thread::spawn(move || b.setlk(&fb, bytes(LockKind::Read, 0, 0), true))
    };
    let deadline = Instant::now() + BOUND;
    while mounted.client().requests_sent(Request::Setlkw) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(mounted.client().interrupt(), 1, "the wait was the one call waiting");
    assert_eq!(waiting.join().unwrap(), Err(Errno::EINTR));
    // The interrupted waiter is gone: unlocking grants nothing to it, and the mount goes on.
    a.setlk(&fa, bytes(LockKind::Unlock, 0, FileLock::TO_END), false).unwrap();
    assert_eq!(a.stat("f").unwrap().size, 0);
    drop(fa);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).unwrap();
}

#[test]
fn flock_is_held_by_the_open_file_on_the_loopback_kernel() {
    let mounted = loopback_dtfs();
    let c = mounted.client();
    let f1 = c.create("f", 0o644).unwrap();
    let f2 = c.open("f", OFlag::O_RDONLY, 0).unwrap();
    c.flock(&f1, LockKind::Write, false).unwrap();
    assert_eq!(c.flock(&f2, LockKind::Read, false), Err(Errno::EAGAIN), "another open file, same process");
    c.close(f1).unwrap();
    c.flock(&f2, LockKind::Write, false).expect("released at the last close of f1");
    drop(f2);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).unwrap();
}

/// A child process holding a write lock on `path`, bytes 0..=99, until told to exit.
struct Holder {
    pid: nix::unistd::Pid,
    release: std::os::fd::OwnedFd,
}

impl Holder {
    fn lock(path: &std::path::Path) -> Holder {
        use std::os::fd::AsRawFd;
        let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        let (ready_r, ready_w) = nix::unistd::pipe().unwrap();
        let (release_r, release_w) = nix::unistd::pipe().unwrap();
        // SAFETY: the child calls only async-signal-safe functions (open, fcntl, write, read,
        // _exit) on memory prepared before the fork.
        match unsafe { nix::unistd::fork() }.expect("fork") {
            nix::unistd::ForkResult::Child => unsafe {
                // The parent's ends: the read below sees end of file only once no write end
                // is left open, here included.
                libc::close(release_w.as_raw_fd());
                libc::close(ready_r.as_raw_fd());
                let fd = libc::open(path.as_ptr(), libc::O_RDWR);
                let mut fl: libc::flock = std::mem::zeroed();
                fl.l_type = libc::F_WRLCK as libc::c_short;
                fl.l_whence = libc::SEEK_SET as libc::c_short;
                fl.l_len = 100;
                let ok: u8 = if fd >= 0 && libc::fcntl(fd, libc::F_SETLK, &fl) == 0 { 1 } else { 0 };
                libc::write(ready_w.as_raw_fd(), (&ok as *const u8).cast(), 1);
                let mut byte = 0u8;
                libc::read(release_r.as_raw_fd(), (&mut byte as *mut u8).cast(), 1);
                libc::_exit(0)
            },
            nix::unistd::ForkResult::Parent { child } => {
                drop((ready_w, release_r));
                let mut ok = [0u8];
                assert_eq!(nix::unistd::read(&ready_r, &mut ok), Ok(1));
                assert_eq!(ok[0], 1, "the child took its lock");
                Holder { pid: child, release: release_w }
            }
        }
    }

    /// Lets the child exit (closing its file, which releases its lock) and reaps it.
    fn release(self) {
        drop(self.release);
        nix::sys::wait::waitpid(self.pid, None).expect("reap the child");
    }
}

/// `fcntl(2)` with a `struct flock` over `start..start + len` of `kind`.
fn fcntl_lock(file: &std::fs::File, cmd: libc::c_int, kind: libc::c_int, start: i64, len: i64) -> (i32, libc::flock) {
    use std::os::fd::AsRawFd;
    // SAFETY: a zeroed flock is valid; fcntl reads and writes only it.
    unsafe {
        let mut fl: libc::flock = std::mem::zeroed();
        fl.l_type = kind as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        fl.l_start = start;
        fl.l_len = len;
        let rc = libc::fcntl(file.as_raw_fd(), cmd, &mut fl);
        (if rc == 0 { 0 } else { Errno::last_raw() }, fl)
    }
}

extern "C" fn ignore(_: libc::c_int) {}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn locks_contend_wait_and_are_interrupted_on_a_real_mount() {
    locks_on_a_real_mount("");
}

/// Over io_uring a waiting lock request keeps its ring entry until the lock is granted, on
/// another thread: the queue gets a fresh entry meanwhile, and the late answer is committed by
/// the ring's worker.
#[test]
#[cfg_attr(puffs_no_io_uring, ignore = "needs root, /dev/fuse and FUSE over io_uring (enable_uring)")]
fn locks_contend_wait_and_are_interrupted_over_io_uring() {
    locks_on_a_real_mount("io_uring");
}

fn locks_on_a_real_mount(options: &str) {
    let _signals = common::hold_signals();
    let mount =
        common::RealMount::mount_threads(Dtfs::new(), "dtfs-locks", Dtfs::ROOT, MountFlags::empty(), options, 1);
    // A lost wait would block its thread for good: past the bound, the connection is aborted.
    common::bounded(&mount, |mount| real_mount_body(mount.dir()));
    mount.unmount();
}

fn real_mount_body(dir: &std::path::Path) {
    use nix::sys::signal::{pthread_sigmask, sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
    use std::os::unix::thread::JoinHandleExt;

    let path = dir.join("f");
    std::fs::write(&path, b"locked").unwrap();
    let open = || std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();

    // Another process holds bytes 0..=99: this one is refused, and is told who holds them.
    let holder = Holder::lock(&path);
    let file = open();
    assert_eq!(fcntl_lock(&file, libc::F_SETLK, libc::F_RDLCK, 50, 1).0, libc::EAGAIN);
    let (rc, found) = fcntl_lock(&file, libc::F_GETLK, libc::F_WRLCK, 0, 0);
    assert_eq!(rc, 0);
    assert_eq!((i32::from(found.l_type), found.l_start, found.l_len), (libc::F_WRLCK, 0, 100));
    assert_eq!(found.l_pid, holder.pid.as_raw(), "the holder's pid");
    assert_eq!(fcntl_lock(&file, libc::F_SETLK, libc::F_WRLCK, 100, 10).0, 0, "the next bytes are free");

    // A wait interrupted by a signal ends with EINTR.
    let action = SigAction::new(SigHandler::Handler(ignore), SaFlags::empty(), SigSet::empty());
    // SAFETY: the handler does nothing; the earlier action is restored below.
    let earlier = unsafe { sigaction(Signal::SIGUSR1, &action) }.expect("install a SIGUSR1 handler");
    let waiting = {
        let file = open();
        std::thread::spawn(move || {
            let mut only_usr1 = SigSet::empty();
            only_usr1.add(Signal::SIGUSR1);
            pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&only_usr1), None).unwrap();
            fcntl_lock(&file, libc::F_SETLKW, libc::F_WRLCK, 0, 1).0
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    assert!(!waiting.is_finished(), "the wait waits");
    nix::sys::pthread::pthread_kill(waiting.as_pthread_t(), Signal::SIGUSR1).expect("signal the waiting thread");
    let interrupted = waiting.join().unwrap();
    // SAFETY: restores what was there before this test.
    unsafe { sigaction(Signal::SIGUSR1, &earlier) }.expect("restore the SIGUSR1 action");
    assert_eq!(interrupted, libc::EINTR);

    // A wait is granted when the holder exits: its close releases its locks.
    let waiting = {
        let file = open();
        std::thread::spawn(move || {
            let started = Instant::now();
            (fcntl_lock(&file, libc::F_SETLKW, libc::F_WRLCK, 0, 100).0, started.elapsed(), file)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    assert!(!waiting.is_finished(), "the wait waits for the holder");
    holder.release();
    let (rc, took, waited) = waiting.join().unwrap();
    drop(waited);
    assert_eq!(rc, 0, "granted once the holder let go");
    assert!(took < BOUND);

    // flock: held by the open file, released by its last close.
    let (f1, f2) = (open(), open());
    let held =
        nix::fcntl::Flock::lock(f1, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|(_, e)| e).expect("flock");
    let f2 = match nix::fcntl::Flock::lock(f2, nix::fcntl::FlockArg::LockSharedNonblock) {
        Err((f2, e)) => {
            assert_eq!(e, Errno::EWOULDBLOCK, "another open file's exclusive lock");
            f2
        }
        Ok(_) => panic!("a shared flock beside an exclusive one"),
    };
    // Unlocked and closed: the release reaches the file system asynchronously.
    drop(held);
    let deadline = Instant::now() + BOUND;
    let mut f2 = f2;
    loop {
        match nix::fcntl::Flock::lock(f2, nix::fcntl::FlockArg::LockSharedNonblock) {
            Ok(_) => break,
            Err((back, e)) => {
                assert_eq!(e, Errno::EWOULDBLOCK);
                assert!(Instant::now() < deadline, "the flock was never released");
                std::thread::sleep(Duration::from_millis(10));
                f2 = back;
            }
        }
    }
    drop(file);
}
