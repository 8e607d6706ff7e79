//! Reads answered from a host file ([`ReadOut::reply_from_file`]): on `/dev/fuse` the large
//! ones are spliced from the file into the kernel, on io_uring they are copied. Either way
//! the bytes read are the host file's, also when the host file is shorter than the size the
//! file system gives (it shrank behind the kernel's back). Needs root: listed as ignored where
//! the tests were built without it.

mod common;

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use common::RealMount;
use puffs::{
    puffs_fs, Answered, Context, Cookie, Errno, FileHandle, FileSystem, MountFlags, NewNode, ReadOut, Result, Vattr,
    Vtype,
};

const ROOT: Cookie = Cookie(1);
const FILE: Cookie = Cookie(2);
/// The size the file system gives its one file, whatever the host file holds.
const CLAIMED: u64 = 5 << 20;

/// A root with one file, `f`, of [`CLAIMED`] bytes, read from a host file.
#[derive(Clone)]
struct FromHost(Arc<File>);

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
            _ => Vattr { size: CLAIMED, ..Vattr::new(Vtype::Reg, 0o444, 2) },
        })
    }

    fn node_read(
        &self,
        _n: Cookie,
        _h: FileHandle,
        offset: u64,
        out: ReadOut<'_>,
        _ctx: &Context<'_>,
    ) -> Result<Answered> {
        out.reply_from_file(&*self.0, offset)
    }
}

/// A host file of `len` bytes, each 4 KiB block different; already unlinked.
fn host_file(len: usize) -> (Arc<File>, Vec<u8>) {
    let path = std::env::temp_dir().join(format!("puffs-splice-{}-{len}", std::process::id()));
    let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let bytes: Vec<u8> = (0..len).map(|i| ((i / 4096) as u8).wrapping_mul(13) ^ (i % 251) as u8).collect();
    file.write_all_at(&bytes, 0).unwrap();
    (Arc::new(file), bytes)
}

fn read_back(options: &str, host_len: usize) {
    let (host, bytes) = host_file(host_len);
    let mount = RealMount::mount(FromHost(host), "splice", ROOT, MountFlags::empty(), options);
    let mut read = Vec::new();
    File::open(mount.dir().join("f")).unwrap().read_to_end(&mut read).unwrap();
    assert!(read.len() == bytes.len(), "{options}: {} bytes read of the host's {}", read.len(), bytes.len());
    assert!(read == bytes, "{options}: the bytes read are the host file's");
    // And a read at an offset, past the end of the cached pages.
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
