//! The usermount against the real kernel, through `/dev/fuse`: mounting, the failed-mount path,
//! request-length clamping, unmount by drop and from inside, reclaim when the kernel forgets,
//! and invalidation. Needs root: listed as ignored where the tests were built without it.

mod common;

use common::MountDir;

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use puffs::{
    puffs_fs, Context, Cookie, Errno, FileSystem, MountFlags, MountOptions, NewNode, Result, Usermount, Vattr, Vtype,
    REQUEST_LEN_MAX, REQUEST_LEN_MIN,
};

fn is_mounted(dir: &Path) -> bool {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    table.lines().any(|line| line.split(' ').nth(4) == dir.to_str())
}

/// A root directory whose entry `name` points at the node in `target` (0: no such entry), and
/// counts of lookups and reclaims. Clones share the state, so a test keeps one to watch the
/// one being served.
#[derive(Default, Clone)]
struct Pointer(Arc<PointerState>);

#[derive(Default)]
struct PointerState {
    target: AtomicU64,
    lookups: AtomicUsize,
    reclaimed: Mutex<Vec<u64>>,
}

impl std::ops::Deref for Pointer {
    type Target = PointerState;
    fn deref(&self) -> &PointerState {
        &self.0
    }
}

const ROOT: Cookie = Cookie(1);

#[puffs_fs]
impl FileSystem for Pointer {
    fn node_lookup(&self, dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        match (dir, self.target.load(Ordering::SeqCst)) {
            (ROOT, target) if name == "name" && target != 0 => {
                Ok(NewNode::new(Cookie(target), Vattr::new(Vtype::Reg, 0o644, target)))
            }
            _ => Err(Errno::ENOENT),
        }
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        let vtype = if node == ROOT { Vtype::Dir } else { Vtype::Reg };
        Ok(Vattr::new(vtype, 0o755, node.0))
    }

    fn node_reclaim(&self, node: Cookie) {
        self.reclaimed.lock().unwrap().push(node.0);
    }
}

/// Mounts `fs` on `dir` with `options` and serves it on a thread: the notifier to stop it and
/// the thread that hands the file system back.
fn serve(
    fs: Pointer,
    dir: &MountDir,
    options: MountOptions,
) -> (puffs::Notifier, std::thread::JoinHandle<std::result::Result<Pointer, puffs::Error>>) {
    let running = Usermount::init(fs, "ptr")
        .handle_signals(false)
        .mount_options(options)
        .mount(dir.as_path(), MountFlags::empty(), ROOT)
        .map_err(puffs::Error::from)
        .unwrap()
        .start();
    (running.notifier(), std::thread::spawn(move || running.run()))
}

fn pointing_at(target: u64) -> Pointer {
    Pointer(Arc::new(PointerState { target: AtomicU64::new(target), ..PointerState::default() }))
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn dropping_a_mounted_usermount_unmounts() {
    common::require_mount();
    let dir = MountDir::new("drop");
    let mounted = Usermount::init(pointing_at(7), "ptr")
        .mount(dir.as_path(), MountFlags::empty(), ROOT)
        .map_err(puffs::Error::from)
        .unwrap();
    assert!(is_mounted(dir.as_path()));
    assert_eq!(mounted.mount_point(), Some(dir.as_path()));
    drop(mounted);
    assert!(!is_mounted(dir.as_path()), "no stale mount after drop");
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn a_failed_mount_gives_the_usermount_back() {
    common::require_mount();
    let missing = std::env::temp_dir().join("puffs-no-such-dir/below");
    let (error, unmounted) =
        Usermount::init(pointing_at(7), "ptr").mount(&missing, MountFlags::empty(), ROOT).unwrap_err().into_parts();
    assert_eq!(error.errno(), Errno::ENOENT);
    assert!(error.to_string().contains("puffs-no-such-dir"), "{error}");
    // The same value, with its settings, mounts elsewhere.
    let dir = MountDir::new("retry");
    let mounted = unmounted.mount(dir.as_path(), MountFlags::empty(), ROOT).map_err(puffs::Error::from).unwrap();
    assert!(is_mounted(dir.as_path()));
    drop(mounted);
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn the_request_length_is_clamped_and_the_grant_reported() {
    common::require_mount();
    for (asked, granted) in [(0, REQUEST_LEN_MAX), (1, REQUEST_LEN_MIN), (usize::MAX, REQUEST_LEN_MAX), (65536, 65536)]
    {
        let dir = MountDir::new("reqlen");
        let mounted = Usermount::init(pointing_at(7), "ptr")
            .max_request_len(asked)
            .mount(dir.as_path(), MountFlags::empty(), ROOT)
            .map_err(puffs::Error::from)
            .unwrap();
        let info = mounted.mount_info();
        assert_eq!(info.max_request_len, granted, "asked {asked}");
        assert!(info.max_write as usize <= granted && info.max_write >= 4096);
        assert_eq!(info.protocol.0, 7);
        assert!(info.protocol.1 >= 31);
        assert_eq!(info.fs_name, "fuse.ptr");
    }
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn unmount_from_inside_ends_the_loop_and_gives_the_fs_back() {
    common::require_mount();
    let dir = MountDir::new("exit");
    let (notifier, server) = serve(pointing_at(7), &dir, MountOptions::default());
    assert_eq!(std::fs::metadata(dir.join("name")).unwrap().ino(), 7);
    notifier.unmount().unwrap();
    common::eventually("the end of the main loop", || server.is_finished());
    let fs = server.join().unwrap().unwrap();
    assert!(fs.lookups.load(Ordering::SeqCst) >= 1);
    assert!(!is_mounted(dir.as_path()));
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn the_kernel_forgetting_a_node_reclaims_it_and_invalidation_is_honoured() {
    common::require_mount();
    let dir = MountDir::new("forget");
    let options = MountOptions::parse("entry_timeout=3600,attr_timeout=3600").unwrap();
    let fs = pointing_at(7);
    let (notifier, server) = serve(fs.clone(), &dir, options);
    let name = dir.join("name");
    assert_eq!(std::fs::metadata(&name).unwrap().ino(), 7);
    let looked_up = fs.lookups.load(Ordering::SeqCst);
    // Cached for an hour: the kernel does not ask again, even though the entry changed.
    fs.target.store(8, Ordering::SeqCst);
    assert_eq!(std::fs::metadata(&name).unwrap().ino(), 7);
    assert_eq!(fs.lookups.load(Ordering::SeqCst), looked_up);
    // Told that the name changed, it asks, and forgets the node it no longer reaches.
    notifier.invalidate_entry(ROOT, OsStr::new("name")).unwrap();
    assert_eq!(std::fs::metadata(&name).unwrap().ino(), 8);
    assert_eq!(fs.lookups.load(Ordering::SeqCst), looked_up + 1);
    common::eventually("reclaim of node 7", || fs.reclaimed.lock().unwrap().contains(&7));
    assert!(!fs.reclaimed.lock().unwrap().contains(&8), "node 8 is still held");
    // A name that is gone is gone once invalidated.
    fs.target.store(0, Ordering::SeqCst);
    notifier.invalidate_entry(ROOT, OsStr::new("name")).unwrap();
    assert_eq!(std::fs::metadata(&name).unwrap_err().raw_os_error(), Some(nix::libc::ENOENT));
    common::eventually("reclaim of node 8", || fs.reclaimed.lock().unwrap().contains(&8));
    // Invalidating a name the kernel never saw is not an error worth failing over.
    let _ = notifier.invalidate_entry(ROOT, OsStr::new("never"));
    assert!(notifier.invalidate_entry(ROOT, OsStr::new("a/b")).is_err(), "a name with '/' is refused");
    notifier.unmount().unwrap();
    common::eventually("the end of the main loop", || server.is_finished());
    server.join().unwrap().unwrap();
}
