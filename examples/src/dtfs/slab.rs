//! Where dtfs's file bytes live: [`Chunk`]s of up to [`CHUNK`] bytes, each a block of a
//! 2 MiB slab mapped for the chunks alone, with transparent huge pages asked for.
//!
//! Why not one `Vec` per chunk: a large write then takes a page fault (and a zeroed page) per
//! 4 KiB, which was most of the server's time in a long sequential write, and the C
//! allocator keeps what a removed file freed. Here a slab is one mapping of 32 blocks,
//! advised `MADV_HUGEPAGE`, so the kernel fills it with one huge page in one fault where it
//! can; a freed block is reused by the next chunk (its old bytes are overwritten, never
//! zeroed first: a chunk's bytes past its length are never read); and a slab whose blocks
//! are all free is kept as a spare for the next file, up to [`SPARE_MAX`] of them, advised
//! `MADV_FREE` so that the kernel takes its memory back whenever it needs it (it shows as
//! `LazyFree` in `/proc/PID/smaps`); beyond that it goes back to the system at once.
//!
//! Why spares: memory handed back is memory the next file must fault in again, a huge page
//! zeroed each time; and on a virtual machine that reports free pages to its host (virtio
//! balloon free page reporting, as on the machines this was measured on), a freed 2 MiB page
//! is soon given to the host, and touching it again costs a host fault as well: a
//! 512 MiB file written through FUSE went at 329 MB/s into fresh slabs, and at 1.5 GB/s into
//! reused ones.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::{Mutex, PoisonError};

use nix::sys::mman::{madvise, mmap_anonymous, munmap, MapFlags, MmapAdvise, ProtFlags};

use super::tree::CHUNK;

/// The size of a slab: one huge page of x86-64 and aarch64 (4 KiB pages).
const SLAB: usize = 2 << 20;
/// Blocks in a slab.
const BLOCKS: u32 = (SLAB / CHUNK as usize) as u32;
/// The free mask of a slab with every block free.
const ALL_FREE: u32 = if BLOCKS == 32 { u32::MAX } else { (1 << BLOCKS) - 1 };
/// How many all-free slabs are kept for reuse (1 GiB); more go back to the system.
pub(super) const SPARE_MAX: usize = 512;

/// The slabs of the process, shared by every dtfs in it, as the C allocator would be.
static POOL: Mutex<Pool> = Mutex::new(Pool { slabs: BTreeMap::new(), with_room: BTreeSet::new(), spare: Vec::new() });

/// The slabs, by base address, each with the mask of its free blocks.
struct Pool {
    slabs: BTreeMap<usize, u32>,
    /// The slabs with a free block, lowest first: new chunks fill the oldest slabs.
    with_room: BTreeSet<usize>,
    /// All-free slabs kept for the next chunks, their memory advised `MADV_FREE`; not in
    /// `slabs`.
    spare: Vec<usize>,
}

impl Pool {
    /// A free block: in a slab with room, else in a spare slab, else in a new slab. `None`
    /// when the system has no memory to map.
    fn take(&mut self) -> Option<NonNull<u8>> {
        let base = match self.with_room.first() {
            Some(&base) => base,
            None => {
                // A spare's pages are still there unless the kernel took them; writing to it
                // keeps them, or faults fresh ones in. Either way its old bytes do not matter.
                let base = match self.spare.pop() {
                    Some(base) => base,
                    None => map_slab()?,
                };
                self.slabs.insert(base, ALL_FREE);
                self.with_room.insert(base);
                base
            }
        };
        let mask = self.slabs.get_mut(&base).expect("a slab with room is a slab");
        let block = mask.trailing_zeros();
        *mask &= !(1 << block);
        if *mask == 0 {
            self.with_room.remove(&base);
        }
        NonNull::new((base + block as usize * CHUNK as usize) as *mut u8)
    }

    /// Gives `block` back. Once all its slab's blocks are free, the slab becomes a spare, or
    /// goes back to the system when there are enough spares; the only slab with room stays.
    fn give(&mut self, block: NonNull<u8>) {
        let address = block.as_ptr() as usize;
        let base = address & !(SLAB - 1);
        let mask = self.slabs.get_mut(&base).expect("a block comes from a slab");
        *mask |= 1 << ((address - base) / CHUNK as usize);
        self.with_room.insert(base);
        if *mask == ALL_FREE && self.with_room.len() > 1 {
            self.slabs.remove(&base);
            self.with_room.remove(&base);
            let slab = NonNull::new(base as *mut _).expect("not null");
            // SAFETY (both): the slab was mapped by `map_slab` with this base and length, and
            // none of its blocks is in use: no chunk points into it any more. Neither fails
            // for a whole mapping of ours; if one did, the slab would only stay as it is.
            if self.spare.len() < SPARE_MAX {
                let _ = unsafe { madvise(slab, SLAB, MmapAdvise::MADV_FREE) };
                self.spare.push(base);
            } else {
                let _ = unsafe { munmap(slab, SLAB) };
            }
        }
    }
}

/// Maps a slab aligned to its size (so that a block finds its slab by masking its address),
/// asking for a huge page. `None` when the system has no memory to map.
fn map_slab() -> Option<usize> {
    let length = NonZeroUsize::new(2 * SLAB).expect("not zero");
    let flags = MapFlags::MAP_PRIVATE | MapFlags::MAP_NORESERVE;
    // SAFETY: a fresh anonymous mapping, which nothing else refers to.
    let mapped = unsafe { mmap_anonymous(None, length, ProtFlags::PROT_READ | ProtFlags::PROT_WRITE, flags) }.ok()?;
    let start = mapped.as_ptr() as usize;
    let base = start.next_multiple_of(SLAB);
    // The mapping is twice the slab: the aligned slab lies inside it; the rest is unmapped.
    // SAFETY: both ranges lie in the mapping just made, outside the slab kept.
    unsafe {
        if base > start {
            let _ = munmap(mapped, base - start);
        }
        let end = start + 2 * SLAB;
        if end > base + SLAB {
            let _ = munmap(NonNull::new((base + SLAB) as *mut _).expect("not null"), end - (base + SLAB));
        }
    }
    let slab = NonNull::new(base as *mut std::ffi::c_void).expect("not null");
    // SAFETY: the range is the slab just mapped. Huge pages are a wish: without them (THP
    // off, or no huge page free) the slab is made of small pages, which works the same.
    let _ = unsafe { madvise(slab, SLAB, MmapAdvise::MADV_HUGEPAGE) };
    Some(base)
}

/// The bytes of one chunk: up to [`CHUNK`] of them, in a block of a slab taken at its first
/// byte and given back when it empties or goes. Dereferences to its bytes, like the `Vec` it
/// replaces.
pub(super) struct Chunk {
    block: Option<NonNull<u8>>,
    len: usize,
}

// SAFETY: a chunk owns its block alone, as a `Vec` owns its buffer.
unsafe impl Send for Chunk {}
// SAFETY: shared access only reads the block.
unsafe impl Sync for Chunk {}

impl Default for Chunk {
    /// An empty chunk, which holds no block.
    fn default() -> Chunk {
        Chunk { block: None, len: 0 }
    }
}

impl Chunk {
    /// Its length in bytes.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Makes room for `len` bytes: takes a block at the first byte. Panics past [`CHUNK`],
    /// and when the system has no memory, as a `Vec` would.
    fn room(&mut self, len: usize) -> NonNull<u8> {
        assert!(len <= CHUNK as usize, "a chunk holds at most {CHUNK} bytes, not {len}");
        match self.block {
            Some(block) => block,
            None => {
                let block = POOL.lock().unwrap_or_else(PoisonError::into_inner).take().expect("memory for a slab");
                self.block = Some(block);
                block
            }
        }
    }

    /// Grows to `len` bytes, the new ones `value`; shrinks to it if shorter.
    pub(super) fn resize(&mut self, len: usize, value: u8) {
        if len <= self.len {
            self.truncate(len);
            return;
        }
        let block = self.room(len);
        // SAFETY: the block holds `CHUNK >= len` bytes and belongs to this chunk.
        unsafe { std::ptr::write_bytes(block.as_ptr().add(self.len), value, len - self.len) };
        self.len = len;
    }

    /// Appends `bytes`.
    pub(super) fn extend_from_slice(&mut self, bytes: &[u8]) {
        let len = self.len + bytes.len();
        let block = self.room(len);
        // SAFETY: the block holds `CHUNK >= len` bytes, belongs to this chunk, and cannot
        // overlap `bytes`, which the caller borrows from elsewhere.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), block.as_ptr().add(self.len), bytes.len()) };
        self.len = len;
    }

    /// Cuts to `len` bytes; an emptied chunk gives its block back.
    pub(super) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
        if self.len == 0 {
            if let Some(block) = self.block.take() {
                POOL.lock().unwrap_or_else(PoisonError::into_inner).give(block);
            }
        }
    }
}

impl std::ops::Deref for Chunk {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self.block {
            // SAFETY: the first `len` bytes of the block were written by this chunk.
            Some(block) => unsafe { std::slice::from_raw_parts(block.as_ptr(), self.len) },
            None => &[],
        }
    }
}

impl std::ops::DerefMut for Chunk {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self.block {
            // SAFETY: as for `deref`, and the chunk is borrowed mutably.
            Some(block) => unsafe { std::slice::from_raw_parts_mut(block.as_ptr(), self.len) },
            None => &mut [],
        }
    }
}

impl Clone for Chunk {
    fn clone(&self) -> Chunk {
        let mut copy = Chunk::default();
        copy.extend_from_slice(self);
        copy
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        self.truncate(0);
    }
}

impl std::fmt::Debug for Chunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunk").field("len", &self.len).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::{Chunk, POOL};

    #[test]
    fn chunks_hold_their_bytes_and_give_their_blocks_back() {
        let mut chunks: Vec<Chunk> = (0..100).map(|_| Chunk::default()).collect();
        for (i, chunk) in chunks.iter_mut().enumerate() {
            chunk.resize(10, i as u8);
            chunk.extend_from_slice(b"tail");
        }
        for (i, chunk) in chunks.iter().enumerate() {
            assert_eq!(&chunk[..10], &[i as u8; 10]);
            assert_eq!(&chunk[10..], b"tail");
        }
        let copy = chunks[7].clone();
        chunks[7].truncate(2);
        assert_eq!((copy.len(), &copy[10..]), (14, &b"tail"[..]));
        assert_eq!(chunks[7].len(), 2);
        drop(chunks);
        drop(copy);
        // Other tests' chunks may be alive: at most one free slab stays in use beside theirs;
        // the others are spares, no more than SPARE_MAX, and the next chunks take them first.
        let mut pool = POOL.lock().unwrap();
        assert!(pool.slabs.values().filter(|&&mask| mask == super::ALL_FREE).count() <= 1);
        assert!(pool.spare.len() <= super::SPARE_MAX);
        // Fill every slab in use, then take one block more: it comes from a spare if any.
        let spares = pool.spare.len();
        let free_in_use: u32 = pool.with_room.iter().map(|base| pool.slabs[base].count_ones()).sum();
        let taken: Vec<_> = (0..=free_in_use).map(|_| pool.take().expect("a block")).collect();
        assert_eq!(pool.spare.len(), spares.saturating_sub(1), "a spare is used before a new slab is mapped");
        for block in taken {
            pool.give(block);
        }
        assert_eq!(pool.spare.len(), spares.clamp(1, super::SPARE_MAX), "and it is a spare again");
    }
}
