//! dtfs driven by path: content, listings, rename, links, attributes, xattrs, statvfs, errors
//! and node reclaim. One suite: every body runs on a real FUSE mount and on the loopback kernel.

mod common;

use std::time::{Duration, Instant};

use common::posix::pattern;
use common::Client;
use puffs::acl::{Acl, AclEntry, AclTag, ACCESS_XATTR, DEFAULT_XATTR};
use puffs::{Errno, Vtype};
use puffs_examples::dtfs::Dtfs;

/// A copy of a file that is mostly hole stays so in dtfs, which copies inside the file
/// system: a copy through the caller's reads and writes would fill it with zeros.
fn copied_holes_stay_holes(c: &dyn Client, _fs: &Dtfs) {
    const MIB: u64 = 1 << 20;
    c.write_file("src", b"head").unwrap();
    c.write_at("src", 64 * MIB, b"tail").unwrap();
    c.write_file("dst", b"").unwrap();
    let size = 64 * MIB + 4;
    assert_eq!(common::posix::copy_whole(c, "src", "dst", size), size);
    let dst = c.stat("dst").unwrap();
    assert_eq!(dst.size, size);
    assert!(dst.allocated < MIB, "the hole was copied as a hole: {} bytes allocated", dst.allocated);
}

/// Waits (boundedly) until `fs` holds `count` nodes: the kernel forgets nodes on its own time.
fn wait_node_count(fs: &Dtfs, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while fs.node_count() != count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(fs.node_count(), count, "nodes held after the kernel forgot them");
}

/// `user::rwx user:1000:r-x group::r-- mask::r-x other::---`, an ACL no mode can say.
fn acl_with_named_user() -> Acl {
    let entry = |tag, perm| AclEntry { tag, perm };
    Acl::new(vec![
        entry(AclTag::UserObj, 7),
        entry(AclTag::User(1000), 5),
        entry(AclTag::GroupObj, 4),
        entry(AclTag::Mask, 5),
        entry(AclTag::Other, 0),
    ])
    .unwrap()
}

fn access_acls_set_the_mode_and_follow_chmod(c: &dyn Client, _fs: &Dtfs) {
    c.write_file("f", b"").unwrap();
    c.chmod("f", 0o644).unwrap();
    // An ACL with a named user: stored, and the mode shows the mask as its group bits.
    c.set_xattr("f", ACCESS_XATTR, &acl_with_named_user().to_xattr()).unwrap();
    assert_eq!(c.stat("f").unwrap().mode, 0o750);
    assert_eq!(Acl::from_xattr(&c.get_xattr("f", ACCESS_XATTR).unwrap()), Ok(acl_with_named_user()));
    // chmod changes the owner, mask and other entries; the named user stays.
    c.chmod("f", 0o640).unwrap();
    let after = Acl::from_xattr(&c.get_xattr("f", ACCESS_XATTR).unwrap()).unwrap();
    assert_eq!(after.mode_bits(), 0o640);
    assert!(after.entries().contains(&AclEntry { tag: AclTag::User(1000), perm: 5 }), "{after:?}");
    // An ACL the mode can say is not kept: it only sets the mode (as `cp -a` does it).
    c.set_xattr("f", ACCESS_XATTR, &Acl::from_mode(0o604).to_xattr()).unwrap();
    assert_eq!(c.stat("f").unwrap().mode, 0o604);
    assert_eq!(c.get_xattr("f", ACCESS_XATTR), Err(Errno::ENODATA));
    assert_eq!(c.list_xattr("f").unwrap(), Vec::<String>::new());
    // A malformed ACL is refused and changes nothing.
    assert_eq!(c.set_xattr("f", ACCESS_XATTR, b"\x02\0\0\0\x01\0"), Err(Errno::EINVAL));
    assert_eq!(c.stat("f").unwrap().mode, 0o604);
}

fn new_nodes_inherit_the_default_acl(c: &dyn Client, _fs: &Dtfs) {
    c.mkdir("d", 0o755).unwrap();
    c.set_xattr("d", DEFAULT_XATTR, &acl_with_named_user().to_xattr()).unwrap();
    // A file asked as 0666 gets what the default ACL allows of it, whatever the umask.
    c.write_file("d/f", b"").unwrap();
    let file = c.stat("d/f").unwrap();
    assert_eq!(file.mode, 0o640, "0644 asked (the client's open mode), masked by the default ACL");
    let access = Acl::from_xattr(&c.get_xattr("d/f", ACCESS_XATTR).unwrap()).unwrap();
    assert!(access.entries().contains(&AclEntry { tag: AclTag::User(1000), perm: 5 }), "{access:?}");
    assert_eq!(c.get_xattr("d/f", DEFAULT_XATTR), Err(Errno::ENODATA), "a file has no default ACL");
    // A directory inherits both: the access ACL and the default for its own children.
    c.mkdir("d/sub", 0o777).unwrap();
    assert_eq!(c.stat("d/sub").unwrap().mode, 0o750);
    assert_eq!(Acl::from_xattr(&c.get_xattr("d/sub", DEFAULT_XATTR).unwrap()), Ok(acl_with_named_user()));
    c.write_file("d/sub/g", b"").unwrap();
    assert_eq!(c.stat("d/sub/g").unwrap().mode, 0o640);
    // Without a default ACL, nothing is inherited.
    c.mkdir("plain", 0o755).unwrap();
    c.write_file("plain/h", b"").unwrap();
    assert_eq!(c.stat("plain/h").unwrap().mode, 0o644);
    assert_eq!(c.get_xattr("plain/h", ACCESS_XATTR), Err(Errno::ENODATA));
}

fn statvfs_counts_space_and_nodes(c: &dyn Client, _fs: &Dtfs) {
    let before = c.statvfs().unwrap();
    assert_eq!((before.bsize, before.namemax), (4096, 255));
    assert!(before.blocks > 0 && before.bfree <= before.blocks && before.ffree <= before.files);
    c.write_file("f", &pattern(1 << 20, 3)).unwrap();
    let after = c.statvfs().unwrap();
    assert_eq!(before.bfree - after.bfree, 256, "1 MiB is 256 blocks of 4 KiB");
    assert_eq!(before.ffree - after.ffree, 1);
    c.unlink("f").unwrap();
}

fn nodes_are_reclaimed_once_forgotten(c: &dyn Client, fs: &Dtfs) {
    let baseline = fs.node_count();
    c.mkdir("d", 0o755).unwrap();
    for i in 0..20 {
        c.write_file(&format!("d/{i}"), b"data").unwrap();
    }
    c.symlink("d/0", "link").unwrap();
    assert_eq!(fs.node_count(), baseline + 22);
    for i in 0..20 {
        c.unlink(&format!("d/{i}")).unwrap();
    }
    c.unlink("link").unwrap();
    c.rmdir("d").unwrap();
    wait_node_count(fs, baseline);
    assert_eq!(fs.bytes_used(), 0);
}

/// Open-but-unlinked files stay readable while several workers serve the mount and the kernel
/// keeps dropping its inode cache: a FORGET and a LOOKUP of the same node handled on two
/// workers must never reclaim a node the kernel holds (it did: `ENOENT` on the open file).
#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn open_unlinked_files_survive_forgets_on_several_workers() {
    use std::io::{Read, Seek, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    let fs = Dtfs::new();
    let mount = common::RealMount::mount_threads(
        fs.clone(),
        "dtfs",
        Dtfs::ROOT,
        puffs::MountFlags::empty(),
        "default_permissions",
        4,
    );
    let stop = AtomicBool::new(false);
    let (mut rounds, mut failures) = (0u32, Vec::new());
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                // Makes the kernel forget every unused inode: FORGETs race the lookups below.
                std::fs::write("/proc/sys/vm/drop_caches", "2").expect("drop caches (needs root)");
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let deadline = Instant::now() + Duration::from_secs(4);
        while Instant::now() < deadline {
            let path = mount.dir().join(format!("f{}", rounds % 8));
            let data = format!("round {rounds}");
            let outcome = (|| -> std::io::Result<String> {
                std::fs::File::create(&path)?.write_all(data.as_bytes())?;
                let mut file = std::fs::File::open(&path)?;
                std::fs::remove_file(&path)?;
                let mut read = String::new();
                file.rewind()?;
                file.read_to_string(&mut read)?;
                Ok(read)
            })();
            match outcome {
                Ok(read) if read == data => {}
                other => failures.push(format!("round {rounds}: {other:?}")),
            }
            rounds += 1;
        }
        stop.store(true, Ordering::Relaxed);
    });
    mount.unmount();
    assert!(rounds >= 200, "only {rounds} rounds ran");
    assert!(failures.is_empty(), "{} of {rounds} rounds failed, first: {:?}", failures.len(), failures.first());
}

/// dtfs keeps POSIX ACLs: the kernel grants them, and the mount says so.
#[test]
fn posix_acls_are_granted_and_reported() {
    let usermount = puffs::Usermount::init(Dtfs::new(), "dtfs");
    let args = puffs::loopback::MountArgs::of(&usermount, Dtfs::ROOT);
    let mounted = puffs::loopback::mount(usermount, args).map_err(puffs::Error::from).expect("mount");
    let info = mounted.mount_info();
    assert!(info.posix_acl, "{info:?}");
    assert_eq!(info.fs_name, "puffs|dtfs");
    mounted.unmount(puffs::UnmountFlags::empty()).map_err(|_| "unmount refused").unwrap();
}

/// Runs `body` on a fresh dtfs mounted for real with `options`; with `io_uring`, checks that
/// requests do come through io_uring.
fn on_a_real_mount(options: &str, body: fn(&dyn Client, &Dtfs)) {
    let fs = Dtfs::new();
    let mount = common::RealMount::mount(fs.clone(), "dtfs", Dtfs::ROOT, puffs::MountFlags::empty(), options);
    if options.contains("io_uring") {
        assert!(matches!(mount.transport(), puffs::Transport::IoUring { .. }), "{:?}", mount.transport());
    }
    common::bounded(&mount, |c| body(c, &fs));
    mount.unmount();
}

/// Runs `body` on a fresh dtfs on the loopback kernel.
fn on_the_loopback_kernel(body: fn(&dyn Client, &Dtfs)) {
    let fs = Dtfs::new();
    let mount = common::LoopbackMount::mount(fs.clone(), "dtfs", Dtfs::ROOT);
    common::bounded(&mount, |c| body(c, &fs));
    mount.unmount();
}

/// `O_TMPFILE`: a file without a name holds data, takes no name in its directory, and keeps
/// its data when `linkat(2)` names it; unnamed, it is reclaimed at close.
fn tmpfiles_hold_data_and_can_be_named(c: &dyn Client, fs: &Dtfs) {
    c.mkdir("tmp", 0o755).unwrap();
    let data = pattern(10_000, 7);
    let nodes = fs.node_count();
    assert_eq!(c.tmpfile("tmp", &data, None).unwrap(), data);
    assert_eq!(c.list("tmp").unwrap(), Vec::<String>::new(), "no name");
    wait_node_count(fs, nodes);
    assert_eq!(c.tmpfile("tmp", &data, Some("tmp/kept")).unwrap(), data);
    assert_eq!(c.list("tmp").unwrap(), vec!["kept"]);
    assert_eq!(c.read_file("tmp/kept").unwrap(), data);
    let kept = c.stat("tmp/kept").unwrap();
    assert_eq!((kept.mode & 0o7777, kept.nlink), (0o600, 1));
    assert_eq!(c.tmpfile("tmp/kept", b"x", None), Err(Errno::ENOTDIR));
}

/// `statx(2)` reports when a node was made (dtfs keeps it), and later changes leave it.
fn statx_reports_the_birth_time(c: &dyn Client, _fs: &Dtfs) {
    let before = std::time::SystemTime::now() - Duration::from_secs(1);
    c.write_file("f", b"one").unwrap();
    c.mkdir("d", 0o755).unwrap();
    let born = c.birth_time("f").unwrap().expect("dtfs keeps birth times");
    assert!(born >= before && born <= std::time::SystemTime::now(), "{born:?}");
    assert!(c.birth_time("d").unwrap().is_some());
    assert!(c.birth_time("").unwrap().is_some(), "the root's too");
    std::thread::sleep(Duration::from_millis(20));
    c.write_at("f", 3, b"two").unwrap();
    c.chmod("f", 0o600).unwrap();
    assert_eq!(c.birth_time("f").unwrap(), Some(born), "writes and chmod keep it");
}

// Each body on both kernels: the real one through `/dev/fuse` and through io_uring; and the
// loopback kernel.
common::suite!(on_a_real_mount, on_the_loopback_kernel, posix (c: &dyn Client, _fs: &Dtfs) => c, [
    statx_reports_the_birth_time,
    tmpfiles_hold_data_and_can_be_named,
    copied_holes_stay_holes,
    access_acls_set_the_mode_and_follow_chmod,
    new_nodes_inherit_the_default_acl,
    statvfs_counts_space_and_nodes,
    nodes_are_reclaimed_once_forgotten,
];
    real(puffs_cannot_mount, "needs root and /dev/fuse: run the tests as root (see README)") => "default_permissions";
    io_uring(
        puffs_no_io_uring,
        "needs root, /dev/fuse and FUSE over io_uring (echo Y > /sys/module/fuse/parameters/enable_uring)"
    ) => "default_permissions,io_uring";
);

/// Mounted without ACLs and without `default_permissions`, the kernel checks nothing and dtfs
/// checks every access itself: the loopback kernel never checks, so each refusal here is
/// dtfs's. Mounted with ACLs, the kernel checks and opens never reach dtfs.
#[test]
fn dtfs_checks_permissions_itself_where_the_kernel_does_not() {
    use puffs::loopback::{self, MountArgs, Request};
    use puffs::{AccessFlags, Cred, MountOptions, OFlag, SetVattr, UnmountFlags, Usermount, XattrFlags};

    let usermount = Usermount::init(Dtfs::new(), "dtfs").mount_options(MountOptions::parse("noacl").unwrap());
    let args = MountArgs::of(&usermount, Dtfs::ROOT);
    let mounted = loopback::mount(usermount, args).unwrap();
    assert!(!mounted.mount_info().kernel_checks && !mounted.mount_info().posix_acl);
    let owner = mounted.client().with_cred(Cred::ROOT);
    let other = mounted.client().with_cred(Cred { uid: 4242, gid: 4242, pid: 0 });
    let chmod = |path: &str, mode: u32| owner.setattr(path, &SetVattr { mode: Some(mode), ..SetVattr::default() });

    owner.mkdir("private", 0o700).unwrap();
    owner.close(owner.create("private/f", 0o644).unwrap()).unwrap();
    owner.close(owner.create("shared", 0o644).unwrap()).unwrap();
    chmod("/", 0o755).unwrap();
    assert_eq!(other.stat("private/f").err(), Some(Errno::EACCES), "no search right on private");
    assert_eq!(other.mkdir("mine", 0o755), Err(Errno::EACCES), "no write right on the root");
    assert_eq!(other.open("shared", OFlag::O_WRONLY, 0).err(), Some(Errno::EACCES));
    other.close(other.open("shared", OFlag::O_RDONLY, 0).unwrap()).unwrap();
    assert_eq!(other.access("shared", AccessFlags::W_OK), Err(Errno::EACCES));
    assert_eq!(other.access("shared", AccessFlags::R_OK), Ok(()));
    assert_eq!(
        other.setattr("shared", &SetVattr { mode: Some(0o777), ..SetVattr::default() }).err(),
        Some(Errno::EPERM)
    );
    assert_eq!(other.setxattr("shared", "user.tag", b"x", XattrFlags::empty()), Err(Errno::EACCES));
    assert_eq!(other.unlink("shared"), Err(Errno::EACCES));

    // A sticky directory: everyone creates, only owners remove.
    chmod("/", 0o1777).unwrap();
    other.close(other.create("theirs", 0o600).unwrap()).unwrap();
    assert_eq!(other.unlink("shared"), Err(Errno::EPERM), "sticky: not the owner's to remove");
    assert_eq!(other.rename("shared", "moved"), Err(Errno::EPERM));
    other.unlink("theirs").unwrap();
    // A directory moving to another parent has its `..` rewritten: it takes writing it.
    chmod("/", 0o777).unwrap();
    owner.mkdir("dest", 0o777).unwrap();
    chmod("dest", 0o777).unwrap();
    other.mkdir("mine", 0o555).unwrap();
    assert_eq!(other.rename("mine", "dest/mine"), Err(Errno::EACCES), "mine is not writable");
    other.rename("mine", "kept").unwrap();
    other.setattr("kept", &SetVattr { mode: Some(0o755), ..SetVattr::default() }).unwrap();
    other.rename("kept", "dest/kept").unwrap();
    assert!(mounted.client().requests_sent(Request::Open) > 0, "opens reach dtfs");
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).unwrap();

    // With ACLs the kernel checks: the first open answers ENOSYS and opens stop.
    let usermount = Usermount::init(Dtfs::new(), "dtfs");
    let args = MountArgs::of(&usermount, Dtfs::ROOT);
    let mounted = loopback::mount(usermount, args).unwrap();
    assert!(mounted.mount_info().kernel_checks);
    let c = mounted.client();
    c.close(c.create("f", 0o644).unwrap()).unwrap();
    for _ in 0..3 {
        c.close(c.open("f", OFlag::O_RDONLY, 0).unwrap()).unwrap();
    }
    assert_eq!(c.requests_sent(Request::Open), 1, "one open, answered ENOSYS");
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).unwrap();
}

/// Asked for io_uring where the kernel does not offer it (the loopback kernel never does, nor
/// does Linux with `enable_uring` off), a mount keeps to its device and says so.
#[test]
fn io_uring_falls_back_to_the_device_where_the_kernel_lacks_it() {
    use puffs::loopback::{self, MountArgs};
    use puffs::{MountOptions, Transport, UnmountFlags, Usermount};

    let usermount = Usermount::init(Dtfs::new(), "dtfs").mount_options(MountOptions::parse("io_uring").unwrap());
    let args = MountArgs::of(&usermount, Dtfs::ROOT);
    let mounted = loopback::mount(usermount, args).unwrap();
    assert_eq!(mounted.mount_info().transport, Transport::Device);
    mounted.client().mkdir("d", 0o755).unwrap();
    assert_eq!(mounted.client().stat("d").unwrap().vtype, Vtype::Dir);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).unwrap();
}
