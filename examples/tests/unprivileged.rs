//! Mounting as a user who is not root: through the helper `fusermount3`, with the errors a user
//! meets named clearly, and `auto_unmount` cleaning up after `kill -9`.
//!
//! The tests run as root and start dtfs, and the clients, as the user `puffs-user` (made by
//! `.ci/run`). dtfs is copied where that user may run it.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::{mount_point, wait_mounted, Program};
use nix::sys::signal::Signal;
use nix::unistd::{Gid, Uid, User};

const USER: &str = "puffs-user";

/// The test user, and copies of dtfs and nullfs it may run (removed when dropped).
struct AsUser {
    uid: Uid,
    gid: Gid,
    bin: PathBuf,
}

impl AsUser {
    fn new() -> AsUser {
        common::require_mount();
        let user = User::from_name(USER).expect("read the user database").expect("the user puffs-user exists");
        let dir = std::env::temp_dir().join(format!("puffs-user-bin-{}-{}", std::process::id(), next()));
        std::fs::create_dir_all(&dir).expect("make the program directory");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("open it to the user");
        let bin = dir.join("dtfs");
        std::fs::copy(env!("CARGO_BIN_EXE_dtfs"), &bin).expect("copy dtfs");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("make dtfs runnable");
        let nullfs = dir.join("nullfs");
        std::fs::copy(env!("CARGO_BIN_EXE_nullfs"), &nullfs).expect("copy nullfs");
        std::fs::set_permissions(&nullfs, std::fs::Permissions::from_mode(0o755)).expect("make nullfs runnable");
        AsUser { uid: user.uid, gid: user.gid, bin }
    }

    /// A fresh mount point the user owns.
    fn mount_point(&self, tag: &str) -> PathBuf {
        let dir = mount_point(tag);
        nix::unistd::chown(&dir, Some(self.uid), Some(self.gid)).expect("give the mount point to the user");
        dir
    }

    /// `program` run as the user.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command.uid(self.uid.as_raw()).gid(self.gid.as_raw()).current_dir("/");
        command
    }

    /// dtfs in the foreground, as the user, with `args` before the mount point `dir`.
    fn dtfs(&self, args: &[&str], dir: &Path) -> Command {
        let mut command = self.command(&self.bin);
        command.arg("-f").args(args).arg(dir);
        command
    }

    /// nullfs in the foreground, as the user, mirroring `source`, with `args` before the mount
    /// point `dir`.
    fn nullfs(&self, source: &Path, args: &[&str], dir: &Path) -> Command {
        let mut command = self.command(self.bin.with_file_name("nullfs"));
        command.arg("-f").arg("--source").arg(source).args(args).arg(dir);
        command
    }

    /// Runs the shell `script` as the user, with the mount point as `$1`.
    fn shell(&self, script: &str, dir: &Path) -> Output {
        let output = self.command("/bin/sh").args(["-c", script, "sh"]).arg(dir).output().expect("run the shell");
        assert!(output.status.success(), "`{script}` failed: {}", String::from_utf8_lossy(&output.stderr));
        output
    }
}

impl Drop for AsUser {
    fn drop(&mut self) {
        if let Some(dir) = self.bin.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn next() -> usize {
    static SERIAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The mount table's line for the mount on `dir`.
fn mountinfo_line(dir: &Path) -> String {
    let dir = dir.canonicalize().expect("the mount point");
    let table = std::fs::read_to_string("/proc/self/mountinfo").expect("read the mount table");
    let wanted = format!(" {} ", dir.display());
    table.lines().rfind(|l| l.contains(&wanted)).expect("the mount is in the table").to_string()
}

#[test]
#[cfg_attr(
    puffs_cannot_mount_as_user,
    ignore = "needs root, the user puffs-user, fusermount3 and a /dev/fuse all may open: see .ci/run"
)]
fn a_user_mounts_through_the_helper_and_unmounts_on_sigterm() {
    let user = AsUser::new();
    let dir = user.mount_point("user");
    let mut server = Program::serve_command(&mut user.dtfs(&[], &dir), &dir);

    // The user's mount, made safe as puffs makes every non-root mount.
    let line = mountinfo_line(&dir);
    assert!(line.contains(" - fuse.dtfs "), "{line}");
    let mount_options = line.split_whitespace().nth(5).expect("mount options");
    for option in ["nosuid", "nodev"] {
        assert!(mount_options.split(',').any(|o| o == option), "{option} missing: {line}");
    }
    assert!(line.contains(&format!("user_id={}", user.uid)), "{line}");
    assert!(!line.contains("allow_other"), "{line}");

    // Bytes written through the mount read back the same, all as the user.
    let out = user.shell(r#"printf 'through the helper' > "$1/f" && mkdir "$1/sub" && cat "$1/f" && ls "$1""#, &dir);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "through the helperf\nsub\n");
    let out = user.shell(r#"stat -c '%U %a' "$1/f""#, &dir);
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{USER} 644\n"));

    // Without allow_other, nobody else gets in: not even root.
    let denied = std::fs::metadata(dir.join("f")).expect_err("root may not look into a user's mount");
    assert_eq!(denied.raw_os_error(), Some(nix::libc::EACCES), "{denied}");

    // SIGTERM: the server unmounts through the helper and exits 0.
    server.signal(Signal::SIGTERM);
    assert!(server.wait(Duration::from_secs(10)).success(), "dtfs: {}", server.stderr());
    assert!(wait_mounted(&dir, false), "the mount on {} is still there", dir.display());
    assert_eq!(std::fs::read_dir(&dir).expect("the plain directory again").count(), 0);
}

#[test]
#[cfg_attr(
    puffs_cannot_mount_as_user,
    ignore = "needs root, the user puffs-user, fusermount3 and a /dev/fuse all may open: see .ci/run"
)]
fn auto_unmount_cleans_up_after_kill_9_for_a_user_and_for_root() {
    let user = AsUser::new();
    for as_user in [true, false] {
        let who = if as_user { "user" } else { "root" };
        let dir = if as_user { user.mount_point("auto-user") } else { mount_point("auto-root") };
        let mut command = if as_user { user.dtfs(&["-o", "auto_unmount"], &dir) } else { Command::new(&user.bin) };
        if !as_user {
            command.args(["-f", "-o", "auto_unmount"]).arg(&dir);
        }
        let mut server = Program::serve_command(&mut command, &dir);
        server.signal(Signal::SIGKILL);
        server.wait(Duration::from_secs(10));
        // No dead mount is left behind: the directory is usable again.
        assert!(wait_mounted(&dir, false), "as {who}: the dead mount on {} was not cleaned", dir.display());
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("as {who}: the mount point after kill -9: {e}"));
    }
}

#[test]
#[cfg_attr(
    puffs_cannot_mount_as_user,
    ignore = "needs root, the user puffs-user, fusermount3 and a /dev/fuse all may open: see .ci/run"
)]
fn allow_other_without_user_allow_other_is_refused_with_the_reason() {
    let user = AsUser::new();
    let dir = user.mount_point("allow-other");
    // Whatever this machine's /etc/fuse.conf says, the server sees one without
    // `user_allow_other`: an empty file bound over it in a mount namespace of its own.
    let conf = std::env::temp_dir().join(format!("puffs-fuse-conf-{}-{}", std::process::id(), next()));
    std::fs::write(&conf, "# no user_allow_other\n").expect("write the empty configuration");
    let script = r#"mount --bind "$1" /etc/fuse.conf && exec setpriv --reuid="$2" --regid="$3" --clear-groups "$4" -f -o allow_other "$5""#;
    let mut command = Command::new("unshare");
    command.args(["--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh"]);
    command.arg(&conf).arg(user.uid.to_string()).arg(user.gid.to_string()).arg(&user.bin).arg(&dir);
    let output = Program::spawn(&mut command).output(Duration::from_secs(20));
    let _ = std::fs::remove_file(&conf);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    for words in ["allow_other", "user_allow_other", "/etc/fuse.conf"] {
        assert!(stderr.contains(words), "`{words}` missing from: {stderr}");
    }
    let table = puffs::mount_table::read().expect("read the mount table");
    let top = puffs::mount_table::top_at(&table, &dir.canonicalize().expect("the mount point"));
    assert!(top.is_none_or(|entry| !entry.is_fuse()), "something was mounted: {top:?}");
    let _ = std::fs::remove_dir(&dir);
}

#[test]
#[cfg_attr(
    puffs_cannot_mount_as_user,
    ignore = "needs root, the user puffs-user, fusermount3 and a /dev/fuse all may open: see .ci/run"
)]
fn a_missing_helper_is_named() {
    let user = AsUser::new();
    let dir = user.mount_point("no-helper");
    let mut command = user.dtfs(&[], &dir);
    command.env("PATH", "/nonexistent");
    let output = Program::spawn(&mut command).output(Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("fusermount3") && stderr.contains("fuse3"), "{stderr}");
    let _ = std::fs::remove_dir(&dir);
}

/// A user's mount takes FUSE over io_uring too: the ring is the user's, on the descriptor the
/// helper passed, and what is written reads back.
#[test]
#[cfg_attr(
    any(puffs_cannot_mount_as_user, puffs_no_io_uring),
    ignore = "needs root, the user puffs-user, fusermount3, a /dev/fuse all may open and FUSE over io_uring"
)]
fn a_users_mount_is_served_over_io_uring() {
    let user = AsUser::new();
    let dir = user.mount_point("user-uring");
    let mut server = Program::serve_command(&mut user.dtfs(&["-o", "io_uring", "-t", "2"], &dir), &dir);
    let out = user.shell(r#"printf 'over a ring' > "$1/f" && cat "$1/f""#, &dir);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "over a ring");
    let rings = server.thread_names().iter().filter(|name| name.starts_with("puffs-ring-")).count();
    assert!((1..=2).contains(&rings), "{rings} rings: one per thread, at most one per CPU");
    server.signal(Signal::SIGTERM);
    assert!(server.wait(Duration::from_secs(10)).success(), "dtfs: {}", server.stderr());
    assert!(wait_mounted(&dir, false), "the mount on {} is still there", dir.display());
}

#[test]
#[cfg_attr(
    puffs_cannot_mount_as_user,
    ignore = "needs root, the user puffs-user, fusermount3 and a /dev/fuse all may open: see .ci/run"
)]
fn a_user_mirrors_a_directory_without_passthrough() {
    // The kernel takes backing files only from a server with CAP_SYS_ADMIN: nullfs asks for
    // passthrough by default, is told no, and serves reads and writes itself.
    let user = AsUser::new();
    let dir = user.mount_point("user-null");
    let source = user.mount_point("user-null-source");
    let mut server = Program::serve_command(&mut user.nullfs(&source, &["-d"], &dir), &dir);
    let out = user.shell(r#"printf 'mirrored' > "$1/f" && mkdir "$1/d" && cat "$1/f""#, &dir);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "mirrored");
    assert_eq!(std::fs::read(source.join("f")).unwrap(), b"mirrored");
    let meta = std::fs::metadata(source.join("d")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), user.uid.as_raw(), "the user's, on the host");
    server.signal(Signal::SIGTERM);
    assert!(server.wait(Duration::from_secs(10)).success(), "nullfs: {}", server.stderr());
    let log = server.stderr();
    assert!(log.contains("INIT granted") && granted_without_passthrough(&log), "{log}");
    let _ = std::fs::remove_dir_all(&source);
}

/// Whether the `INIT granted` line of an op dump leaves `PASSTHROUGH` out.
fn granted_without_passthrough(log: &str) -> bool {
    log.lines().filter(|l| l.contains("INIT granted")).all(|l| !l.contains("PASSTHROUGH"))
}
