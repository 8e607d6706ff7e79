//! The POSIX behaviour every read-write file system of the examples shows, as test bodies
//! that take any [`Client`]: dtfs and nullfs run them on both kernels.

use super::{Client, Stat};
use puffs::{Errno, FallocateFlags, SeekWhence, Vtype};

/// Bytes that are not all alike, so that a misplaced chunk shows.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

pub fn content_round_trips(c: &dyn Client) {
    let big = pattern(3 * 1024 * 1024 + 17, 1);
    c.write_file("big", &big).unwrap();
    assert_eq!(c.read_file("big").unwrap(), big, "3 MiB + 17 bytes read back");
    assert_eq!(c.stat("big").unwrap().size, big.len() as u64);
    assert_eq!(c.read_at("big", 1_000_000, 10).unwrap(), &big[1_000_000..1_000_010]);
    // Writing past the end leaves a hole that reads as zeros.
    c.write_file("sparse", b"head").unwrap();
    c.write_at("sparse", 1 << 20, b"tail").unwrap();
    let sparse = c.read_file("sparse").unwrap();
    assert_eq!(sparse.len(), (1 << 20) + 4);
    assert_eq!(&sparse[..4], b"head");
    assert!(sparse[4..1 << 20].iter().all(|&b| b == 0));
    assert_eq!(&sparse[1 << 20..], b"tail");
    // Overwriting in the middle changes only those bytes.
    c.write_at("big", 10, b"XYZ").unwrap();
    let mut expected = big.clone();
    expected[10..13].copy_from_slice(b"XYZ");
    assert_eq!(c.read_file("big").unwrap(), expected);
    // Truncation cuts, and growing again reads zeros.
    c.truncate("big", 5).unwrap();
    c.truncate("big", 9).unwrap();
    assert_eq!(c.read_file("big").unwrap(), [&big[..5], &[0; 4][..]].concat());
    // An empty write to a new file makes an empty file.
    c.write_file("empty", b"").unwrap();
    assert_eq!(c.read_file("empty").unwrap(), b"");
}

pub fn directories_list_what_they_hold(c: &dyn Client) {
    c.mkdir("d", 0o755).unwrap();
    c.mkdir("d/sub", 0o700).unwrap();
    for i in 0..300 {
        c.write_file(&format!("d/file-{i:03}"), format!("{i}").as_bytes()).unwrap();
    }
    let mut expected: Vec<String> = (0..300).map(|i| format!("file-{i:03}")).collect();
    expected.push("sub".to_string());
    expected.sort();
    assert_eq!(c.list("d").unwrap(), expected, "a listing longer than one readdir buffer");
    assert_eq!(c.list("").unwrap(), ["d"]);
    let d = c.stat("d").unwrap();
    assert_eq!((d.vtype, d.mode, d.nlink), (Vtype::Dir, 0o755, 3), "a directory with one subdirectory");
    assert_eq!(c.stat("d/sub").unwrap().mode, 0o700);
    assert_eq!(c.read_file("d/file-123").unwrap(), b"123");
    assert_eq!(c.list("d/sub").unwrap(), Vec::<String>::new());
}

pub fn rename_moves_and_replaces(c: &dyn Client) {
    c.write_file("a", b"alpha").unwrap();
    c.write_file("b", b"beta").unwrap();
    c.mkdir("dir", 0o755).unwrap();
    c.rename("a", "dir/a2").unwrap();
    assert_eq!(c.stat("a"), Err(Errno::ENOENT));
    assert_eq!(c.read_file("dir/a2").unwrap(), b"alpha");
    // Over an existing file: the old one is replaced.
    c.rename("b", "dir/a2").unwrap();
    assert_eq!(c.read_file("dir/a2").unwrap(), b"beta");
    assert_eq!(c.list("").unwrap(), ["dir"]);
    // Directories move with their content, and `..` follows.
    c.mkdir("other", 0o755).unwrap();
    c.rename("dir", "other/dir").unwrap();
    assert_eq!(c.read_file("other/dir/a2").unwrap(), b"beta");
    assert_eq!(c.stat("").unwrap().nlink, 3);
    assert_eq!(c.stat("other").unwrap().nlink, 3);
    // Errors: into itself, onto a non-empty directory, a directory onto a file and back.
    assert_eq!(c.rename("other", "other/dir/inside"), Err(Errno::EINVAL));
    c.mkdir("full", 0o755).unwrap();
    c.write_file("full/x", b"x").unwrap();
    assert_eq!(c.rename("other", "full"), Err(Errno::ENOTEMPTY));
    assert_eq!(c.rename("other", "full/x"), Err(Errno::ENOTDIR));
    assert_eq!(c.rename("full/x", "other"), Err(Errno::EISDIR));
    assert_eq!(c.rename("missing", "x"), Err(Errno::ENOENT));
    // An empty directory is replaced by a directory.
    c.mkdir("empty", 0o755).unwrap();
    c.rename("other", "empty").unwrap();
    assert_eq!(c.read_file("empty/dir/a2").unwrap(), b"beta");
}

pub fn rename_flags_refuse_or_exchange(c: &dyn Client) {
    use puffs::RenameFlags;
    c.write_file("a", b"A").unwrap();
    c.write_file("b", b"B").unwrap();
    assert_eq!(c.rename_with("a", "b", RenameFlags::NOREPLACE), Err(Errno::EEXIST));
    assert_eq!(c.read_file("b").unwrap(), b"B", "NOREPLACE left the target alone");
    c.rename_with("a", "c", RenameFlags::NOREPLACE).unwrap();
    assert_eq!(c.list("").unwrap(), ["b", "c"]);
    c.mkdir("d", 0o755).unwrap();
    c.write_file("d/inner", b"in d").unwrap();
    c.rename_with("c", "d", RenameFlags::EXCHANGE).unwrap();
    assert_eq!(c.read_file("d").unwrap(), b"A", "the file took the directory's name");
    assert_eq!(c.read_file("c/inner").unwrap(), b"in d", "and the directory the file's");
    assert_eq!(c.rename_with("b", "missing", RenameFlags::EXCHANGE), Err(Errno::ENOENT));
    assert_eq!(c.rename_with("b", "d", RenameFlags::EXCHANGE | RenameFlags::NOREPLACE), Err(Errno::EINVAL));
}

pub fn special_nodes_keep_their_type(c: &dyn Client) {
    let null = (1 << 8) | 3; // makedev(1, 3), as the kernel encodes small numbers
                             // Modes the usual umask (022) leaves alone: a real mount applies it, the loopback does not.
    c.mknod("null", Vtype::Chr, 0o644, null).unwrap();
    c.mknod("disk", Vtype::Blk, 0o640, (8 << 8) | 1).unwrap();
    c.mknod("fifo", Vtype::Fifo, 0o644, 0).unwrap();
    c.mknod("sock", Vtype::Sock, 0o755, 0).unwrap();
    c.mknod("plain", Vtype::Reg, 0o600, 0).unwrap();
    let stat = c.stat("null").unwrap();
    assert_eq!((stat.vtype, stat.mode, stat.rdev), (Vtype::Chr, 0o644, null));
    assert_eq!(c.stat("disk").unwrap().rdev, (8 << 8) | 1);
    assert_eq!(c.stat("fifo").unwrap().vtype, Vtype::Fifo);
    assert_eq!(c.stat("sock").unwrap().vtype, Vtype::Sock);
    let plain = c.stat("plain").unwrap();
    assert_eq!((plain.vtype, plain.mode, plain.size), (Vtype::Reg, 0o600, 0));
    assert_eq!(c.mknod("fifo", Vtype::Fifo, 0o644, 0), Err(Errno::EEXIST));
    assert_eq!(c.list("").unwrap(), ["disk", "fifo", "null", "plain", "sock"]);
}

pub fn errors_are_the_right_errno(c: &dyn Client) {
    assert_eq!(c.stat("nope"), Err(Errno::ENOENT));
    assert_eq!(c.read_file("nope"), Err(Errno::ENOENT));
    c.mkdir("d", 0o755).unwrap();
    assert_eq!(c.mkdir("d", 0o755), Err(Errno::EEXIST));
    c.write_file("d/f", b"x").unwrap();
    assert_eq!(c.rmdir("d"), Err(Errno::ENOTEMPTY));
    assert_eq!(c.rmdir("d/f"), Err(Errno::ENOTDIR));
    assert_eq!(c.unlink("d"), Err(Errno::EISDIR));
    assert_eq!(c.read_file("d"), Err(Errno::EISDIR));
    assert_eq!(c.stat("d/f/x"), Err(Errno::ENOTDIR));
    assert_eq!(c.readlink("d/f"), Err(Errno::EINVAL));
    assert_eq!(c.link("d", "d2"), Err(Errno::EPERM));
    assert_eq!(c.write_file(&"n".repeat(256), b""), Err(Errno::ENAMETOOLONG));
    c.write_file(&"n".repeat(255), b"longest").unwrap();
    c.unlink("d/f").unwrap();
    assert_eq!(c.stat("d/f"), Err(Errno::ENOENT));
    assert_eq!(c.unlink("d/f"), Err(Errno::ENOENT));
    c.rmdir("d").unwrap();
    assert_eq!(c.stat("d"), Err(Errno::ENOENT));
}

pub fn links_and_symlinks(c: &dyn Client) {
    c.write_file("target", b"shared").unwrap();
    c.link("target", "hard").unwrap();
    let (t, h) = (c.stat("target").unwrap(), c.stat("hard").unwrap());
    assert_eq!((t.nlink, t.ino), (2, h.ino), "two names of one node");
    c.write_at("hard", 0, b"SH").unwrap();
    assert_eq!(c.read_file("target").unwrap(), b"SHared");
    c.unlink("target").unwrap();
    assert_eq!(c.stat("hard").unwrap().nlink, 1);
    assert_eq!(c.read_file("hard").unwrap(), b"SHared");
    c.symlink("hard", "soft").unwrap();
    c.symlink("/somewhere/else", "dangling").unwrap();
    assert_eq!(c.readlink("soft").unwrap(), "hard");
    assert_eq!(c.readlink("dangling").unwrap(), "/somewhere/else");
    let soft = c.stat("soft").unwrap();
    assert_eq!((soft.vtype, soft.size), (Vtype::Lnk, 4));
    assert_eq!(c.symlink("x", "soft"), Err(Errno::EEXIST));
}

pub fn attributes_change(c: &dyn Client) {
    c.write_file("f", b"0123456789").unwrap();
    c.chmod("f", 0o640).unwrap();
    let Stat { mode, size, uid, .. } = c.stat("f").unwrap();
    assert_eq!((mode, size), (0o640, 10));
    assert_eq!(uid, 0, "made by root");
    c.chmod("f", 0o4755).unwrap();
    assert_eq!(c.stat("f").unwrap().mode, 0o4755);
    c.truncate("f", 3).unwrap();
    assert_eq!(c.read_file("f").unwrap(), b"012");
    c.mkdir("d", 0o777).unwrap();
    c.chmod("d", 0o1777).unwrap();
    assert_eq!(c.stat("d").unwrap().mode, 0o1777);
}

pub fn extended_attributes(c: &dyn Client) {
    c.write_file("f", b"").unwrap();
    assert_eq!(c.list_xattr("f").unwrap(), Vec::<String>::new());
    c.set_xattr("f", "user.b", b"2").unwrap();
    c.set_xattr("f", "user.a", b"one").unwrap();
    c.set_xattr("f", "user.empty", b"").unwrap();
    assert_eq!(c.get_xattr("f", "user.a").unwrap(), b"one");
    assert_eq!(c.get_xattr("f", "user.empty").unwrap(), b"");
    assert_eq!(c.list_xattr("f").unwrap(), ["user.a", "user.b", "user.empty"]);
    c.set_xattr("f", "user.a", b"replaced").unwrap();
    assert_eq!(c.get_xattr("f", "user.a").unwrap(), b"replaced");
    c.remove_xattr("f", "user.a").unwrap();
    assert_eq!(c.get_xattr("f", "user.a"), Err(Errno::ENODATA));
    assert_eq!(c.remove_xattr("f", "user.a"), Err(Errno::ENODATA));
    c.mkdir("d", 0o755).unwrap();
    c.set_xattr("d", "user.dir", b"yes").unwrap();
    assert_eq!(c.get_xattr("d", "user.dir").unwrap(), b"yes");
}

/// `fallocate -l 10M f`, `fallocate -p`, `fallocate -z`, and `SEEK_DATA`/`SEEK_HOLE` finding
/// what was punched: through the file system, not the C library's fallback of writing zeros.
pub fn fallocate_punches_and_seeks(c: &dyn Client) {
    const MIB: u64 = 1 << 20;
    c.write_file("f", b"").unwrap();
    c.fallocate("f", FallocateFlags::empty(), 0, 10 * MIB).unwrap();
    let st = c.stat("f").unwrap();
    assert_eq!(st.size, 10 * MIB, "allocation grows the file");
    assert!(st.allocated >= 10 * MIB, "{} bytes allocated", st.allocated);
    c.fallocate("f", FallocateFlags::KEEP_SIZE, 10 * MIB, MIB).unwrap();
    assert_eq!(c.stat("f").unwrap().size, 10 * MIB, "KEEP_SIZE keeps it");

    let data = pattern(MIB as usize, 3);
    c.write_file("sparse", &data).unwrap();
    assert_eq!(c.seek("sparse", 0, SeekWhence::Hole), Ok(MIB), "only the end is a hole");
    c.fallocate("sparse", FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE, 256 << 10, 256 << 10).unwrap();
    assert_eq!(c.stat("sparse").unwrap().size, MIB);
    let back = c.read_file("sparse").unwrap();
    assert!(back[256 << 10..512 << 10].iter().all(|&b| b == 0), "a punched hole reads zeros");
    assert_eq!(&back[..256 << 10], &data[..256 << 10]);
    assert_eq!(&back[512 << 10..], &data[512 << 10..]);
    assert_eq!(c.seek("sparse", 0, SeekWhence::Hole), Ok(256 << 10), "SEEK_HOLE finds the hole");
    assert_eq!(c.seek("sparse", 256 << 10, SeekWhence::Data), Ok(512 << 10), "SEEK_DATA skips it");
    assert_eq!(c.seek("sparse", 100, SeekWhence::Data), Ok(100));
    assert_eq!(c.seek("sparse", MIB, SeekWhence::Data), Err(Errno::ENXIO), "at the end");
    assert!(c.stat("sparse").unwrap().allocated < MIB, "the hole's space was given back");

    c.fallocate("sparse", FallocateFlags::ZERO_RANGE, 0, 10).unwrap();
    assert_eq!(c.read_at("sparse", 0, 12).unwrap(), [&[0u8; 10][..], &data[10..12]].concat());
    assert_eq!(c.fallocate("sparse", FallocateFlags::empty(), 0, 0), Err(Errno::EINVAL));
    assert_eq!(
        c.fallocate("sparse", FallocateFlags::PUNCH_HOLE, 0, 1),
        Err(Errno::EOPNOTSUPP),
        "punch needs KEEP_SIZE"
    );
}

/// Copies the first `size` bytes of `from` to the same place in `to` with `copy_file_range(2)`,
/// in as many calls as the kernel answers with; answers how many bytes were copied.
pub fn copy_whole(c: &dyn Client, from: &str, to: &str, size: u64) -> u64 {
    let mut copied = 0;
    while copied < size {
        match c.copy_range(from, copied, to, copied, size - copied).unwrap() {
            0 => break,
            n => copied += n,
        }
    }
    copied
}

/// `copy_file_range(2)` copies inside the file system, in pieces as the kernel answers, a
/// file that is mostly hole included.
pub fn copy_file_range_copies_inside(c: &dyn Client) {
    const MIB: u64 = 1 << 20;
    let head = pattern(100_000, 4);
    c.write_file("src", &head).unwrap();
    c.write_at("src", 64 * MIB, b"tail").unwrap();
    c.write_file("dst", b"").unwrap();
    let size = 64 * MIB + 4;
    let copied = copy_whole(c, "src", "dst", size);
    assert_eq!(copied, size);
    let dst = c.stat("dst").unwrap();
    assert_eq!(dst.size, size);
    assert_eq!(c.read_at("dst", 0, head.len()).unwrap(), head);
    assert_eq!(c.read_at("dst", 64 * MIB, 10).unwrap(), b"tail");
    assert!(c.read_at("dst", 32 * MIB, 4096).unwrap().iter().all(|&b| b == 0));
    // Within one file, to a range that does not overlap; and nothing past the end.
    assert_eq!(c.copy_range("src", 0, "src", 200_000, 10), Ok(10));
    assert_eq!(c.read_at("src", 200_000, 10).unwrap(), &head[..10]);
    assert_eq!(c.copy_range("src", size, "dst", 0, 10), Ok(0));
    assert_eq!(c.copy_range("src", 0, "src", 5, 10), Err(Errno::EINVAL), "overlapping ranges");
}
