//! Birth times and the `nostatx` mount option, on a real mount: by default `statx(2)` gets
//! the birth time from `node_getattr` (the kernel's `STATX`), at the price of one more request
//! for each stat that wants it after a lookup; with `nostatx` there is no birth time and a
//! stat after a lookup costs no request. Needs root: listed as ignored where the tests were
//! built without it.

mod common;

use std::ffi::OsStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use common::RealMount;
use puffs::{puffs_fs, Context, Cookie, Errno, FileSystem, MountFlags, NewNode, Result, Vattr, Vtype};

const ROOT: Cookie = Cookie(1);
const BORN: Duration = Duration::from_secs(1_000_000_000);

/// A root whose every name is a file born at [`BORN`]; counts the getattrs that reach it.
#[derive(Default, Clone)]
struct Born(Arc<AtomicUsize>);

fn vattr(node: Cookie) -> Vattr {
    let vattr = if node == ROOT { Vattr::new(Vtype::Dir, 0o755, 1) } else { Vattr::new(Vtype::Reg, 0o644, node.0) };
    Vattr { birthtime: Some(UNIX_EPOCH + BORN), ..vattr }
}

#[puffs_fs]
impl FileSystem for Born {
    fn node_lookup(&self, _dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        let number = name.to_str().and_then(|n| n.strip_prefix('f')?.parse::<u64>().ok()).ok_or(Errno::ENOENT)?;
        Ok(NewNode::new(Cookie(number + 2), vattr(Cookie(number + 2))))
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(vattr(node))
    }
}

/// Stats ten fresh names the way Rust does (asking for the birth time) on a mount with
/// `options`: the birth times seen, and the getattrs that reached the file system.
fn stat_ten(options: &str) -> (Vec<Option<Duration>>, usize) {
    let fs = Born::default();
    let getattrs = fs.0.clone();
    let mount = RealMount::mount(fs, "statx", ROOT, MountFlags::empty(), options);
    let before = getattrs.load(Ordering::SeqCst);
    let born = (0..10)
        .map(|i| {
            let meta = std::fs::metadata(mount.dir().join(format!("f{i}"))).expect("stat");
            meta.created().ok().map(|t| t.duration_since(UNIX_EPOCH).unwrap())
        })
        .collect();
    let reached = getattrs.load(Ordering::SeqCst) - before;
    drop(mount);
    (born, reached)
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn statx_brings_birth_times_at_a_request_each_and_nostatx_neither() {
    // Long lifetimes: whatever reaches the file system after the lookups is for the birth time.
    let lifetimes = "attr_timeout=3600,entry_timeout=3600";
    let (born, reached) = stat_ten(lifetimes);
    assert_eq!(born, vec![Some(BORN); 10], "statx reports the birth time");
    assert_eq!(reached, 10, "one STATX per stat of a looked-up name");
    let (born, reached) = stat_ten(&format!("{lifetimes},nostatx"));
    assert_eq!(born, vec![None; 10], "no birth time");
    assert!(reached <= 1, "the kernel stops asking after one refusal: {reached} getattrs");
}
