//! Privileges a file loses when it changes (`HANDLE_KILLPRIV_V2`, done by the framework): a
//! write, truncate or truncating open by a user who may not keep them drops the set-id bits and
//! the file capabilities; a change of owner drops them whoever makes it; root's writes keep
//! them; an access ACL set by someone outside the file's group drops set-group-id (as
//! `SETXATTR_EXT` says). dtfs on both kernels, with one body.

mod common;

use common::{Client, Outcome};
use puffs::acl::{Acl, ACCESS_XATTR};
use puffs::{Cred, Errno, FileSystem, OFlag, SetVattr};
use puffs_examples::dtfs::Dtfs;

/// The user who is not root, and has no privilege to keep set-id bits.
const NOBODY: u32 = 65534;

/// Valid `security.capability` contents: revision 2, `cap_net_bind_service` permitted and
/// effective.
const CAPABILITY: [u8; 20] = [1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// What a user who is not root does, on either kernel.
trait AsUser: Client {
    /// Writes `data` at the start of `path` as `uid`.
    fn write_as(&self, uid: u32, path: &str, data: &[u8]) -> Outcome<()>;
    /// Truncates `path` to `size` as `uid`.
    fn truncate_as(&self, uid: u32, path: &str, size: u64) -> Outcome<()>;
    /// Opens `path` with `O_WRONLY | O_TRUNC` as `uid`, and closes it.
    fn open_truncating_as(&self, uid: u32, path: &str) -> Outcome<()>;
    /// Sets extended attribute `name` of `path` as `uid` with group `gid`.
    fn set_xattr_as(&self, uid: u32, gid: u32, path: &str, name: &str, value: &[u8]) -> Outcome<()>;
    /// Changes the owner of `path`, as root.
    fn chown(&self, path: &str, uid: u32, gid: u32) -> Outcome<()>;
}

impl<F: FileSystem> AsUser for common::LoopbackMount<F> {
    fn write_as(&self, uid: u32, path: &str, data: &[u8]) -> Outcome<()> {
        let user = self.client().with_cred(Cred { uid, gid: uid, pid: 7 });
        let file = user.open(path, OFlag::O_WRONLY, 0)?;
        user.write(&file, 0, data)?;
        user.close(file)
    }

    fn truncate_as(&self, uid: u32, path: &str, size: u64) -> Outcome<()> {
        let user = self.client().with_cred(Cred { uid, gid: uid, pid: 7 });
        user.setattr(path, &SetVattr { size: Some(size), ..SetVattr::default() }).map(drop)
    }

    fn open_truncating_as(&self, uid: u32, path: &str) -> Outcome<()> {
        let user = self.client().with_cred(Cred { uid, gid: uid, pid: 7 });
        user.close(user.open(path, OFlag::O_WRONLY | OFlag::O_TRUNC, 0)?)
    }

    fn set_xattr_as(&self, uid: u32, gid: u32, path: &str, name: &str, value: &[u8]) -> Outcome<()> {
        let user = self.client().with_cred(Cred { uid, gid, pid: 7 });
        user.setxattr(path, name, value, puffs::XattrFlags::empty())
    }

    fn chown(&self, path: &str, uid: u32, gid: u32) -> Outcome<()> {
        let changes = SetVattr { uid: Some(uid), gid: Some(gid), ..SetVattr::default() };
        self.client().setattr(path, &changes).map(drop)
    }
}

/// Runs `f` on a thread whose file-system ids are `uid` and `gid`: as the kernel sees such a
/// caller, without the capabilities (`CAP_FSETID` among them) that setting them away from root
/// drops.
fn as_user<T: Send>(uid: u32, gid: u32, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                nix::unistd::setfsgid(nix::unistd::Gid::from_raw(gid));
                nix::unistd::setfsuid(nix::unistd::Uid::from_raw(uid));
                f()
            })
            .join()
            .expect("the user's thread")
    })
}

fn errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(nix::libc::EIO))
}

impl<F: FileSystem> AsUser for common::RealMount<F> {
    fn write_as(&self, uid: u32, path: &str, data: &[u8]) -> Outcome<()> {
        use std::os::unix::fs::FileExt;
        let path = self.dir().join(path);
        as_user(uid, uid, || std::fs::OpenOptions::new().write(true).open(&path)?.write_all_at(data, 0)).map_err(errno)
    }

    fn truncate_as(&self, uid: u32, path: &str, size: u64) -> Outcome<()> {
        let path = self.dir().join(path);
        as_user(uid, uid, || nix::unistd::truncate(&path, size as nix::libc::off_t))
    }

    fn open_truncating_as(&self, uid: u32, path: &str) -> Outcome<()> {
        let path = self.dir().join(path);
        as_user(uid, uid, || std::fs::OpenOptions::new().write(true).truncate(true).open(&path).map(drop))
            .map_err(errno)
    }

    fn set_xattr_as(&self, uid: u32, gid: u32, path: &str, name: &str, value: &[u8]) -> Outcome<()> {
        as_user(uid, gid, || self.set_xattr(path, name, value))
    }

    fn chown(&self, path: &str, uid: u32, gid: u32) -> Outcome<()> {
        std::os::unix::fs::chown(self.dir().join(path), Some(uid), Some(gid)).map_err(errno)
    }
}

fn mode(c: &impl Client, path: &str) -> u32 {
    c.stat(path).unwrap().mode
}

/// The privileges of one file through every change that drops them, or keeps them.
fn privileges_go_when_the_file_changes(c: &impl AsUser) {
    c.write_file("program", b"#!/bin/true\n").unwrap();
    c.chmod("program", 0o4755).unwrap();
    c.chown("program", NOBODY, NOBODY).unwrap();
    assert_eq!(mode(c, "program"), 0o755, "a change of owner drops set-user-id, even made by root");

    c.chmod("program", 0o6755).unwrap();
    c.write_as(NOBODY, "program", b"#!/bin/sh\n").unwrap();
    assert_eq!(mode(c, "program"), 0o755, "the owner's write drops both set-id bits");
    assert_eq!(c.read_file("program").unwrap(), b"#!/bin/sh\ne\n", "and the write happened");

    c.chmod("program", 0o6745).unwrap();
    c.write_as(NOBODY, "program", b"#").unwrap();
    assert_eq!(mode(c, "program"), 0o2745, "set-group-id without group execute marks locking: kept");

    c.chmod("program", 0o4755).unwrap();
    c.write_at("program", 0, b"#").unwrap();
    assert_eq!(mode(c, "program"), 0o4755, "root keeps them (CAP_FSETID)");

    c.truncate_as(NOBODY, "program", 4).unwrap();
    assert_eq!(mode(c, "program"), 0o755, "a truncate drops them");
    assert_eq!(c.stat("program").unwrap().size, 4);

    c.chmod("program", 0o4755).unwrap();
    c.open_truncating_as(NOBODY, "program").unwrap();
    assert_eq!(mode(c, "program"), 0o755, "a truncating open drops them");
    assert_eq!(c.stat("program").unwrap().size, 0, "and truncates");

    c.set_xattr("program", "security.capability", &CAPABILITY).unwrap();
    assert_eq!(c.get_xattr("program", "security.capability").unwrap(), CAPABILITY);
    c.write_as(NOBODY, "program", b"#!").unwrap();
    assert_eq!(c.get_xattr("program", "security.capability"), Err(Errno::ENODATA), "a write drops capabilities");
}

/// A group no one in these tests belongs to.
const OUTSIDERS: u32 = 12345;

/// Setting an access ACL (`setfacl`) keeps set-group-id only for a caller in the file's group
/// (`SETXATTR_EXT`'s `ACL_KILL_SGID`), as a `chmod` would.
fn an_acl_set_by_an_outsider_drops_set_group_id(c: &impl AsUser) {
    let acl = Acl::from_mode(0o775).to_xattr();
    c.write_file("shared", b"").unwrap();
    c.chown("shared", NOBODY, OUTSIDERS).unwrap();
    c.chmod("shared", 0o2775).unwrap();
    c.set_xattr_as(NOBODY, OUTSIDERS, "shared", ACCESS_XATTR, &acl).unwrap();
    assert_eq!(mode(c, "shared"), 0o2775, "the owner in the file's group keeps it");
    c.set_xattr_as(NOBODY, NOBODY, "shared", ACCESS_XATTR, &acl).unwrap();
    assert_eq!(mode(c, "shared"), 0o775, "the owner outside the file's group drops it");
}

/// Runs each body on a fresh dtfs on both kernels; the real mount lets other users in.
macro_rules! suite {
    ($($body:ident),* $(,)?) => {
        mod loopback {
            $(
                #[test]
                fn $body() {
                    let mount = crate::common::LoopbackMount::mount(super::Dtfs::new(), "dtfs", super::Dtfs::ROOT);
                    super::$body(&mount);
                    mount.unmount();
                }
            )*
        }
        mod real {
            $(
                #[test]
                #[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
                fn $body() {
                    let options = "default_permissions,allow_other";
                    let flags = puffs::MountFlags::empty();
                    let mount = crate::common::RealMount::mount(super::Dtfs::new(), "dtfs", super::Dtfs::ROOT, flags, options);
                    super::$body(&mount);
                    mount.unmount();
                }
            )*
        }
    };
}

suite!(privileges_go_when_the_file_changes, an_acl_set_by_an_outsider_drops_set_group_id);
