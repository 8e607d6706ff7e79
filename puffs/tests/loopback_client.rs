//! The loopback kernel's POSIX-like client on an in-memory read-write file system: data comes
//! back as written, directories list, names move and vanish, errors are the file system's, bad
//! names never reach it, nodes are reclaimed once forgotten, and many threads may call at once.

mod loopback_support;

use std::ffi::OsString;

use loopback_support::{eventually, mounted_memfs};
use puffs::loopback::Request;
use puffs::{Cred, Errno, OFlag, SetVattr, UnmountFlags, Vtype, XattrFlags, REQUEST_LEN_MIN};

fn names(entries: &[puffs::Dirent]) -> Vec<String> {
    let mut names: Vec<String> = entries.iter().map(|e| e.name.to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn written_bytes_read_back_the_same() {
    // The smallest request length: writes and reads are cut into several requests.
    let (mounted, _) = mounted_memfs(1, REQUEST_LEN_MIN);
    assert_eq!(mounted.client().max_write() as usize, REQUEST_LEN_MIN - 4096);
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let file = mounted.client().create("f", 0o644).expect("create");
    assert_eq!(file.handle(), puffs::FileHandle::NONE, "no node_open: opened without asking");
    assert_eq!(mounted.client().write(&file, 0, &data).expect("write"), data.len());
    assert!(mounted.client().requests_sent(Request::Write) >= 5, "cut at max_write");
    assert_eq!(mounted.client().read(&file, 0, data.len() + 100).expect("read"), data);
    assert_eq!(mounted.client().read(&file, 19_990, 100).expect("read the tail"), &data[19_990..]);
    assert_eq!(mounted.client().fstat(&file).expect("fstat").size, data.len() as u64);
    mounted.client().close(file).expect("close");
    // CREATE opens in the same request, and that open is released, as FUSE does.
    assert_eq!(mounted.client().requests_sent(Request::Close), 1);
    let again = mounted.client().open("f", OFlag::O_RDONLY, 0).expect("open");
    assert_eq!(mounted.client().read(&again, 5, 3).expect("read"), &data[5..8]);
    assert_eq!(mounted.client().write(&again, 0, b"x"), Err(Errno::EBADF), "opened read-only");
    mounted.client().close(again).expect("close");
    assert_eq!(mounted.client().requests_sent(Request::Open), 1, "asked once: ENOSYS means opens always succeed");
    let third = mounted.client().open("f", OFlag::O_RDONLY, 0).expect("open");
    mounted.client().close(third).expect("close");
    assert_eq!(mounted.client().requests_sent(Request::Open), 1, "not asked again");
    assert_eq!(mounted.client().requests_sent(Request::Close), 1, "no release for an open never asked");
    let trunc = mounted.client().open("f", OFlag::O_WRONLY | OFlag::O_TRUNC, 0).expect("open with O_TRUNC");
    mounted.client().close(trunc).expect("close");
    assert_eq!(mounted.client().stat("f").expect("stat").size, 0);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn directories_list_their_entries() {
    let (mounted, _) = mounted_memfs(1, 0);
    mounted.client().mkdir("d", 0o755).expect("mkdir");
    let mut expected = vec![".".to_string(), "..".to_string()];
    for i in 0..200 {
        let name = format!("a-rather-long-file-name-{i:04}");
        mounted.client().close(mounted.client().create(format!("d/{name}"), 0o600).expect("create")).expect("close");
        expected.push(name);
    }
    expected.sort();
    let entries = mounted.client().readdir("d").expect("readdir");
    assert_eq!(names(&entries), expected);
    assert!(mounted.client().requests_sent(Request::Readdir) > 2, "listed in several READDIRs until an empty one");
    assert!(entries.iter().filter(|e| !e.name.to_string_lossy().starts_with('.')).all(|e| e.vtype == Some(Vtype::Reg)));
    assert_eq!(mounted.client().readdir("d/a-rather-long-file-name-0000"), Err(Errno::ENOTDIR));
    assert_eq!(names(&mounted.client().readdir("").expect("root")), vec![".", "..", "d"]);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn names_move_vanish_and_collide() {
    let (mounted, _) = mounted_memfs(1, 0);
    mounted.client().close(mounted.client().create("a", 0o644).expect("create")).expect("close");
    mounted.client().mkdir("d", 0o755).expect("mkdir");
    mounted.client().rename("a", "d/b").expect("rename");
    assert_eq!(mounted.client().stat("a"), Err(Errno::ENOENT));
    assert_eq!(mounted.client().stat("d/b").expect("moved").vtype, Vtype::Reg);
    assert_eq!(mounted.client().mkdir("d", 0o755), Err(Errno::EEXIST));
    assert_eq!(
        mounted.client().open("d/b", OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR, 0o644).err(),
        Some(Errno::EEXIST)
    );
    assert_eq!(mounted.client().rmdir("d"), Err(Errno::ENOTEMPTY));
    assert_eq!(mounted.client().unlink("d"), Err(Errno::EISDIR));
    assert_eq!(mounted.client().rmdir("d/b"), Err(Errno::ENOTDIR));
    mounted.client().unlink("d/b").expect("unlink");
    assert_eq!(mounted.client().stat("d/b"), Err(Errno::ENOENT));
    assert_eq!(mounted.client().unlink("d/b"), Err(Errno::ENOENT));
    mounted.client().rmdir("d").expect("rmdir");
    assert_eq!(mounted.client().stat("d"), Err(Errno::ENOENT));
    assert_eq!(mounted.client().rmdir(""), Err(Errno::EBUSY), "the root stays");
    assert_eq!(mounted.client().mkdir("/", 0o755), Err(Errno::EEXIST));
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn links_attributes_and_extended_attributes() {
    let (mounted, _) = mounted_memfs(1, 0);
    mounted.client().mkdir("real", 0o755).expect("mkdir");
    let file = mounted.client().create("real/f", 0o644).expect("create");
    mounted.client().write(&file, 0, b"contents").expect("write");
    mounted.client().close(file).expect("close");
    mounted.client().symlink("real", "alias").expect("symlink");
    assert_eq!(mounted.client().readlink("alias").expect("readlink"), OsString::from("real"));
    assert_eq!(mounted.client().stat("alias").expect("lstat").vtype, Vtype::Lnk);
    assert_eq!(mounted.client().stat("alias/f").expect("through the link").size, 8, "intermediate links are followed");
    assert_eq!(mounted.client().readlink("real"), Err(Errno::EINVAL));
    mounted.client().symlink("loop", "loop").expect("a link to itself");
    assert_eq!(mounted.client().stat("loop/x"), Err(Errno::ELOOP));
    mounted.client().link("real/f", "hard").expect("link");
    assert_eq!(mounted.client().stat("hard").expect("stat").nlink, 2);
    assert_eq!(mounted.client().link("real", "dirlink"), Err(Errno::EPERM));
    let after = mounted.client().setattr("hard", &SetVattr { mode: Some(0o600), size: Some(3), ..SetVattr::default() });
    let after = after.expect("setattr");
    assert_eq!((after.mode, after.size), (0o600, 3));
    assert_eq!(mounted.client().stat("real/f").expect("same node").mode, 0o600);
    mounted.client().setxattr("hard", "user.a", b"one", XattrFlags::CREATE).expect("setxattr");
    mounted.client().setxattr("hard", "user.b", b"", XattrFlags::empty()).expect("setxattr");
    assert_eq!(mounted.client().setxattr("hard", "user.a", b"x", XattrFlags::CREATE), Err(Errno::EEXIST));
    assert_eq!(mounted.client().getxattr("real/f", "user.a").expect("getxattr"), b"one");
    assert_eq!(mounted.client().getxattr("real/f", "user.b").expect("empty value"), b"");
    assert_eq!(
        mounted.client().listxattr("hard").expect("listxattr"),
        vec![OsString::from("user.a"), OsString::from("user.b")]
    );
    mounted.client().removexattr("hard", "user.a").expect("removexattr");
    assert_eq!(mounted.client().getxattr("hard", "user.a"), Err(Errno::ENODATA));
    assert_eq!(mounted.client().getxattr("hard", ""), Err(Errno::ERANGE));
    assert_eq!(mounted.client().statvfs().expect("statvfs").files, 5);
    mounted.client().sync().expect("a file system without fs_sync has nothing to sync");
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn acl_attributes_never_reach_a_file_system_that_keeps_no_acls() {
    // Stored as plain bytes, an ACL would answer success and never be enforced: the framework
    // answers EOPNOTSUPP, so that tools fall back to chmod.
    let (mounted, _) = mounted_memfs(1, 0);
    mounted.client().mkdir("d", 0o755).expect("mkdir");
    let acl = puffs::acl::Acl::from_mode(0o700).to_xattr();
    for name in [puffs::acl::ACCESS_XATTR, puffs::acl::DEFAULT_XATTR] {
        assert_eq!(mounted.client().setxattr("d", name, &acl, XattrFlags::empty()), Err(Errno::EOPNOTSUPP), "{name}");
        assert_eq!(mounted.client().getxattr("d", name), Err(Errno::EOPNOTSUPP), "{name}");
        assert_eq!(mounted.client().removexattr("d", name), Err(Errno::EOPNOTSUPP), "{name}");
    }
    assert_eq!(mounted.client().listxattr("d").expect("listxattr"), Vec::<OsString>::new(), "nothing was stored");
    assert_eq!(mounted.client().stat("d").expect("stat").mode, 0o755, "and the mode is untouched");
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn a_node_is_reclaimed_once_unlinked_and_forgotten() {
    let (mounted, reclaimed) = mounted_memfs(1, 0);
    let file = mounted.client().create("f", 0o644).expect("create");
    let cookie = mounted.client().fstat(&file).expect("fstat").fileid;
    mounted.client().unlink("f").expect("unlink");
    assert_eq!(mounted.client().stat("f"), Err(Errno::ENOENT));
    assert_eq!(mounted.client().write(&file, 0, b"still open").expect("write to the open file"), 10);
    // FORGETs have no reply: a later call orders them before the check (one worker thread).
    mounted.client().stat("").expect("stat");
    assert!(!reclaimed.lock().unwrap().contains(&cookie), "the open file holds its node");
    mounted.client().close(file).expect("close");
    mounted.client().stat("").expect("stat");
    assert_eq!(*reclaimed.lock().unwrap(), vec![cookie], "reclaimed once, after the last forget");
    assert!(mounted.client().requests_sent(Request::Forget) + mounted.client().requests_sent(Request::BatchForget) > 0);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn a_dropped_open_file_is_released_and_its_node_forgotten() {
    let (mounted, reclaimed) = mounted_memfs(1, 0);
    let client = mounted.client();
    let file = client.create("f", 0o644).expect("create");
    let cookie = client.fstat(&file).expect("fstat").fileid;
    client.unlink("f").expect("unlink");
    let released = client.requests_sent(Request::Close);
    drop(file);
    assert_eq!(client.requests_sent(Request::Close), released + 1, "released on drop");
    client.stat("").expect("stat");
    assert_eq!(*reclaimed.lock().unwrap(), vec![cookie], "its node forgotten, so reclaimed");
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn bad_names_are_refused_before_anything_is_sent() {
    let (mounted, _) = mounted_memfs(1, 0);
    let sent = |m: &puffs::loopback::Client| m.requests_sent(Request::Lookup) + m.requests_sent(Request::Mkdir);
    let before = sent(mounted.client());
    assert_eq!(mounted.client().mkdir("a\0b", 0o755), Err(Errno::EINVAL));
    assert_eq!(mounted.client().stat("x/a\0b"), Err(Errno::EINVAL));
    assert_eq!(mounted.client().mkdir("n".repeat(256), 0o755), Err(Errno::ENAMETOOLONG));
    assert_eq!(mounted.client().stat(format!("{}/x", "n".repeat(300))), Err(Errno::ENAMETOOLONG));
    assert_eq!(mounted.client().stat("a/".repeat(3000)), Err(Errno::ENAMETOOLONG));
    assert_eq!(mounted.client().mkdir("d/..", 0o755), Err(Errno::EINVAL));
    assert_eq!(mounted.client().symlink("", "l"), Err(Errno::ENOENT));
    assert_eq!(mounted.client().setxattr("", "user\0x", b"", XattrFlags::empty()), Err(Errno::EINVAL));
    assert_eq!(sent(mounted.client()), before, "nothing reached the file system");
    mounted.client().mkdir("n".repeat(255), 0o755).expect("255 bytes is fine");
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn requests_carry_the_callers_credentials() {
    let (mounted, _) = mounted_memfs(1, 0);
    let user = mounted.client().with_cred(Cred { uid: 1000, gid: 100, pid: 7 });
    assert_eq!(user.mkdir("mine", 0o755), Err(Errno::EACCES), "the root directory is root's");
    mounted.client().mkdir("shared", 0o777).expect("mkdir as root");
    user.mkdir("shared/mine", 0o755).expect("mkdir in a world-writable directory");
    let made = mounted.client().stat("shared/mine").expect("stat");
    assert_eq!((made.uid, made.gid), (1000, 100));
    assert_eq!(mounted.client().cred(), Cred::ROOT);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn many_threads_call_at_once() {
    let (mounted, _) = mounted_memfs(3, 0);
    std::thread::scope(|scope| {
        for t in 0..4 {
            let client = mounted.client().clone();
            scope.spawn(move || {
                client.mkdir(format!("t{t}"), 0o755).expect("mkdir");
                for i in 0..20 {
                    let path = format!("t{t}/f{i}");
                    let data = format!("thread {t} file {i}").into_bytes();
                    let file = client.create(&path, 0o644).expect("create");
                    client.write(&file, 0, &data).expect("write");
                    assert_eq!(client.read(&file, 0, 100).expect("read"), data);
                    client.close(file).expect("close");
                }
                assert_eq!(client.readdir(format!("t{t}")).expect("readdir").len(), 22);
            });
        }
    });
    let fs = mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
    drop(fs);
}

#[test]
fn a_dropped_mount_fails_its_clients_and_a_closed_peer_never_hangs() {
    let (mounted, _) = mounted_memfs(1, 0);
    let client = mounted.client().clone();
    drop(mounted);
    assert_eq!(client.stat(""), Err(Errno::ENXIO));
    assert_eq!(client.statvfs(), Err(Errno::ENXIO));
    let (mounted, _) = mounted_memfs(1, 0);
    mounted.client().abort();
    assert_eq!(mounted.client().stat(""), Err(Errno::ENXIO));
    eventually("the main loop ending", || mounted.client().status() == puffs::loopback::Status::Dying);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("an aborted mount still hands its fs back");
}
