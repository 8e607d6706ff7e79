//! Stopping a server, gently and by force, and its crash: a second stop request really stops a
//! server that clients keep busy, a stop in the middle of I/O ends cleanly, and after a
//! `kill -9` clients get an error at once and the mount point can be cleaned and used again.

mod common;

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Program;
use nix::sys::signal::Signal;

const DTFS: &str = env!("CARGO_BIN_EXE_dtfs");

/// Runs `f` on another thread and fails if it takes longer than `bound`: a client call on a
/// mount whose server is gone must never hang.
fn within<T: Send + 'static>(bound: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tell, told) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tell.send(f());
    });
    told.recv_timeout(bound).expect("the client call returned in time")
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn a_second_stop_request_forces_while_clients_are_inside() {
    common::require_mount();
    for (first, second) in [(Signal::SIGTERM, Signal::SIGTERM), (Signal::SIGTERM, Signal::SIGINT)] {
        let dir = common::mount_point("force");
        let mut dtfs = Program::serve(DTFS, &["-f"], &dir);
        let mut file = std::fs::File::create(dir.join("open")).unwrap();
        file.write_all(b"before the stop").unwrap();
        dtfs.signal(first);
        assert!(common::wait_mounted(&dir, false), "the first request detaches the mount");
        // The open file keeps the detached file system, and its server, alive.
        std::thread::sleep(Duration::from_millis(200));
        file.write_all(b" still served").unwrap();
        dtfs.signal(second);
        let status = dtfs.wait(Duration::from_secs(10));
        assert!(status.success(), "{first:?} then {second:?}: the server exits 0, not {status:?}");
        // Nothing written now is accepted and silently lost: the connection has ended.
        let late = within(Duration::from_secs(10), move || file.write_all(b"after").map_err(|e| e.raw_os_error()));
        assert_eq!(late, Err(Some(nix::libc::ENOTCONN)), "{first:?} then {second:?}: a late write fails");
    }
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn a_stop_during_io_unmounts_cleanly_and_exits_0() {
    common::require_mount();
    let dir = common::mount_point("stop-io");
    let mut dtfs = Program::serve(DTFS, &["-f", "-t", "2"], &dir);
    let path = dir.join("stream");
    let writer = std::thread::spawn(move || {
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![7u8; 64 * 1024];
        let start = Instant::now();
        let mut written = 0usize;
        while start.elapsed() < Duration::from_millis(800) {
            file.write_all(&chunk).expect("writes on an open file go on after a gentle stop");
            written += chunk.len();
        }
        file.sync_all().expect("the data reaches the file system");
        written
    });
    std::thread::sleep(Duration::from_millis(300));
    dtfs.signal(Signal::SIGTERM);
    assert!(common::wait_mounted(&dir, false), "the mount is detached at once");
    let written = writer.join().expect("the writer finished without an error");
    assert!(written > 0);
    let status = dtfs.wait(Duration::from_secs(10));
    assert!(status.success(), "the server exits 0 once the last client let go: {status:?}");
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn after_kill_9_clients_fail_at_once_and_the_mount_point_is_reused() {
    common::require_mount();
    let dir = common::mount_point("crash");
    let mut dtfs = Program::serve(DTFS, &["-f"], &dir);
    std::fs::write(dir.join("f"), b"data").unwrap();
    let open = std::fs::File::open(dir.join("f")).unwrap();
    dtfs.signal(Signal::SIGKILL);
    dtfs.wait(Duration::from_secs(10));
    let (d, started) = (dir.clone(), Instant::now());
    let listing =
        within(Duration::from_secs(10), move || std::fs::read_dir(&d).map(drop).map_err(|e| e.raw_os_error()));
    assert_eq!(listing, Err(Some(nix::libc::ENOTCONN)), "a client of the dead mount gets ENOTCONN");
    let read = within(Duration::from_secs(10), move || {
        std::io::Read::read(&mut &open, &mut [0u8; 4]).map_err(|e| e.raw_os_error())
    });
    assert_eq!(read, Err(Some(nix::libc::ENOTCONN)), "an open file of the dead mount fails too");
    assert!(started.elapsed() < Duration::from_secs(5), "the errors came at once");
    // What a user does after a crash (README): unmount the dead mount, then mount again.
    let cleaned = Command::new("umount").arg("-l").arg(&dir).status().expect("run umount");
    assert!(cleaned.success(), "umount -l of the dead mount");
    assert!(common::wait_mounted(&dir, false));
    let again = Program::serve(DTFS, &["-f"], &dir);
    std::fs::write(dir.join("again"), b"served").unwrap();
    assert_eq!(std::fs::read(dir.join("again")).unwrap(), b"served");
    drop(again);
    drop(dtfs);
}
