//! Example file systems for puffs-rs, each a library module with a command-line program.
//!
//! - [`hello`]: read-only, one file. The smallest useful `#[puffs_fs]` file system.
//! - [`dtfs`]: an in-memory, read-write file system with the POSIX semantics of a real one:
//!   files (sparse), directories, symbolic and hard links, devices, FIFOs and sockets, rename in all
//!   its forms, ownership, modes and times, truncation, extended attributes and `statvfs`.
//!
//! - `nullfs` (a program only): a pass-through of a host directory, the library's own
//!   [`puffs::null::Null`].
//!
//! The programs share one command line ([`cli`]):
//!
//! ```text
//! cargo run --release -p puffs-examples --bin dtfs -- -f --mkdir /tmp/dtfs
//! ```

#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

pub mod cli;
pub mod dtfs;
pub mod hello;
