//! The typestate of a usermount: the sealed state markers, what a usermount holds in each, and
//! the bounds that make a call exist only in its state.

use std::sync::Arc;

use crate::fs::FileSystem;
use crate::os::mount::MountGuard;
use crate::server::Stop;
use crate::session::Session;
use crate::settings::{MountInfo, Settings};

mod sealed {
    pub trait Sealed {}
}

/// A state of a [`Usermount`](super::Usermount): [`Unmounted`], [`Mounted`] or [`Running`].
pub trait UsermountState: sealed::Sealed {
    /// What a usermount holds in this state.
    #[doc(hidden)]
    type Body<F: FileSystem>;
}

/// Before `mount`: options may be set (puffs `PUFFS_STATE_BEFOREMOUNT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unmounted;

/// Mounted: the kernel knows the file system; the main loop has not started
/// (puffs `PUFFS_STATE_RUNNING` before `puffs_mainloop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mounted;

/// Running: requests are being processed; notifications and blocking mode are available
/// (puffs `PUFFS_STATE_RUNNING` inside `puffs_mainloop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Running;

impl sealed::Sealed for Unmounted {}
impl sealed::Sealed for Mounted {}
impl sealed::Sealed for Running {}

#[doc(hidden)]
#[derive(Debug)]
pub struct UnmountedBody<F: FileSystem> {
    pub(crate) fs: F,
    pub(crate) settings: Settings,
}

#[doc(hidden)]
#[derive(Debug)]
pub struct LiveBody<F: FileSystem> {
    pub(crate) session: Arc<Session<F>>,
    pub(crate) stop: Arc<Stop>,
    pub(crate) guard: Option<Arc<MountGuard>>,
    pub(crate) info: MountInfo,
    /// The request buffer of [`process_request`](crate::Usermount::process_request), kept
    /// from call to call: a request can be a megabyte.
    pub(crate) request_buf: std::sync::Mutex<Vec<u8>>,
}

impl UsermountState for Unmounted {
    type Body<F: FileSystem> = UnmountedBody<F>;
}
impl UsermountState for Mounted {
    type Body<F: FileSystem> = LiveBody<F>;
}
impl UsermountState for Running {
    type Body<F: FileSystem> = LiveBody<F>;
}

/// The states in which options may still be set and the file system mounted: only [`Unmounted`].
#[diagnostic::on_unimplemented(
    message = "this usermount is already `{Self}`: the call exists only before `mount`",
    label = "only an `Unmounted` usermount takes settings or can be mounted",
    note = "set options between `Usermount::init` and `mount`; a usermount is mounted once"
)]
pub trait BeforeMount: UsermountState {
    #[doc(hidden)]
    fn body_mut<F: FileSystem>(body: &mut Self::Body<F>) -> &mut UnmountedBody<F>;
    #[doc(hidden)]
    fn into_body<F: FileSystem>(body: Self::Body<F>) -> UnmountedBody<F>;
}

impl BeforeMount for Unmounted {
    fn body_mut<F: FileSystem>(body: &mut UnmountedBody<F>) -> &mut UnmountedBody<F> {
        body
    }
    fn into_body<F: FileSystem>(body: UnmountedBody<F>) -> UnmountedBody<F> {
        body
    }
}

/// The state from which the main loop starts: only [`Mounted`].
#[diagnostic::on_unimplemented(
    message = "`mainloop` and `start` run a `Mounted` usermount, and this one is `{Self}`",
    label = "the main loop starts once, from the `Mounted` state",
    note = "`mount(dir, flags, root)` turns an `Unmounted` usermount into a `Mounted` one; `start` and `mainloop` consume it"
)]
pub trait MountedState: UsermountState {
    #[doc(hidden)]
    fn into_live<F: FileSystem>(body: Self::Body<F>) -> LiveBody<F>;
}

impl MountedState for Mounted {
    fn into_live<F: FileSystem>(body: LiveBody<F>) -> LiveBody<F> {
        body
    }
}

/// The state in which requests are processed: only [`Running`].
#[diagnostic::on_unimplemented(
    message = "this call needs a running file system, and this usermount is `{Self}`",
    label = "only a `Running` usermount processes requests and sends notifications",
    note = "`start()` turns a `Mounted` usermount into a `Running` one"
)]
pub trait RunningState: UsermountState {
    #[doc(hidden)]
    fn live<F: FileSystem>(body: &Self::Body<F>) -> &LiveBody<F>;
    #[doc(hidden)]
    fn into_live<F: FileSystem>(body: Self::Body<F>) -> LiveBody<F>;
}

impl RunningState for Running {
    fn live<F: FileSystem>(body: &LiveBody<F>) -> &LiveBody<F> {
        body
    }
    fn into_live<F: FileSystem>(body: LiveBody<F>) -> LiveBody<F> {
        body
    }
}
