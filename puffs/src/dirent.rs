//! The buffer `node_readdir` fills: directory entries in the kernel's format, with a limit.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use crate::fuse::abi::{Attr, EntryOut};
use crate::vattr::Vtype;

/// Where `node_readdir` puts directory entries (puffs `struct dirent` buffer; FUSE
/// `struct fuse_dirent` records).
///
/// The buffer has the room the kernel asked for. [`DirBuf::push`] answers `false` when an entry
/// does not fit: the file system stops there and the kernel asks again from that entry's offset.
#[derive(Debug)]
pub struct DirBuf<'a> {
    out: &'a mut Vec<u8>,
    limit: usize,
    count: usize,
}

/// Size of the fixed part of a FUSE directory record: `ino`, `off`, `namelen`, `type`.
pub(crate) const DIRENT_HEADER_LEN: usize = 24;

impl<'a> DirBuf<'a> {
    /// A buffer appending to `out` until it holds `room` more bytes.
    pub(crate) fn new(out: &'a mut Vec<u8>, room: usize) -> DirBuf<'a> {
        let limit = out.len() + room;
        DirBuf { out, limit, count: 0 }
    }

    /// Adds the entry `name`, of type `vtype` and serial number `fileid`, whose successor is at
    /// position `next_offset`. Answers `false`, adding nothing, when the entry does not fit.
    ///
    /// Names that could not be looked up (empty, or holding `/` or NUL) are skipped with `true`:
    /// no caller could use them.
    pub fn push(&mut self, fileid: u64, next_offset: u64, vtype: Vtype, name: &OsStr) -> bool {
        let name = name.as_bytes();
        if name.is_empty() || name.contains(&b'/') || name.contains(&0) {
            return true;
        }
        if self.out.len() + dirent_len(name) > self.limit {
            return false;
        }
        push_dirent(self.out, fileid, next_offset, vtype.to_dirent_type(), name);
        self.count += 1;
        true
    }

    /// How many entries were added.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no entry was added yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// The length of the FUSE directory record of `name`, padding included.
pub(crate) fn dirent_len(name: &[u8]) -> usize {
    (DIRENT_HEADER_LEN + name.len()).next_multiple_of(8)
}

/// Appends the FUSE directory record (`struct fuse_dirent`) of `name`, padded to 8 bytes.
pub(crate) fn push_dirent(out: &mut Vec<u8>, fileid: u64, next_offset: u64, dtype: u32, name: &[u8]) {
    let end = out.len() + dirent_len(name);
    out.extend_from_slice(&fileid.to_le_bytes());
    out.extend_from_slice(&next_offset.to_le_bytes());
    out.extend_from_slice(&(name.len() as u32).to_le_bytes());
    out.extend_from_slice(&dtype.to_le_bytes());
    out.extend_from_slice(name);
    out.resize(end, 0);
}

/// One directory entry as the kernel side reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirent {
    /// Serial number of the entry's node.
    pub fileid: u64,
    /// Position of the next entry.
    pub next_offset: u64,
    /// Type of the entry's node, when the file system said.
    pub vtype: Option<Vtype>,
    /// The entry's name.
    pub name: std::ffi::OsString,
}

/// Parses FUSE directory records; `None` if a record is cut short or overruns the buffer.
pub(crate) fn parse_dirents(mut bytes: &[u8]) -> Option<Vec<Dirent>> {
    let mut entries = Vec::new();
    while !bytes.is_empty() {
        let (entry, record) = parse_dirent(bytes)?;
        entries.push(entry);
        bytes = &bytes[record..];
    }
    Some(entries)
}

/// Parses FUSE `READDIRPLUS` records (`struct fuse_direntplus`: the entry as a lookup answers
/// it, then the directory record); `None` if a record is cut short or overruns the buffer.
pub(crate) fn parse_direntplus(mut bytes: &[u8]) -> Option<Vec<(EntryOut, Attr, Dirent)>> {
    let mut entries = Vec::new();
    while !bytes.is_empty() {
        let entry = EntryOut::decode(bytes)?;
        let attr = Attr::decode(bytes.get(EntryOut::SIZE..)?)?;
        let (dirent, record) = parse_dirent(bytes.get(DIRENTPLUS_ENTRY_LEN..)?)?;
        entries.push((entry, attr, dirent));
        bytes = &bytes[DIRENTPLUS_ENTRY_LEN + record..];
    }
    Some(entries)
}

/// The length of the entry before each `READDIRPLUS` directory record.
pub(crate) const DIRENTPLUS_ENTRY_LEN: usize = EntryOut::SIZE + Attr::SIZE;

/// One directory record, borrowed from the buffer that holds it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'a> {
    pub(crate) fileid: u64,
    pub(crate) next_offset: u64,
    /// The `DT_*` type.
    pub(crate) dtype: u32,
    pub(crate) name: &'a [u8],
}

/// One directory record and its length, padding included (clamped to what `bytes` holds).
pub(crate) fn parse_record(bytes: &[u8]) -> Option<(Record<'_>, usize)> {
    let header = bytes.get(..DIRENT_HEADER_LEN)?;
    let fileid = u64::from_le_bytes(header[0..8].try_into().ok()?);
    let next_offset = u64::from_le_bytes(header[8..16].try_into().ok()?);
    let namelen = u32::from_le_bytes(header[16..20].try_into().ok()?) as usize;
    let dtype = u32::from_le_bytes(header[20..24].try_into().ok()?);
    let name = bytes.get(DIRENT_HEADER_LEN..DIRENT_HEADER_LEN + namelen)?;
    let len = (DIRENT_HEADER_LEN + namelen).next_multiple_of(8).min(bytes.len());
    Some((Record { fileid, next_offset, dtype, name }, len))
}

/// One directory record, owned, and its length.
fn parse_dirent(bytes: &[u8]) -> Option<(Dirent, usize)> {
    let (record, len) = parse_record(bytes)?;
    let dirent = Dirent {
        fileid: record.fileid,
        next_offset: record.next_offset,
        vtype: Vtype::from_mode_bits(record.dtype << 12),
        name: OsStr::from_bytes(record.name).to_owned(),
    };
    Some((dirent, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_full_buffer_says_so() {
        let mut out = Vec::new();
        let mut buf = DirBuf::new(&mut out, 64);
        assert!(buf.push(1, 1, Vtype::Dir, OsStr::new(".")));
        assert!(buf.push(7, 2, Vtype::Reg, OsStr::new("hello")));
        assert!(!buf.push(8, 3, Vtype::Reg, OsStr::new("does-not-fit")));
        assert_eq!(buf.len(), 2);
        assert_eq!(out.len(), 64);
        let parsed = parse_dirents(&out).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].name, "hello");
        assert_eq!(parsed[1].fileid, 7);
        assert_eq!(parsed[1].vtype, Some(Vtype::Reg));
        assert_eq!(parsed[1].next_offset, 2);
    }

    #[test]
    fn bad_names_are_skipped_and_truncated_records_rejected() {
        let mut out = Vec::new();
        let mut buf = DirBuf::new(&mut out, 4096);
        assert!(buf.push(1, 1, Vtype::Reg, OsStr::new("a/b")));
        assert!(buf.is_empty());
        assert!(buf.push(1, 1, Vtype::Reg, OsStr::new("ab")));
        assert_eq!(parse_dirents(&out[..20]), None);
    }
}
