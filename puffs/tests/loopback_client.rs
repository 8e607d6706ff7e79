//! The loopback kernel's POSIX-like client on an in-memory read-write file system: data comes
//! back as written, directories list, names move and vanish, errors are the file system's, bad
//! names never reach it, nodes are reclaimed once forgotten, and many threads may call at once.

mod loopback_support;

use std::ffi::OsString;

use loopback_support::{eventually, mounted_memfs};
use puffs::fuse::abi::opcode;
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
    assert_eq!(mounted.max_write() as usize, REQUEST_LEN_MIN - 4096);
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let file = mounted.create("f", 0o644).expect("create");
    assert_eq!(file.handle(), puffs::FileHandle::NONE, "no node_open: opened without asking");
    assert_eq!(mounted.write(&file, 0, &data).expect("write"), data.len());
    assert!(mounted.requests_sent(opcode::WRITE) >= 5, "cut at max_write");
    assert_eq!(mounted.read(&file, 0, data.len() + 100).expect("read"), data);
    assert_eq!(mounted.read(&file, 19_990, 100).expect("read the tail"), &data[19_990..]);
    assert_eq!(mounted.fstat(&file).expect("fstat").size, data.len() as u64);
    mounted.close(file).expect("close");
    // CREATE opens in the same request, and that open is released, as FUSE does.
    assert_eq!(mounted.requests_sent(opcode::RELEASE), 1);
    let again = mounted.open("f", OFlag::O_RDONLY, 0).expect("open");
    assert_eq!(mounted.read(&again, 5, 3).expect("read"), &data[5..8]);
    assert_eq!(mounted.write(&again, 0, b"x"), Err(Errno::EBADF), "opened read-only");
    mounted.close(again).expect("close");
    assert_eq!(mounted.requests_sent(opcode::OPEN), 1, "asked once: ENOSYS means opens always succeed");
    let third = mounted.open("f", OFlag::O_RDONLY, 0).expect("open");
    mounted.close(third).expect("close");
    assert_eq!(mounted.requests_sent(opcode::OPEN), 1, "not asked again");
    assert_eq!(mounted.requests_sent(opcode::RELEASE), 1, "no release for an open never asked");
    let trunc = mounted.open("f", OFlag::O_WRONLY | OFlag::O_TRUNC, 0).expect("open with O_TRUNC");
    mounted.close(trunc).expect("close");
    assert_eq!(mounted.stat("f").expect("stat").size, 0);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn directories_list_their_entries() {
    let (mounted, _) = mounted_memfs(1, 0);
    mounted.mkdir("d", 0o755).expect("mkdir");
    let mut expected = vec![".".to_string(), "..".to_string()];
    for i in 0..200 {
        let name = format!("a-rather-long-file-name-{i:04}");
        mounted.close(mounted.create(format!("d/{name}"), 0o600).expect("create")).expect("close");
        expected.push(name);
    }
    expected.sort();
    let entries = mounted.readdir("d").expect("readdir");
    assert_eq!(names(&entries), expected);
    assert!(mounted.requests_sent(opcode::READDIR) > 2, "listed in several READDIRs until an empty one");
    assert!(entries.iter().filter(|e| !e.name.to_string_lossy().starts_with('.')).all(|e| e.vtype == Some(Vtype::Reg)));
    assert_eq!(mounted.readdir("d/a-rather-long-file-name-0000"), Err(Errno::ENOTDIR));
    assert_eq!(names(&mounted.readdir("").expect("root")), vec![".", "..", "d"]);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn names_move_vanish_and_collide() {
    let (mounted, _) = mounted_memfs(1, 0);
    mounted.close(mounted.create("a", 0o644).expect("create")).expect("close");
    mounted.mkdir("d", 0o755).expect("mkdir");
    mounted.rename("a", "d/b").expect("rename");
    assert_eq!(mounted.stat("a"), Err(Errno::ENOENT));
    assert_eq!(mounted.stat("d/b").expect("moved").vtype, Vtype::Reg);
    assert_eq!(mounted.mkdir("d", 0o755), Err(Errno::EEXIST));
    assert_eq!(mounted.open("d/b", OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR, 0o644).err(), Some(Errno::EEXIST));
    assert_eq!(mounted.rmdir("d"), Err(Errno::ENOTEMPTY));
    assert_eq!(mounted.unlink("d"), Err(Errno::EISDIR));
    assert_eq!(mounted.rmdir("d/b"), Err(Errno::ENOTDIR));
    mounted.unlink("d/b").expect("unlink");
    assert_eq!(mounted.stat("d/b"), Err(Errno::ENOENT));
    assert_eq!(mounted.unlink("d/b"), Err(Errno::ENOENT));
    mounted.rmdir("d").expect("rmdir");
    assert_eq!(mounted.stat("d"), Err(Errno::ENOENT));
    assert_eq!(mounted.rmdir(""), Err(Errno::EBUSY), "the root stays");
    assert_eq!(mounted.mkdir("/", 0o755), Err(Errno::EEXIST));
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn links_attributes_and_extended_attributes() {
    let (mounted, _) = mounted_memfs(1, 0);
    mounted.mkdir("real", 0o755).expect("mkdir");
    let file = mounted.create("real/f", 0o644).expect("create");
    mounted.write(&file, 0, b"contents").expect("write");
    mounted.close(file).expect("close");
    mounted.symlink("real", "alias").expect("symlink");
    assert_eq!(mounted.readlink("alias").expect("readlink"), OsString::from("real"));
    assert_eq!(mounted.stat("alias").expect("lstat").vtype, Vtype::Lnk);
    assert_eq!(mounted.stat("alias/f").expect("through the link").size, 8, "intermediate links are followed");
    assert_eq!(mounted.readlink("real"), Err(Errno::EINVAL));
    mounted.symlink("loop", "loop").expect("a link to itself");
    assert_eq!(mounted.stat("loop/x"), Err(Errno::ELOOP));
    mounted.link("real/f", "hard").expect("link");
    assert_eq!(mounted.stat("hard").expect("stat").nlink, 2);
    assert_eq!(mounted.link("real", "dirlink"), Err(Errno::EPERM));
    let after = mounted.setattr("hard", &SetVattr { mode: Some(0o600), size: Some(3), ..SetVattr::default() });
    let after = after.expect("setattr");
    assert_eq!((after.mode, after.size), (0o600, 3));
    assert_eq!(mounted.stat("real/f").expect("same node").mode, 0o600);
    mounted.setxattr("hard", "user.a", b"one", XattrFlags::CREATE).expect("setxattr");
    mounted.setxattr("hard", "user.b", b"", XattrFlags::empty()).expect("setxattr");
    assert_eq!(mounted.setxattr("hard", "user.a", b"x", XattrFlags::CREATE), Err(Errno::EEXIST));
    assert_eq!(mounted.getxattr("real/f", "user.a").expect("getxattr"), b"one");
    assert_eq!(mounted.getxattr("real/f", "user.b").expect("empty value"), b"");
    assert_eq!(mounted.listxattr("hard").expect("listxattr"), vec![OsString::from("user.a"), OsString::from("user.b")]);
    mounted.removexattr("hard", "user.a").expect("removexattr");
    assert_eq!(mounted.getxattr("hard", "user.a"), Err(Errno::ENODATA));
    assert_eq!(mounted.getxattr("hard", ""), Err(Errno::ERANGE));
    assert_eq!(mounted.statvfs().expect("statvfs").files, 5);
    mounted.sync().expect("a file system without fs_sync has nothing to sync");
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn acl_attributes_never_reach_a_file_system_that_keeps_no_acls() {
    // Stored as plain bytes, an ACL would answer success and never be enforced: the framework
    // answers EOPNOTSUPP, so that tools fall back to chmod.
    let (mounted, _) = mounted_memfs(1, 0);
    mounted.mkdir("d", 0o755).expect("mkdir");
    let acl = puffs::acl::Acl::from_mode(0o700).to_xattr();
    for name in [puffs::acl::ACCESS_XATTR, puffs::acl::DEFAULT_XATTR] {
        assert_eq!(mounted.setxattr("d", name, &acl, XattrFlags::empty()), Err(Errno::EOPNOTSUPP), "{name}");
        assert_eq!(mounted.getxattr("d", name), Err(Errno::EOPNOTSUPP), "{name}");
        assert_eq!(mounted.removexattr("d", name), Err(Errno::EOPNOTSUPP), "{name}");
    }
    assert_eq!(mounted.listxattr("d").expect("listxattr"), Vec::<OsString>::new(), "nothing was stored");
    assert_eq!(mounted.stat("d").expect("stat").mode, 0o755, "and the mode is untouched");
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn a_node_is_reclaimed_once_unlinked_and_forgotten() {
    let (mounted, reclaimed) = mounted_memfs(1, 0);
    let file = mounted.create("f", 0o644).expect("create");
    let cookie = mounted.fstat(&file).expect("fstat").fileid;
    mounted.unlink("f").expect("unlink");
    assert_eq!(mounted.stat("f"), Err(Errno::ENOENT));
    assert_eq!(mounted.write(&file, 0, b"still open").expect("write to the open file"), 10);
    // FORGETs have no reply: a later call orders them before the check (one worker thread).
    mounted.stat("").expect("stat");
    assert!(!reclaimed.lock().unwrap().contains(&cookie), "the open file holds its node");
    mounted.close(file).expect("close");
    mounted.stat("").expect("stat");
    assert_eq!(*reclaimed.lock().unwrap(), vec![cookie], "reclaimed once, after the last forget");
    assert!(mounted.requests_sent(opcode::FORGET) + mounted.requests_sent(opcode::BATCH_FORGET) > 0);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn bad_names_are_refused_before_anything_is_sent() {
    let (mounted, _) = mounted_memfs(1, 0);
    let sent = |m: &puffs::loopback::Client| m.requests_sent(opcode::LOOKUP) + m.requests_sent(opcode::MKDIR);
    let before = sent(&mounted);
    assert_eq!(mounted.mkdir("a\0b", 0o755), Err(Errno::EINVAL));
    assert_eq!(mounted.stat("x/a\0b"), Err(Errno::EINVAL));
    assert_eq!(mounted.mkdir("n".repeat(256), 0o755), Err(Errno::ENAMETOOLONG));
    assert_eq!(mounted.stat(format!("{}/x", "n".repeat(300))), Err(Errno::ENAMETOOLONG));
    assert_eq!(mounted.stat("a/".repeat(3000)), Err(Errno::ENAMETOOLONG));
    assert_eq!(mounted.mkdir("d/..", 0o755), Err(Errno::EINVAL));
    assert_eq!(mounted.symlink("", "l"), Err(Errno::ENOENT));
    assert_eq!(mounted.setxattr("", "user\0x", b"", XattrFlags::empty()), Err(Errno::EINVAL));
    assert_eq!(sent(&mounted), before, "nothing reached the file system");
    mounted.mkdir("n".repeat(255), 0o755).expect("255 bytes is fine");
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn requests_carry_the_callers_credentials() {
    let (mounted, _) = mounted_memfs(1, 0);
    let user = mounted.with_cred(Cred { uid: 1000, gid: 100, pid: 7 });
    assert_eq!(user.mkdir("mine", 0o755), Err(Errno::EACCES), "the root directory is root's");
    mounted.mkdir("shared", 0o777).expect("mkdir as root");
    user.mkdir("shared/mine", 0o755).expect("mkdir in a world-writable directory");
    let made = mounted.stat("shared/mine").expect("stat");
    assert_eq!((made.uid, made.gid), (1000, 100));
    assert_eq!(mounted.cred(), Cred::ROOT);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn many_threads_call_at_once() {
    let (mounted, _) = mounted_memfs(3, 0);
    std::thread::scope(|scope| {
        for t in 0..4 {
            let client = mounted.client();
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
    let client = mounted.client();
    drop(mounted);
    assert_eq!(client.stat(""), Err(Errno::ENXIO));
    assert_eq!(client.statvfs(), Err(Errno::ENXIO));
    let (mounted, _) = mounted_memfs(1, 0);
    mounted.abort();
    assert_eq!(mounted.stat(""), Err(Errno::ENXIO));
    eventually("the main loop ending", || mounted.status() == puffs::loopback::Status::Dying);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("an aborted mount still hands its fs back");
}
