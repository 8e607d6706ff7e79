//! The loopback kernel's mount, as `puffs_vfsops.c` does it: arguments checked and clamped, the
//! file system told what it got, the MOUNTING window, and the cached root.

mod loopback_support;

use loopback_support::{recorder, DIR, FILE};
use puffs::loopback::Request;
use puffs::loopback::{self, KernelFlags, MountArgs, Status, PUFFS_VERSION};
use puffs::{Cookie, Errno, UnmountFlags, Vtype, REQUEST_LEN_MAX, REQUEST_LEN_MIN};

fn unmount<F: puffs::FileSystem>(mounted: loopback::Loopback<F>) -> F {
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount")
}

#[test]
fn a_version_mismatch_is_einval_and_the_usermount_comes_back() {
    let (usermount, log) = recorder(Cookie(1));
    let args = MountArgs { version: PUFFS_VERSION + 1, ..MountArgs::of(&usermount, Cookie(1)) };
    let (error, usermount) = loopback::mount(usermount, args).expect_err("another version is refused").into_parts();
    assert_eq!(error.errno(), Errno::EINVAL);
    assert!(log.events().is_empty(), "the file system was not involved: {:?}", log.events());
    let args = MountArgs::of(&usermount, Cookie(1));
    let mounted = loopback::mount(usermount, args).map_err(puffs::Error::from).expect("the usermount is still good");
    unmount(mounted);
}

#[test]
fn an_update_mount_is_eopnotsupp() {
    let (usermount, _log) = recorder(Cookie(1));
    let args = MountArgs { update: true, ..MountArgs::of(&usermount, Cookie(1)) };
    let (error, _usermount) = loopback::mount(usermount, args).expect_err("updates are refused").into_parts();
    assert_eq!(error.errno(), Errno::EOPNOTSUPP);
}

#[test]
fn unknown_flag_bits_are_stripped() {
    let (usermount, _log) = recorder(Cookie(1));
    let asked =
        KernelFlags::from_bits_retain(KernelFlags::NOCACHE_NAME.bits() | KernelFlags::ALLOPS.bits() | 0x8000_0100);
    let args = MountArgs { flags: asked, ..MountArgs::of(&usermount, Cookie(1)) };
    assert_eq!(args.granted().unwrap().flags, KernelFlags::NOCACHE_NAME | KernelFlags::ALLOPS);
    let mounted = loopback::mount(usermount, args).map_err(puffs::Error::from).expect("mount");
    assert_eq!(mounted.client().args().flags, KernelFlags::NOCACHE_NAME | KernelFlags::ALLOPS);
    assert_eq!(mounted.client().args().flags.bits(), 0x05, "only known bits survive");
    unmount(mounted);
}

#[test]
fn the_name_gets_its_prefix_and_the_file_system_is_told() {
    let (usermount, log) = recorder(Cookie(1));
    let args = MountArgs::of(&usermount, Cookie(1));
    assert_eq!(args.fs_name, "rec");
    let mounted = loopback::mount(usermount, args).map_err(puffs::Error::from).expect("mount");
    assert_eq!(mounted.client().args().fs_name, "puffs|rec");
    assert_eq!(log.mounted.lock().unwrap().as_ref().unwrap().fs_name, "puffs|rec");
    assert_eq!(log.events()[0], "mounted puffs|rec");
    unmount(mounted);
    let long = MountArgs::new(&"n".repeat(100), Cookie(1)).granted().unwrap();
    assert_eq!(long.fs_name, format!("puffs|{}", "n".repeat(25)), "cut to the kernel's name size");
}

#[test]
fn the_request_length_is_clamped_and_the_file_system_told() {
    let cases = [
        (0, REQUEST_LEN_MAX),
        (REQUEST_LEN_MAX + 1, REQUEST_LEN_MAX),
        (usize::MAX, REQUEST_LEN_MAX),
        (1, REQUEST_LEN_MIN),
        (REQUEST_LEN_MIN - 1, REQUEST_LEN_MIN),
        (REQUEST_LEN_MIN + 100, REQUEST_LEN_MIN + 100),
    ];
    for (asked, granted) in cases {
        let (usermount, log) = recorder(Cookie(1));
        let args = MountArgs { max_request_len: asked, ..MountArgs::of(&usermount, Cookie(1)) };
        let mounted = loopback::mount(usermount, args).map_err(puffs::Error::from).expect("mount");
        // Without CAP_NET_ADMIN the socket pair may carry less than the maximum: the grant is
        // clamped to it as well (root, as in CI, always gets the full length).
        let granted = if nix::unistd::geteuid().is_root() {
            granted
        } else {
            granted.min(mounted.client().args().max_request_len)
        };
        assert_eq!(mounted.client().args().max_request_len, granted, "kernel's view of {asked}");
        assert_eq!(mounted.mount_info().max_request_len, granted, "usermount's view of {asked}");
        let told = log.mounted.lock().unwrap().clone().expect("fs_mounted was called");
        assert_eq!(told.max_request_len, granted, "fs_mounted of {asked}");
        assert_eq!(mounted.client().max_write(), told.max_write, "the kernel writes what the file system accepts");
        unmount(mounted);
    }
}

#[test]
fn the_usermounts_own_request_length_is_the_one_asked_for() {
    let (usermount, log) = recorder(Cookie(1));
    let usermount = usermount.max_request_len(3);
    let mounted = loopback::mount(usermount.max_request_len(3), MountArgs::new("rec", Cookie(1)).clone())
        .map_err(puffs::Error::from)
        .expect("mount");
    // Arguments built by hand ask for 0, which wins over the usermount's setting: the maximum.
    assert_eq!(log.mounted.lock().unwrap().as_ref().unwrap().max_request_len, REQUEST_LEN_MAX);
    unmount(mounted);
    let (usermount, log) = recorder(Cookie(1));
    let usermount = usermount.max_request_len(3);
    let args = MountArgs::of(&usermount, Cookie(1));
    let mounted = loopback::mount(usermount, args).map_err(puffs::Error::from).expect("mount");
    assert_eq!(log.mounted.lock().unwrap().as_ref().unwrap().max_request_len, REQUEST_LEN_MIN);
    unmount(mounted);
}

#[test]
fn cookie_hash_buckets_are_clamped() {
    for (asked, granted) in [(0, 256), (1, 1), (300, 300), (65536, 65536), (65537, 65536), (1 << 40, 65536)] {
        let (usermount, log) = recorder(Cookie(1));
        let usermount = usermount.cookie_hash_buckets(asked);
        let args = MountArgs::of(&usermount, Cookie(1));
        assert_eq!(args.cookie_hash_buckets, asked);
        let mounted = loopback::mount(usermount, args).map_err(puffs::Error::from).expect("mount");
        assert_eq!(mounted.client().args().cookie_hash_buckets, granted, "kernel's view of {asked}");
        assert_eq!(mounted.mount_info().cookie_hash_buckets, granted, "session's table for {asked}");
        let told = log.mounted.lock().unwrap().clone().expect("fs_mounted was called");
        assert_eq!(told, *mounted.mount_info(), "fs_mounted is told what the usermount reports");
        unmount(mounted);
    }
}

#[test]
fn statvfs_while_mounting_is_einprogress_then_the_file_systems_answer() {
    let (usermount, log) = recorder(Cookie(1));
    // The main loop's first request is the root GETATTR: holding it holds the mount in MOUNTING.
    log.root_gate.close();
    let args = MountArgs::of(&usermount, Cookie(1));
    let mounted = loopback::mount_nowait(usermount, args).map_err(puffs::Error::from).expect("mount");
    log.root_gate.wait_for_waiter();
    assert_eq!(mounted.client().status(), Status::Mounting);
    assert_eq!(mounted.client().root_vattr(), None);
    assert_eq!(mounted.client().statvfs(), Err(Errno::EINPROGRESS));
    assert_eq!(mounted.client().requests_sent(Request::Statvfs), 0, "the file system was not asked");
    log.root_gate.release();
    mounted.client().wait_started().expect("the mount starts");
    assert_eq!(mounted.client().status(), Status::Serving);
    assert_eq!(mounted.client().statvfs().expect("statvfs once running").blocks, 1234);
    assert!(log.events().contains(&"statvfs".to_string()));
    unmount(mounted);
}

#[test]
fn the_root_cookie_given_is_the_one_used_and_the_root_is_cached() {
    for root in [Cookie(0xdead), Cookie(0), Cookie(1)] {
        let (usermount, log) = recorder(root);
        let args = MountArgs::of(&usermount, root);
        let mounted = loopback::mount(usermount, args).map_err(puffs::Error::from).expect("mount");
        // The GETATTR at mount, before any call, fetched the root's attributes: they are cached.
        assert_eq!(log.events(), vec!["mounted puffs|rec".to_string(), format!("getattr {}", root.0)]);
        let cached = mounted.client().root_vattr().expect("root cached");
        assert_eq!((cached.fileid, cached.mode, cached.nlink, cached.vtype), (4242, 0o711, 3, Vtype::Dir));
        assert_eq!(mounted.client().stat("").unwrap().fileid, 4242);
        assert_eq!(mounted.client().stat("/").unwrap().fileid, 4242);
        assert_eq!(mounted.client().stat("file").unwrap().fileid, FILE.0);
        assert_eq!(mounted.client().stat("dir/file").unwrap().size, 4);
        assert_eq!(mounted.client().stat("dir/../dir/./file").unwrap().size, 4);
        assert_eq!(mounted.client().stat("dir/nothing"), Err(Errno::ENOENT));
        assert_eq!(mounted.client().stat("file/x"), Err(Errno::ENOTDIR));
        let events = log.events();
        for event in &events[2..] {
            let dir = event.strip_prefix("lookup ").map(|rest| rest.split(' ').next().unwrap().to_string());
            if let Some(dir) = dir {
                assert!(dir == root.0.to_string() || dir == DIR.0.to_string(), "lookup in {dir}: {events:?}");
            }
            assert_ne!(event, &format!("reclaim {}", root.0), "the root is never forgotten: {events:?}");
            if let Some(node) = event.strip_prefix("getattr ") {
                assert_eq!(node, root.0.to_string(), "the root's getattr uses its cookie: {events:?}");
            }
        }
        assert_eq!(mounted.client().requests_sent(Request::Getattr), 3, "one at mount, two for stat of the root");
        unmount(mounted);
    }
}
