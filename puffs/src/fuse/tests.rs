//! The codec's own tests: every operation round trips through encoding and decoding, and what
//! decoding refuses (undefined bits, hostile ranges, the wrong layout) it refuses before any
//! operation sees it.

use std::ffi::OsStr;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::AccessFlags;

use crate::fs::cookie::FileHandle;
use crate::fs::flags::{FallocateFlags, RenameFlags, SeekWhence, SuspendPhase, UnmountFlags, XattrFlags};
use crate::fs::ioctl::IoctlFlags;
use crate::fs::lock::{FileLock, LockKind, LockOwner};
use crate::vattr::{SetVattr, TimeSet, Vtype};

use super::abi::{self, opcode, InHeader};
use super::request::{Layout, Operation, Request};

fn round_trip(op: Operation<'_>) {
    let header = InHeader { unique: 42, nodeid: 7, uid: 1000, gid: 100, pid: 9, ..Default::default() };
    let frame = op.encode(header);
    let decoded = Request::decode(&frame).unwrap_or_else(|e| panic!("{op:?} does not decode: {e}"));
    assert_eq!(decoded.op, op);
    assert_eq!(decoded.header.len as usize, frame.len());
    assert_eq!((decoded.header.unique, decoded.header.nodeid, decoded.header.uid), (42, 7, 1000));
    assert_eq!(Some(decoded.header.opcode), op.opcode());
}

#[test]
fn every_operation_round_trips() {
    let name = OsStr::new("name");
    let other = OsStr::new("other");
    let ops = vec![
        Operation::Init(abi::InitIn { major: 7, minor: 38, max_readahead: 1 << 16, flags: 5, flags2: 1 }),
        Operation::Destroy,
        Operation::Lookup { name },
        Operation::Forget { nlookup: 3 },
        Operation::BatchForget {
            nodes: vec![abi::ForgetOne { nodeid: 5, nlookup: 1 }, abi::ForgetOne { nodeid: 9, nlookup: 2 }],
        },
        Operation::Getattr { fh: None },
        Operation::Getattr { fh: Some(77) },
        Operation::Statx { fh: None, flags: 0, mask: 0xfff },
        Operation::Poll {
            fh: FileHandle(2),
            kh: 99,
            schedule: true,
            events: crate::fs::poll::PollEvents::IN | crate::fs::poll::PollEvents::RDNORM,
        },
        Operation::Poll { fh: FileHandle(2), kh: 0, schedule: false, events: crate::fs::poll::PollEvents::OUT },
        Operation::Ioctl {
            fh: FileHandle(4),
            flags: IoctlFlags::DIR | IoctlFlags::COMPAT,
            command: 0x4008_4501,
            arg: 0x7fff_0000,
            input: b"12345678",
            out_size: 0,
        },
        Operation::Ioctl { fh: FileHandle(4), flags: IoctlFlags::empty(), command: 7, arg: 0, input: b"", out_size: 8 },
        Operation::Statx { fh: Some(5), flags: 0x2000, mask: 0x800 },
        Operation::Setattr {
            changes: SetVattr {
                mode: Some(0o600),
                size: Some(10),
                atime: Some(TimeSet::Now),
                handle: Some(FileHandle(4)),
                ..SetVattr::default()
            },
            kill_suidgid: false,
        },
        Operation::Setattr { changes: SetVattr { uid: Some(7), ..SetVattr::default() }, kill_suidgid: true },
        Operation::Readlink,
        Operation::Symlink { name, target: OsStr::new("../somewhere/else") },
        Operation::Mknod { name, vtype: Vtype::Fifo, mode: 0o644, rdev: 0, umask: 0o22 },
        Operation::Mknod { name, vtype: Vtype::Chr, mode: 0o600, rdev: (259 << 8) | 7, umask: 0 },
        Operation::Mkdir { name, mode: 0o1755, umask: 0o22 },
        Operation::Unlink { name },
        Operation::Rmdir { name },
        Operation::Rename { newdir: 12, flags: RenameFlags::empty(), name, newname: other },
        Operation::Rename { newdir: 12, flags: RenameFlags::NOREPLACE, name, newname: other },
        Operation::Link { oldnodeid: 8, name },
        Operation::Open { flags: OFlag::O_RDWR, dir: false, kill_suidgid: false },
        Operation::Open { flags: OFlag::O_RDWR | OFlag::O_TRUNC, dir: false, kill_suidgid: true },
        Operation::Open { flags: OFlag::O_RDONLY | OFlag::O_DIRECTORY, dir: true, kill_suidgid: false },
        Operation::Read { fh: FileHandle(3), offset: 4096, size: 512 },
        Operation::Write { fh: FileHandle(3), offset: 8, data: b"hello", kill_suidgid: false },
        Operation::Write { fh: FileHandle(3), offset: 0, data: b"x", kill_suidgid: true },
        Operation::Statfs,
        Operation::Release { fh: FileHandle(3), flags: OFlag::O_RDWR, dir: false, flock_owner: None },
        Operation::Release { fh: FileHandle(3), flags: OFlag::O_RDWR, dir: false, flock_owner: Some(LockOwner(8)) },
        Operation::Release { fh: FileHandle(4), flags: OFlag::empty(), dir: true, flock_owner: None },
        Operation::Fsync { fh: FileHandle(3), datasync: true, dir: false },
        Operation::Fsync { fh: FileHandle(0), datasync: false, dir: true },
        Operation::Setxattr {
            name: OsStr::new("user.a"),
            value: b"v\0lue",
            flags: XattrFlags::CREATE,
            extended: false,
            acl_kill_sgid: false,
        },
        Operation::Getxattr { name: OsStr::new("user.a"), size: 0 },
        Operation::Getxattr { name: OsStr::new("user.a"), size: 64 },
        Operation::Listxattr { size: 128 },
        Operation::Removexattr { name: OsStr::new("user.a") },
        Operation::Flush { fh: FileHandle(3), owner: LockOwner(99) },
        Operation::Getlk {
            fh: FileHandle(3),
            owner: LockOwner(5),
            lock: FileLock { kind: LockKind::Write, start: 0, end: FileLock::TO_END, pid: 12 },
            flock: false,
        },
        Operation::Setlk {
            fh: FileHandle(3),
            owner: LockOwner(5),
            lock: FileLock { kind: LockKind::Read, start: 10, end: 19, pid: 12 },
            flock: false,
            wait: true,
        },
        Operation::Setlk {
            fh: FileHandle(3),
            owner: LockOwner(6),
            lock: FileLock::whole(LockKind::Unlock, 1),
            flock: true,
            wait: false,
        },
        Operation::Readdir { fh: FileHandle(3), offset: 4096, size: 512, plus: false },
        Operation::Readdir { fh: FileHandle(3), offset: 7, size: 4096, plus: true },
        Operation::Access { mode: AccessFlags::R_OK },
        Operation::Access { mode: AccessFlags::F_OK },
        Operation::Create { name, mode: 0o644, umask: 0o22, flags: OFlag::O_WRONLY | OFlag::O_CREAT },
        Operation::Tmpfile { mode: 0o600, umask: 0o22, flags: OFlag::O_RDWR | OFlag::O_EXCL },
        Operation::Interrupt { unique: 40 },
        Operation::Syncfs,
        Operation::Fallocate { fh: FileHandle(3), offset: 1 << 20, length: 4096, mode: FallocateFlags::empty() },
        Operation::Fallocate {
            fh: FileHandle(3),
            offset: 0,
            length: 1,
            mode: FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
        },
        Operation::Lseek { fh: FileHandle(3), offset: 10, whence: SeekWhence::Data },
        Operation::Lseek { fh: FileHandle(3), offset: 0, whence: SeekWhence::Hole },
        Operation::CopyFileRange {
            fh_in: FileHandle(3),
            off_in: 1,
            nodeid_out: 9,
            fh_out: FileHandle(4),
            off_out: 2,
            len: 1 << 33,
            wide: true,
        },
        Operation::CopyFileRange {
            fh_in: FileHandle(3),
            off_in: 0,
            nodeid_out: 7,
            fh_out: FileHandle(3),
            off_out: 4096,
            len: 5,
            wide: false,
        },
        Operation::PuffsUnmount { flags: UnmountFlags::FORCE },
        Operation::PuffsUnmount { flags: UnmountFlags::empty() },
        Operation::PuffsSuspend { phase: SuspendPhase::Start },
        Operation::PuffsSuspend { phase: SuspendPhase::Suspended },
        Operation::PuffsSuspend { phase: SuspendPhase::Error },
        Operation::PuffsSuspend { phase: SuspendPhase::Resume },
        Operation::NotifyReply { offset: 4096, data: b"cached" },
        Operation::NotifyReply { offset: 0, data: b"" },
    ];
    for op in ops {
        round_trip(op);
    }
}

/// `SETXATTR` has two layouts, and the session's `INIT` says which the kernel sends.
#[test]
fn setxattr_round_trips_in_both_layouts() {
    let header = InHeader { unique: 3, nodeid: 7, ..Default::default() };
    let ext = Layout { setxattr_ext: true };
    for (layout, extended) in [(Layout::default(), false), (ext, true)] {
        for acl_kill_sgid in [false, extended] {
            let op = Operation::Setxattr {
                name: OsStr::new("system.posix_acl_access"),
                value: b"\x02\0\0\0",
                flags: XattrFlags::empty(),
                extended,
                acl_kill_sgid,
            };
            let frame = op.encode(header);
            assert_eq!(Request::decode_in(&frame, layout).unwrap().op, op);
        }
    }
    // Read in the other layout, a frame is refused rather than misread.
    let compat = Operation::Setxattr {
        name: OsStr::new("user.a"),
        value: b"v",
        flags: XattrFlags::empty(),
        extended: false,
        acl_kill_sgid: false,
    };
    assert!(Request::decode_in(&compat.encode(header), ext).is_err(), "a compat frame in the extended layout");
    let mut unknown = Operation::Setxattr {
        name: OsStr::new("user.a"),
        value: b"v",
        flags: XattrFlags::empty(),
        extended: true,
        acl_kill_sgid: true,
    }
    .encode(header);
    unknown[InHeader::SIZE + 8] = 0x6;
    assert_eq!(Request::decode_in(&unknown, ext).unwrap_err().errno, Errno::EINVAL, "unknown SETXATTR_EXT flags");
}

#[test]
fn operations_without_an_opcode_keep_the_headers() {
    let header = InHeader { opcode: opcode::BMAP, unique: 2, ..Default::default() };
    let frame = Operation::Unsupported.encode(header);
    assert_eq!(Request::decode(&frame).unwrap().op, Operation::Unsupported);
    let header = InHeader { opcode: 9999, unique: 2, ..Default::default() };
    assert_eq!(Request::decode(&Operation::Unknown.encode(header)).unwrap().op, Operation::Unknown);
}

/// Bits no system call defines are refused when the request is decoded, so no operation
/// sees them.
#[test]
fn undefined_flag_bits_are_refused_at_decoding() {
    let name = OsStr::new("a");
    let refused = |op: Operation<'_>, at: usize, bits: u32| {
        let mut frame = op.encode(InHeader::default());
        frame[InHeader::SIZE + at..InHeader::SIZE + at + 4].copy_from_slice(&bits.to_le_bytes());
        Request::decode(&frame).unwrap_err().errno
    };
    let rename = Operation::Rename { newdir: 1, flags: RenameFlags::NOREPLACE, name, newname: name };
    assert_eq!(refused(rename, 8, 8), Errno::EINVAL);
    let setxattr =
        Operation::Setxattr { name, value: b"", flags: XattrFlags::empty(), extended: false, acl_kill_sgid: false };
    assert_eq!(refused(setxattr, 4, 4), Errno::EINVAL);
    assert_eq!(refused(Operation::Access { mode: AccessFlags::R_OK }, 0, 8), Errno::EINVAL);
    let mknod = Operation::Mknod { name, vtype: Vtype::Reg, mode: 0o644, rdev: 0, umask: 0 };
    assert_eq!(refused(mknod, 0, 0o644), Errno::EINVAL, "no node type");
    let fallocate = || Operation::Fallocate { fh: FileHandle(1), offset: 0, length: 1, mode: FallocateFlags::empty() };
    assert_eq!(refused(fallocate(), 24, 0x08), Errno::EOPNOTSUPP, "collapse range");
    assert_eq!(refused(fallocate(), 24, 0x02), Errno::EOPNOTSUPP, "punch hole without keep size");
    let lseek = Operation::Lseek { fh: FileHandle(1), offset: 0, whence: SeekWhence::Data };
    assert_eq!(refused(lseek, 16, nix::libc::SEEK_END as u32), Errno::EINVAL);
    let copy = Operation::CopyFileRange {
        fh_in: FileHandle(1),
        off_in: 0,
        nodeid_out: 1,
        fh_out: FileHandle(1),
        off_out: 0,
        len: 1,
        wide: true,
    };
    assert_eq!(refused(copy, 48, 1), Errno::EINVAL, "copy_file_range flags");
    let ioctl = || Operation::Ioctl {
        fh: FileHandle(1),
        flags: IoctlFlags::empty(),
        command: 1,
        arg: 0,
        input: b"",
        out_size: 0,
    };
    assert_eq!(refused(ioctl(), 8, abi::IOCTL_UNRESTRICTED), Errno::ENOSYS, "CUSE's unrestricted form");
    assert_eq!(refused(ioctl(), 8, 1 << 2), Errno::EINVAL, "a retry is a reply's flag");
    assert_eq!(refused(ioctl(), 24, 1), Errno::EINVAL, "input past the frame's end");
}

/// Hostile ranges (past the largest offset, or empty where that means nothing) are refused
/// before any operation sees them.
#[test]
fn hostile_ranges_are_refused_at_decoding() {
    let decode = |op: Operation<'_>| Request::decode(&op.encode(InHeader::default())).map(|_| ()).map_err(|e| e.errno);
    let fallocate =
        |offset, length| Operation::Fallocate { fh: FileHandle(1), offset, length, mode: FallocateFlags::empty() };
    assert_eq!(decode(fallocate(u64::MAX, 2)), Err(Errno::EINVAL));
    assert_eq!(decode(fallocate(i64::MAX as u64, 1)), Err(Errno::EINVAL));
    assert_eq!(decode(fallocate(0, 0)), Err(Errno::EINVAL));
    assert_eq!(
        decode(Operation::Lseek { fh: FileHandle(1), offset: u64::MAX, whence: SeekWhence::Hole }),
        Err(Errno::ENXIO)
    );
    let copy = |off_in, len| Operation::CopyFileRange {
        fh_in: FileHandle(1),
        off_in,
        nodeid_out: 1,
        fh_out: FileHandle(1),
        off_out: 0,
        len,
        wide: true,
    };
    assert_eq!(decode(copy(1, u64::MAX)), Err(Errno::EINVAL));
    assert_eq!(decode(copy(i64::MAX as u64, 0)), Ok(()), "a copy of nothing at the last offset");
}

#[test]
fn an_unknown_suspension_phase_is_refused() {
    let mut frame = Operation::PuffsSuspend { phase: SuspendPhase::Start }.encode(InHeader::default());
    frame[InHeader::SIZE] = 9;
    assert_eq!(Request::decode(&frame).unwrap_err().errno, Errno::EINVAL);
}
