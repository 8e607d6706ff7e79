//! Write userspace file systems in Rust, the puffs way, and mount them through FUSE.
//!
//! # Example
//!
//! A complete read-only file system with one file, mounted with the typestate
//! [`Usermount`]: `init`, set options, `mount`, `mainloop`.
//!
//! ```no_run
//! use std::ffi::OsStr;
//! use puffs::{puffs_fs, Answered, ReadOut, Cookie, Context, DirBuf, Errno, FileHandle, FileSystem, NewNode, Result,
//!             Usermount, Vattr, Vtype};
//!
//! struct Hello;
//!
//! const ROOT: Cookie = Cookie(1);
//! const FILE: Cookie = Cookie(2);
//! const TEXT: &[u8] = b"Hello, world!\n";
//!
//! #[puffs_fs]
//! impl FileSystem for Hello {
//!     fn node_lookup(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
//!         if dir != ROOT || name != "hello" {
//!             return Err(Errno::ENOENT);
//!         }
//!         Ok(NewNode::new(FILE, self.node_getattr(FILE, ctx)?))
//!     }
//!
//!     fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
//!         match node {
//!             ROOT => Ok(Vattr { nlink: 2, ..Vattr::new(Vtype::Dir, 0o555, 1) }),
//!             FILE => Ok(Vattr { size: TEXT.len() as u64, ..Vattr::new(Vtype::Reg, 0o444, 2) }),
//!             _ => Err(Errno::ENOENT),
//!         }
//!     }
//!
//!     fn node_read(&self, node: Cookie, _fh: FileHandle, offset: u64, out: ReadOut<'_>,
//!                  _ctx: &Context<'_>) -> Result<Answered> {
//!         if node != FILE {
//!             return Err(Errno::EISDIR);
//!         }
//!         Ok(out.reply_at(TEXT, offset))
//!     }
//!
//!     fn node_readdir(&self, dir: Cookie, _fh: FileHandle, offset: u64, buf: &mut DirBuf<'_>,
//!                     _ctx: &Context<'_>) -> Result<()> {
//!         let entries = [(1, Vtype::Dir, "."), (1, Vtype::Dir, ".."), (2, Vtype::Reg, "hello")];
//!         for (i, (fileid, vtype, name)) in entries.iter().enumerate().skip(offset as usize) {
//!             if !buf.push(*fileid, i as u64 + 1, *vtype, OsStr::new(name)) {
//!                 break;
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//!
//! fn main() -> std::result::Result<(), puffs::Error> {
//!     let mounted = Usermount::init(Hello, "hello")
//!         .mount("/mnt/hello", puffs::MountFlags::RDONLY, ROOT)?;
//!     mounted.mainloop()?;
//!     Ok(())
//! }
//! ```
//!
//! # Concepts
//!
//! - A file system is a type implementing [`FileSystem`], whose `impl` block carries
//!   [`#[puffs_fs]`](puffs_fs). The attribute derives the [`VnopMask`] and [`VfsopMask`] from the
//!   methods present; the framework dispatches only those and answers the rest itself.
//! - Nodes are named by [`Cookie`]s the file system chooses; attributes are [`Vattr`]s; errors
//!   are [`Errno`] values. Each request comes with its [`Context`]: the caller's [`Cred`], and
//!   whether the caller was interrupted.
//! - [`Usermount`] is the mount in one of three states, [`Unmounted`] → [`Mounted`] → [`Running`];
//!   a call that makes no sense in a state does not exist there, so misuse is a compile error.
//! - The kernel is either Linux through `/dev/fuse` or the in-process [`loopback`] kernel, which
//!   speaks the same protocol over a socket so file systems can be tested without mounting.
//! - [`null`] is a ready file system: a pass-through of a host directory (libpuffs
//!   `puffs_null`), and the lower layer of overlays that change one or two operations
//!   (`#[puffs_fs(lower = field)]`). With the `passthrough` mount option, an open can hand
//!   the kernel a host file ([`Opened::with_backing`]) so that its reads and writes never
//!   reach the server.
//! - [`Errno`], [`OFlag`] and [`AccessFlags`] are `nix`'s own types, re-exported: a file
//!   system answers errnos and reads flags in the vocabulary of the system-call crate it most
//!   likely uses already, with no conversion. The price is that a major version of `nix`
//!   changes these signatures; puffs re-exports the types so that users need not name `nix`.

#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

pub mod access;
pub mod acl;
mod cred;
mod dirent;
mod error;
mod fs;
#[doc(hidden)]
pub mod fuse;
pub mod locks;
pub mod loopback;
pub mod null;
mod os;
mod server;
mod session;
mod settings;
mod usermount;
mod vattr;

pub use cred::Cred;
pub use dirent::{DirBuf, Dirent};
pub use error::{io_errno, Error};
pub use fs::answer::{BackingFile, NewNode, Opened, StatVfs};
pub use fs::context::Context;
pub use fs::cookie::{Cookie, FileHandle};
pub use fs::flags::{
    FallocateFlags, OpenedFlags, RenameFlags, SeekWhence, SuspendPhase, UnmountFlags, WaitFor, XattrFlags,
};
pub use fs::ioctl::{Ioctl, IoctlAnswer, IoctlFlags};
pub use fs::lock::{FileLock, LockFlags, LockKind, LockOp, LockOwner};
pub use fs::mask::{vfsop_mask, vnop_mask, VfsopMask, VnopMask};
pub use fs::poll::{PollEvents, PollWaker};
pub use fs::read::{Answered, ReadOut};
pub use fs::{FileSystem, Result};
pub use nix::errno::Errno;
pub use nix::fcntl::OFlag;
pub use nix::unistd::AccessFlags;
/// The mount table as `/proc/self/mountinfo` tells it, for the project's own tests. Not public
/// API: no stability promise.
#[doc(hidden)]
pub use os::mount_table;
pub use puffs_macros::puffs_fs;
pub use settings::{
    DataCache, MountFlags, MountInfo, MountOptions, ReaddirPlus, Transport, REQUEST_LEN_MAX, REQUEST_LEN_MIN,
};
pub use usermount::{
    BeforeMount, BlockingMode, MountError, Mounted, MountedState, Notifier, Progress, Retrieval, Running, RunningState,
    Unmounted, Usermount, UsermountState,
};
pub use vattr::{SetVattr, TimeSet, Vattr, Vtype, MODE_PERMISSION_BITS};

/// Items the code generated by `#[puffs_fs]` names. Not public API: no stability promise.
#[doc(hidden)]
pub mod __private {
    pub use crate::fs::dispatch::{lower_dispatch, lower_masks, Dispatch, LowerLayer, Op, Outcome};
    pub use crate::fs::mask::{VfsopMask, VnopMask};
}

/// The README's code, compiled and run as a doctest so that it cannot fall behind the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

// The code `#[puffs_fs]` generates names `::puffs`, also in this crate's own file system
// (`null`) and unit tests.
extern crate self as puffs;
