//! The node table: which cookies the kernel holds, how often it looked each up, and how often it
//! has each open (puffs's cookie hash; FUSE lookup counts).
//!
//! Handing a node out and reclaiming it are ordered by one lock: an operation that may hand a
//! node to the kernel (lookup, create, mknod, mkdir, symlink, link) holds
//! [`NodeTable::handing_out`] (shared) from the file system's answer until its reply is delivered
//! and counted; forgetting a node's last lookup and calling `node_reclaim` hold it alone. So a
//! lookup answered on one worker thread can never be undone by a reclaim that another worker
//! decided on earlier but ran later.

use std::sync::{Mutex, RwLock, RwLockReadGuard};

use rustc_hash::FxHashMap;

use crate::fs::cookie::Cookie;
use crate::fuse::abi::ROOT_ID;
use crate::settings::clamp_cookie_hash;

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    lookups: u64,
    opens: u64,
}

/// Maps cookies to FUSE node ids and counts the kernel's references, in `buckets` independently
/// locked hash buckets so that worker threads rarely contend.
///
/// Node ids are cookies, except that the root cookie and `FUSE_ROOT_ID` trade places: the
/// mapping is its own inverse and needs no storage.
#[derive(Debug)]
pub(crate) struct NodeTable {
    root: Cookie,
    buckets: Box<[Mutex<FxHashMap<Cookie, Counts>>]>,
    /// Shared while nodes are handed out, exclusive while lookups are forgotten and nodes
    /// reclaimed.
    handouts: RwLock<()>,
}

/// Held while an operation may hand nodes to the kernel: no node is reclaimed meanwhile.
pub(crate) type HandingOut<'a> = RwLockReadGuard<'a, ()>;

impl NodeTable {
    pub(crate) fn new(root: Cookie, buckets: usize) -> NodeTable {
        let buckets = (0..clamp_cookie_hash(buckets)).map(|_| Mutex::new(FxHashMap::default())).collect();
        NodeTable { root, buckets, handouts: RwLock::new(()) }
    }

    /// The root cookie.
    pub(crate) fn root(&self) -> Cookie {
        self.root
    }

    /// How many buckets the table has.
    pub(crate) fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    /// The node id the kernel knows `cookie` by; `None` for the reserved value.
    pub(crate) fn nodeid_of(&self, cookie: Cookie) -> Option<u64> {
        nodeid_of(self.root, cookie)
    }

    /// The cookie of node id `nodeid`.
    pub(crate) fn cookie_of(&self, nodeid: u64) -> Cookie {
        cookie_of(self.root, nodeid)
    }

    fn bucket(&self, cookie: Cookie) -> std::sync::MutexGuard<'_, FxHashMap<Cookie, Counts>> {
        // Fibonacci hashing spreads sequential cookies over the buckets.
        let hash = cookie.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        let index = (hash as usize) % self.buckets.len();
        self.buckets[index].lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts handing nodes out: hold the answer until every node the operation answered is
    /// counted with [`looked_up`](NodeTable::looked_up) (its reply delivered) or given up with
    /// [`not_handed_out`](NodeTable::not_handed_out) (after the guard is dropped).
    pub(crate) fn handing_out(&self) -> HandingOut<'_> {
        self.handouts.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The kernel got `cookie` from a lookup or a creating operation: its reply was delivered.
    /// Called while [`handing_out`](NodeTable::handing_out) is held.
    pub(crate) fn looked_up(&self, _handing_out: &HandingOut<'_>, cookie: Cookie) {
        self.bucket(cookie).entry(cookie).or_default().lookups += 1;
    }

    /// The kernel forgot lookups of nodes, `(cookie, nlookup)` each; `reclaim` is called for
    /// every node left with none, before any node can be handed out again. Forgetting more than
    /// was looked up (a confused kernel) forgets all; an unknown node is ignored.
    pub(crate) fn forget(&self, forgotten: impl IntoIterator<Item = (Cookie, u64)>, mut reclaim: impl FnMut(Cookie)) {
        let _alone = self.handouts.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (cookie, nlookup) in forgotten {
            let last = {
                let mut bucket = self.bucket(cookie);
                let Some(counts) = bucket.get_mut(&cookie) else { continue };
                counts.lookups = counts.lookups.saturating_sub(nlookup);
                let last = counts.lookups == 0;
                if last && counts.opens == 0 {
                    bucket.remove(&cookie);
                }
                last
            };
            if last {
                reclaim(cookie);
            }
        }
    }

    /// A node the file system answered never reached the kernel (the operation failed after
    /// it, or its reply was not delivered): `reclaim` is called if the kernel holds no lookup
    /// of it, as if it had been forgotten. Called after the [`HandingOut`] guard is dropped.
    pub(crate) fn not_handed_out(&self, cookie: Cookie, reclaim: impl FnOnce(Cookie)) {
        let _alone = self.handouts.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.bucket(cookie).get(&cookie).is_none_or(|counts| counts.lookups == 0) {
            reclaim(cookie);
        }
    }

    /// The kernel opened `cookie`.
    pub(crate) fn opened(&self, cookie: Cookie) {
        self.bucket(cookie).entry(cookie).or_default().opens += 1;
    }

    /// The kernel closed an open of `cookie`; `true` when it was the last one.
    pub(crate) fn closed(&self, cookie: Cookie) -> bool {
        let mut bucket = self.bucket(cookie);
        let Some(counts) = bucket.get_mut(&cookie) else { return false };
        counts.opens = counts.opens.saturating_sub(1);
        let last = counts.opens == 0;
        if last && counts.lookups == 0 {
            bucket.remove(&cookie);
        }
        last
    }

    /// The lookup count of `cookie`.
    #[cfg(test)]
    pub(crate) fn lookups(&self, cookie: Cookie) -> u64 {
        self.bucket(cookie).get(&cookie).map_or(0, |c| c.lookups)
    }
}

/// The node id of `cookie` under root cookie `root`.
pub(crate) fn nodeid_of(root: Cookie, cookie: Cookie) -> Option<u64> {
    let id = if cookie == root {
        ROOT_ID
    } else if cookie.0 == ROOT_ID {
        root.0
    } else {
        cookie.0
    };
    (id != 0).then_some(id)
}

/// The cookie of node id `nodeid` under root cookie `root`.
pub(crate) fn cookie_of(root: Cookie, nodeid: u64) -> Cookie {
    if nodeid == ROOT_ID {
        root
    } else if nodeid == root.0 {
        Cookie(ROOT_ID)
    } else {
        Cookie(nodeid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_node_one_trade_places() {
        let t = NodeTable::new(Cookie(77), 4);
        assert_eq!(t.nodeid_of(Cookie(77)), Some(1));
        assert_eq!(t.nodeid_of(Cookie(1)), Some(77));
        assert_eq!(t.nodeid_of(Cookie(5)), Some(5));
        assert_eq!(t.nodeid_of(Cookie(0)), None);
        for c in [1, 5, 77, u64::MAX] {
            assert_eq!(t.cookie_of(t.nodeid_of(Cookie(c)).unwrap()), Cookie(c));
        }
        let zero_root = NodeTable::new(Cookie(0), 4);
        assert_eq!(zero_root.nodeid_of(Cookie(0)), Some(1));
        assert_eq!(zero_root.cookie_of(1), Cookie(0));
    }

    fn forget(t: &NodeTable, cookie: Cookie, nlookup: u64) -> bool {
        let mut reclaimed = false;
        t.forget([(cookie, nlookup)], |c| reclaimed = c == cookie);
        reclaimed
    }

    #[test]
    fn reclaim_when_lookups_reach_zero() {
        let t = NodeTable::new(Cookie(1), 16);
        t.looked_up(&t.handing_out(), Cookie(9));
        t.looked_up(&t.handing_out(), Cookie(9));
        assert!(!forget(&t, Cookie(9), 1));
        assert_eq!(t.lookups(Cookie(9)), 1);
        assert!(forget(&t, Cookie(9), 1));
        assert!(!forget(&t, Cookie(9), 1), "an unknown node is not reclaimed twice");
    }

    #[test]
    fn a_node_that_never_reached_the_kernel_is_reclaimed_unless_held() {
        let t = NodeTable::new(Cookie(1), 16);
        let mut reclaimed = Vec::new();
        t.not_handed_out(Cookie(4), |c| reclaimed.push(c));
        t.looked_up(&t.handing_out(), Cookie(5));
        t.not_handed_out(Cookie(5), |c| reclaimed.push(c));
        assert_eq!(reclaimed, vec![Cookie(4)], "a node the kernel holds from another lookup stays");
    }

    #[test]
    fn an_open_node_keeps_its_entry_after_its_lookups_are_forgotten() {
        let t = NodeTable::new(Cookie(1), 1);
        t.looked_up(&t.handing_out(), Cookie(3));
        t.opened(Cookie(3));
        assert!(forget(&t, Cookie(3), 1));
        assert!(t.closed(Cookie(3)), "the last close is still seen");
    }

    #[test]
    fn inactive_on_last_close() {
        let t = NodeTable::new(Cookie(1), 1);
        t.opened(Cookie(3));
        t.opened(Cookie(3));
        assert!(!t.closed(Cookie(3)));
        assert!(t.closed(Cookie(3)));
    }

    #[test]
    fn bucket_count_is_clamped() {
        assert_eq!(NodeTable::new(Cookie(1), 0).bucket_count(), 256);
        assert_eq!(NodeTable::new(Cookie(1), 1 << 20).bucket_count(), 65536);
        assert_eq!(NodeTable::new(Cookie(1), 3).bucket_count(), 3);
    }
}
