//! The node table: which cookies the kernel holds, how often it looked each up, and how often it
//! has each open (puffs's cookie hash; FUSE lookup counts).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::fuse::abi::ROOT_ID;
use crate::Cookie;

/// Smallest number of cookie hash buckets.
pub(crate) const COOKIE_HASH_MIN: usize = 1;
/// Largest number of cookie hash buckets.
pub(crate) const COOKIE_HASH_MAX: usize = 65536;
/// Number of cookie hash buckets when none is set.
pub(crate) const COOKIE_HASH_DEFAULT: usize = 256;

/// Clamps a requested bucket count into `[COOKIE_HASH_MIN, COOKIE_HASH_MAX]`, as the puffs kernel
/// does with `pmp_npnodehash`; zero asks for the default.
pub(crate) fn clamp_cookie_hash(buckets: usize) -> usize {
    if buckets == 0 {
        COOKIE_HASH_DEFAULT
    } else {
        buckets.clamp(COOKIE_HASH_MIN, COOKIE_HASH_MAX)
    }
}

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
    buckets: Box<[Mutex<HashMap<Cookie, Counts>>]>,
}

impl NodeTable {
    pub(crate) fn new(root: Cookie, buckets: usize) -> NodeTable {
        let buckets = (0..clamp_cookie_hash(buckets)).map(|_| Mutex::new(HashMap::new())).collect();
        NodeTable { root, buckets }
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

    fn bucket(&self, cookie: Cookie) -> std::sync::MutexGuard<'_, HashMap<Cookie, Counts>> {
        // Fibonacci hashing spreads sequential cookies over the buckets.
        let hash = cookie.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        let index = (hash as usize) % self.buckets.len();
        self.buckets[index].lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The kernel got `cookie` from a lookup or a creating operation.
    pub(crate) fn looked_up(&self, cookie: Cookie) {
        self.bucket(cookie).entry(cookie).or_default().lookups += 1;
    }

    /// The kernel forgot `nlookup` lookups of `cookie`; `true` when none is left, and the node is
    /// to be reclaimed. Forgetting more than was looked up (a confused kernel) forgets all.
    pub(crate) fn forget(&self, cookie: Cookie, nlookup: u64) -> bool {
        let mut bucket = self.bucket(cookie);
        let Some(counts) = bucket.get_mut(&cookie) else { return false };
        counts.lookups = counts.lookups.saturating_sub(nlookup);
        if counts.lookups == 0 {
            bucket.remove(&cookie);
            true
        } else {
            false
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

    #[test]
    fn reclaim_when_lookups_reach_zero() {
        let t = NodeTable::new(Cookie(1), 16);
        t.looked_up(Cookie(9));
        t.looked_up(Cookie(9));
        assert!(!t.forget(Cookie(9), 1));
        assert_eq!(t.lookups(Cookie(9)), 1);
        assert!(t.forget(Cookie(9), 1));
        assert!(!t.forget(Cookie(9), 1), "an unknown node is not reclaimed twice");
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
