//! What the example tests share: a [`Client`] that drives a file system by path, a real FUSE
//! mount that implements it, and a bound on how long a test body may take.
//!
//! The same test bodies take any `Client`: the suites run them on a real mount and on the
//! loopback kernel.
//!
//! - `client`: the [`Client`] trait and the time bound on a test body;
//! - `real`: real FUSE mounts ([`RealMount`]), mount points and cleanup;
//! - `loopback`: the loopback kernel as a client ([`LoopbackMount`]);
//! - `program`: example programs started by a test ([`Program`]);
//! - [`posix`]: test bodies every read-write file system passes.

#![allow(dead_code)] // each test binary uses its own part

mod client;
mod loopback;
pub mod posix;
mod program;
mod real;

// Each test binary uses its own part of these.
#[allow(unused_imports)]
pub use client::{bounded, eventually, Client, Outcome, Stat, BODY_TIMEOUT};
#[allow(unused_imports)]
pub use loopback::LoopbackMount;
#[allow(unused_imports)]
pub use program::Program;
#[allow(unused_imports)]
pub use real::{
    abort_connection, detach_fuse, fuse_connection, mount_point, require_mount, umount_when_idle, wait_mounted,
    RealMount,
};

/// Held by each test that sets this process's SIGUSR1 handler: one restoring the default while
/// another signals would end the process.
pub fn hold_signals() -> std::sync::MutexGuard<'static, ()> {
    static SIGNALS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SIGNALS.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
