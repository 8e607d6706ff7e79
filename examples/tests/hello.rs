//! hello driven by path: its one file reads back, its root lists it, and nothing else exists.
//! One suite: every body runs on a real FUSE mount and on the loopback kernel.

mod common;

use common::Client;
use puffs::{Errno, Vtype};
use puffs_examples::hello::Hello;

fn the_file_reads_back(c: &dyn Client) {
    assert_eq!(c.read_file("hello").unwrap(), Hello::CONTENT);
    assert_eq!(c.read_at("hello", 7, 100).unwrap(), b"world!\n");
    assert_eq!(c.read_at("hello", 1000, 10).unwrap(), b"");
    let stat = c.stat("hello").unwrap();
    assert_eq!((stat.vtype, stat.mode, stat.size), (Vtype::Reg, 0o444, Hello::CONTENT.len() as u64));
}

fn the_root_lists_one_file(c: &dyn Client) {
    assert_eq!(c.list("").unwrap(), ["hello"]);
    let root = c.stat("").unwrap();
    assert_eq!((root.vtype, root.mode, root.nlink), (Vtype::Dir, 0o555, 2));
    assert_eq!(c.list("hello"), Err(Errno::ENOTDIR));
}

fn nothing_else_exists(c: &dyn Client) {
    assert_eq!(c.stat("goodbye"), Err(Errno::ENOENT));
    assert_eq!(c.read_file("goodbye"), Err(Errno::ENOENT));
    assert_eq!(c.stat("hello/x"), Err(Errno::ENOTDIR));
    assert_eq!(c.get_xattr("hello", "user.x"), Err(Errno::EOPNOTSUPP), "no xattr support: the kernel says so");
    let st = c.statvfs().unwrap();
    assert_eq!((st.blocks, st.files, st.namemax), (1, 2, 255));
}

/// Runs each body on hello on both kernels.
macro_rules! suite {
    ($($body:ident),* $(,)?) => {
        mod real {
            $(
                #[test]
                #[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
                fn $body() {
                    let mount = crate::common::RealMount::mount(
                        puffs_examples::hello::Hello,
                        "hello",
                        puffs_examples::hello::Hello::ROOT,
                        puffs::MountFlags::RDONLY,
                        "",
                    );
                    crate::common::bounded(&mount, |c| super::$body(c));
                    mount.unmount();
                }
            )*
        }
        mod loopback {
            $(
                #[test]
                fn $body() {
                    let mount = crate::common::LoopbackMount::mount(
                        puffs_examples::hello::Hello,
                        "hello",
                        puffs_examples::hello::Hello::ROOT,
                    );
                    crate::common::bounded(&mount, |c| super::$body(c));
                    mount.unmount();
                }
            )*
        }
    };
}

suite!(the_file_reads_back, the_root_lists_one_file, nothing_else_exists);

/// hello implements no operation that changes anything: even mounted without `ro`, it is
/// mounted read-only, and writes get `EROFS` rather than "function not implemented".
#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn a_file_system_that_cannot_change_mounts_read_only_by_itself() {
    let mount = common::RealMount::mount(Hello, "hello", Hello::ROOT, puffs::MountFlags::empty(), "rw");
    common::bounded(&mount, |c| {
        assert_eq!(c.write_file("hello", b"x"), Err(Errno::EROFS));
        assert_eq!(c.mkdir("d", 0o755), Err(Errno::EROFS));
        assert_eq!(c.read_file("hello").unwrap(), b"Hello, world!\n");
    });
    mount.unmount();
}

/// Only a real mount has a read-only flag: writing is refused by the kernel before hello sees it.
#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn a_read_only_mount_refuses_writes() {
    let mount = common::RealMount::mount(Hello, "hello", Hello::ROOT, puffs::MountFlags::RDONLY, "");
    common::bounded(&mount, |c| {
        assert_eq!(c.write_file("hello", b"x"), Err(Errno::EROFS));
        assert_eq!(c.write_file("new", b"x"), Err(Errno::EROFS));
        assert_eq!(c.mkdir("d", 0o755), Err(Errno::EROFS));
        assert_eq!(c.unlink("hello"), Err(Errno::EROFS));
    });
    mount.unmount();
}
