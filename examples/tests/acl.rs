//! POSIX ACLs on a real dtfs mount, with the tools people use: a denying ACL denies (the kernel
//! enforces what dtfs stores), and `cp -a`, which copies permissions the ACL way, keeps every
//! mode. How ACLs set the mode, follow chmod and are inherited is in the dtfs suite, on both
//! kernels.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{mount_point, Program};
use puffs::acl::{Acl, AclEntry, AclTag, ACCESS_XATTR};

/// dtfs served by its program, with its default options, on a fresh mount point.
fn serve_dtfs(tag: &str) -> (Program, std::path::PathBuf) {
    common::require_mount();
    let dir = mount_point(tag);
    (Program::serve(env!("CARGO_BIN_EXE_dtfs"), &["-f"], &dir), dir)
}

/// Reads `path` as the user `nobody`; answers the errno of the failure, if any.
fn read_as_nobody(path: &Path) -> Result<(), i32> {
    let nobody = nix::unistd::User::from_name("nobody").unwrap().expect("the user nobody");
    let output = std::process::Command::new("cat")
        .arg(path)
        .uid(nobody.uid.as_raw())
        .gid(nobody.gid.as_raw())
        .output()
        .expect("run cat");
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(if stderr.contains("Permission denied") { nix::libc::EACCES } else { -1 })
    }
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn a_denying_acl_denies() {
    let (_server, dir) = serve_dtfs("acl-deny");
    let file = dir.join("f");
    std::fs::write(&file, "secret\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(read_as_nobody(&file), Ok(()), "mode 0644: everyone may read");
    // `setfacl -m u:nobody:--- f`, as bytes.
    let nobody = nix::unistd::User::from_name("nobody").unwrap().expect("the user nobody").uid.as_raw();
    let mut entries = Acl::from_mode(0o644).entries().to_vec();
    entries.push(AclEntry { tag: AclTag::User(nobody), perm: 0 });
    entries.push(AclEntry { tag: AclTag::Mask, perm: 4 });
    xattr::set(&file, ACCESS_XATTR, &Acl::new(entries).unwrap().to_xattr());
    assert_eq!(read_as_nobody(&file), Err(nix::libc::EACCES), "the ACL denies nobody");
    // Others still read; removing the ACL lets nobody in again.
    xattr::remove(&file, ACCESS_XATTR);
    assert_eq!(read_as_nobody(&file), Ok(()), "the ACL is gone");
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn cp_a_keeps_every_mode() {
    // A tree with modes no umask makes, on the local disk.
    let source = mount_point("acl-source");
    let files = [("a", 0o600), ("b", 0o755), ("c", 0o640), ("d", 0o444), ("e", 0o4755), ("f", 0o2750)];
    let dirs = [("dir700", 0o700), ("dir1777", 0o1777), ("dir750", 0o750)];
    for (name, _) in files {
        std::fs::write(source.join(name), name).unwrap();
    }
    for (name, _) in dirs {
        std::fs::create_dir(source.join(name)).unwrap();
        std::fs::write(source.join(name).join("inner"), "x").unwrap();
    }
    for (name, mode) in files.iter().chain(&dirs) {
        std::fs::set_permissions(source.join(name), std::fs::Permissions::from_mode(*mode)).unwrap();
    }
    let (_server, dir) = serve_dtfs("acl-cp");
    let copy = dir.join("copy");
    let output = Program::spawn(Command::new("cp").arg("-a").arg(&source).arg(&copy)).output(Duration::from_secs(60));
    assert!(output.status.success(), "cp -a: {}", String::from_utf8_lossy(&output.stderr));
    // Also a real tree: the system's headers.
    let headers = Path::new("/usr/include/linux");
    let output = Program::spawn(Command::new("cp").arg("-a").arg(headers).arg(dir.join("linux")))
        .output(Duration::from_secs(120));
    assert!(output.status.success(), "cp -a: {}", String::from_utf8_lossy(&output.stderr));
    let _ = std::fs::remove_dir_all(&source);
    let mut differences = Vec::new();
    for (name, mode) in files.iter().chain(&dirs) {
        let got = std::fs::metadata(copy.join(name)).unwrap().permissions().mode() & 0o7777;
        if got != *mode {
            differences.push(format!("{name}: {got:o}, not {mode:o}"));
        }
    }
    let mut compared = 0;
    walk(headers, &mut |relative, mode| {
        compared += 1;
        let got = std::fs::symlink_metadata(dir.join("linux").join(relative)).map(|m| m.permissions().mode() & 0o7777);
        if got.as_ref().ok() != Some(&mode) {
            differences.push(format!("linux/{}: {got:?}, not {mode:o}", relative.display()));
        }
    });
    assert!(compared > 100, "only {compared} headers compared");
    assert!(
        differences.is_empty(),
        "{} modes differ: {:?}",
        differences.len(),
        &differences[..differences.len().min(10)]
    );
}

/// Calls `each` with the path relative to `root` and the mode of every node under it.
fn walk(root: &Path, each: &mut dyn FnMut(&Path, u32)) {
    fn go(root: &Path, dir: &Path, each: &mut dyn FnMut(&Path, u32)) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            each(path.strip_prefix(root).unwrap(), meta.permissions().mode() & 0o7777);
            if meta.is_dir() {
                go(root, &path, each);
            }
        }
    }
    go(root, root, each)
}

/// Extended attributes by path, for the few calls these tests make.
mod xattr {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    fn c(path: &Path) -> CString {
        CString::new(path.as_os_str().as_bytes()).unwrap()
    }

    pub fn set(path: &Path, name: &str, value: &[u8]) {
        let name = CString::new(name).unwrap();
        // SAFETY: both strings are NUL-terminated; `value` is valid for its length.
        let rc = unsafe { nix::libc::setxattr(c(path).as_ptr(), name.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
        assert_eq!(rc, 0, "setxattr {name:?}: {}", std::io::Error::last_os_error());
    }

    pub fn remove(path: &Path, name: &str) {
        let name = CString::new(name).unwrap();
        // SAFETY: both strings are NUL-terminated.
        let rc = unsafe { nix::libc::removexattr(c(path).as_ptr(), name.as_ptr()) };
        assert_eq!(rc, 0, "removexattr {name:?}: {}", std::io::Error::last_os_error());
    }
}
