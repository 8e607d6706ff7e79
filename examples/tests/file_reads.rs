//! Reads of a file served from a host file ([`ReadOut::reply_from_file`]), on real mounts:
//!
//! - on `/dev/fuse` the large ones are spliced from the file into the kernel, on io_uring
//!   they are copied; either way the bytes read are the host file's, also when the host file
//!   is shorter than the size the file system gives (it shrank behind the kernel's back);
//! - with the `kernel_cache` mount option every open keeps the data the kernel cached, so a
//!   file read again through a new open is served from memory; without it, each open drops
//!   it and the reads come to the file system again.
//!
//! Needs root: listed as ignored where the tests were built without it.

mod common;

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::RealMount;
use puffs::{
    puffs_fs, Answered, Context, Cookie, Errno, FileHandle, FileSystem, MountFlags, NewNode, OFlag, Opened, ReadOut,
    Result, Vattr, Vtype,
};

const ROOT: Cookie = Cookie(1);
const FILE: Cookie = Cookie(2);

/// A root with one read-only file, `f`, of `size` bytes, read from a host file; counts the
/// reads that reach it. Clones share all.
#[derive(Clone)]
struct FromHost(Arc<Host>);

struct Host {
    file: File,
    size: u64,
    reads: AtomicUsize,
}

#[puffs_fs]
impl FileSystem for FromHost {
    fn node_lookup(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
        match (dir, name.to_str()) {
            (ROOT, Some("f")) => Ok(NewNode::new(FILE, self.node_getattr(FILE, ctx)?)),
            _ => Err(Errno::ENOENT),
        }
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(match node {
            ROOT => Vattr::new(Vtype::Dir, 0o755, 1),
            _ => Vattr { size: self.0.size, ..Vattr::new(Vtype::Reg, 0o444, 2) },
        })
    }

    fn node_open(&self, _node: Cookie, _flags: OFlag, _ctx: &Context<'_>) -> Result<Opened> {
        Ok(Opened::default())
    }

    fn node_read(
        &self,
        _n: Cookie,
        _h: FileHandle,
        offset: u64,
        out: ReadOut<'_>,
        _ctx: &Context<'_>,
    ) -> Result<Answered> {
        self.0.reads.fetch_add(1, Ordering::SeqCst);
        out.reply_from_file(&self.0.file, offset)
    }
}

/// A host file of `len` bytes, each 4 KiB block different, already unlinked, served as a file
/// of `size` bytes; and its bytes.
fn from_host(len: usize, size: u64) -> (FromHost, Vec<u8>) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let serial = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("puffs-file-reads-{}-{serial}", std::process::id()));
    let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let bytes: Vec<u8> = (0..len).map(|i| ((i / 4096) as u8).wrapping_mul(13) ^ (i % 251) as u8).collect();
    file.write_all_at(&bytes, 0).unwrap();
    (FromHost(Arc::new(Host { file, size, reads: AtomicUsize::new(0) })), bytes)
}

/// The size the file system gives its file in the splice tests, whatever the host file holds.
const CLAIMED: u64 = 5 << 20;

fn read_back(options: &str, host_len: usize) {
    let (fs, bytes) = from_host(host_len, CLAIMED);
    let mount = RealMount::mount(fs, "reads", ROOT, MountFlags::empty(), options);
    let mut read = Vec::new();
    File::open(mount.dir().join("f")).unwrap().read_to_end(&mut read).unwrap();
    assert!(read.len() == bytes.len(), "{options}: {} bytes read of the host's {}", read.len(), bytes.len());
    assert!(read == bytes, "{options}: the bytes read are the host file's");
    // And a read at an offset, through another open.
    let file = File::open(mount.dir().join("f")).unwrap();
    let mut middle = vec![0u8; 300_000];
    let at = (host_len / 3) as u64;
    let n = file.read_at(&mut middle, at).unwrap();
    assert_eq!(&middle[..n], &bytes[at as usize..at as usize + n], "{options}: a read at {at}");
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn a_file_read_from_the_host_reads_back_on_dev_fuse() {
    read_back("", CLAIMED as usize);
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn a_host_file_shorter_than_its_size_reads_as_far_as_it_goes() {
    // The last read finds less than the size promised: spliced up to the host file's end.
    read_back("", (1 << 20) + 100_001);
}

#[test]
#[cfg_attr(puffs_no_io_uring, ignore = "needs root, /dev/fuse and FUSE over io_uring switched on (see README)")]
fn a_file_read_from_the_host_reads_back_on_io_uring() {
    read_back("io_uring", CLAIMED as usize);
    read_back("io_uring", (1 << 20) + 100_001);
}

/// Reads a small file through five opens on a mount with `options`; answers the reads that
/// reached the file system.
fn reads_reaching_the_file_system(options: &str) -> usize {
    let (fs, bytes) = from_host(100, 100);
    let host = fs.0.clone();
    let mount = RealMount::mount(fs, "kcache", ROOT, MountFlags::empty(), options);
    for _ in 0..5 {
        assert_eq!(std::fs::read(mount.dir().join("f")).expect("read f"), bytes);
    }
    drop(mount);
    host.reads.load(Ordering::SeqCst)
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn kernel_cache_serves_later_opens_from_memory() {
    // Long lifetimes, so that no attribute change drops the cache either.
    let lifetimes = "attr_timeout=3600,entry_timeout=3600";
    assert_eq!(reads_reaching_the_file_system(&format!("{lifetimes},kernel_cache")), 1, "only the first open reads");
    assert_eq!(reads_reaching_the_file_system(lifetimes), 5, "without it, every open reads again");
}
