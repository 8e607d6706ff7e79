//! What the framework asks of the operating system: mounting and unmounting (directly or through
//! the setuid helper), the auto-unmount watchdog, the mount table, daemonizing and signals.

pub(crate) mod auto_unmount;
pub(crate) mod daemon;
pub(crate) mod fusermount;
pub(crate) mod mount;
#[doc(hidden)]
pub mod mount_table;
pub(crate) mod signal;
