//! The example programs end to end: help, usage errors, mounting in the foreground and as a
//! daemon, unmounting by signal and by umount(8), and the debug dump.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::Program;
use nix::mount::{umount2, MntFlags};
use nix::sys::signal::Signal;

const DTFS: &str = env!("CARGO_BIN_EXE_dtfs");
const HELLO: &str = env!("CARGO_BIN_EXE_hello");
const NULLFS: &str = env!("CARGO_BIN_EXE_nullfs");

/// Runs a program that must end by itself, with a bound.
fn run(program: &str, args: &[&str]) -> Output {
    Program::spawn(Command::new(program).args(args)).output(Duration::from_secs(30))
}

#[test]
fn help_says_how_to_use_it() {
    for program in [DTFS, HELLO, NULLFS] {
        let out = run(program, &["--help"]);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("usage:") && text.contains("MOUNTPOINT") && text.contains("-o OPTIONS"), "{text}");
    }
}

#[test]
fn version_says_the_program_and_its_version() {
    for (program, name) in [(DTFS, "dtfs"), (HELLO, "hello"), (NULLFS, "nullfs")] {
        let out = run(program, &["--version"]);
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("{name} {} (puffs-rs)\n", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn usage_errors_exit_2_and_say_why() {
    for (args, says) in [
        (&["-x", "/mnt"][..], "unknown option `-x`"),
        (&[], "a MOUNTPOINT is needed"),
        (&["-o", "bogus", "/mnt"], "mount option `bogus`"),
        (&["-t", "none", "/mnt"], "-t needs a thread count"),
        (&["--capacity", "lots", "/mnt"], "--capacity needs a size such as 512M or 2G, not `lots`"),
        (&["--capacity"], "--capacity needs a SIZE"),
    ] {
        let out = run(DTFS, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let text = String::from_utf8(out.stderr).unwrap();
        assert!(text.contains(says) && text.contains("dtfs --help"), "{args:?}: {text}");
    }
}

#[test]
fn nullfs_needs_a_source_that_is_a_directory() {
    for (args, says) in [
        (&["/mnt"][..], "--source DIR names the directory to mirror"),
        (&["--source", "/nonexistent/puffs", "/mnt"], "--source /nonexistent/puffs: No such file or directory"),
        (&["--source", "/proc/self/status", "/mnt"], "--source /proc/self/status: Not a directory"),
    ] {
        let out = run(NULLFS, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let text = String::from_utf8(out.stderr).unwrap();
        assert!(text.contains(says) && text.contains("nullfs --help"), "{args:?}: {text}");
    }
    let help = String::from_utf8(run(NULLFS, &["--help"]).stdout).unwrap();
    assert!(help.contains("--source DIR"), "{help}");
}

#[test]
fn a_missing_mount_point_fails() {
    let dir = std::env::temp_dir().join(format!("puffs-cli-missing-{}", std::process::id()));
    let out = run(DTFS, &["-f", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stderr).unwrap().contains("No such file or directory"));
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn mkdir_makes_a_missing_mount_point() {
    common::require_mount();
    let dir = std::env::temp_dir().join(format!("puffs-cli-mkdir-{}", std::process::id()));
    let mut dtfs = Program::serve(DTFS, &["-f", "--mkdir"], &dir);
    std::fs::write(dir.join("f"), b"made").unwrap();
    dtfs.signal(Signal::SIGINT);
    assert!(dtfs.wait(Duration::from_secs(10)).success());
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn sigint_and_sigterm_unmount_cleanly() {
    common::require_mount();
    for (program, signal) in [(DTFS, Signal::SIGINT), (HELLO, Signal::SIGTERM), (DTFS, Signal::SIGTERM)] {
        let dir = common::mount_point("cli-signal");
        let mut running = Program::serve(program, &["-f", "-t", "2"], &dir);
        if program == DTFS {
            std::fs::write(dir.join("f"), b"through the program").unwrap();
            assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"through the program");
        } else {
            assert_eq!(std::fs::read(dir.join("hello")).unwrap(), b"Hello, world!\n");
        }
        running.signal(signal);
        let status = running.wait(Duration::from_secs(10));
        assert!(status.success(), "{program} after {signal}: {status}");
        assert!(common::wait_mounted(&dir, false), "the mount is gone after {signal}");
    }
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn a_daemon_with_auto_unmount_detaches_too() {
    common::require_mount();
    let dir = common::mount_point("cli-daemon-auto");
    let _cleanup = Program::unmount_on_drop(&dir);
    // The parent waits for the child's report, which the watchdog must not hold open.
    let out = Program::spawn(Command::new(DTFS).args(["-o", "auto_unmount"]).arg(&dir)).output(Duration::from_secs(10));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(common::wait_mounted(&dir, true));
    umount2(&dir, MntFlags::empty()).unwrap();
    assert!(common::wait_mounted(&dir, false));
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn dtfs_holds_what_its_capacity_says() {
    common::require_mount();
    let dir = common::mount_point("cli-capacity");
    let _running = Program::serve(DTFS, &["-f", "--capacity", "8M"], &dir);
    let st = nix::sys::statvfs::statvfs(&dir).unwrap();
    assert_eq!(st.blocks() * st.fragment_size(), 8 << 20, "statvfs tells the capacity");
    // 8 MiB fit less what the metadata takes; 9 MiB do not.
    let full = std::fs::write(dir.join("big"), vec![7u8; 9 << 20]).expect_err("more than the capacity");
    assert_eq!(full.raw_os_error(), Some(nix::libc::ENOSPC), "{full}");
    std::fs::write(dir.join("big"), vec![7u8; 4 << 20]).expect("half the capacity fits");
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn umount_ends_the_program() {
    common::require_mount();
    let dir = common::mount_point("cli-umount");
    let mut running = Program::serve(DTFS, &["-f"], &dir);
    let status = Command::new("umount").arg(&dir).status().unwrap();
    assert!(status.success());
    assert!(running.wait(Duration::from_secs(10)).success());
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn without_f_it_detaches_once_mounted() {
    common::require_mount();
    let dir = common::mount_point("cli-daemon");
    // The parent exits with the mount's outcome; the daemon child serves on.
    let out = run(DTFS, &[dir.to_str().unwrap()]);
    let _cleanup = Program::unmount_on_drop(&dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(common::wait_mounted(&dir, true));
    std::fs::write(dir.join("f"), b"daemon").unwrap();
    assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"daemon");
    umount2(&dir, MntFlags::empty()).unwrap();
    assert!(common::wait_mounted(&dir, false));
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn a_mount_error_reads_the_same_in_the_foreground_and_as_a_daemon() {
    common::require_mount();
    let dir = common::mount_point("cli-same-words");
    let dtfs = Program::serve(DTFS, &["-f"], &dir);
    // A mount point that already carries a mount fails the same way in both modes.
    let foreground = run(DTFS, &["-f", dir.to_str().unwrap()]);
    let daemon = run(DTFS, &[dir.to_str().unwrap()]);
    assert_eq!((foreground.status.code(), daemon.status.code()), (Some(1), Some(1)));
    let (foreground, daemon) =
        (String::from_utf8(foreground.stderr).unwrap(), String::from_utf8(daemon.stderr).unwrap());
    assert!(foreground.starts_with("dtfs: mount ") && foreground.contains("already carries"), "{foreground}");
    assert_eq!(daemon, foreground);
    drop(dtfs);
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn debug_dumps_requests_and_replies() {
    common::require_mount();
    let dir = common::mount_point("cli-debug");
    let mut running = Program::serve(DTFS, &["-d"], &dir);
    assert_eq!(std::fs::metadata(dir.join("absent")).unwrap_err().raw_os_error(), Some(nix::libc::ENOENT));
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file =
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o640).open(dir.join("f")).unwrap();
        std::io::Write::write_all(&mut file, &vec![b'x'; 1 << 20]).unwrap();
    }
    running.signal(Signal::SIGINT);
    assert!(running.wait(Duration::from_secs(10)).success());
    let dump = running.stderr();
    assert!(dump.contains("-> INIT"), "{dump}");
    assert!(dump.contains("-> LOOKUP") && dump.contains("\"absent\""), "{dump}");
    assert!(dump.contains("ENOENT"), "{dump}");
    // What a person reads: octal modes, flag names, sizes, payloads cut short.
    assert!(dump.contains("\"f\" mode 0o100640") && dump.contains("O_WRONLY|O_CREAT|O_EXCL"), "{dump}");
    assert!(dump.contains(&format!("at 0: \"{}\"…", "x".repeat(32))), "{dump}");
    assert!(dump.len() < 100_000, "a 1 MiB write dumps {} bytes", dump.len());
}
