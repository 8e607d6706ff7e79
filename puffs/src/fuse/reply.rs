//! Encoding replies and notifications for the kernel, and the attribute conversions both
//! directions of the wire share.

use std::time::Duration;

use super::abi::{self, OutHeader};
use crate::vattr::{time_from_wire, time_to_wire};
use crate::{StatVfs, Vattr, Vtype};

/// A reply under construction: an out-header followed by the body. [`Reply::finish`] fixes up the
/// length.
#[derive(Debug)]
pub struct Reply {
    bytes: Vec<u8>,
}

impl Reply {
    /// A successful reply to request `unique`, with room for `capacity` body bytes.
    pub fn new(unique: u64, capacity: usize) -> Reply {
        let mut bytes = Vec::with_capacity(OutHeader::SIZE + capacity);
        OutHeader { len: 0, error: 0, unique }.encode(&mut bytes);
        Reply { bytes }
    }

    /// An error reply (`errno` positive) to request `unique`: a header alone.
    pub fn error(unique: u64, errno: i32) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(OutHeader::SIZE);
        OutHeader { len: OutHeader::SIZE as u32, error: -errno, unique }.encode(&mut bytes);
        bytes
    }

    /// A notification (unsolicited message) with code `code`: unique 0, the code in `error`.
    pub fn notification(code: i32) -> Reply {
        let mut bytes = Vec::new();
        OutHeader { len: 0, error: code, unique: 0 }.encode(&mut bytes);
        Reply { bytes }
    }

    /// The body so far, to append to.
    pub fn body(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// The finished frame.
    pub fn finish(mut self) -> Vec<u8> {
        let len = self.bytes.len() as u32;
        self.bytes[..4].copy_from_slice(&len.to_le_bytes());
        self.bytes
    }
}

/// Splits a cache lifetime into the seconds and nanoseconds the wire carries.
pub fn ttl_to_wire(ttl: Duration) -> (u64, u32) {
    (ttl.as_secs(), ttl.subsec_nanos())
}

/// The wire attributes of `vattr` for node id `nodeid`.
pub fn attr_to_wire(vattr: &Vattr) -> abi::Attr {
    let (atime, atimensec) = time_to_wire(vattr.atime);
    let (mtime, mtimensec) = time_to_wire(vattr.mtime);
    let (ctime, ctimensec) = time_to_wire(vattr.ctime);
    abi::Attr {
        ino: vattr.fileid,
        size: vattr.size,
        blocks: vattr.bytes.div_ceil(512),
        atime: atime as u64,
        mtime: mtime as u64,
        ctime: ctime as u64,
        atimensec,
        mtimensec,
        ctimensec,
        mode: vattr.st_mode(),
        nlink: vattr.nlink,
        uid: vattr.uid,
        gid: vattr.gid,
        rdev: encode_dev(vattr.rdev),
        blksize: vattr.blocksize,
        flags: 0,
    }
}

/// The attributes carried by wire attributes; `None` if the mode names no node type.
pub fn attr_from_wire(attr: &abi::Attr) -> Option<Vattr> {
    Some(Vattr {
        vtype: Vtype::from_mode_bits(attr.mode)?,
        mode: attr.mode & crate::MODE_PERMISSION_BITS,
        nlink: attr.nlink,
        uid: attr.uid,
        gid: attr.gid,
        fileid: attr.ino,
        size: attr.size,
        bytes: attr.blocks.saturating_mul(512),
        blocksize: attr.blksize,
        rdev: decode_dev(attr.rdev),
        atime: time_from_wire(attr.atime as i64, attr.atimensec),
        mtime: time_from_wire(attr.mtime as i64, attr.mtimensec),
        ctime: time_from_wire(attr.ctime as i64, attr.ctimensec),
    })
}

/// The kernel's 32-bit device encoding (`new_encode_dev`) of a `dev_t`.
pub fn encode_dev(dev: u64) -> u32 {
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0xff);
    ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)) as u32
}

/// The `dev_t` of the kernel's 32-bit device encoding (`new_decode_dev`).
pub fn decode_dev(dev: u32) -> u64 {
    let dev = u64::from(dev);
    let major = (dev & 0xfff00) >> 8;
    let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    ((major & 0xffff_f000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffff_ff00) << 12) | (minor & 0xff)
}

/// The wire statistics of `st`.
pub fn statfs_to_wire(st: &StatVfs) -> abi::Kstatfs {
    abi::Kstatfs {
        blocks: st.blocks,
        bfree: st.bfree,
        bavail: st.bavail,
        files: st.files,
        ffree: st.ffree,
        bsize: st.bsize,
        namelen: st.namemax,
        frsize: st.frsize,
        ..abi::Kstatfs::default()
    }
}

/// The statistics carried by wire statistics.
pub fn statfs_from_wire(st: &abi::Kstatfs) -> StatVfs {
    StatVfs {
        blocks: st.blocks,
        bfree: st.bfree,
        bavail: st.bavail,
        files: st.files,
        ffree: st.ffree,
        bsize: st.bsize,
        namemax: st.namelen,
        frsize: st.frsize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_round_trip() {
        for dev in [0u64, 0x0801, (1 << 8) | 3, (259 << 8) | 7, (4095 << 8) | 255] {
            assert_eq!(decode_dev(encode_dev(dev)), dev, "{dev:#x}");
        }
    }

    #[test]
    fn attributes_round_trip() {
        let v = Vattr { size: 12345, bytes: 16384, nlink: 3, uid: 7, gid: 8, ..Vattr::new(Vtype::Reg, 0o4755, 42) };
        let back = attr_from_wire(&attr_to_wire(&v)).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn reply_length_is_fixed_up() {
        let mut r = Reply::new(7, 8);
        r.body().extend_from_slice(&[1, 2, 3]);
        let frame = r.finish();
        assert_eq!(u32::from_le_bytes(frame[..4].try_into().unwrap()), 19);
        let e = Reply::error(7, 2);
        assert_eq!(OutHeader::decode(&e).unwrap(), OutHeader { len: 16, error: -2, unique: 7 });
    }
}
