//! Decides, when the tests are built, which of them cannot run on this machine, so that
//! `cargo test` lists those as ignored with the reason instead of passing them without running
//! them:
//!
//! - `puffs_cannot_mount`: not root, or no `/dev/fuse` (real-mount tests);
//! - `puffs_no_pjdfstest`: the pjdfstest program is not installed.
//!
//! With `CI=true` nothing is ignored: CI must run everything, and a missing piece fails.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rustc-check-cfg=cfg(puffs_cannot_mount)");
    println!("cargo::rustc-check-cfg=cfg(puffs_no_pjdfstest)");
    for var in ["CI", "USER", "PATH", "PJDFSTEST", "CARGO_HOME", "HOME"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rerun-if-changed=/dev/fuse");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        return;
    }
    if !(effective_uid() == Some(0) && Path::new("/dev/fuse").exists()) {
        println!("cargo::rustc-cfg=puffs_cannot_mount");
    }
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin"));
    if let Some(bin) = &cargo_bin {
        // Installing pjdfstest there changes the directory.
        println!("cargo::rerun-if-changed={}", bin.display());
    }
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).chain(cargo_bin).any(|dir| dir.join("pjdfstest").is_file()))
        .unwrap_or(false);
    if !on_path && std::env::var_os("PJDFSTEST").is_none() {
        println!("cargo::rustc-cfg=puffs_no_pjdfstest");
    }
}

/// The effective user id of the build, from `/proc/self/status`.
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().nth(1)?.parse().ok()
}
