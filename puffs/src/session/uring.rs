//! The session's rings for FUSE over io_uring: made at `INIT`, before the kernel is told the
//! server takes requests that way, so that a ring the machine refuses (io_uring switched off
//! by `kernel.io_uring_disabled`, no memory) leaves the mount on `/dev/fuse`. Once granted,
//! the kernel holds every request until each queue has an entry: the workers register them as
//! they start (`server::run`).

use std::os::fd::AsRawFd;
use std::sync::Arc;

use nix::errno::Errno;

use crate::fs::FileSystem;
use crate::fuse::uring::Ring;
use crate::settings::Transport;

use super::Session;

/// Entries per queue: one being answered while the kernel fills the next.
const DEPTH: usize = 2;
/// The smallest payload the kernel accepts (`FUSE_MIN_READ_BUFFER`).
const MIN_PAYLOAD: usize = 8192;

/// How many queues the kernel makes: one per possible CPU (`num_possible_cpus`), numbered from
/// 0, read from `/sys/devices/system/cpu/possible` (`0-3`, `0,2-5`).
fn possible_cpus() -> Result<usize, Errno> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible").map_err(|_| Errno::ENOENT)?;
    let last = text.trim().rsplit([',', '-']).next().and_then(|n| n.parse::<usize>().ok()).ok_or(Errno::EINVAL)?;
    Ok(last + 1)
}

impl<F: FileSystem> Session<F> {
    /// Makes the rings for a mount whose replies carry up to `max_write` bytes in `max_pages`
    /// pages: one per worker thread, at most one per queue, the queues dealt among them.
    /// Answers the transport they make.
    pub(super) fn make_rings(&self, max_write: usize, max_pages: usize) -> Result<Transport, Errno> {
        let queues = possible_cpus()?;
        let count = self.settings.threads.clamp(1, queues);
        let payload_len = MIN_PAYLOAD.max(max_write).max(max_pages * 4096);
        let mut rings = Vec::with_capacity(count);
        for index in 0..count {
            let qids: Vec<u16> = (index..queues).step_by(count).map(|q| q as u16).collect();
            rings.push(Arc::new(Ring::new(self.channel.as_raw_fd(), &qids, DEPTH, payload_len)?));
        }
        let _ = self.rings.set(rings);
        Ok(Transport::IoUring { queues, rings: count })
    }

    /// The rings, when requests come through io_uring.
    pub(crate) fn rings(&self) -> &[Arc<Ring>] {
        self.rings.get().map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_possible_cpus_include_this_one() {
        let cpus = super::possible_cpus().unwrap();
        assert!(cpus >= std::thread::available_parallelism().unwrap().get());
    }
}
