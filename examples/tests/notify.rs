//! Cache lifetimes and notifications on a real mount: a file system whose files change behind
//! the kernel's back (the test edits them directly), seen at once with lifetimes of zero, and
//! with long lifetimes only once the file system tells the kernel (each `Notifier` call); and
//! the same calls on the loopback kernel, which counts them.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use puffs::loopback::{self, MountArgs, Notification};
use puffs::{
    puffs_fs, Answered, Context, Cookie, Errno, FileHandle, FileSystem, MountFlags, NewNode, OFlag, Opened,
    OpenedFlags, ReadOut, Result, UnmountFlags, Usermount, Vattr, Vtype,
};

const ROOT: Cookie = Cookie(1);

/// A flat directory of files whose names and contents the test edits directly. Files open with
/// `KEEP_CACHE`, so cached pages outlive an open; reads are counted.
#[derive(Default, Clone)]
struct Board(Arc<BoardState>);

#[derive(Default)]
struct BoardState {
    /// Name → (cookie, contents).
    files: Mutex<BTreeMap<String, (u64, Vec<u8>)>>,
    reads: AtomicUsize,
    lookups: AtomicUsize,
    reclaimed: Mutex<Vec<u64>>,
}

impl Board {
    fn with(files: &[(&str, u64, &[u8])]) -> Board {
        let board = Board::default();
        for &(name, cookie, data) in files {
            board.put(name, cookie, data);
        }
        board
    }

    /// Changes a file behind the kernel's back.
    fn put(&self, name: &str, cookie: u64, data: &[u8]) {
        self.0.files.lock().unwrap().insert(name.to_string(), (cookie, data.to_vec()));
    }

    fn remove(&self, name: &str) {
        self.0.files.lock().unwrap().remove(name);
    }

    fn contents(&self, cookie: Cookie) -> Option<Vec<u8>> {
        self.0.files.lock().unwrap().values().find(|(c, _)| *c == cookie.0).map(|(_, data)| data.clone())
    }

    fn vattr(cookie: Cookie, size: usize) -> Vattr {
        Vattr { size: size as u64, ..Vattr::new(Vtype::Reg, 0o644, cookie.0) }
    }

    fn reads(&self) -> usize {
        self.0.reads.load(Ordering::SeqCst)
    }

    fn lookups(&self) -> usize {
        self.0.lookups.load(Ordering::SeqCst)
    }
}

#[puffs_fs]
impl FileSystem for Board {
    fn node_lookup(&self, dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        self.0.lookups.fetch_add(1, Ordering::SeqCst);
        let files = self.0.files.lock().unwrap();
        match files.get(name.to_str().unwrap_or("")) {
            Some((cookie, data)) if dir == ROOT => {
                Ok(NewNode::new(Cookie(*cookie), Board::vattr(Cookie(*cookie), data.len())))
            }
            _ => Err(Errno::ENOENT),
        }
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        if node == ROOT {
            return Ok(Vattr::new(Vtype::Dir, 0o755, 1));
        }
        let data = self.contents(node).ok_or(Errno::ENOENT)?;
        Ok(Board::vattr(node, data.len()))
    }

    fn node_open(&self, _node: Cookie, _flags: OFlag, _ctx: &Context<'_>) -> Result<Opened> {
        Ok(Opened::handle(FileHandle(0)).with(OpenedFlags::KEEP_CACHE))
    }

    fn node_read(
        &self,
        node: Cookie,
        _h: FileHandle,
        offset: u64,
        out: ReadOut<'_>,
        _ctx: &Context<'_>,
    ) -> Result<Answered> {
        self.0.reads.fetch_add(1, Ordering::SeqCst);
        let data = self.contents(node).ok_or(Errno::ENOENT)?;
        Ok(out.reply_at(&data, offset))
    }

    fn node_reclaim(&self, node: Cookie) {
        self.0.reclaimed.lock().unwrap().push(node.0);
    }
}

/// A board served on a real mount with `options`, by a main loop on its own thread.
fn serve(board: &Board, options: &str) -> common::RealMount<Board> {
    common::RealMount::mount(board.clone(), "board", ROOT, MountFlags::empty(), options)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().size()
}

fn errno_of_stat(path: &Path) -> Option<i32> {
    std::fs::metadata(path).err().and_then(|e| e.raw_os_error())
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn with_lifetimes_of_zero_every_change_shows_at_once() {
    let board = Board::with(&[("f", 2, b"one")]);
    let served = serve(&board, "entry_timeout=0,attr_timeout=0,negative_timeout=0,auto_inval_data");
    let f = served.dir().join("f");
    assert_eq!(read(&f), b"one");
    board.put("f", 2, b"three");
    assert_eq!(size(&f), 5, "attributes are asked again at once");
    assert_eq!(read(&f), b"three", "a changed size and mtime drop the cached pages");
    board.put("g", 3, b"new");
    assert_eq!(read(&served.dir().join("g")), b"new", "a new name is found at once");
    board.remove("g");
    assert_eq!(errno_of_stat(&served.dir().join("g")), Some(nix::libc::ENOENT), "a removed name is gone at once");
    served.unmount();
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn with_long_lifetimes_data_and_attributes_change_only_when_notified() {
    let board = Board::with(&[("f", 2, b"aaaa-bbbb")]);
    let served = serve(&board, "entry_timeout=3600,attr_timeout=3600");
    let f = served.dir().join("f");
    assert_eq!(read(&f), b"aaaa-bbbb");
    let reads = board.reads();

    // Same size, new bytes: the kernel keeps serving its cached pages and attributes.
    board.put("f", 2, b"AAAA-BBBB");
    assert_eq!(read(&f), b"aaaa-bbbb", "cached");
    assert_eq!(board.reads(), reads, "no READ reached the file system");

    // A range drops the pages it touches (here: the one page), and the attributes.
    served.notifier().invalidate_data(Cookie(2), 0..4).unwrap();
    assert_eq!(read(&f), b"AAAA-BBBB");
    assert!(board.reads() > reads);

    // A grown file: the cached size holds until the attributes are dropped, and only those.
    board.put("f", 2, b"AAAA-BBBB-CCCC");
    assert_eq!(size(&f), 9, "cached size");
    served.notifier().invalidate_attributes(Cookie(2)).unwrap();
    assert_eq!(size(&f), 14);
    // The kernel drops the pages of a file whose size changed (no `explicit_inval_data`).
    assert_eq!(read(&f), b"AAAA-BBBB-CCCC");

    // The whole node.
    board.put("f", 2, b"xxxx-yyyy-zzzz");
    assert_eq!(read(&f), b"AAAA-BBBB-CCCC", "cached");
    served.notifier().invalidate_node(Cookie(2)).unwrap();
    assert_eq!(read(&f), b"xxxx-yyyy-zzzz");

    // Hostile ranges are refused before they reach the kernel.
    assert_eq!(served.notifier().invalidate_data(Cookie(2), 5..5).unwrap_err().errno(), Errno::EINVAL);
    assert_eq!(served.notifier().invalidate_data(Cookie(2), u64::MAX..).unwrap_err().errno(), Errno::EINVAL);
    served.unmount();
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn with_long_lifetimes_names_change_only_when_notified() {
    let board = Board::with(&[("f", 2, b"f")]);
    let served = serve(&board, "entry_timeout=3600,attr_timeout=3600,negative_timeout=3600");
    let (f, g, h) = (served.dir().join("f"), served.dir().join("g"), served.dir().join("h"));
    assert_eq!(errno_of_stat(&g), Some(nix::libc::ENOENT));
    let lookups = board.lookups();
    board.put("g", 3, b"g");
    assert_eq!(errno_of_stat(&g), Some(nix::libc::ENOENT), "the miss is cached");
    assert_eq!(board.lookups(), lookups, "no LOOKUP reached the file system");
    served.notifier().invalidate_entry(ROOT, OsStr::new("g")).unwrap();
    assert_eq!(read(&g), b"g");

    // Expiring keeps the name for whoever uses it, but the next lookup asks.
    board.remove("g");
    assert!(std::fs::metadata(&g).is_ok(), "cached");
    served.notifier().expire_entry(ROOT, OsStr::new("g")).unwrap();
    assert_eq!(errno_of_stat(&g), Some(nix::libc::ENOENT));

    // Deleting: the file system removed "f", which named node 2.
    assert!(std::fs::metadata(&f).is_ok());
    board.remove("f");
    assert!(std::fs::metadata(&f).is_ok(), "cached");
    served.notifier().delete_entry(ROOT, Cookie(2), OsStr::new("f")).unwrap();
    assert_eq!(errno_of_stat(&f), Some(nix::libc::ENOENT));

    // Every name at once (puffs `inval_namecache_all`): a cached miss and a cached hit.
    assert_eq!(errno_of_stat(&h), Some(nix::libc::ENOENT));
    board.put("g", 4, b"G");
    board.put("h", 5, b"h");
    assert_eq!(errno_of_stat(&g), Some(nix::libc::ENOENT), "cached");
    assert_eq!(errno_of_stat(&h), Some(nix::libc::ENOENT), "cached");
    served.notifier().invalidate_all_names().unwrap();
    assert_eq!(std::fs::metadata(&g).unwrap().ino(), 4);
    assert_eq!(std::fs::metadata(&h).unwrap().ino(), 5);

    // Names with '/' or NUL never reach the kernel.
    assert_eq!(served.notifier().invalidate_entry(ROOT, OsStr::new("a/b")).unwrap_err().errno(), Errno::EINVAL);
    assert_eq!(served.notifier().expire_entry(ROOT, OsStr::new("a\0b")).unwrap_err().errno(), Errno::EINVAL);
    served.unmount();
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn stored_data_is_read_from_the_cache_and_cached_data_is_retrieved() {
    let board = Board::with(&[("f", 2, b"0123456789")]);
    let served = serve(&board, "entry_timeout=3600,attr_timeout=3600");
    let f = served.dir().join("f");
    let file = std::fs::File::open(&f).unwrap();
    let mut buf = [0; 10];
    file.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"0123456789");

    // The kernel hands back what it caches.
    let cached = served.notifier().retrieve(Cookie(2), 0, 4096).unwrap().wait(Duration::from_secs(10)).unwrap();
    assert_eq!(cached, b"0123456789");
    let tail = served.notifier().retrieve(Cookie(2), 4, 3).unwrap().wait(Duration::from_secs(10)).unwrap();
    assert_eq!(tail, b"456");

    // Stored bytes are what reads see, with no READ reaching the file system; the cached
    // size grows to cover them.
    board.put("f", 2, b"0123456789stored");
    let reads = board.reads();
    served.notifier().store(Cookie(2), 10, b"stored").unwrap();
    let mut buf = [0; 16];
    file.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"0123456789stored");
    assert_eq!(board.reads(), reads, "served from the cache");
    assert_eq!(size(&f), 16);
    let cached = served.notifier().retrieve(Cookie(2), 10, 100).unwrap().wait(Duration::from_secs(10)).unwrap();
    assert_eq!(cached, b"stored");

    // A node the kernel does not hold is refused at once.
    assert_eq!(served.notifier().store(Cookie(99), 0, b"x").unwrap_err().errno(), Errno::ENOENT);
    assert_eq!(served.notifier().retrieve(Cookie(99), 0, 1).unwrap_err().errno(), Errno::ENOENT);
    drop(file);
    served.unmount();
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn pruned_nodes_are_forgotten_unless_in_use() {
    let board = Board::with(&[("f", 2, b"f"), ("g", 3, b"g")]);
    let served = serve(&board, "entry_timeout=3600,attr_timeout=3600");
    assert_eq!(std::fs::metadata(served.dir().join("f")).unwrap().ino(), 2);
    let open = std::fs::File::open(served.dir().join("g")).unwrap();
    served.notifier().prune(&[Cookie(2), Cookie(3)]).unwrap();
    common::eventually("reclaim of the unused node", || board.0.reclaimed.lock().unwrap().contains(&2));
    std::thread::sleep(Duration::from_millis(100));
    assert!(!board.0.reclaimed.lock().unwrap().contains(&3), "an open node stays");
    drop(open);
    served.unmount();
}

fn loopback_board(board: &Board) -> loopback::Loopback<Board> {
    let usermount = Usermount::init(board.clone(), "board");
    let args = MountArgs::of(&usermount, ROOT);
    loopback::mount(usermount, args).map_err(puffs::Error::from).expect("mount")
}

#[test]
fn every_notification_reaches_the_loopback_kernel() {
    let board = Board::with(&[("f", 2, b"0123")]);
    let mounted = loopback_board(&board);
    let client = mounted.client();
    assert_eq!(client.stat("f").unwrap().fileid, 2);
    let n = mounted.notifier().clone();
    n.invalidate_node(Cookie(2)).unwrap();
    n.invalidate_data(Cookie(2), 4096..).unwrap();
    n.invalidate_attributes(Cookie(2)).unwrap();
    n.invalidate_entry(ROOT, OsStr::new("f")).unwrap();
    n.expire_entry(ROOT, OsStr::new("f")).unwrap();
    n.delete_entry(ROOT, Cookie(2), OsStr::new("f")).unwrap();
    n.invalidate_all_names().unwrap();
    n.store(Cookie(2), 0, b"0123").unwrap();
    n.prune(&[Cookie(2)]).unwrap();
    // The loopback kernel caches nothing: a retrieve comes back empty, through the main loop.
    assert_eq!(n.retrieve(Cookie(2), 0, 4).unwrap().wait(Duration::from_secs(10)).unwrap(), b"");
    let counts = [
        (Notification::InvalidateNode, 3),
        (Notification::InvalidateEntry, 2),
        (Notification::Delete, 1),
        (Notification::InvalidateAllNames, 1),
        (Notification::Store, 1),
        (Notification::Retrieve, 1),
        (Notification::Prune, 1),
    ];
    for (kind, count) in counts {
        assert_eq!(client.notifications_received(kind), count, "{kind:?}");
    }
    assert_eq!(n.store(Cookie(0), 0, b"x").unwrap_err().errno(), Errno::EINVAL, "cookie 0 names no node");
    assert_eq!(n.store(Cookie(2), u64::MAX - 1, b"xy").unwrap_err().errno(), Errno::EFBIG);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).unwrap();
    // After the main loop, a notifier has nothing to send through.
    assert_eq!(n.invalidate_node(Cookie(2)).unwrap_err().errno(), Errno::ENODEV);
}
