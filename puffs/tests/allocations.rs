//! The hot path allocates nothing: once a worker's buffers have grown, receiving, decoding,
//! dispatching, answering and sending a stat, a failed lookup, a read or a write allocates no
//! memory on the worker's thread. Counted by a global allocator, per thread, between one call
//! of the file system and the next.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::OsStr;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use puffs::loopback::{self, MountArgs};
use puffs::{
    puffs_fs, Answered, Context, Cookie, Errno, FileHandle, FileSystem, NewNode, OFlag, ReadOut, Result, UnmountFlags,
    Usermount, Vattr, Vtype,
};

thread_local! {
    /// Allocations made on this thread so far.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting each thread's allocations.
struct Counting;

fn count() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
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

const FILE: Cookie = Cookie(2);
const DATA: [u8; 4096] = [7; 4096];

/// One file, `f`; each call notes the worker's thread and how many allocations it made so far.
struct Fs {
    seen: Arc<Mutex<Vec<(ThreadId, u64)>>>,
}

impl Fs {
    fn note(&self) {
        let mark = (std::thread::current().id(), ALLOCATIONS.with(Cell::get));
        let mut seen = self.seen.lock().unwrap();
        assert!(seen.len() < seen.capacity(), "room made beforehand, so that noting does not allocate");
        seen.push(mark);
    }
}

#[puffs_fs]
impl FileSystem for Fs {
    fn node_lookup(&self, _dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        self.note();
        if name != "f" {
            return Err(Errno::ENOENT);
        }
        Ok(NewNode::new(FILE, Vattr::new(Vtype::Reg, 0o644, FILE.0)))
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        self.note();
        Ok(if node == FILE { Vattr::new(Vtype::Reg, 0o644, 2) } else { Vattr::new(Vtype::Dir, 0o755, 1) })
    }

    fn node_read(
        &self,
        _node: Cookie,
        _h: FileHandle,
        offset: u64,
        out: ReadOut<'_>,
        _ctx: &Context<'_>,
    ) -> Result<Answered> {
        self.note();
        Ok(out.reply_at(&DATA, offset))
    }

    fn node_write(
        &self,
        _node: Cookie,
        _h: FileHandle,
        _offset: u64,
        data: &[u8],
        _ctx: &Context<'_>,
    ) -> Result<usize> {
        self.note();
        Ok(data.len())
    }
}

#[test]
fn stat_lookup_read_and_write_allocate_nothing_once_warm() {
    let seen = Arc::new(Mutex::new(Vec::with_capacity(10_000)));
    let fs = Fs { seen: seen.clone() };
    // One worker: every call is on the same thread, so the counts compare.
    let usermount = Usermount::init(fs, "allocations").threads(1);
    let args = MountArgs::of(&usermount, Cookie(1));
    let mounted = loopback::mount(usermount, args).map_err(puffs::Error::from).expect("loopback mount");
    let client = mounted.client();
    let file = client.open("f", OFlag::O_RDWR, 0).expect("open");
    let round = || {
        client.stat("f").expect("stat");
        assert_eq!(client.stat("missing").map(drop), Err(Errno::ENOENT));
        assert_eq!(client.read(&file, 0, DATA.len()).expect("read").len(), DATA.len());
        assert_eq!(client.write(&file, 0, &DATA).expect("write"), DATA.len());
    };
    for _ in 0..50 {
        round();
    }
    let warm = seen.lock().unwrap().len();
    for _ in 0..200 {
        round();
    }
    client.close(file).expect("close");
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
    let seen = seen.lock().unwrap();
    let measured = &seen[warm..];
    assert!(measured.len() >= 800, "every operation reached the file system: {}", measured.len());
    let (thread, first) = measured[0];
    assert!(measured.iter().all(|&(t, _)| t == thread), "one worker thread");
    let last = measured.last().unwrap().1;
    assert_eq!(last - first, 0, "allocations on the worker over {} requests", measured.len());
}
