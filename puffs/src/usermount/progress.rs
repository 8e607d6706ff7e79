//! How a usermount's request loop goes, one request at a time: whether it waits
//! ([`BlockingMode`]) and what a step did ([`Progress`]).

/// How [`Usermount::process_request`](super::Usermount::process_request) waits for the kernel (puffs `PUFFSDEV_BLOCK` and
/// `PUFFSDEV_NONBLOCK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockingMode {
    /// Wait until a request arrives.
    Block,
    /// Answer [`Progress::Idle`] at once when none is pending.
    NonBlock,
}

/// What one [`Usermount::process_request`](super::Usermount::process_request) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A request was handled.
    Handled,
    /// Non-blocking mode and nothing was pending.
    Idle,
    /// The file system was unmounted; no request will come again.
    Finished,
}
