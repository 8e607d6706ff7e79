//! The session against a kernel side played by hand: frames in, replies out, over a socket
//! pair, without the loopback kernel in between.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use crate::fs::answer::NewNode;
use crate::fs::context::Context;
use crate::fs::cookie::Cookie;
use crate::fs::{FileSystem, Result};
use crate::fuse::abi::{self, InHeader, InitFlags, ROOT_ID};
use crate::fuse::reply::{decode_body, split_reply, ReplyBody, ReplyKind};
use crate::fuse::request::Operation;
use crate::fuse::Channel;
use crate::settings::{DataCache, Settings};
use crate::vattr::{Vattr, Vtype};

use super::Session;

/// A file system with a lookup that knows one name, `here`, and sets its entry lifetime from
/// the name asked for when that is a number of seconds.
#[derive(Default)]
pub(super) struct Lookups;

#[puffs_macros::puffs_fs]
impl FileSystem for Lookups {
    fn node_lookup(&self, _dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
        if let Some(seconds) = name.to_str().and_then(|n| n.strip_prefix("ttl")).and_then(|n| n.parse().ok()) {
            ctx.set_entry_ttl(Duration::from_secs(seconds));
            ctx.set_attr_ttl(Duration::from_secs(seconds * 2));
        }
        if name == "here" || name.to_str().is_some_and(|n| n.starts_with("ttl")) {
            Ok(NewNode::new(Cookie(2), Vattr::new(Vtype::Reg, 0o644, 2)))
        } else {
            Err(Errno::ENOENT)
        }
    }
}

/// A session of `fs` with `settings`, and the kernel's end of its channel.
pub(super) fn session<F: FileSystem>(fs: F, settings: Settings) -> (Session<F>, OwnedFd) {
    let (ours, theirs) =
        socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).expect("socketpair");
    (Session::new(fs, Arc::new(Channel::new(ours)), Cookie(1), settings), theirs)
}

/// The next frame the session sent.
pub(super) fn reply(kernel: &OwnedFd) -> Vec<u8> {
    let mut buf = vec![0u8; 1 << 16];
    let n = nix::unistd::read(kernel, &mut buf).expect("read a reply");
    buf.truncate(n);
    buf
}

/// The frame of `op` as unique `unique` for node `nodeid`, asked by root.
pub(super) fn frame(unique: u64, nodeid: u64, op: &Operation<'_>) -> Vec<u8> {
    op.encode(InHeader { unique, nodeid, ..Default::default() })
}

/// `INIT` at minor `minor` offering `offered`, as a kernel of that version lays it out: 16 bytes
/// before 7.36.
fn init_frame(minor: u32, offered: InitFlags) -> Vec<u8> {
    let (flags, flags2) = offered.to_words();
    let init = abi::InitIn { major: 7, minor, max_readahead: 1 << 17, flags, flags2 };
    let mut frame = frame(1, 0, &Operation::Init(init));
    if minor < 36 {
        frame.truncate(InHeader::SIZE + 16);
        let len = frame.len() as u32;
        frame[..4].copy_from_slice(&len.to_le_bytes());
    }
    frame
}

/// The granted flags and minor of the session's answer to `INIT`.
fn granted(session: &Session<Lookups>, kernel: &OwnedFd, minor: u32, offered: InitFlags) -> (u32, InitFlags) {
    session.handle_init(&init_frame(minor, offered), "t").expect("INIT answered");
    let frame = reply(kernel);
    let (header, body) = split_reply(&frame).expect("a reply");
    assert_eq!(header.error, 0);
    let Some(ReplyBody::Init(out)) = decode_body(ReplyKind::Init, body) else { panic!("not an INIT reply") };
    assert_eq!(out.major, 7);
    (out.minor, InitFlags::from_words(out.flags, out.flags2))
}

#[test]
fn init_speaks_the_kernels_minor_up_to_ours_and_reads_the_second_flag_word() {
    let everything = InitFlags::all();
    let (s, kernel) = session(Lookups, Settings::new("t"));
    let (minor, flags) = granted(&s, &kernel, 45, everything);
    assert_eq!(minor, abi::KERNEL_MINOR_VERSION);
    assert!(flags.contains(InitFlags::INIT_EXT | InitFlags::HAS_EXPIRE_ONLY), "{flags:?}");
    assert_eq!(s.granted(), flags);

    let (s, kernel) = session(Lookups, Settings::new("t"));
    let (minor, flags) = granted(&s, &kernel, 99, everything);
    assert_eq!(minor, abi::KERNEL_MINOR_VERSION, "a newer kernel is answered with our minor");
    assert!(flags.contains(InitFlags::INIT_EXT));

    // 7.31 has one flag word: nothing of the second is granted, and INIT_EXT is not offered.
    let (s, kernel) = session(Lookups, Settings::new("t"));
    let (minor, flags) = granted(&s, &kernel, 31, everything - InitFlags::INIT_EXT);
    assert_eq!(minor, 31);
    assert_eq!(flags.bits() >> 32, 0, "{flags:?}");
    assert!(flags.contains(InitFlags::ASYNC_READ | InitFlags::MAX_PAGES));

    let (s, kernel) = session(Lookups, Settings::new("t"));
    s.handle_init(&init_frame(30, everything), "t").expect_err("7.30 is refused");
    assert_eq!(split_reply(&reply(&kernel)).expect("a reply").0.error, -(Errno::EPROTO as i32));
}

#[test]
fn capabilities_follow_the_mask_and_the_options() {
    let everything = InitFlags::all();
    let (s, kernel) = session(Lookups, Settings::new("t"));
    let (_, flags) = granted(&s, &kernel, 45, everything);
    let off = InitFlags::CACHE_SYMLINKS
        | InitFlags::AUTO_INVAL_DATA
        | InitFlags::EXPLICIT_INVAL_DATA
        | InitFlags::WRITEBACK_CACHE
        | InitFlags::DIRECT_IO_ALLOW_MMAP
        | InitFlags::POSIX_ACL
        | InitFlags::EXPORT_SUPPORT
        | InitFlags::SPLICE_READ;
    assert!(!flags.intersects(off), "{flags:?}");
    assert!(flags.contains(InitFlags::NO_OPEN_SUPPORT | InitFlags::NO_OPENDIR_SUPPORT), "no open, close or inactive");

    let mut settings = Settings::new("t");
    settings.options.cache_symlinks = true;
    settings.options.data_cache = DataCache::Auto;
    settings.options.direct_io_allow_mmap = true;
    settings.options.writeback_cache = true;
    let (s, kernel) = session(Lookups, settings);
    let (_, flags) = granted(&s, &kernel, 45, everything);
    assert!(flags.contains(InitFlags::CACHE_SYMLINKS | InitFlags::AUTO_INVAL_DATA | InitFlags::DIRECT_IO_ALLOW_MMAP));
    assert!(!flags.contains(InitFlags::WRITEBACK_CACHE), "writeback needs node_write");
}

/// The entry a lookup of `name` answers: `(nodeid, entry ttl, attr ttl)`, or the errno.
fn lookup(s: &Session<Lookups>, kernel: &OwnedFd, name: &str) -> core::result::Result<(u64, u64, u64), i32> {
    s.handle(&frame(5, ROOT_ID, &Operation::Lookup { name: OsStr::new(name) }));
    let frame = reply(kernel);
    let (header, body) = split_reply(&frame).expect("a reply");
    if header.error != 0 {
        return Err(-header.error);
    }
    let Some(ReplyBody::Entry { entry, .. }) = decode_body(ReplyKind::Entry, body) else { panic!("not an entry") };
    Ok((entry.nodeid, entry.entry_valid, entry.attr_valid))
}

#[test]
fn lifetimes_come_from_the_answer_else_the_mount_and_misses_may_be_cached() {
    let mut settings = Settings::new("t");
    settings.options.entry_timeout = Some(Duration::from_secs(3));
    settings.options.attr_timeout = Some(Duration::from_secs(4));
    let (s, kernel) = session(Lookups, settings.clone());
    assert_eq!(lookup(&s, &kernel, "here"), Ok((2, 3, 4)), "the mount's lifetimes");
    assert_eq!(lookup(&s, &kernel, "ttl7"), Ok((2, 7, 14)), "the answer's own");
    assert_eq!(lookup(&s, &kernel, "ttl0"), Ok((2, 0, 0)), "zero: nothing cached");
    assert_eq!(lookup(&s, &kernel, "gone"), Err(Errno::ENOENT as i32), "no negative entry by default");

    settings.options.negative_timeout = Some(Duration::from_secs(9));
    let (s, kernel) = session(Lookups, settings);
    assert_eq!(lookup(&s, &kernel, "gone"), Ok((0, 9, 0)), "a negative entry for the mount's lifetime");
}

/// A file system that can only punch holes, and records what it was asked.
#[derive(Default)]
struct Punches(std::sync::Mutex<Vec<(u64, u64)>>);

#[puffs_macros::puffs_fs]
impl FileSystem for Punches {
    fn node_fdiscard(
        &self,
        _node: Cookie,
        _handle: crate::FileHandle,
        offset: u64,
        len: u64,
        _ctx: &Context<'_>,
    ) -> Result<()> {
        self.0.lock().unwrap().push((offset, len));
        Ok(())
    }
}

/// The errno of the answer to `op` on node 1 (0 for success).
fn answer<F: FileSystem>(s: &Session<F>, kernel: &OwnedFd, op: &Operation<'_>) -> i32 {
    s.handle(&frame(9, ROOT_ID, op));
    -split_reply(&reply(kernel)).expect("a reply").0.error
}

#[test]
fn a_punched_hole_goes_to_fdiscard_and_other_modes_are_not_supported_without_disabling_fallocate() {
    use crate::fs::flags::FallocateFlags;
    let fallocate = |mode| Operation::Fallocate { fh: crate::FileHandle(4), offset: 10, length: 20, mode };
    let (s, kernel) = session(Punches::default(), Settings::new("t"));
    let punch = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
    assert_eq!(answer(&s, &kernel, &fallocate(punch)), 0);
    assert_eq!(*s.fs.0.lock().unwrap(), [(10, 20)]);
    // ENOSYS would make the kernel stop asking, punches included.
    assert_eq!(answer(&s, &kernel, &fallocate(FallocateFlags::empty())), Errno::EOPNOTSUPP as i32);
    let (s, kernel) = session(Lookups, Settings::new("t"));
    assert_eq!(answer(&s, &kernel, &fallocate(punch)), Errno::ENOSYS as i32, "neither operation");
}

/// A file system whose reads answer in the way their offset says.
struct Reads;

#[puffs_macros::puffs_fs]
impl FileSystem for Reads {
    fn node_read(
        &self,
        _node: Cookie,
        _handle: crate::FileHandle,
        offset: u64,
        out: crate::ReadOut<'_>,
        _ctx: &Context<'_>,
    ) -> Result<crate::Answered> {
        const BYTES: [u8; 100] = {
            let mut bytes = [0; 100];
            let mut i = 0;
            while i < 100 {
                bytes[i] = i as u8;
                i += 1;
            }
            bytes
        };
        match offset {
            // More parts than a reply carries without joining them.
            0 => Ok(out.reply_vectored(BYTES.chunks(1))),
            // Says it read more than the buffer holds: cut to the size.
            1 => out.fill(|buf| {
                let n = buf.len().min(3);
                buf[..n].copy_from_slice(&b"abc"[..n]);
                Ok(3)
            }),
            _ => {
                let _answered = out.reply(b"first");
                Err(Errno::EIO)
            }
        }
    }
}

/// The answer to a read of `size` bytes at `offset`: its bytes, or the errno.
fn read(s: &Session<Reads>, kernel: &OwnedFd, offset: u64, size: u32) -> core::result::Result<Vec<u8>, i32> {
    s.handle(&frame(11, ROOT_ID, &Operation::Read { fh: crate::FileHandle(1), offset, size }));
    let frame = reply(kernel);
    let (header, body) = split_reply(&frame).expect("a reply");
    assert_eq!(header.unique, 11);
    if header.error != 0 {
        return Err(-header.error);
    }
    Ok(body.to_vec())
}

#[test]
fn a_read_sends_the_parts_it_answered_in_order_cut_to_the_size_asked() {
    let (s, kernel) = session(Reads, Settings::new("t"));
    let all: Vec<u8> = (0..100).collect();
    assert_eq!(read(&s, &kernel, 0, 4096), Ok(all.clone()), "a hundred parts, the last ones joined");
    assert_eq!(read(&s, &kernel, 0, 70), Ok(all[..70].to_vec()));
    assert_eq!(read(&s, &kernel, 1, 4096), Ok(b"abc".to_vec()), "what fill says it read");
    assert_eq!(read(&s, &kernel, 1, 2), Ok(b"ab".to_vec()));
    // Answered, then failed: the answer stands, and no second reply follows.
    assert_eq!(read(&s, &kernel, 2, 4096), Ok(b"first".to_vec()));
    nix::fcntl::fcntl(&kernel, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK)).unwrap();
    assert_eq!(nix::unistd::read(&kernel, &mut [0; 64]), Err(Errno::EAGAIN), "one reply");
}
