//! The kernel side against a file-system end played by hand.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use crate::cred::Cred;
use crate::fs::cookie::Cookie;
use crate::fuse::abi::{self, OutHeader, ROOT_ID};
use crate::fuse::reply::Reply;
use crate::fuse::request::Operation;
use crate::fuse::Channel;

use super::args::MountArgs;
use super::client::{entry_of, Client};
use super::kernel::{Flavor, Shared, State, Status};
use super::namei::components;

/// A running kernel side whose file-system end the test plays by hand.
fn kernel() -> (Client, OwnedFd) {
    let (ours, theirs) =
        socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).expect("socketpair");
    let args = MountArgs { timeout: Duration::from_millis(50), ..MountArgs::new("t", Cookie(1)) };
    let shared = Arc::new(Shared {
        channel: Channel::new(ours),
        state: Mutex::new(State::new()),
        changed: Condvar::new(),
        next_unique: AtomicU64::new(2),
        args,
    });
    shared.lock().status = Status::Serving;
    (Client { shared, cred: Cred::ROOT }, theirs)
}

fn lookup(client: &Client) -> u64 {
    client.send(ROOT_ID, &Operation::Lookup { name: OsStr::new("x") }, Flavor::Client).expect("send")
}

fn frame(unique: u64, error: i32, body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    OutHeader { len: (OutHeader::SIZE + body.len()) as u32, error, unique }.encode(&mut frame);
    frame.extend_from_slice(body);
    frame
}

#[test]
fn malformed_replies_answer_eio_and_unroutable_ones_are_counted() {
    let (client, _peer) = kernel();
    let unique = lookup(&client);
    let mut long = frame(unique, 0, &[0; 8]);
    long[0] = 99;
    client.shared.deliver(&long);
    assert_eq!(client.wait(unique), Err(Errno::EIO), "length differs from the frame");
    let unique = lookup(&client);
    client.shared.deliver(&frame(unique, 5, &[]));
    assert_eq!(client.wait(unique), Err(Errno::EIO), "a positive error");
    let unique = lookup(&client);
    client.shared.deliver(&frame(unique, -(Errno::EACCES as i32), &[1, 2]));
    assert_eq!(client.wait(unique), Err(Errno::EIO), "an error with a body");
    let unique = lookup(&client);
    client.shared.deliver(&frame(unique, 0, &[0; 10]));
    let body = client.wait(unique).expect("a well-framed reply");
    assert_eq!(entry_of(&body), Err(Errno::EIO), "a body that does not fit a lookup");
    let unique = lookup(&client);
    client.shared.deliver(&Reply::error(unique, Errno::ENOENT as i32));
    assert_eq!(client.wait(unique), Err(Errno::ENOENT), "the file system's errno");
    // Garbage, a stranger's reply and a notification touch no waiter.
    let unique = lookup(&client);
    client.shared.deliver(&[1, 2, 3]);
    client.shared.deliver(&frame(unique + 1000, 0, &[]));
    client.shared.deliver(&frame(0, abi::notify::INVAL_INODE, &[0; 24]));
    assert_eq!(client.unroutable_replies(), 2);
    assert_eq!(client.wait(unique), Err(Errno::ETIMEDOUT), "bounded: no answer came");
    // The late answer to an abandoned request is dropped quietly.
    client.shared.deliver(&Reply::new(unique, 0).finish());
    assert_eq!(client.unroutable_replies(), 2);
    assert!(client.shared.lock().pending.is_empty());
}

#[test]
fn a_closed_peer_releases_waiters_with_enxio() {
    let (client, peer) = kernel();
    let unique = lookup(&client);
    drop(peer);
    client.shared.peer_gone();
    assert_eq!(client.wait(unique), Err(Errno::ENXIO));
    assert_eq!(client.status(), Status::Dying);
    assert_eq!(client.stat(""), Err(Errno::ENXIO));
    assert_eq!(lookup_result(&client), Err(Errno::ENXIO));
}

fn lookup_result(client: &Client) -> Result<u64, Errno> {
    client.send(ROOT_ID, &Operation::Lookup { name: OsStr::new("x") }, Flavor::Client)
}

#[test]
fn paths_split_into_checked_components() {
    assert_eq!(components(Path::new("/a//b/")).unwrap(), vec![OsString::from("a"), OsString::from("b")]);
    assert!(components(Path::new("")).unwrap().is_empty());
    assert_eq!(components(Path::new(OsStr::from_bytes(&[b'a', 0, b'b']))), Err(Errno::EINVAL));
    assert_eq!(components(Path::new(&"x".repeat(256))), Err(Errno::ENAMETOOLONG));
}
