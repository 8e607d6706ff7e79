//! `node_poll` and its wake-up: a mailbox file that becomes readable when a message arrives
//! behind the kernel's back; a caller blocked in `poll(2)` wakes when the file system wakes the
//! kernel, and not before. On the loopback kernel and on a real mount.

mod common;

use std::ffi::OsStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use puffs::loopback::{self, MountArgs, Notification, Request};
use puffs::{
    puffs_fs, Answered, Context, Cookie, Errno, FileHandle, FileSystem, MountFlags, NewNode, OFlag, Opened,
    OpenedFlags, PollEvents, PollWaker, ReadOut, Result, UnmountFlags, Usermount, Vattr, Vtype,
};

const ROOT: Cookie = Cookie(1);
const BOX: Cookie = Cookie(2);

/// A root holding one file, `box`: reading it takes the messages waiting (none: end of file);
/// it is readable when one waits and always writable.
#[derive(Default, Clone)]
struct Mailbox(Arc<MailboxState>);

#[derive(Default)]
struct MailboxState {
    messages: Mutex<Vec<u8>>,
    /// The latest waker the kernel handed over.
    waker: Mutex<Option<PollWaker>>,
}

impl Mailbox {
    /// A message arrives (from elsewhere): the pollers are woken.
    fn deliver(&self, message: &[u8]) {
        self.0.messages.lock().unwrap().extend_from_slice(message);
        let waker = self.0.waker.lock().unwrap().clone();
        if let Some(waker) = waker {
            waker.wake().expect("wake the pollers");
        }
    }
}

#[puffs_fs]
impl FileSystem for Mailbox {
    fn node_lookup(&self, dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        match (dir, name.to_str()) {
            (ROOT, Some("box")) => Ok(NewNode::new(BOX, Vattr::new(Vtype::Reg, 0o666, BOX.0))),
            _ => Err(Errno::ENOENT),
        }
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(if node == ROOT { Vattr::new(Vtype::Dir, 0o755, 1) } else { Vattr::new(Vtype::Reg, 0o666, node.0) })
    }

    fn node_open(&self, _node: Cookie, _flags: OFlag, _ctx: &Context<'_>) -> Result<Opened> {
        // Contents made at read time: every read reaches the file system.
        Ok(Opened::handle(FileHandle(7)).with(OpenedFlags::DIRECT_IO | OpenedFlags::NONSEEKABLE))
    }

    fn node_read(
        &self,
        _node: Cookie,
        _h: FileHandle,
        _offset: u64,
        out: ReadOut<'_>,
        _ctx: &Context<'_>,
    ) -> Result<Answered> {
        let mut messages = self.0.messages.lock().unwrap();
        let n = out.size().min(messages.len());
        let answered = out.reply(&messages[..n]);
        messages.drain(..n);
        Ok(answered)
    }

    fn node_poll(
        &self,
        _node: Cookie,
        handle: FileHandle,
        events: PollEvents,
        waker: Option<PollWaker>,
        _ctx: &Context<'_>,
    ) -> Result<PollEvents> {
        assert_eq!(handle, FileHandle(7), "the open file's handle");
        if let Some(waker) = waker {
            *self.0.waker.lock().unwrap() = Some(waker);
        }
        let mut ready = PollEvents::OUT | PollEvents::WRNORM;
        if !self.0.messages.lock().unwrap().is_empty() {
            ready |= PollEvents::IN | PollEvents::RDNORM;
        }
        Ok(ready & (events | PollEvents::ERR | PollEvents::HUP))
    }
}

#[test]
fn a_poll_is_answered_and_its_waker_wakes_on_the_loopback_kernel() {
    let mailbox = Mailbox::default();
    let usermount = Usermount::init(mailbox.clone(), "mailbox");
    let args = MountArgs::of(&usermount, ROOT);
    let mounted = loopback::mount(usermount, args).map_err(puffs::Error::from).expect("mount");
    let client = mounted.client();
    let file = client.open("box", OFlag::O_RDONLY, 0).unwrap();
    assert_eq!(client.poll(&file, PollEvents::IN, false), Ok(PollEvents::empty()), "nothing to read yet");
    assert!(mailbox.0.waker.lock().unwrap().is_none(), "no waker unless the caller waits");
    assert_eq!(client.poll(&file, PollEvents::IN | PollEvents::OUT, true), Ok(PollEvents::OUT));
    mailbox.deliver(b"hello");
    // The wake-up travels on its own, read by the loopback kernel's reader.
    common::eventually("the wake-up", || client.notifications_received(Notification::PollWakeup) > 0);
    assert_eq!(client.notifications_received(Notification::PollWakeup), 1);
    assert_eq!(client.poll(&file, PollEvents::IN, true), Ok(PollEvents::IN));
    assert_eq!(client.read(&file, 0, 100).unwrap(), b"hello");
    assert_eq!(client.requests_sent(Request::Poll), 3);
    drop(file);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).unwrap();
    // The main loop is over: the waker has no kernel left to wake.
    let waker = mailbox.0.waker.lock().unwrap().clone().unwrap();
    assert_eq!(waker.wake().unwrap_err().errno(), Errno::ENODEV);
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn a_blocked_poll_wakes_when_the_file_system_says_on_a_real_mount() {
    use std::os::fd::AsFd;
    let mailbox = Mailbox::default();
    // One worker thread: POLL is answered at once, and the caller waits in the kernel.
    let mount = common::RealMount::mount(mailbox.clone(), "mailbox", ROOT, MountFlags::empty(), "");
    let file = std::fs::File::open(mount.dir().join("box")).unwrap();
    let poller = {
        let file = file.try_clone().unwrap();
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut fds = [nix::poll::PollFd::new(file.as_fd(), nix::poll::PollFlags::POLLIN)];
            let ready = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(10_000u16));
            (ready, fds[0].revents(), started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    assert!(!poller.is_finished(), "nothing to read: the poll waits");
    mailbox.deliver(b"news");
    let (ready, revents, took) = poller.join().unwrap();
    assert_eq!(ready, Ok(1));
    assert!(revents.unwrap().contains(nix::poll::PollFlags::POLLIN));
    assert!(took < Duration::from_secs(5), "woken, not timed out: {took:?}");
    assert_eq!(std::fs::read(mount.dir().join("box")).unwrap(), b"news");
    drop(file);
    mount.unmount();
}
