//! dtfs's file content: sparse chunks of at most [`CHUNK`] bytes, each only as long as its last
//! byte written or allocated; a missing chunk, or the part of one past its length, is a hole.
//! Reading, writing, allocating, punching holes, finding data and holes, and copying, with the
//! space accounting of the tree.

use std::collections::BTreeMap;

use puffs::{Errno, FallocateFlags, Result, SeekWhence, Vattr};

use super::slab::Chunk;
use super::tree::{now, BLOCK, CHUNK, MAX_FILE_SIZE};

/// A file's chunks by index: chunk `i` holds bytes from `i * CHUNK`.
pub(super) type Chunks = BTreeMap<u64, Chunk>;

/// A regular file opened for change, with the tree's space accounting.
pub(super) struct FileMut<'a> {
    pub(super) vattr: &'a mut Vattr,
    pub(super) chunks: &'a mut Chunks,
    pub(super) used: &'a mut u64,
    pub(super) capacity: u64,
}

/// The bytes a file's chunks hold.
pub(super) fn chunk_bytes(chunks: &Chunks) -> u64 {
    chunks.values().map(|c| c.len() as u64).sum()
}

/// What a chunk of `len` bytes occupies, in whole blocks: its share of `st_blocks`.
fn allocated(len: usize) -> u64 {
    (len as u64).next_multiple_of(BLOCK)
}

/// The pieces of `offset..end` by chunk: `(index, start within the chunk, length)`.
fn pieces(offset: u64, end: u64) -> impl Iterator<Item = (u64, usize, usize)> {
    let mut at = offset;
    std::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let (index, within) = (at / CHUNK, at % CHUNK);
        let len = (CHUNK - within).min(end - at);
        at += len;
        Some((index, within as usize, len as usize))
    })
}

/// What a hole reads as: zeros, as many as a chunk holds.
static ZEROS: [u8; CHUNK as usize] = [0; CHUNK as usize];

/// The bytes of a file of `size` bytes from `offset`, at most `len` of them, as they lie: slices
/// of its chunks, and of zeros for its holes.
pub(super) fn slices(chunks: &Chunks, size: u64, offset: u64, len: usize) -> impl Iterator<Item = &[u8]> {
    let end = size.min(offset.saturating_add(len as u64)).max(offset);
    pieces(offset, end)
        .flat_map(|(index, within, len)| {
            let stored = chunks.get(&index).map_or(&[][..], |c| c.get(within..).unwrap_or(&[]));
            let data = &stored[..stored.len().min(len)];
            [data, &ZEROS[..len - data.len()]]
        })
        .filter(|slice| !slice.is_empty())
}

/// Reads a file of `size` bytes at `offset` into `buf`; answers how many bytes were read. Holes
/// read as zeros.
#[cfg(test)]
fn read_at(chunks: &Chunks, size: u64, offset: u64, buf: &mut [u8]) -> usize {
    let mut done = 0;
    for slice in slices(chunks, size, offset, buf.len()) {
        buf[done..done + slice.len()].copy_from_slice(slice);
        done += slice.len();
    }
    done
}

/// The first data (`Data`) or hole (`Hole`) at or after `offset` in a file of `size` bytes; the
/// end is a hole. `ENXIO` at or past the end, or when no data follows.
pub(super) fn seek(chunks: &Chunks, size: u64, offset: u64, whence: SeekWhence) -> Result<u64> {
    if offset >= size {
        return Err(Errno::ENXIO);
    }
    // Data lies in `index * CHUNK .. index * CHUNK + len` of each chunk; the rest is hole.
    let extents = chunks.range(offset / CHUNK..).map(|(&index, c)| (index * CHUNK, index * CHUNK + c.len() as u64));
    match whence {
        SeekWhence::Data => extents
            .filter(|&(start, end)| end > offset && start < size)
            .map(|(start, _)| start.max(offset))
            .next()
            .ok_or(Errno::ENXIO),
        SeekWhence::Hole => {
            let mut at = offset;
            for (start, end) in extents {
                if start > at {
                    break;
                }
                at = at.max(end);
                if end < start + CHUNK {
                    break;
                }
            }
            Ok(at.min(size))
        }
    }
}

impl FileMut<'_> {
    /// Makes sure there is space for every chunk touching `offset..end` to grow as the range
    /// needs: `ENOSPC` if not, before anything changes.
    fn room_for(&self, offset: u64, end: u64) -> Result<()> {
        let growth: u64 = pieces(offset, end)
            .map(|(index, within, len)| {
                ((within + len) as u64).saturating_sub(self.chunks.get(&index).map_or(0, |c| c.len() as u64))
            })
            .sum();
        if *self.used + growth > self.capacity {
            return Err(Errno::ENOSPC);
        }
        Ok(())
    }

    /// Changes chunk `index` (empty if there was none) through `change`, keeping the space
    /// accounting (used bytes, `st_blocks`) in step with its new length; an emptied chunk goes.
    fn resize_chunk(&mut self, index: u64, change: impl FnOnce(&mut Chunk)) {
        let chunk = self.chunks.entry(index).or_default();
        let before = chunk.len();
        change(chunk);
        let after = chunk.len();
        if after == 0 {
            self.chunks.remove(&index);
        }
        *self.used = *self.used + after as u64 - before as u64;
        self.vattr.bytes = self.vattr.bytes + allocated(after) - allocated(before);
    }

    /// Makes every chunk touching `offset..end` at least as long as the range needs, with
    /// zeros: `ENOSPC` before anything changes if the space is not there.
    fn fill_to(&mut self, offset: u64, end: u64) -> Result<()> {
        self.room_for(offset, end)?;
        for (index, within, len) in pieces(offset, end) {
            self.resize_chunk(index, |chunk| {
                if chunk.len() < within + len {
                    chunk.resize(within + len, 0);
                }
            });
        }
        Ok(())
    }

    /// A change of content: the modification and change times move.
    fn changed(&mut self) {
        let t = now();
        self.vattr.mtime = t;
        self.vattr.ctime = t;
    }

    /// Writes `data` at `offset`; answers how many bytes were written.
    pub(super) fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<usize> {
        let end = offset.checked_add(data.len() as u64).filter(|&e| e <= MAX_FILE_SIZE).ok_or(Errno::EFBIG)?;
        if data.is_empty() {
            return Ok(0);
        }
        self.room_for(offset, end)?;
        let mut done = 0;
        for (index, within, len) in pieces(offset, end) {
            let piece = &data[done..done + len];
            // What the chunk holds is overwritten, the rest appended: fresh bytes are written
            // once, never zeroed first, into the chunk's block, which never moves.
            self.resize_chunk(index, |chunk| {
                if chunk.len() < within {
                    chunk.resize(within, 0);
                }
                let overlap = (chunk.len() - within).min(len);
                chunk[within..within + overlap].copy_from_slice(&piece[..overlap]);
                chunk.extend_from_slice(&piece[overlap..]);
            });
            done += len;
        }
        self.vattr.size = self.vattr.size.max(end);
        self.changed();
        Ok(data.len())
    }

    /// Sets the size, freeing what lies past the new end, so that growing the file again reads
    /// zeros there.
    pub(super) fn set_size(&mut self, size: u64) {
        if size < self.vattr.size {
            let gone = self.chunks.split_off(&size.div_ceil(CHUNK));
            *self.used -= chunk_bytes(&gone);
            self.vattr.bytes -= gone.values().map(|c| allocated(c.len())).sum::<u64>();
            let keep = (size % CHUNK) as usize;
            if self.chunks.contains_key(&(size / CHUNK)) {
                self.resize_chunk(size / CHUNK, |last| last.truncate(keep));
            }
        }
        self.vattr.size = size;
    }

    /// `fallocate(2)` of `offset..offset + len` with `mode`: allocate (growing the file unless
    /// `KEEP_SIZE`), zero (`ZERO_RANGE`) or punch a hole (`PUNCH_HOLE`).
    pub(super) fn fallocate(&mut self, offset: u64, len: u64, mode: FallocateFlags) -> Result<()> {
        let end = offset.checked_add(len).filter(|&e| e <= MAX_FILE_SIZE).ok_or(Errno::EFBIG)?;
        if mode.contains(FallocateFlags::PUNCH_HOLE) {
            self.punch(offset, end);
            return Ok(());
        }
        // The space first: ENOSPC before anything changes.
        self.fill_to(offset, end)?;
        if mode.contains(FallocateFlags::ZERO_RANGE) {
            for (index, within, len) in pieces(offset, end) {
                self.chunks.get_mut(&index).expect("filled")[within..within + len].fill(0);
            }
            self.changed();
        }
        if !mode.contains(FallocateFlags::KEEP_SIZE) && end > self.vattr.size {
            self.vattr.size = end;
            self.vattr.ctime = now();
        }
        Ok(())
    }

    /// Makes `offset..end` a hole: whole chunks go, a chunk's tail is cut, and what lies
    /// inside a chunk reads zeros. The size stays.
    pub(super) fn punch(&mut self, offset: u64, end: u64) {
        for (index, within, len) in pieces(offset, end) {
            if !self.chunks.contains_key(&index) {
                continue;
            }
            self.resize_chunk(index, |chunk| {
                if within + len >= chunk.len() {
                    // The chunk's tail (or all of it) goes.
                    chunk.truncate(within.min(chunk.len()));
                } else {
                    chunk[within..within + len].fill(0);
                }
            });
        }
        self.changed();
    }
}

/// Copies up to `len` bytes of `from` (a file of `size` bytes) at `offset` into `to` at
/// `to_offset`; answers how many bytes were copied. Holes stay holes. `from` and `to` may be
/// one file when the ranges do not overlap; the caller passes a copy of its chunks then.
pub(super) fn copy(
    from: &Chunks,
    size: u64,
    offset: u64,
    to: &mut FileMut<'_>,
    to_offset: u64,
    len: u64,
) -> Result<u64> {
    let n = size.saturating_sub(offset).min(len);
    let end = to_offset.checked_add(n).filter(|&e| e <= MAX_FILE_SIZE).ok_or(Errno::EFBIG)?;
    let mut done = 0;
    // Each piece lies in one source chunk: its data is copied, the rest of it is a hole.
    for (index, within, len) in pieces(offset, offset + n) {
        let stored = from.get(&index).map_or(&[][..], |c| c.get(within..).unwrap_or(&[]));
        let data = &stored[..stored.len().min(len)];
        let to_at = to_offset + done;
        to.write_at(to_at, data)?;
        to.punch(to_at + data.len() as u64, to_at + len as u64);
        done += len as u64;
    }
    to.vattr.size = to.vattr.size.max(end);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use puffs::{Vattr, Vtype};

    use super::*;

    /// A file's state outside a tree.
    struct Owned(Vattr, Chunks, u64);

    impl Owned {
        fn new() -> Owned {
            Owned(Vattr::new(Vtype::Reg, 0o644, 2), Chunks::new(), 0)
        }

        fn file(&mut self) -> FileMut<'_> {
            FileMut { vattr: &mut self.0, chunks: &mut self.1, used: &mut self.2, capacity: 1 << 30 }
        }
    }

    #[test]
    fn holes_are_found_punched_and_read_as_zeros() {
        let mut owned = Owned::new();
        let mut f = owned.file();
        f.write_at(0, &vec![1u8; 4 * CHUNK as usize]).unwrap();
        assert_eq!(seek(f.chunks, f.vattr.size, 0, SeekWhence::Hole), Ok(4 * CHUNK), "the end is a hole");
        f.fallocate(CHUNK, 2 * CHUNK, FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE).unwrap();
        assert_eq!(f.vattr.size, 4 * CHUNK);
        assert_eq!(*f.used, 2 * CHUNK);
        assert_eq!(seek(f.chunks, f.vattr.size, 0, SeekWhence::Hole), Ok(CHUNK));
        assert_eq!(seek(f.chunks, f.vattr.size, CHUNK, SeekWhence::Data), Ok(3 * CHUNK));
        assert_eq!(seek(f.chunks, f.vattr.size, 4 * CHUNK, SeekWhence::Data), Err(Errno::ENXIO));
        let mut buf = vec![9u8; CHUNK as usize];
        assert_eq!(read_at(f.chunks, f.vattr.size, CHUNK + 5, &mut buf), CHUNK as usize);
        assert!(buf.iter().all(|&b| b == 0));
        // A punch inside a chunk zeroes without freeing; at a chunk's tail, it frees.
        f.punch(10, 20);
        assert_eq!(read_at(f.chunks, f.vattr.size, 9, &mut buf[..12]), 12);
        assert_eq!(buf[..12], [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.punch(CHUNK - 100, CHUNK);
        assert_eq!(*f.used, 2 * CHUNK - 100);
    }

    #[test]
    fn allocation_grows_unless_keep_size_and_zero_range_reads_zeros() {
        let mut owned = Owned::new();
        let mut f = owned.file();
        f.fallocate(0, 10 << 20, FallocateFlags::empty()).unwrap();
        assert_eq!((f.vattr.size, f.vattr.bytes, *f.used), (10 << 20, 10 << 20, 10 << 20));
        f.fallocate(10 << 20, 1 << 20, FallocateFlags::KEEP_SIZE).unwrap();
        assert_eq!(f.vattr.size, 10 << 20);
        f.write_at(0, b"abcdef").unwrap();
        f.fallocate(1, 3, FallocateFlags::ZERO_RANGE).unwrap();
        let mut buf = [0u8; 6];
        read_at(f.chunks, f.vattr.size, 0, &mut buf);
        assert_eq!(&buf, b"a\0\0\0ef");
        f.capacity = *f.used;
        assert_eq!(f.fallocate(20 << 20, 1, FallocateFlags::empty()), Err(Errno::ENOSPC));
        assert_eq!(f.vattr.size, 10 << 20, "nothing changed");
    }

    #[test]
    fn a_zero_range_without_the_space_changes_nothing() {
        let mut owned = Owned::new();
        let mut f = owned.file();
        f.write_at(0, b"abcdef").unwrap();
        f.capacity = *f.used;
        assert_eq!(f.fallocate(0, 2 * CHUNK, FallocateFlags::ZERO_RANGE), Err(Errno::ENOSPC));
        let mut buf = [0u8; 6];
        read_at(f.chunks, f.vattr.size, 0, &mut buf);
        assert_eq!(&buf, b"abcdef", "the data is still there");
        assert_eq!(*f.used, 6);
    }

    #[test]
    fn the_space_accounting_follows_every_change_of_content() {
        let mut owned = Owned::new();
        let mut f = owned.file();
        // A fixed pseudo-random walk of writes, punches, allocations and truncations.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |bound: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % bound
        };
        for step in 0..2000 {
            let offset = next(8 * CHUNK);
            let len = next(3 * CHUNK) + 1;
            match step % 4 {
                0 => drop(f.write_at(offset, &vec![1; len as usize]).unwrap()),
                1 => f.punch(offset, offset + len),
                2 => f.fallocate(offset, len, FallocateFlags::KEEP_SIZE).unwrap(),
                _ => f.set_size(next(8 * CHUNK)),
            }
            let bytes: u64 = f.chunks.values().map(|c| (c.len() as u64).next_multiple_of(BLOCK)).sum();
            assert_eq!(f.vattr.bytes, bytes, "st_blocks after step {step}");
            assert_eq!(*f.used, chunk_bytes(f.chunks), "used bytes after step {step}");
            assert!(f.chunks.values().all(|c| !c.is_empty() && c.len() <= CHUNK as usize), "chunks after step {step}");
        }
    }

    #[test]
    fn a_copy_keeps_data_and_holes() {
        let mut owned = Owned::new();
        let mut f = owned.file();
        f.write_at(0, b"head").unwrap();
        f.write_at(3 * CHUNK, b"tail").unwrap();
        let source = f.chunks.clone();
        let size = f.vattr.size;
        let mut other = Owned::new();
        let mut g = other.file();
        assert_eq!(copy(&source, size, 0, &mut g, 0, u64::MAX), Ok(size));
        assert_eq!(g.vattr.size, size);
        assert_eq!(*g.used, 4 + 4, "holes copied as holes");
        let mut buf = [0u8; 4];
        read_at(g.chunks, g.vattr.size, 3 * CHUNK, &mut buf);
        assert_eq!(&buf, b"tail");
        assert_eq!(copy(&source, size, size, &mut g, 0, 10), Ok(0), "nothing past the end");
    }
}
