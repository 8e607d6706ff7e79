//! The node table under concurrency: a FORGET of a node's last lookup and a LOOKUP of the same
//! node handled at the same time on two worker threads. Whatever order they run in, a node the
//! kernel ends up holding must never be reclaimed (issue: open-but-unlinked files vanished with
//! several worker threads while the kernel dropped its inode caches).
//!
//! Driven by a fake kernel on a socket pair, so it needs no mount and no privilege.

mod fake_kernel;

use std::collections::HashSet;
use std::ffi::OsStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fake_kernel::{body, pair, FakeKernel};
use puffs::fuse::abi::{self, opcode};
use puffs::fuse::request::Operation;
use puffs::{puffs_fs, Context, Cookie, Errno, FileSystem, NewNode, Result, Usermount, Vattr, Vtype};

const NODE: u64 = 7;

/// Tracks which nodes it believes the kernel holds, as a real file system does to decide when
/// an unlinked node's storage may go. Its reclaim is slow, as a real one may be (freeing
/// storage, writing back), which opens the window the race needs.
#[derive(Default)]
struct Tracker {
    held: Mutex<HashSet<u64>>,
    reclaiming: AtomicUsize,
}

#[puffs_fs]
impl FileSystem for Tracker {
    fn node_lookup(&self, _dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        if name != "x" {
            return Err(Errno::ENOENT);
        }
        self.held.lock().unwrap().insert(NODE);
        Ok(NewNode::new(Cookie(NODE), Vattr::new(Vtype::Reg, 0o644, NODE)))
    }

    fn node_reclaim(&self, node: Cookie) {
        self.reclaiming.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_micros(300));
        self.held.lock().unwrap().remove(&node.0);
        self.reclaiming.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What this test asks of the fake kernel.
trait Race {
    fn lookup_x(&self);
    fn forget(&self, nlookup: u64);
}

impl Race for FakeKernel {
    fn lookup_x(&self) {
        assert_eq!(self.call(opcode::LOOKUP, abi::ROOT_ID, b"x\0").0, 0, "LOOKUP x answered");
    }

    fn forget(&self, nlookup: u64) {
        self.send(opcode::FORGET, NODE, &body(&Operation::Forget { nlookup }));
    }
}

#[test]
fn a_lookup_racing_the_forget_of_the_last_lookup_keeps_the_node() {
    let (channel, kernel) = pair();
    kernel.init(7, 45);
    let tracker = std::sync::Arc::new(Tracker::default());
    let mounted = Usermount::init(SharedTracker(tracker.clone()), "race")
        .threads(2)
        .mount_on_channel(channel, Cookie(1), "race")
        .map_err(puffs::Error::from)
        .expect("mount on channel");
    assert_eq!(kernel.reply().0.error, 0, "INIT answered");
    let server = std::thread::spawn(move || mounted.mainloop());

    // The kernel holds the node once; then, in each round, it forgets that lookup while a new
    // lookup of the same name is in flight. Two workers take the two frames at the same time.
    kernel.lookup_x();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut rounds = 0;
    let mut lost = 0;
    while Instant::now() < deadline && rounds < 3000 {
        kernel.forget(1);
        kernel.lookup_x();
        // The kernel now holds the node (from this round's lookup): once any reclaim in
        // progress is over, the file system must still count it as held.
        let settle = Instant::now() + Duration::from_secs(5);
        while tracker.reclaiming.load(Ordering::SeqCst) != 0 {
            assert!(Instant::now() < settle, "a reclaim did not finish");
            std::thread::yield_now();
        }
        if !tracker.held.lock().unwrap().contains(&NODE) {
            lost += 1;
            // Put the file system back in step with the kernel for the next round.
            tracker.held.lock().unwrap().insert(NODE);
        }
        rounds += 1;
    }
    drop(kernel);
    server.join().expect("server thread").expect("main loop ends when the kernel goes away");
    assert!(rounds >= 100, "only {rounds} rounds ran");
    assert_eq!(lost, 0, "in {lost} of {rounds} rounds a node the kernel holds was reclaimed");
}

/// The tracker, shared with the test while the mount owns it.
struct SharedTracker(std::sync::Arc<Tracker>);

#[puffs_fs]
impl FileSystem for SharedTracker {
    fn node_lookup(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
        self.0.node_lookup(dir, name, ctx)
    }

    fn node_reclaim(&self, node: Cookie) {
        self.0.node_reclaim(node)
    }
}
