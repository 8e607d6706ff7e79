//! Replies: encoding replies and notifications for the kernel (the file-system side), decoding
//! them back into typed bodies (the [loopback kernel](crate::loopback)'s side), and the
//! attribute conversions both directions of the wire share.

use std::time::Duration;

use crate::vattr::{time_from_wire, time_to_wire};

use super::abi::{self, OutHeader};
use crate::fs::answer::StatVfs;
use crate::vattr::{Vattr, Vtype};
#[cfg(test)]
use nix::errno::Errno;

/// A reply under construction: an out-header followed by the body. [`Reply::finish`] fixes up the
/// length.
#[derive(Debug)]
pub struct Reply {
    bytes: Vec<u8>,
}

thread_local! {
    /// A sent reply's buffer, for the next reply built on this thread: replies allocate only
    /// while a worker's buffer grows.
    static SPARE: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The largest buffer kept for reuse: a reply to the largest request.
const SPARE_MAX: usize = crate::settings::REQUEST_LEN_MAX;

impl Reply {
    /// A successful reply to request `unique`, with room for `capacity` body bytes.
    pub fn new(unique: u64, capacity: usize) -> Reply {
        let mut bytes = SPARE.take();
        bytes.clear();
        bytes.reserve(OutHeader::SIZE + capacity);
        OutHeader { len: 0, error: 0, unique }.encode(&mut bytes);
        Reply { bytes }
    }

    /// An error reply (`errno` positive) to request `unique`: a header alone.
    pub fn error(unique: u64, errno: i32) -> [u8; OutHeader::SIZE] {
        OutHeader { len: OutHeader::SIZE as u32, error: -errno, unique }.to_bytes()
    }

    /// The header of a notification (unsolicited message) with code `code` and a body of
    /// `body_len` bytes: unique 0, the code in `error`. `None` when the frame would not fit
    /// the wire's length field.
    pub fn notification_header(code: i32, body_len: usize) -> Option<Vec<u8>> {
        let len = u32::try_from(OutHeader::SIZE + body_len).ok()?;
        let mut bytes = Vec::with_capacity(OutHeader::SIZE);
        OutHeader { len, error: code, unique: 0 }.encode(&mut bytes);
        Some(bytes)
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

    /// Gives back the buffer of a frame that was sent, for the next reply built on this thread.
    pub fn recycle(frame: Vec<u8>) {
        if frame.capacity() <= SPARE_MAX {
            SPARE.set(frame);
        }
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

/// The `STATX` form of `vattr`: everything `stat(2)` has, and the birth time when known.
pub fn statx_to_wire(vattr: &Vattr) -> abi::Statx {
    let (atime_sec, atime_nsec) = time_to_wire(vattr.atime);
    let (mtime_sec, mtime_nsec) = time_to_wire(vattr.mtime);
    let (ctime_sec, ctime_nsec) = time_to_wire(vattr.ctime);
    let (btime_sec, btime_nsec) = vattr.birthtime.map_or((0, 0), time_to_wire);
    let mut mask = abi::statx_mask::BASIC_STATS;
    if vattr.birthtime.is_some() {
        mask |= abi::statx_mask::BTIME;
    }
    abi::Statx {
        mask,
        blksize: vattr.blocksize,
        nlink: vattr.nlink,
        uid: vattr.uid,
        gid: vattr.gid,
        mode: vattr.st_mode() as u16,
        ino: vattr.fileid,
        size: vattr.size,
        blocks: vattr.bytes.div_ceil(512),
        atime_sec,
        atime_nsec,
        btime_sec,
        btime_nsec,
        ctime_sec,
        ctime_nsec,
        mtime_sec,
        mtime_nsec,
        rdev_major: nix::sys::stat::major(vattr.rdev) as u32,
        rdev_minor: nix::sys::stat::minor(vattr.rdev) as u32,
        ..Default::default()
    }
}

/// The attributes carried by a `STATX` reply; `None` if it lacks the basic ones or its mode
/// names no node type.
pub fn statx_from_wire(stat: &abi::Statx) -> Option<Vattr> {
    if stat.mask & abi::statx_mask::BASIC_STATS != abi::statx_mask::BASIC_STATS {
        return None;
    }
    let mode = u32::from(stat.mode);
    Some(Vattr {
        vtype: Vtype::from_mode_bits(mode)?,
        mode: mode & crate::MODE_PERMISSION_BITS,
        nlink: stat.nlink,
        uid: stat.uid,
        gid: stat.gid,
        fileid: stat.ino,
        size: stat.size,
        bytes: stat.blocks.saturating_mul(512),
        blocksize: stat.blksize,
        rdev: nix::sys::stat::makedev(u64::from(stat.rdev_major), u64::from(stat.rdev_minor)),
        atime: time_from_wire(stat.atime_sec, stat.atime_nsec),
        mtime: time_from_wire(stat.mtime_sec, stat.mtime_nsec),
        ctime: time_from_wire(stat.ctime_sec, stat.ctime_nsec),
        birthtime: (stat.mask & abi::statx_mask::BTIME != 0).then(|| time_from_wire(stat.btime_sec, stat.btime_nsec)),
    })
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
        birthtime: None,
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

/// What the body of a reply carries, as its request determines
/// ([`Operation::reply_kind`](super::request::Operation::reply_kind)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyKind {
    /// Nothing.
    Empty,
    /// `INIT`: a `fuse_init_out`.
    Init,
    /// Lookup and creating operations: a `fuse_entry_out` and the node's attributes.
    Entry,
    /// `GETATTR`, `SETATTR`: a `fuse_attr_out` and the attributes.
    Attr,
    /// `STATX`: a `fuse_statx_out`.
    Statx,
    /// `POLL`: a `fuse_poll_out`.
    Poll,
    /// `IOCTL`: a `fuse_ioctl_out` and the data read back.
    Ioctl,
    /// `OPEN`, `OPENDIR`: a `fuse_open_out`.
    Open,
    /// `CREATE`: an entry, its attributes and a `fuse_open_out`.
    Create,
    /// `WRITE`: a `fuse_write_out`.
    Write,
    /// `STATFS`: a `fuse_kstatfs`.
    Statfs,
    /// A size-only `GETXATTR`/`LISTXATTR` (asked with size 0): a `fuse_getxattr_out`.
    XattrSize,
    /// `LSEEK`, `COPY_FILE_RANGE_64`: one 64-bit number (`fuse_lseek_out`,
    /// `fuse_copy_file_range_out`).
    Offset,
    /// `GETLK`: a `fuse_lk_out`, the lock in the way or `F_UNLCK`.
    Lock,
    /// Bytes of any length: read data, directory records, a link target, attribute values.
    Data,
}

/// A decoded reply body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ReplyBody<'a> {
    Empty,
    Init(abi::InitOut),
    Entry { entry: abi::EntryOut, attr: abi::Attr },
    Attr { out: abi::AttrOut, attr: abi::Attr },
    Statx { out: abi::StatxOutHead, stat: abi::Statx },
    Poll(abi::PollOut),
    Ioctl { out: abi::IoctlOut, data: &'a [u8] },
    Open(abi::OpenOut),
    Create { entry: abi::EntryOut, attr: abi::Attr, open: abi::OpenOut },
    Write(abi::WriteOut),
    Statfs(abi::Kstatfs),
    XattrSize(abi::GetxattrOut),
    Offset(u64),
    Lock(abi::FileLock),
    Data(&'a [u8]),
}

/// Why a reply frame could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyDecodeError {
    /// The request the frame answers, when its header was readable.
    pub unique: Option<u64>,
    /// What was wrong.
    pub reason: &'static str,
}

impl std::fmt::Display for ReplyDecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.unique {
            Some(unique) => write!(f, "malformed reply to {unique}: {}", self.reason),
            None => write!(f, "malformed reply frame: {}", self.reason),
        }
    }
}

impl std::error::Error for ReplyDecodeError {}

/// A reply frame split into its header and body, checked as the kernel checks what a file
/// system writes: the header's length is the frame's, and the error is 0 or a negated errno
/// (a notification, unique 0, carries its code there instead).
pub fn split_reply(frame: &[u8]) -> Result<(OutHeader, &[u8]), ReplyDecodeError> {
    let header = OutHeader::decode(frame)
        .ok_or(ReplyDecodeError { unique: None, reason: "frame shorter than a reply header" })?;
    let fail = |reason| ReplyDecodeError { unique: Some(header.unique), reason };
    if header.len as usize != frame.len() {
        return Err(fail("header length differs from frame length"));
    }
    if header.unique != 0 && !(-abi::MAX_ERRNO..=0).contains(&header.error) {
        return Err(fail("error is not a negated errno"));
    }
    if header.unique != 0 && header.error != 0 && frame.len() != OutHeader::SIZE {
        return Err(fail("error reply with a body"));
    }
    Ok((header, &frame[OutHeader::SIZE..]))
}

/// Decodes the body of a successful reply of `kind`; `None` if it is too short, or too long
/// for a fixed-size reply.
pub fn decode_body(kind: ReplyKind, body: &[u8]) -> Option<ReplyBody<'_>> {
    fn exact<T>(body: &[u8], size: usize, decode: fn(&[u8]) -> Option<T>) -> Option<T> {
        (body.len() == size).then(|| decode(body)).flatten()
    }
    Some(match kind {
        ReplyKind::Empty => exact(body, 0, |_| Some(ReplyBody::Empty))?,
        ReplyKind::Init => {
            // Servers of protocol 7.22 and earlier answer the 24-byte compat layout.
            if body.len() < 24 || body.len() > abi::InitOut::SIZE {
                return None;
            }
            let mut padded = [0u8; abi::InitOut::SIZE];
            padded[..body.len()].copy_from_slice(body);
            ReplyBody::Init(abi::InitOut::decode(&padded)?)
        }
        ReplyKind::Entry => {
            if body.len() != abi::EntryOut::SIZE + abi::Attr::SIZE {
                return None;
            }
            ReplyBody::Entry {
                entry: abi::EntryOut::decode(body)?,
                attr: abi::Attr::decode(&body[abi::EntryOut::SIZE..])?,
            }
        }
        ReplyKind::Attr => {
            if body.len() != abi::AttrOut::SIZE + abi::Attr::SIZE {
                return None;
            }
            ReplyBody::Attr { out: abi::AttrOut::decode(body)?, attr: abi::Attr::decode(&body[abi::AttrOut::SIZE..])? }
        }
        ReplyKind::Statx => {
            if body.len() != abi::StatxOutHead::SIZE + abi::Statx::SIZE + abi::STATX_SPARE {
                return None;
            }
            ReplyBody::Statx {
                out: abi::StatxOutHead::decode(body)?,
                stat: abi::Statx::decode(&body[abi::StatxOutHead::SIZE..])?,
            }
        }
        ReplyKind::Poll => ReplyBody::Poll(exact(body, abi::PollOut::SIZE, abi::PollOut::decode)?),
        ReplyKind::Ioctl => {
            ReplyBody::Ioctl { out: abi::IoctlOut::decode(body)?, data: body.get(abi::IoctlOut::SIZE..)? }
        }
        ReplyKind::Open => ReplyBody::Open(exact(body, abi::OpenOut::SIZE, abi::OpenOut::decode)?),
        ReplyKind::Create => {
            let entry_end = abi::EntryOut::SIZE + abi::Attr::SIZE;
            if body.len() != entry_end + abi::OpenOut::SIZE {
                return None;
            }
            ReplyBody::Create {
                entry: abi::EntryOut::decode(body)?,
                attr: abi::Attr::decode(&body[abi::EntryOut::SIZE..])?,
                open: abi::OpenOut::decode(&body[entry_end..])?,
            }
        }
        ReplyKind::Write => ReplyBody::Write(exact(body, abi::WriteOut::SIZE, abi::WriteOut::decode)?),
        ReplyKind::Statfs => ReplyBody::Statfs(exact(body, abi::Kstatfs::SIZE, abi::Kstatfs::decode)?),
        ReplyKind::XattrSize => ReplyBody::XattrSize(exact(body, abi::GetxattrOut::SIZE, abi::GetxattrOut::decode)?),
        ReplyKind::Offset => ReplyBody::Offset(exact(body, abi::LseekOut::SIZE, abi::LseekOut::decode)?.offset),
        ReplyKind::Lock => ReplyBody::Lock(exact(body, abi::FileLock::SIZE, abi::FileLock::decode)?),
        ReplyKind::Data => ReplyBody::Data(body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type Part<'a> = &'a dyn Fn(&mut Vec<u8>);

    #[test]
    fn statx_carries_the_birth_time_when_known() {
        let born = std::time::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let vattr =
            Vattr { birthtime: Some(born), rdev: nix::sys::stat::makedev(8, 300), ..Vattr::new(Vtype::Chr, 0o600, 42) };
        let wire = statx_to_wire(&vattr);
        assert_eq!(wire.mask, abi::statx_mask::BASIC_STATS | abi::statx_mask::BTIME);
        assert_eq!((wire.rdev_major, wire.rdev_minor), (8, 300));
        let mut bytes = Vec::new();
        wire.encode(&mut bytes);
        assert_eq!(statx_from_wire(&abi::Statx::decode(&bytes).unwrap()), Some(vattr.clone()));
        let unknown = Vattr { birthtime: None, ..vattr };
        assert_eq!(statx_to_wire(&unknown).mask, abi::statx_mask::BASIC_STATS);
        assert_eq!(statx_from_wire(&statx_to_wire(&unknown)).unwrap().birthtime, None);
        assert_eq!(statx_from_wire(&abi::Statx { mask: abi::statx_mask::BTIME, ..wire }), None, "no basic stats");
    }

    fn frame_of(unique: u64, parts: &[Part<'_>]) -> Vec<u8> {
        let mut reply = Reply::new(unique, 0);
        for part in parts {
            part(reply.body());
        }
        reply.finish()
    }

    #[test]
    fn replies_round_trip() {
        let entry = abi::EntryOut { nodeid: 5, generation: 1, entry_valid: 1, ..Default::default() };
        let attr = attr_to_wire(&Vattr::new(Vtype::Reg, 0o644, 5));
        let open = abi::OpenOut { fh: 9, open_flags: crate::OpenedFlags::DIRECT_IO.bits(), backing_id: 0 };
        let statfs = statfs_to_wire(&StatVfs { blocks: 10, ..StatVfs::default() });
        let init = abi::InitOut { major: 7, minor: 38, max_write: 4096, ..Default::default() };
        let lock = abi::FileLock { start: 10, end: 19, typ: nix::libc::F_WRLCK as u32, pid: 77 };
        let ioctl = abi::IoctlOut { result: 3, ..Default::default() };
        let cases: Vec<(ReplyKind, Vec<u8>, ReplyBody<'_>)> = vec![
            (ReplyKind::Empty, frame_of(3, &[]), ReplyBody::Empty),
            (ReplyKind::Init, frame_of(3, &[&|b| init.encode(b)]), ReplyBody::Init(init)),
            (
                ReplyKind::Entry,
                frame_of(3, &[&|b| entry.encode(b), &|b| attr.encode(b)]),
                ReplyBody::Entry { entry, attr },
            ),
            (
                ReplyKind::Attr,
                frame_of(3, &[&|b| abi::AttrOut::default().encode(b), &|b| attr.encode(b)]),
                ReplyBody::Attr { out: abi::AttrOut::default(), attr },
            ),
            (ReplyKind::Open, frame_of(3, &[&|b| open.encode(b)]), ReplyBody::Open(open)),
            (
                ReplyKind::Create,
                frame_of(3, &[&|b| entry.encode(b), &|b| attr.encode(b), &|b| open.encode(b)]),
                ReplyBody::Create { entry, attr, open },
            ),
            (
                ReplyKind::Write,
                frame_of(3, &[&|b| abi::WriteOut { size: 5, padding: 0 }.encode(b)]),
                ReplyBody::Write(abi::WriteOut { size: 5, padding: 0 }),
            ),
            (ReplyKind::Statfs, frame_of(3, &[&|b| statfs.encode(b)]), ReplyBody::Statfs(statfs)),
            (
                ReplyKind::XattrSize,
                frame_of(3, &[&|b| abi::GetxattrOut { size: 12, padding: 0 }.encode(b)]),
                ReplyBody::XattrSize(abi::GetxattrOut { size: 12, padding: 0 }),
            ),
            (
                ReplyKind::Offset,
                frame_of(3, &[&|b| abi::LseekOut { offset: 1 << 40 }.encode(b)]),
                ReplyBody::Offset(1 << 40),
            ),
            (ReplyKind::Lock, frame_of(3, &[&|b| lock.encode(b)]), ReplyBody::Lock(lock)),
            (ReplyKind::Data, frame_of(3, &[&|b| b.extend_from_slice(b"data")]), ReplyBody::Data(b"data")),
            (
                ReplyKind::Ioctl,
                frame_of(3, &[&|b| ioctl.encode(b), &|b| b.extend_from_slice(b"back")]),
                ReplyBody::Ioctl { out: ioctl, data: b"back" },
            ),
        ];
        for (kind, frame, expected) in &cases {
            let (header, body) = split_reply(frame).expect("a well-formed frame");
            assert_eq!((header.unique, header.error), (3, 0));
            assert_eq!(decode_body(*kind, body).as_ref(), Some(expected), "{kind:?}");
            if !matches!(kind, ReplyKind::Data | ReplyKind::Init | ReplyKind::Ioctl) {
                assert_eq!(decode_body(*kind, &[body, &[0][..]].concat()), None, "{kind:?} with a trailing byte");
            }
        }
        assert_eq!(decode_body(ReplyKind::Entry, &[0u8; 100]), None);
    }

    #[test]
    fn malformed_reply_frames_are_refused() {
        assert_eq!(split_reply(&[0u8; 8]).unwrap_err().unique, None);
        let mut long = Reply::new(4, 0).finish();
        long.push(0);
        assert_eq!(split_reply(&long).unwrap_err().unique, Some(4));
        let mut positive = Vec::new();
        OutHeader { len: 16, error: 2, unique: 4 }.encode(&mut positive);
        assert!(split_reply(&positive).is_err());
        let error = Reply::error(4, Errno::ENOENT as i32);
        assert_eq!(split_reply(&error).unwrap().0.error, -(Errno::ENOENT as i32));
    }

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
