//! The request loop: worker threads reading requests from the channel and handing each to the
//! session, until the kernel is gone or a forced stop.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

use nix::errno::Errno;

use crate::error::io_errno;
use crate::error::Error;
use crate::fs::FileSystem;
use crate::fuse::uring::Ring;
use crate::session::{Handled, Session};
use crate::settings::Settings;

/// How an idle worker waits for the next request on `/dev/fuse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// In `read(2)` itself: one system call a request. For mounts whose forced stop ends the
    /// connection (which wakes every reader with `ENODEV`), or that nothing stops by force.
    InRead,
    /// In `poll(2)` on the channel and the stop pipe, the channel non-blocking: a forced stop
    /// wakes the workers where the connection cannot be ended (a user's mount, no fusectl).
    /// An idle worker pays a read that finds nothing and a poll before each request.
    InPoll,
}

/// Handles requests until the kernel is gone or `stop` is told.
pub(crate) fn serve<F: FileSystem>(session: &Session<F>, stop: &Stop) -> Result<(), Errno> {
    let mut buf = Vec::new();
    loop {
        if stop.is_stopped() || session.is_destroyed() {
            return Ok(());
        }
        match session.channel.receive(&mut buf, session.request_len) {
            Ok(()) => {
                if session.handle(&buf) == Handled::Destroyed {
                    return Ok(());
                }
            }
            Err(Errno::ENODEV) | Err(Errno::ECONNABORTED) => return Ok(()),
            // Nothing pending: wait for a request or for the stop, whichever comes first.
            Err(Errno::EAGAIN) => stop.wait_with(session.channel.as_fd())?,
            Err(e) => return Err(e),
        }
    }
}

/// Tells the worker threads to leave the request loop at once (a forced stop): each waits for
/// its next request together with this pipe, which stays readable once written.
#[derive(Debug)]
pub(crate) struct Stop {
    stopped: std::sync::atomic::AtomicBool,
    wake_read: std::os::fd::OwnedFd,
    wake_write: std::os::fd::OwnedFd,
}

impl Stop {
    pub(crate) fn new() -> Result<Stop, Errno> {
        let (wake_read, wake_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        Ok(Stop { stopped: std::sync::atomic::AtomicBool::new(false), wake_read, wake_write })
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn stop(&self) {
        self.stopped.store(true, std::sync::atomic::Ordering::Release);
        let _ = nix::unistd::write(&self.wake_write, &[1]);
    }

    /// The descriptor that becomes readable when the stop is told.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.wake_read.as_fd()
    }

    /// Waits until `channel` has a request or the stop was told.
    pub(crate) fn wait_with(&self, channel: BorrowedFd<'_>) -> Result<(), Errno> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(channel, PollFlags::POLLIN), PollFd::new(self.wake_read.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Serves the requests of one ring (FUSE over io_uring) until the kernel ends the connection
/// or `stop` is told. A ring the kernel refuses leaves its requests to `/dev/fuse`.
fn serve_ring<F: FileSystem>(session: &Session<F>, ring: &Ring, stop: &Stop) -> Result<(), Errno> {
    let served = ring.serve(stop.fd(), &mut |frame| session.handle(frame) == Handled::Continue);
    if let Err(e) = served {
        log::warn!("{}: io_uring stopped ({e}): requests come through /dev/fuse", session.settings.name);
    }
    Ok(())
}

/// Serves `session` on the threads its settings ask for until the kernel is gone or `stop` is
/// told; answers the first error a thread met. On `/dev/fuse`, that is this thread and
/// `threads - 1` workers of `stack_size`; with io_uring, one worker per ring, and this thread
/// for what still comes through `/dev/fuse` (forgets, interrupts). Workers start serving only
/// once all of them started, so that a failed start never leaves one blocked in a read.
pub(crate) fn run<F: FileSystem>(session: &Arc<Session<F>>, stop: &Arc<Stop>, waiting: Waiting) -> Result<(), Error> {
    let Settings { threads, stack_size, .. } = session.settings;
    if let Err(e) = session.channel.set_nonblocking(waiting == Waiting::InPoll) {
        return Err(Error::new("set the request channel's blocking mode", e));
    }
    let rings = session.rings().len();
    let workers_wanted = if rings > 0 { rings } else { threads - 1 };
    let mut workers = Vec::new();
    let mut starts = Vec::new();
    for index in 0..workers_wanted {
        let session = session.clone();
        let name = if rings > 0 { format!("puffs-ring-{index}") } else { format!("puffs-worker-{}", index + 1) };
        let mut builder = std::thread::Builder::new().name(name);
        if let Some(size) = stack_size {
            builder = builder.stack_size(size);
        }
        let worker_stop = stop.clone();
        let (start, started) = std::sync::mpsc::channel::<()>();
        let work = move || {
            if started.recv().is_err() {
                return Ok(()); // another worker could not start: none serves
            }
            match session.rings().get(index) {
                Some(ring) => serve_ring(&session, ring, &worker_stop),
                None => serve(&session, &worker_stop),
            }
        };
        match builder.spawn(work) {
            Ok(handle) => {
                workers.push(handle);
                starts.push(start);
            }
            Err(e) => {
                // The workers already started leave, without a request, before the error is
                // answered.
                drop(starts);
                for worker in workers {
                    let _ = worker.join();
                }
                return Err(Error::new("start a worker thread", io_errno(&e)));
            }
        }
    }
    for start in starts {
        let _ = start.send(());
    }
    let mut result = serve(session, stop);
    for worker in workers {
        let outcome = worker.join().unwrap_or(Err(Errno::EIO));
        result = result.and(outcome);
    }
    result.map_err(|e| Error::new("read a request", e))
}
