//! dtfs and nullfs against the POSIX conformance suite pjdfstest (the Rust rewrite, installed
//! from crates.io by `.ci/run`), mounted for real by their programs.
//!
//! Listed as ignored where the tests were built without root, `/dev/fuse` or pjdfstest (see
//! `examples/build.rs`); in CI (`CI=true`) it always runs, and any of them missing fails it.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::Program;

const DTFS: &str = env!("CARGO_BIN_EXE_dtfs");
const NULLFS: &str = env!("CARGO_BIN_EXE_nullfs");

/// What pjdfstest needs to switch users: two users, each with a group.
const DUMMY_USERS: [(&str, &str); 2] = [("nobody", "nogroup"), ("tests", "tests")];

/// Tests that cannot run here, and why: the count of passes must not drop below what remains.
/// - `*::erofs_*` remount the file system read-only with mount(8), which hands a `fuse.dtfs`
///   mount to a helper program; pjdfstest runs with `allow_remount = false`. Read-only mounts
///   are covered by the hello tests instead.
/// - `*::exdev_target` need a second file system configured, `link::link_count_max` a
///   configured maximum.
const MIN_PASSED: usize = 382;

fn find_pjdfstest() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PJDFSTEST") {
        return Some(PathBuf::from(path));
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(cargo_home.map(|h| h.join("bin")))
        .map(|dir| dir.join("pjdfstest"))
        .find(|candidate| candidate.is_file())
}

#[test]
#[cfg_attr(
    any(puffs_cannot_mount, puffs_no_pjdfstest),
    ignore = "needs root, /dev/fuse and the pjdfstest program (`cargo install pjdfstest`)"
)]
fn dtfs_passes_pjdfstest_with_the_kernels_checks() {
    // dtfs's ACLs make the kernel check permissions.
    run_pjdfstest(DTFS, "pjdfstest", &[]);
}

#[test]
#[cfg_attr(
    any(puffs_cannot_mount, puffs_no_pjdfstest),
    ignore = "needs root, /dev/fuse and the pjdfstest program (`cargo install pjdfstest`)"
)]
fn dtfs_passes_pjdfstest_checking_permissions_itself() {
    // Without ACLs and without default_permissions, the kernel checks nothing: dtfs does.
    run_pjdfstest(DTFS, "pjdfstest-own-checks", &["-o", "noacl"]);
}

#[test]
#[cfg_attr(
    any(puffs_no_io_uring, puffs_no_pjdfstest),
    ignore = "needs root, /dev/fuse, FUSE over io_uring (enable_uring) and the pjdfstest program"
)]
fn dtfs_passes_pjdfstest_over_io_uring() {
    // Two threads: two rings, one for each queue of this two-CPU machine.
    run_pjdfstest(DTFS, "pjdfstest-io-uring", &["-o", "io_uring"]);
}

#[test]
#[cfg_attr(
    any(puffs_cannot_mount, puffs_no_pjdfstest),
    ignore = "needs root, /dev/fuse and the pjdfstest program (`cargo install pjdfstest`)"
)]
fn nullfs_passes_pjdfstest_with_passthrough() {
    // Its defaults: the kernel checks permissions, and reads and writes of open files go to
    // the host file in the kernel.
    with_a_source("pjdfstest-null", |source| run_pjdfstest(NULLFS, "pjdfstest-null", &["--source", source]));
}

#[test]
#[cfg_attr(
    any(puffs_cannot_mount, puffs_no_pjdfstest),
    ignore = "needs root, /dev/fuse and the pjdfstest program (`cargo install pjdfstest`)"
)]
fn nullfs_passes_pjdfstest_serving_reads_and_writes() {
    with_a_source("pjdfstest-null-served", |source| {
        run_pjdfstest(NULLFS, "pjdfstest-null-served", &["--source", source, "-o", "nopassthrough"])
    });
}

/// Runs `run` with a fresh host directory for nullfs to mirror, removed afterwards.
fn with_a_source(name: &str, run: impl FnOnce(&str)) {
    let source = std::env::temp_dir().join(format!("puffs-{name}-source-{}", std::process::id()));
    std::fs::create_dir_all(&source).unwrap();
    struct Remove(PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _remove = Remove(source.clone());
    run(source.to_str().expect("a UTF-8 temporary directory"));
}

/// Mounts `program` (dtfs or nullfs) with `options` on a fresh mount point named after `name`
/// and runs the whole suite on it: no failure, and at least [`MIN_PASSED`] passes.
fn run_pjdfstest(program: &str, name: &str, options: &[&str]) {
    common::require_mount();
    let pjdfstest = find_pjdfstest().expect("the pjdfstest program is installed (`cargo install pjdfstest`)");
    for (user, group) in DUMMY_USERS {
        let known = nix::unistd::User::from_name(user).ok().flatten().is_some()
            && nix::unistd::Group::from_name(group).ok().flatten().is_some();
        assert!(known, "user {user} and group {group} exist (`.ci/run` creates them)");
    }
    let dir = common::mount_point(name);
    let config = std::env::temp_dir().join(format!("puffs-{name}-{}.toml", std::process::id()));
    let entries: Vec<String> = DUMMY_USERS.iter().map(|(u, g)| format!("[\"{u}\", \"{g}\"]")).collect();
    std::fs::write(
        &config,
        format!(
            "[features]\nutimensat = {{}}\nutime_now = {{}}\nrename_ctime = {{}}\nposix_fallocate = {{}}\n\
             [settings]\nnaptime = 0.001\nallow_remount = false\nexpected_failures = []\n\
             [dummy_auth]\nentries = [{}]\n",
            entries.join(", ")
        ),
    )
    .unwrap();

    let args: Vec<&str> = ["-f", "-t", "2"].iter().chain(options).copied().collect();
    let mut served = Program::serve(program, &args, &dir);
    if options.contains(&"io_uring") {
        let ring = || served.thread_names().iter().any(|name| name == "puffs-ring-0");
        common::eventually("the file system serves a ring", ring);
    }
    let mut suite = Command::new(&pjdfstest);
    suite.arg("-c").arg(&config).arg("-p").arg(&dir).current_dir(&dir);
    let out = Program::spawn(&mut suite).output(Duration::from_secs(20 * 60));
    let _ = std::fs::remove_file(&config);
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text
        .lines()
        .find(|l| l.starts_with("Summary:"))
        .unwrap_or_else(|| panic!("pjdfstest printed no summary:\n{text}\n{}", String::from_utf8_lossy(&out.stderr)));
    eprintln!("pjdfstest on {program} {options:?}: {summary}");
    let count = |what: &str| -> usize {
        summary
            .split(',')
            .find_map(|part| part.trim().trim_start_matches("Summary:").trim().strip_suffix(what))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no `{what}` count in {summary:?}"))
    };
    let failures: Vec<&str> = text.lines().filter(|l| l.trim_end().ends_with("FAILED")).collect();
    assert_eq!(count("failed"), 0, "pjdfstest failures:\n{}\n\n{text}", failures.join("\n"));
    assert!(count("passed") >= MIN_PASSED, "fewer passes than {MIN_PASSED}: {summary}");
}
