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
    MountDir, RealMount,
};

/// Held by each test that sets this process's SIGUSR1 handler: one restoring the default while
/// another signals would end the process.
pub fn hold_signals() -> std::sync::MutexGuard<'static, ()> {
    static SIGNALS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SIGNALS.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs each body of a suite on every kernel a module names: `$real(options, body)` for each
/// real-mount module (ignored, with its reason, where its `cfg` says the machine lacks what
/// it needs), `$loopback(body)` for the loopback kernel. With `posix (args) => client`, the
/// bodies of [`posix`] join the suite's own, each given the client the expression reaches
/// from the suite's arguments.
///
/// ```ignore
/// common::suite!(on_a_real_mount, on_the_loopback_kernel, posix (c: &dyn Client) => c,
///     [my_own_body];
///     real(puffs_cannot_mount, "why") => "default_permissions";
/// );
/// ```
#[allow(unused_macros)] // each test binary uses its own part
macro_rules! suite {
    ($real:ident, $loopback:ident, posix $params:tt => $client:expr, $bodies:tt; $($rest:tt)*) => {
        $crate::common::suite!(@posix $real, $loopback, $params => $client, $bodies; [
            content_round_trips,
            directories_list_what_they_hold,
            rename_moves_and_replaces,
            rename_flags_refuse_or_exchange,
            special_nodes_keep_their_type,
            errors_are_the_right_errno,
            links_and_symlinks,
            attributes_change,
            extended_attributes,
            fallocate_punches_and_seeks,
            copy_file_range_copies_inside
        ]; $($rest)*);
    };
    (@posix $real:ident, $loopback:ident, $params:tt => $client:expr, [$($body:ident),* $(,)?]; [$($posix:ident),*]; $($rest:tt)*) => {
        $(
            fn $posix $params {
                $crate::common::posix::$posix($client);
            }
        )*
        $crate::common::suite!($real, $loopback, [$($body,)* $($posix),*]; $($rest)*);
    };
    (@real $module:ident, $cfg:ident, $why:literal, $real:ident, $options:literal, [$($body:ident),* $(,)?]) => {
        mod $module {
            $(
                #[test]
                #[cfg_attr($cfg, ignore = $why)]
                fn $body() {
                    super::$real($options, super::$body);
                }
            )*
        }
    };
    (@loopback $loopback:ident, [$($body:ident),* $(,)?]) => {
        mod loopback {
            $(
                #[test]
                fn $body() {
                    super::$loopback(super::$body);
                }
            )*
        }
    };
    ($real:ident, $loopback:ident, $bodies:tt; $($module:ident($cfg:ident, $why:literal) => $options:literal;)*) => {
        $(
            $crate::common::suite!(@real $module, $cfg, $why, $real, $options, $bodies);
        )*
        $crate::common::suite!(@loopback $loopback, $bodies);
    };
}
#[allow(unused_imports)]
pub(crate) use suite;
