//! A mount never harms what is not its own: stopping a server leaves whatever is mounted
//! beneath its mount point alone, and a mount point that already carries a FUSE mount, live or
//! dead, is refused with a message that says what is there and what to do.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::Program;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::signal::Signal;

const DTFS: &str = env!("CARGO_BIN_EXE_dtfs");

/// A tmpfs this test mounts on a fresh directory, holding one precious file; unmounted (if it
/// is still the mount there) and removed when dropped.
struct Beneath {
    dir: PathBuf,
}

impl Beneath {
    fn new(tag: &str) -> Beneath {
        let dir = common::mount_point(tag);
        mount(Some("puffs-beneath"), &dir, Some("tmpfs"), MsFlags::empty(), Some("size=1m")).expect("mount tmpfs");
        std::fs::write(dir.join("f"), "precious").expect("write to the tmpfs");
        Beneath { dir }
    }

    /// Whether the tmpfs is the mount visible at the directory and still holds its file.
    fn intact(&self) -> bool {
        let table = puffs::mount_table::read().unwrap();
        let top = puffs::mount_table::top_at(&table, &self.dir);
        top.is_some_and(|e| e.fstype == "tmpfs" && e.source == "puffs-beneath")
            && std::fs::read_to_string(self.dir.join("f")).is_ok_and(|t| t == "precious")
    }
}

impl Drop for Beneath {
    fn drop(&mut self) {
        common::detach_fuse(&self.dir, None);
        let table = puffs::mount_table::read().unwrap_or_default();
        if puffs::mount_table::top_at(&table, &self.dir).is_some_and(|e| e.source == "puffs-beneath") {
            let _ = umount2(&self.dir, MntFlags::MNT_DETACH);
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn run(args: &[&str], dir: &Path) -> std::process::Output {
    Program::spawn(Command::new(DTFS).args(args).arg(dir)).output(Duration::from_secs(30))
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn stopping_the_server_leaves_the_mount_beneath_alone() {
    common::require_mount();
    for stop in ["umount", "SIGINT", "SIGTERM"] {
        let beneath = Beneath::new("beneath");
        let mut dtfs = Program::serve(DTFS, &["-f"], &beneath.dir);
        std::fs::write(beneath.dir.join("g"), "on dtfs").unwrap();
        match stop {
            "umount" => common::umount_when_idle(&beneath.dir, Duration::from_secs(10)).expect("umount dtfs"),
            "SIGINT" => dtfs.signal(Signal::SIGINT),
            _ => dtfs.signal(Signal::SIGTERM),
        }
        assert!(dtfs.wait(Duration::from_secs(10)).success(), "dtfs ends cleanly after {stop}");
        assert!(beneath.intact(), "after {stop}, the tmpfs beneath dtfs is still mounted with its file");
        assert!(!beneath.dir.join("g").exists(), "after {stop}, dtfs is gone");
    }
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn a_fuse_mount_already_there_is_refused_with_advice() {
    common::require_mount();
    let dir = common::mount_point("occupied");
    let mut first = Program::serve(DTFS, &["-f"], &dir);
    std::fs::write(dir.join("kept"), "first").unwrap();

    // A live mount: refused, and the first server goes on serving.
    let out = run(&["-f"], &dir);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("already carries a FUSE mount (fuse.dtfs") && text.contains("live"), "{text}");
    assert!(text.contains(&format!("fusermount3 -u {}", dir.display())), "{text}");
    assert_eq!(std::fs::read_to_string(dir.join("kept")).unwrap(), "first");

    // A dead mount (its server killed): refused as dead, with --mkdir too, and no EEXIST.
    first.signal(Signal::SIGKILL);
    first.wait(Duration::from_secs(10));
    let listing = std::fs::read_dir(&dir).map(drop).map_err(|e| e.raw_os_error());
    assert_eq!(listing, Err(Some(nix::libc::ENOTCONN)), "the mount is dead");
    for args in [&["-f"][..], &["-f", "--mkdir"]] {
        let out = run(args, &dir);
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {text}");
        assert!(text.contains("a dead one") && text.contains("Transport endpoint is not connected"), "{text}");
        assert!(!text.contains("File exists"), "{args:?}: {text}");
    }
    drop(first); // detaches the dead mount this test made
    assert!(common::wait_mounted(&dir, false));
}
