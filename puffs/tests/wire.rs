//! The file-system side of the wire, driven frame by frame by a fake kernel on a socket pair:
//! the INIT handshake, dispatch only of operations in the mask, lookup counts and reclaim, and
//! malformed frames answered with an errno, never a panic or a hang.

mod fake_kernel;

use std::ffi::OsStr;
use std::sync::Mutex;

use fake_kernel::{body, pair, FakeKernel};
use puffs::fuse::abi::{self, opcode};
use puffs::fuse::request::Operation;
use puffs::{puffs_fs, Context, Cookie, Errno, FileSystem, NewNode, Result, Usermount, Vattr, VnopMask, Vtype};

/// Records the operations dispatched to it.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
}

impl Recorder {
    fn record(&self, what: String) {
        self.calls.lock().unwrap().push(what);
    }
}

#[puffs_fs]
impl FileSystem for Recorder {
    fn node_lookup(&self, dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        self.record(format!("lookup {} {}", dir.0, name.to_string_lossy()));
        match name.to_str() {
            Some("file") => Ok(NewNode::new(Cookie(5), Vattr::new(Vtype::Reg, 0o644, 5))),
            Some("zero") => Ok(NewNode::new(Cookie(0), Vattr::new(Vtype::Reg, 0o644, 6))),
            Some("panic") => panic!("a file-system bug"),
            _ => Err(Errno::ENOENT),
        }
    }

    fn node_getattr(&self, node: Cookie, ctx: &Context<'_>) -> Result<Vattr> {
        self.record(format!("getattr {} by {}:{} pid {}", node.0, ctx.cred().uid, ctx.cred().gid, ctx.cred().pid));
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }

    fn node_reclaim(&self, node: Cookie) {
        self.record(format!("reclaim {}", node.0));
    }
}

/// A name and its NUL, also for names the encoder would not be asked to send.
fn name(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// Mounts a Recorder on a fake kernel and runs its main loop in a thread.
fn running() -> (FakeKernel, std::thread::JoinHandle<std::result::Result<Recorder, puffs::Error>>) {
    let (channel, kernel) = pair();
    kernel.init(7, 46);
    let mounted = Usermount::init(Recorder::default(), "rec")
        .max_request_len(64 * 1024)
        .mount_on_channel(channel, Cookie(1), "rec")
        .map_err(puffs::Error::from)
        .expect("mount on channel");
    let (header, body) = kernel.reply();
    assert_eq!(header.error, 0);
    let init = abi::InitOut::decode(&body).expect("init reply");
    assert_eq!((init.major, init.minor), (7, abi::KERNEL_MINOR_VERSION), "negotiated down to the version spoken");
    assert_eq!(init.max_write as usize, 64 * 1024 - 4096, "max write follows the granted request length");
    let server = std::thread::spawn(move || mounted.mainloop());
    (kernel, server)
}

fn finish(
    kernel: FakeKernel,
    server: std::thread::JoinHandle<std::result::Result<Recorder, puffs::Error>>,
) -> Vec<String> {
    drop(kernel);
    let fs = server.join().expect("main loop thread").expect("main loop ends when the kernel goes away");
    fs.calls.into_inner().unwrap()
}

#[test]
fn handshake_refuses_kernels_older_than_7_31() {
    let (channel, kernel) = pair();
    kernel.init(7, 30);
    let (error, unmounted) = Usermount::init(Recorder::default(), "rec")
        .mount_on_channel(channel, Cookie(1), "rec")
        .expect_err("an old kernel is refused")
        .into_parts();
    assert_eq!(error.errno(), Errno::EPROTO);
    let (header, _) = kernel.reply();
    assert_eq!(-header.error, Errno::EPROTO as i32);
    drop(unmounted);
}

#[test]
fn operations_outside_the_mask_are_answered_without_dispatch() {
    assert_eq!(puffs::vnop_mask::<Recorder>(), VnopMask::LOOKUP | VnopMask::GETATTR | VnopMask::RECLAIM);
    let (kernel, server) = running();
    let write = body(&Operation::Write { fh: puffs::FileHandle(0), offset: 0, data: b"abc", kill_suidgid: false });
    assert_eq!(kernel.call(opcode::WRITE, 5, &write).0, Errno::ENOSYS as i32);
    assert_eq!(
        kernel.call(opcode::MKDIR, 1, &[0u8; 8].iter().copied().chain(name("d")).collect::<Vec<_>>()).0,
        Errno::ENOSYS as i32
    );
    // No open support needed: the kernel is told ENOSYS and stops sending OPEN.
    assert_eq!(kernel.call(opcode::OPEN, 5, &[0u8; 8]).0, Errno::ENOSYS as i32);
    // statfs has a framework answer when the file system has none.
    let (errno, body) = kernel.call(opcode::STATFS, 1, &[]);
    assert_eq!(errno, 0);
    assert_eq!(abi::Kstatfs::decode(&body).expect("statfs body").namelen, 255);
    assert_eq!(kernel.call(opcode::GETATTR, 1, &[0u8; 16]).0, 0);
    let calls = finish(kernel, server);
    assert_eq!(calls, vec!["getattr 1 by 1000:1000 pid 42".to_string()], "only the implemented op was dispatched");
}

#[test]
fn reclaim_is_called_exactly_when_lookups_are_forgotten() {
    let (kernel, server) = running();
    for _ in 0..3 {
        let (errno, body) = kernel.call(opcode::LOOKUP, 1, &name("file"));
        assert_eq!(errno, 0);
        assert_eq!(abi::EntryOut::decode(&body).unwrap().nodeid, 5);
    }
    kernel.send(opcode::FORGET, 5, &body(&Operation::Forget { nlookup: 2 }));
    // BATCH_FORGET of the last lookup; FORGETs get no reply, so a GETATTR orders what follows.
    let batch = body(&Operation::BatchForget { nodes: vec![abi::ForgetOne { nodeid: 5, nlookup: 1 }] });
    assert_eq!(kernel.call(opcode::GETATTR, 1, &[0u8; 16]).0, 0);
    kernel.send(opcode::BATCH_FORGET, 0, &batch);
    assert_eq!(kernel.call(opcode::GETATTR, 1, &[0u8; 16]).0, 0);
    let calls = finish(kernel, server);
    let reclaim_at = calls.iter().position(|c| c == "reclaim 5").expect("reclaimed");
    assert_eq!(calls.iter().filter(|c| c.starts_with("reclaim")).count(), 1, "reclaimed once: {calls:?}");
    assert!(calls[reclaim_at - 1].starts_with("getattr 1"), "not before the last lookup was forgotten: {calls:?}");
}

#[test]
fn malformed_frames_get_an_errno_and_the_session_goes_on() {
    let (kernel, server) = running();
    // Header length disagrees with the frame.
    let (unique, mut frame) = kernel.frame(opcode::GETATTR, 1, &[0u8; 16]);
    frame[0] = frame[0].wrapping_add(8);
    kernel.send_raw(&frame);
    let (header, _) = kernel.reply();
    assert_eq!((header.unique, -header.error), (unique, Errno::EIO as i32));
    // Names with '/' or without a terminating NUL, empty or too long.
    assert_eq!(kernel.call(opcode::LOOKUP, 1, &name("a/b")).0, Errno::EINVAL as i32);
    assert_eq!(kernel.call(opcode::LOOKUP, 1, b"file").0, Errno::EINVAL as i32);
    assert_eq!(kernel.call(opcode::LOOKUP, 1, &name("")).0, Errno::EINVAL as i32);
    assert_eq!(kernel.call(opcode::LOOKUP, 1, &name(&"n".repeat(256))).0, Errno::ENAMETOOLONG as i32);
    // A body shorter than its record; a write whose size runs past the frame.
    assert_eq!(kernel.call(opcode::GETATTR, 1, &[0u8; 3]).0, Errno::EINVAL as i32);
    let mut write = Vec::new();
    abi::WriteIn { size: 1000, ..Default::default() }.encode(&mut write);
    assert_eq!(kernel.call(opcode::WRITE, 5, &write).0, Errno::EINVAL as i32);
    // Unknown opcodes, and a second INIT.
    assert_eq!(kernel.call(9999, 1, &[]).0, Errno::ENOSYS as i32);
    assert_eq!(kernel.call(opcode::INIT, 0, &[0u8; 64]).0, Errno::EIO as i32);
    // A frame too short for a header cannot be answered, and must not stop the session.
    kernel.send_raw(&[1, 2, 3]);
    // An oversize frame is cut at the request length and answered EIO.
    let (unique, big) = kernel.frame(opcode::LOOKUP, 1, &name(&"x".repeat(100_000)));
    kernel.send_raw(&big);
    let (header, _) = kernel.reply();
    assert_eq!((header.unique, -header.error), (unique, Errno::EIO as i32));
    // A BATCH_FORGET claiming more nodes than it carries is dropped (it has no reply).
    let mut batch = Vec::new();
    abi::BatchForgetIn { count: 1000, dummy: 0 }.encode(&mut batch);
    kernel.send(opcode::BATCH_FORGET, 0, &batch);
    // The session still answers.
    assert_eq!(kernel.call(opcode::LOOKUP, 1, &name("file")).0, 0);
    let calls = finish(kernel, server);
    assert_eq!(calls, vec!["lookup 1 file".to_string()], "no malformed request reached the file system");
}

#[test]
fn a_panicking_operation_answers_eio_and_the_reserved_cookie_is_refused() {
    let (kernel, server) = running();
    assert_eq!(kernel.call(opcode::LOOKUP, 1, &name("panic")).0, Errno::EIO as i32);
    assert_eq!(kernel.call(opcode::LOOKUP, 1, &name("zero")).0, Errno::EIO as i32);
    assert_eq!(kernel.call(opcode::LOOKUP, 1, &name("nothing")).0, Errno::ENOENT as i32);
    let calls = finish(kernel, server);
    assert_eq!(calls.len(), 3);
}

#[test]
fn requests_carry_the_callers_credentials_and_the_root_cookie() {
    let (channel, kernel) = pair();
    kernel.init(7, 31);
    let mounted = Usermount::init(Recorder::default(), "rec")
        .mount_on_channel(channel, Cookie(0xdead), "rec")
        .map_err(puffs::Error::from)
        .expect("mount on channel");
    let (_, body) = kernel.reply();
    assert_eq!(abi::InitOut::decode(&body).unwrap().minor, 31, "an older kernel's version is kept");
    let server = std::thread::spawn(move || mounted.mainloop());
    assert_eq!(kernel.call(opcode::GETATTR, abi::ROOT_ID, &[0u8; 16]).0, 0);
    let calls = finish(kernel, server);
    assert_eq!(calls, vec![format!("getattr {} by 1000:1000 pid 42", 0xdead)], "FUSE_ROOT_ID is the root cookie");
}
