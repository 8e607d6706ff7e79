//! The `kernel_cache` mount option: every open keeps the data the kernel cached from earlier
//! opens, so a file read again through a new open is served from memory; without it, each
//! open drops the cached data and the reads come to the file system again. Needs root: listed
//! as ignored where the tests were built without it.

mod common;

use std::ffi::OsStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::RealMount;
use puffs::{
    puffs_fs, Answered, Context, Cookie, Errno, FileHandle, FileSystem, MountFlags, NewNode, OFlag, Opened, ReadOut,
    Result, Vattr, Vtype,
};

const ROOT: Cookie = Cookie(1);
const FILE: Cookie = Cookie(2);
const TEXT: &[u8] = b"the same bytes, read again and again\n";

/// A root with one read-only file, `f`; counts the reads that reach it. Clones share the count.
#[derive(Default, Clone)]
struct Counted(Arc<AtomicUsize>);

#[puffs_fs]
impl FileSystem for Counted {
    fn node_lookup(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
        match (dir, name.to_str()) {
            (ROOT, Some("f")) => Ok(NewNode::new(FILE, self.node_getattr(FILE, ctx)?)),
            _ => Err(Errno::ENOENT),
        }
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(match node {
            ROOT => Vattr::new(Vtype::Dir, 0o755, 1),
            _ => Vattr { size: TEXT.len() as u64, ..Vattr::new(Vtype::Reg, 0o444, 2) },
        })
    }

    fn node_open(&self, _node: Cookie, _flags: OFlag, _ctx: &Context<'_>) -> Result<Opened> {
        Ok(Opened::default())
    }

    fn node_read(
        &self,
        _node: Cookie,
        _fh: FileHandle,
        offset: u64,
        out: ReadOut<'_>,
        _ctx: &Context<'_>,
    ) -> Result<Answered> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(out.reply_at(TEXT, offset))
    }
}

/// Reads `f` through five opens on a mount with `options`; answers the reads that reached the
/// file system.
fn reads_reaching_the_file_system(options: &str) -> usize {
    let fs = Counted::default();
    let reads = fs.0.clone();
    let mount = RealMount::mount(fs, "kcache", ROOT, MountFlags::empty(), options);
    for _ in 0..5 {
        assert_eq!(std::fs::read(mount.dir().join("f")).expect("read f"), TEXT);
    }
    drop(mount);
    reads.load(Ordering::SeqCst)
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn kernel_cache_serves_later_opens_from_memory() {
    // Long lifetimes, so that no attribute change drops the cache either.
    let lifetimes = "attr_timeout=3600,entry_timeout=3600";
    assert_eq!(reads_reaching_the_file_system(&format!("{lifetimes},kernel_cache")), 1, "only the first open reads");
    assert_eq!(reads_reaching_the_file_system(lifetimes), 5, "without it, every open reads again");
}
