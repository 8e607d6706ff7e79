//! A kernel played by the test: the other end of a socket pair whose first end a usermount is
//! mounted on (`mount_on_channel`). The test writes request frames and reads the replies,
//! byte for byte, so it can send what no well-behaved kernel would.

#![allow(dead_code)] // each test binary uses its own part

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::time::TimeVal;
use puffs::fuse::abi::{self, opcode, InHeader, OutHeader};
use puffs::fuse::request::Operation;
use puffs::fuse::Channel;

/// The caller every request names.
pub const UID: u32 = 1000;
pub const GID: u32 = 1000;
pub const PID: u32 = 42;

/// The kernel's end of the socket pair.
pub struct FakeKernel {
    fd: OwnedFd,
    unique: AtomicU64,
}

/// A channel for the usermount and the kernel at its other end. A reply that does not come
/// within ten seconds fails the test instead of hanging it.
pub fn pair() -> (Channel, FakeKernel) {
    let (ours, theirs) =
        socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).expect("socketpair");
    let timeout = TimeVal::new(10, 0);
    nix::sys::socket::setsockopt(&theirs, nix::sys::socket::sockopt::ReceiveTimeout, &timeout).expect("timeout");
    (Channel::new(ours), FakeKernel { fd: theirs, unique: AtomicU64::new(2) })
}

/// The body of a well-formed request, from the same encoder the loopback kernel uses.
pub fn body(op: &Operation<'_>) -> Vec<u8> {
    let mut body = Vec::new();
    op.encode_body(&mut body);
    body
}

impl FakeKernel {
    /// A request frame of opcode `op` for node `nodeid`, and its unique id.
    pub fn frame(&self, op: u32, nodeid: u64, body: &[u8]) -> (u64, Vec<u8>) {
        let unique = self.unique.fetch_add(2, Ordering::Relaxed);
        let mut frame = Vec::new();
        InHeader {
            len: (InHeader::SIZE + body.len()) as u32,
            opcode: op,
            unique,
            nodeid,
            uid: UID,
            gid: GID,
            pid: PID,
            ..Default::default()
        }
        .encode(&mut frame);
        frame.extend_from_slice(body);
        (unique, frame)
    }

    /// Sends `frame` as it is.
    pub fn send_raw(&self, frame: &[u8]) {
        nix::unistd::write(&self.fd, frame).expect("send frame");
    }

    /// Sends a request; answers its unique id.
    pub fn send(&self, op: u32, nodeid: u64, body: &[u8]) -> u64 {
        let (unique, frame) = self.frame(op, nodeid, body);
        self.send_raw(&frame);
        unique
    }

    /// The next reply: header and body.
    pub fn reply(&self) -> (OutHeader, Vec<u8>) {
        let mut buf = vec![0u8; 1 << 21];
        let n = nix::unistd::read(&self.fd, &mut buf).expect("a reply within the timeout");
        let header = OutHeader::decode(&buf[..n]).expect("a reply header");
        assert_eq!(header.len as usize, n, "reply length matches its frame");
        (header, buf[OutHeader::SIZE..n].to_vec())
    }

    /// Sends a request and answers the errno of its reply (0 for success) and the body.
    pub fn call(&self, op: u32, nodeid: u64, body: &[u8]) -> (i32, Vec<u8>) {
        let unique = self.send(op, nodeid, body);
        let (header, body) = self.reply();
        assert_eq!(header.unique, unique, "reply answers the request");
        (-header.error, body)
    }

    /// Sends `INIT` of protocol `major.minor`, offering every flag of the first word.
    pub fn init(&self, major: u32, minor: u32) -> u64 {
        let init = Operation::Init(abi::InitIn { major, minor, max_readahead: 1 << 17, flags: u32::MAX, flags2: 0 });
        self.send(opcode::INIT, 0, &body(&init))
    }
}
