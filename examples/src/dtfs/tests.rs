//! Unit tests of dtfs's operations, called directly (no kernel).

use std::ffi::OsStr;

use puffs::{Context, Cookie, Errno, FileHandle, FileSystem, ReadOut, RenameFlags, SetVattr, Vtype};

use super::tree::{BLOCK, CHUNK, MAX_FILE_SIZE};
use super::Dtfs;

const ROOT: Context<'static> = Context::ROOT;

fn write(fs: &Dtfs, node: Cookie, offset: u64, data: &[u8]) {
    assert_eq!(fs.node_write(node, FileHandle::NONE, offset, data, &ROOT), Ok(data.len()));
}

fn read(fs: &Dtfs, node: Cookie, offset: u64, len: usize) -> Vec<u8> {
    ReadOut::capture(len, |out| fs.node_read(node, FileHandle::NONE, offset, out, &ROOT)).unwrap()
}

#[test]
fn holes_read_as_zeros_and_take_no_space() {
    let fs = Dtfs::with_capacity(1 << 30);
    let file = fs.node_create(Dtfs::ROOT, OsStr::new("f"), 0o644, &ROOT).unwrap().cookie;
    write(&fs, file, 10 * CHUNK + 5, b"tail");
    assert_eq!(fs.bytes_used(), 9);
    assert_eq!(fs.node_getattr(file, &ROOT).unwrap().bytes, BLOCK);
    assert_eq!(fs.node_getattr(file, &ROOT).unwrap().size, 10 * CHUNK + 9);
    assert_eq!(read(&fs, file, 3 * CHUNK, 4), vec![0; 4]);
    assert_eq!(read(&fs, file, 10 * CHUNK + 3, 100), b"\0\0tail");
    // A write across a chunk boundary lands in both chunks.
    write(&fs, file, CHUNK - 2, b"abcd");
    assert_eq!(read(&fs, file, CHUNK - 2, 4), b"abcd");
}

#[test]
fn shrinking_then_growing_reads_zeros_past_the_old_end() {
    let fs = Dtfs::with_capacity(1 << 30);
    let file = fs.node_create(Dtfs::ROOT, OsStr::new("f"), 0o644, &ROOT).unwrap().cookie;
    write(&fs, file, 0, &[7; 100]);
    let shrink = SetVattr { size: Some(10), ..SetVattr::default() };
    fs.node_setattr(file, &shrink, &ROOT).unwrap();
    let grow = SetVattr { size: Some(100), ..SetVattr::default() };
    fs.node_setattr(file, &grow, &ROOT).unwrap();
    let data = read(&fs, file, 0, 200);
    assert_eq!(&data[..10], &[7; 10]);
    assert_eq!(&data[10..], &[0; 90]);
    let empty = SetVattr { size: Some(0), ..SetVattr::default() };
    fs.node_setattr(file, &empty, &ROOT).unwrap();
    assert_eq!(fs.bytes_used(), 0);
}

#[test]
fn capacity_is_enforced() {
    let fs = Dtfs::with_capacity(2 * CHUNK);
    let file = fs.node_create(Dtfs::ROOT, OsStr::new("f"), 0o644, &ROOT).unwrap().cookie;
    write(&fs, file, 0, &[1; 2 * CHUNK as usize]);
    assert_eq!(fs.node_write(file, FileHandle::NONE, 2 * CHUNK, b"x", &ROOT), Err(Errno::ENOSPC));
    assert_eq!(fs.node_write(file, FileHandle::NONE, MAX_FILE_SIZE, b"x", &ROOT), Err(Errno::EFBIG));
}

#[test]
fn unlinked_nodes_live_until_the_kernel_lets_go() {
    let fs = Dtfs::with_capacity(1 << 30);
    let file = fs.node_create(Dtfs::ROOT, OsStr::new("f"), 0o644, &ROOT).unwrap().cookie;
    write(&fs, file, 0, b"still here");
    fs.node_remove(Dtfs::ROOT, OsStr::new("f"), &ROOT).unwrap();
    assert_eq!(fs.node_count(), 2, "the kernel still holds the node");
    assert_eq!(read(&fs, file, 0, 64), b"still here");
    fs.node_reclaim(file);
    assert_eq!(fs.node_count(), 1);
    assert_eq!(fs.bytes_used(), 0);
    // A linked node survives reclaim: the kernel may look it up again.
    let kept = fs.node_mkdir(Dtfs::ROOT, OsStr::new("d"), 0o755, &ROOT).unwrap().cookie;
    fs.node_reclaim(kept);
    assert_eq!(fs.node_lookup(Dtfs::ROOT, OsStr::new("d"), &ROOT).unwrap().cookie, kept);
    // A node the kernel no longer holds goes as soon as its last link does.
    fs.node_reclaim(kept);
    fs.node_rmdir(Dtfs::ROOT, OsStr::new("d"), &ROOT).unwrap();
    assert_eq!(fs.node_count(), 1);
}

#[test]
fn rename_keeps_directory_links_and_refuses_loops() {
    let fs = Dtfs::with_capacity(1 << 30);
    let cred = &ROOT;
    let a = fs.node_mkdir(Dtfs::ROOT, OsStr::new("a"), 0o755, cred).unwrap().cookie;
    let b = fs.node_mkdir(Dtfs::ROOT, OsStr::new("b"), 0o755, cred).unwrap().cookie;
    let c = fs.node_mkdir(a, OsStr::new("c"), 0o755, cred).unwrap().cookie;
    let none = RenameFlags::empty();
    assert_eq!(fs.node_rename(Dtfs::ROOT, OsStr::new("a"), c, OsStr::new("x"), none, cred), Err(Errno::EINVAL));
    fs.node_rename(a, OsStr::new("c"), b, OsStr::new("c2"), none, cred).unwrap();
    assert_eq!(fs.node_getattr(a, cred).unwrap().nlink, 2);
    assert_eq!(fs.node_getattr(b, cred).unwrap().nlink, 3);
    assert_eq!(fs.node_lookup(c, OsStr::new(".."), cred).unwrap().cookie, b);
    // A non-empty directory is not replaced; an empty one is.
    assert_eq!(
        fs.node_rename(Dtfs::ROOT, OsStr::new("a"), Dtfs::ROOT, OsStr::new("b"), none, cred),
        Err(Errno::ENOTEMPTY)
    );
    fs.node_rename(Dtfs::ROOT, OsStr::new("b"), Dtfs::ROOT, OsStr::new("a"), none, cred).unwrap();
    assert_eq!(fs.node_getattr(Dtfs::ROOT, cred).unwrap().nlink, 3);
    // Exchange swaps the two names.
    fs.node_create(Dtfs::ROOT, OsStr::new("f"), 0o644, cred).unwrap();
    fs.node_rename(Dtfs::ROOT, OsStr::new("f"), Dtfs::ROOT, OsStr::new("a"), RenameFlags::EXCHANGE, cred).unwrap();
    assert_eq!(fs.node_lookup(Dtfs::ROOT, OsStr::new("f"), cred).unwrap().vattr.vtype, Vtype::Dir);
    assert_eq!(fs.node_lookup(Dtfs::ROOT, OsStr::new("a"), cred).unwrap().vattr.vtype, Vtype::Reg);
}
