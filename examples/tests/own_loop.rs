//! A file system that runs its own event loop (puffs `puffs_getselectable` with
//! `puffs_setblockingmode`): it polls the usermount's descriptor and hands each request to
//! `process_request`, on a real mount. The loop's thread keeps one request buffer: the
//! requests after the first allocate no megabyte each. Needs root: listed as ignored where the
//! tests were built without it.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::OsStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use puffs::{
    puffs_fs, BlockingMode, Context, Cookie, Errno, FileSystem, MountFlags, MountOptions, NewNode, Progress, Result,
    Usermount, Vattr, Vtype,
};

thread_local! {
    /// Allocations of 64 KiB or more made on this thread so far.
    static BIG: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting each thread's big allocations.
struct Counting;

fn count(size: usize) {
    if size >= 64 << 10 {
        let _ = BIG.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const ROOT: Cookie = Cookie(1);
const FILE: Cookie = Cookie(2);

/// A root holding one empty file, `f`, counting its lookups.
#[derive(Default, Clone)]
struct OneFile(Arc<AtomicUsize>);

#[puffs_fs]
impl FileSystem for OneFile {
    fn node_lookup(&self, dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        self.0.fetch_add(1, Ordering::SeqCst);
        if dir != ROOT || name != "f" {
            return Err(Errno::ENOENT);
        }
        Ok(NewNode::new(FILE, Vattr::new(Vtype::Reg, 0o644, FILE.0)))
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(if node == ROOT { Vattr::new(Vtype::Dir, 0o755, 1) } else { Vattr::new(Vtype::Reg, 0o644, node.0) })
    }
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn an_own_event_loop_serves_with_process_request_and_one_buffer() {
    common::require_mount();
    let dir = common::MountDir::new("own-loop");
    let fs = OneFile::default();
    let lookups = fs.0.clone();
    // Zero lifetimes: every stat is a lookup and a getattr, served by the loop below.
    let options = MountOptions::parse("attr_timeout=0,entry_timeout=0").unwrap();
    let mounted = Usermount::init(fs, "ownloop")
        .handle_signals(false)
        .mount_options(options)
        .mount(&*dir, MountFlags::empty(), ROOT)
        .map_err(puffs::Error::from)
        .expect("mount");
    let usermount = mounted.start();
    usermount.set_blocking_mode(BlockingMode::NonBlock).expect("non-blocking");
    let served = std::thread::spawn(move || {
        let (mut handled, mut big_after_first) = (0u64, 0u64);
        loop {
            let mut fds = [PollFd::new(usermount.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(10_000u16)) {
                Ok(0) => panic!("no request for 10 s"),
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => panic!("poll: {e}"),
            }
            let before = BIG.with(Cell::get);
            match usermount.process_request().expect("process a request") {
                Progress::Handled => {
                    if handled > 0 {
                        big_after_first += BIG.with(Cell::get) - before;
                    }
                    handled += 1;
                }
                Progress::Idle => {}
                Progress::Finished => return (handled, big_after_first),
            }
        }
    });
    for _ in 0..200 {
        assert!(std::fs::symlink_metadata(dir.join("f")).expect("stat f").is_file());
    }
    assert_eq!(std::fs::symlink_metadata(dir.join("g")).map_err(|e| e.raw_os_error()).err(), Some(Some(2)));
    common::umount_when_idle(&dir, Duration::from_secs(10)).expect("unmount");
    let (handled, big) = served.join().expect("the loop's thread");
    assert!(lookups.load(Ordering::SeqCst) >= 201, "every stat looked up through process_request");
    assert!(handled >= 401, "lookups and getattrs handled: {handled}");
    assert_eq!(big, 0, "no request after the first allocated a big buffer ({handled} handled)");
}
