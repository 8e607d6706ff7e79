//! Decides, when the tests are built, which of them cannot run on this machine, so that
//! `cargo test` lists those as ignored with the reason instead of passing them without running
//! them:
//!
//! - `puffs_cannot_mount`: not root, or no `/dev/fuse` (real-mount tests);
//! - `puffs_cannot_mount_as_user`: real mounts by a user who is not root cannot be tested: not
//!   root (to become that user), no user `puffs-user`, no `fusermount3` in `PATH`, or a
//!   `/dev/fuse` that not every user may open (udev makes it mode 0666; `.ci/run` too);
//! - `puffs_no_pjdfstest`: the pjdfstest program is not installed;
//! - `puffs_no_io_uring`: real mounts cannot be made, or FUSE over io_uring is off
//!   (`/sys/module/fuse/parameters/enable_uring` is not `Y`; root turns it on, `.ci/run` does).
//!
//! With `CI=true` nothing is ignored: CI must run everything, and a missing piece fails.

use std::path::{Path, PathBuf};

/// The switch of FUSE over io_uring.
const ENABLE_URING: &str = "/sys/module/fuse/parameters/enable_uring";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(puffs_cannot_mount)");
    println!("cargo::rustc-check-cfg=cfg(puffs_cannot_mount_as_user)");
    println!("cargo::rustc-check-cfg=cfg(puffs_no_pjdfstest)");
    println!("cargo::rustc-check-cfg=cfg(puffs_no_io_uring)");
    println!("cargo::rerun-if-changed={ENABLE_URING}");
    println!("cargo::rerun-if-changed=/etc/passwd");
    for var in ["CI", "USER", "PATH", "PJDFSTEST", "CARGO_HOME", "HOME"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rerun-if-changed=/dev/fuse");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        return;
    }
    let can_mount = effective_uid() == Some(0) && Path::new("/dev/fuse").exists();
    if !can_mount {
        println!("cargo::rustc-cfg=puffs_cannot_mount");
    }
    let uring_on = std::fs::read_to_string(ENABLE_URING).is_ok_and(|v| v.trim() == "Y");
    if !(can_mount && uring_on) {
        println!("cargo::rustc-cfg=puffs_no_io_uring");
    }
    let fuse_open_to_all = std::fs::metadata("/dev/fuse")
        .is_ok_and(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o006 == 0o006);
    let user_exists =
        std::fs::read_to_string("/etc/passwd").is_ok_and(|p| p.lines().any(|l| l.starts_with("puffs-user:")));
    if !(can_mount && fuse_open_to_all && user_exists && on_path("fusermount3", None)) {
        println!("cargo::rustc-cfg=puffs_cannot_mount_as_user");
    }
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin"));
    if let Some(bin) = &cargo_bin {
        // Installing pjdfstest there changes the directory.
        println!("cargo::rerun-if-changed={}", bin.display());
    }
    if !on_path("pjdfstest", cargo_bin) && std::env::var_os("PJDFSTEST").is_none() {
        println!("cargo::rustc-cfg=puffs_no_pjdfstest");
    }
}

/// Whether `program` is in `PATH` (or in `extra`).
fn on_path(program: &str, extra: Option<PathBuf>) -> bool {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).chain(extra).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// The effective user id of the build, from `/proc/self/status`.
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().nth(1)?.parse().ok()
}
