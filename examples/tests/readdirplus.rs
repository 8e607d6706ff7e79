//! `READDIRPLUS`, answered by the framework from a file system's `node_readdir` and
//! `node_lookup`: listings carry each entry's attributes, so `ls -l` costs no lookup round
//! trip per entry, and the lookup counts stay exact (every node handed out in a listing is
//! forgotten by the kernel and reclaimed once, never while the kernel still holds it). On the
//! loopback kernel and on a real mount.

mod common;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use puffs::loopback::{self, MountArgs, Request};
use puffs::{
    puffs_fs, Context, Cookie, DirBuf, Errno, FileHandle, FileSystem, MountFlags, MountOptions, NewNode, Result,
    UnmountFlags, Usermount, Vattr, Vtype,
};

const ROOT: Cookie = Cookie(1);
/// Files `f000`.. in the root; file `fNNN` is node `NNN + 2`. Enough for several listings.
const FILES: u64 = 300;

/// A directory of `FILES` files that keeps the kernel honest: it counts lookups and reclaims,
/// and records any use of a node after its reclaim (a lookup count gone wrong).
#[derive(Default, Clone)]
struct Many(Arc<ManyState>);

#[derive(Default)]
struct ManyState {
    lookups: AtomicUsize,
    /// Node → whether the kernel holds it (looked up and not reclaimed since).
    held: Mutex<HashMap<u64, bool>>,
    reclaims: AtomicUsize,
    misuses: Mutex<Vec<String>>,
}

impl Many {
    fn file(node: u64) -> Vattr {
        Vattr { size: node, ..Vattr::new(Vtype::Reg, 0o644, node) }
    }

    fn lookups(&self) -> usize {
        self.0.lookups.load(Ordering::SeqCst)
    }

    fn misuses(&self) -> Vec<String> {
        self.0.misuses.lock().unwrap().clone()
    }

    fn still_held(&self) -> usize {
        self.0.held.lock().unwrap().values().filter(|&&held| held).count()
    }
}

#[puffs_fs]
impl FileSystem for Many {
    fn node_lookup(&self, dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        self.0.lookups.fetch_add(1, Ordering::SeqCst);
        let n: u64 =
            name.to_str().and_then(|n| n.strip_prefix('f')).and_then(|n| n.parse().ok()).ok_or(Errno::ENOENT)?;
        if dir != ROOT || n >= FILES {
            return Err(Errno::ENOENT);
        }
        let node = n + 2;
        self.0.held.lock().unwrap().insert(node, true);
        Ok(NewNode::new(Cookie(node), Many::file(node)))
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        if node == ROOT {
            return Ok(Vattr::new(Vtype::Dir, 0o755, 1));
        }
        if self.0.held.lock().unwrap().get(&node.0) != Some(&true) {
            self.0.misuses.lock().unwrap().push(format!("getattr of node {} the kernel does not hold", node.0));
        }
        Ok(Many::file(node.0))
    }

    fn node_readdir(
        &self,
        dir: Cookie,
        _handle: FileHandle,
        offset: u64,
        buf: &mut DirBuf<'_>,
        _ctx: &Context<'_>,
    ) -> Result<()> {
        if dir != ROOT {
            return Err(Errno::ENOTDIR);
        }
        // Positions: 0 ".", 1 "..", 2.. the files.
        for position in offset..FILES + 2 {
            let (fileid, vtype, name) = match position {
                0 => (1, Vtype::Dir, ".".to_string()),
                1 => (1, Vtype::Dir, "..".to_string()),
                p => (p, Vtype::Reg, format!("f{:03}", p - 2)),
            };
            if !buf.push(fileid, position + 1, vtype, OsStr::new(&name)) {
                break;
            }
        }
        Ok(())
    }

    fn node_reclaim(&self, node: Cookie) {
        self.0.reclaims.fetch_add(1, Ordering::SeqCst);
        if self.0.held.lock().unwrap().insert(node.0, false) != Some(true) {
            self.0.misuses.lock().unwrap().push(format!("reclaim of node {} the kernel did not hold", node.0));
        }
    }
}

fn loopback_many(many: &Many, options: &str) -> loopback::Loopback<Many> {
    let usermount = Usermount::init(many.clone(), "many").mount_options(MountOptions::parse(options).unwrap());
    let args = MountArgs::of(&usermount, ROOT);
    loopback::mount(usermount, args).map_err(puffs::Error::from).expect("mount")
}

#[test]
fn listings_carry_attributes_and_every_node_is_forgotten_on_the_loopback_kernel() {
    let many = Many::default();
    let mounted = loopback_many(&many, "");
    let client = mounted.client();
    let listed = client.readdir_plus("/").unwrap();
    assert_eq!(listed.len() as u64, FILES + 2);
    assert!(listed[..2].iter().all(|(_, vattr)| vattr.is_none()), "`.` and `..` come without a node");
    for (dirent, vattr) in &listed[2..] {
        let vattr = vattr.as_ref().unwrap_or_else(|| panic!("{:?} has its attributes", dirent.name));
        assert_eq!(vattr.size, vattr.fileid, "{:?}: the file system's attributes", dirent.name);
    }
    assert!(client.requests_sent(Request::ReaddirPlus) >= 2, "several listings, all READDIRPLUS");
    assert_eq!(client.requests_sent(Request::Readdir), 0);
    assert_eq!(client.requests_sent(Request::Lookup), 0, "no lookup round trip");
    assert_eq!(many.lookups() as u64, FILES, "one lookup per file, inside the framework");
    // The client forgot each node it was handed (FORGET has no reply: wait for it): each
    // reclaimed once, none still counted.
    common::eventually("the reclaims", || many.still_held() == 0);
    assert_eq!(many.0.reclaims.load(Ordering::SeqCst) as u64, FILES);
    assert_eq!(many.misuses(), Vec::<String>::new());
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).unwrap();
}

#[test]
fn a_node_held_elsewhere_outlives_its_listing_on_the_loopback_kernel() {
    let many = Many::default();
    let mounted = loopback_many(&many, "");
    let client = mounted.client();
    let open = client.open("f007", puffs::OFlag::O_RDONLY, 0).unwrap();
    client.readdir_plus("/").unwrap();
    common::eventually("the reclaims", || many.0.reclaims.load(Ordering::SeqCst) as u64 == FILES - 1);
    assert_eq!(many.still_held(), 1, "f007's node is held by the open file alone");
    assert_eq!(client.stat("f007").unwrap().fileid, 9, "and still served");
    drop(open);
    common::eventually("the last reclaim", || many.still_held() == 0);
    assert_eq!(many.misuses(), Vec::<String>::new());
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).unwrap();
}

#[test]
fn without_readdirplus_the_kernel_lists_then_looks_up_on_the_loopback_kernel() {
    let many = Many::default();
    let mounted = loopback_many(&many, "readdirplus=no");
    let client = mounted.client();
    let listed = client.readdir_plus("/").unwrap();
    assert!(listed[2..].iter().all(|(_, vattr)| vattr.is_some()));
    assert_eq!(client.requests_sent(Request::ReaddirPlus), 0);
    assert!(client.requests_sent(Request::Readdir) >= 2);
    assert_eq!(client.requests_sent(Request::Lookup), FILES, "one round trip per entry");
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).unwrap();
}

/// Lists the real mount of `many` with `options` as `ls -l` does: the names, then each one's
/// attributes. Answers the file system's lookups during the listing and during the stats.
fn ls_l_on_a_real_mount(many: &Many, options: &str) -> (usize, usize) {
    let mount = common::RealMount::mount(many.clone(), "many", ROOT, MountFlags::empty(), options);
    let dir = mount.dir();
    let names: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    let while_listing = many.lookups();
    for name in &names {
        let meta = std::fs::symlink_metadata(dir.join(name)).unwrap();
        assert_eq!(meta.size(), meta.ino(), "{name:?}");
    }
    let while_statting = many.lookups() - while_listing;
    assert_eq!(names.len() as u64, FILES);
    // Asked to let go of every node, the kernel forgets each exactly as often as it was
    // handed out: each is reclaimed once, and none while still held.
    let nodes: Vec<Cookie> = (2..FILES + 2).map(Cookie).collect();
    mount.notifier().prune(&nodes).unwrap();
    common::eventually("the reclaims", || many.still_held() == 0);
    assert_eq!(many.0.reclaims.load(Ordering::SeqCst) as u64, FILES);
    mount.unmount();
    (while_listing, while_statting)
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn ls_l_needs_no_lookup_round_trips_on_a_real_mount() {
    let many = Many::default();
    let (listing, statting) = ls_l_on_a_real_mount(&many, "readdirplus=yes,entry_timeout=60,attr_timeout=60");
    assert_eq!((listing as u64, statting), (FILES, 0), "every entry came with the listing");
    assert_eq!(many.misuses(), Vec::<String>::new());
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn without_readdirplus_ls_l_looks_each_entry_up_on_a_real_mount() {
    let many = Many::default();
    let (listing, statting) = ls_l_on_a_real_mount(&many, "readdirplus=no,entry_timeout=60,attr_timeout=60");
    assert_eq!((listing, statting as u64), (0, FILES));
    assert_eq!(many.misuses(), Vec::<String>::new());
}
