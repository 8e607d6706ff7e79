//! An interrupted call cancels its request: the operation sees the interruption in its context
//! and answers `EINTR`, which the caller gets. On the loopback kernel (`Client::interrupt`) and
//! on a real mount (a signal to the calling thread).

mod common;

use std::ffi::OsStr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use puffs::loopback::{self, MountArgs, Request};
use puffs::{
    puffs_fs, Context, Cookie, Errno, FileSystem, MountFlags, NewNode, Result, UnmountFlags, Usermount, Vattr, Vtype,
};

/// How long an operation waits for its interruption before giving up and succeeding: long
/// enough that a test that passes was interrupted, short enough that a failing one ends.
const PATIENCE: Duration = Duration::from_secs(20);

/// A directory in which `mkdir` waits until it is interrupted, then answers `EINTR`; it tells
/// the test when it starts waiting.
struct Waiter {
    waiting: std::sync::Mutex<mpsc::Sender<()>>,
}

const ROOT: Cookie = Cookie(1);

#[puffs_fs]
impl FileSystem for Waiter {
    fn node_lookup(&self, _dir: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        Err(Errno::ENOENT)
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        match node {
            ROOT => Ok(Vattr { nlink: 2, ..Vattr::new(Vtype::Dir, 0o777, 1) }),
            _ => Err(Errno::ENOENT),
        }
    }

    fn node_mkdir(&self, _dir: Cookie, _name: &OsStr, _mode: u32, ctx: &Context<'_>) -> Result<NewNode> {
        let _ = self.waiting.lock().unwrap().send(());
        if ctx.wait_interrupted(PATIENCE) {
            Err(Errno::EINTR)
        } else {
            Err(Errno::ETIMEDOUT)
        }
    }
}

fn waiter() -> (Waiter, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    (Waiter { waiting: std::sync::Mutex::new(tx) }, rx)
}

#[test]
fn an_interrupted_call_on_the_loopback_kernel_ends_with_eintr() {
    let (fs, waiting) = waiter();
    // The interrupt is read by a second worker while the first waits in mkdir.
    let usermount = Usermount::init(fs, "waiter").threads(2);
    let args = MountArgs::of(&usermount, ROOT);
    let mounted = loopback::mount(usermount, args).map_err(puffs::Error::from).expect("mount");
    let client = mounted.client().clone();
    let started = Instant::now();
    let call = std::thread::spawn(move || client.mkdir("d", 0o755));
    waiting.recv_timeout(Duration::from_secs(10)).expect("mkdir reached the file system");
    assert_eq!(mounted.client().interrupt(), 1, "one call was waiting");
    assert_eq!(call.join().unwrap(), Err(Errno::EINTR));
    assert!(started.elapsed() < PATIENCE / 2, "the interruption, not the patience, ended the call");
    assert_eq!(mounted.client().requests_sent(Request::Interrupt), 1);
    assert_eq!(mounted.client().interrupt(), 0, "nothing waits any more");
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).unwrap();
}

extern "C" fn ignore(_: nix::libc::c_int) {}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn a_signalled_system_call_on_a_real_mount_ends_with_eintr() {
    signalled_call_on_a_real_mount("");
}

/// Over io_uring the interrupt still comes through `/dev/fuse`, to the thread that serves it,
/// while the request waits on its ring.
#[test]
#[cfg_attr(puffs_no_io_uring, ignore = "needs root, /dev/fuse and FUSE over io_uring (enable_uring)")]
fn a_signalled_system_call_over_io_uring_ends_with_eintr() {
    signalled_call_on_a_real_mount("io_uring");
}

fn signalled_call_on_a_real_mount(options: &str) {
    let _signals = common::hold_signals();
    use nix::sys::signal::{pthread_sigmask, sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
    use std::os::unix::thread::JoinHandleExt;

    common::require_mount();
    let (fs, waiting) = waiter();
    // The interrupt is read by a second worker while the first waits in mkdir.
    let mount = common::RealMount::mount_threads(fs, "waiter", ROOT, MountFlags::empty(), options, 2);
    // A handler without SA_RESTART: the system call returns EINTR rather than starting over.
    let action = SigAction::new(SigHandler::Handler(ignore), SaFlags::empty(), SigSet::empty());
    // SAFETY: the handler does nothing; the earlier action is restored below.
    let earlier = unsafe { sigaction(Signal::SIGUSR1, &action) }.expect("install a SIGUSR1 handler");
    let dir = mount.dir().join("d");
    let started = Instant::now();
    let call = std::thread::spawn(move || {
        let mut only_usr1 = SigSet::empty();
        only_usr1.add(Signal::SIGUSR1);
        pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&only_usr1), None).unwrap();
        nix::unistd::mkdir(&dir, nix::sys::stat::Mode::from_bits_truncate(0o755))
    });
    waiting.recv_timeout(Duration::from_secs(10)).expect("mkdir reached the file system");
    nix::sys::pthread::pthread_kill(call.as_pthread_t(), Signal::SIGUSR1).expect("signal the calling thread");
    let outcome = call.join().unwrap();
    // SAFETY: restores what was there before this test.
    unsafe { sigaction(Signal::SIGUSR1, &earlier) }.expect("restore the SIGUSR1 action");
    assert_eq!(outcome, Err(Errno::EINTR));
    assert!(started.elapsed() < PATIENCE / 2, "the interruption, not the patience, ended the call");
    mount.unmount();
}
