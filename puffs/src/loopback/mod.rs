//! The loopback kernel: run any [`#[puffs_fs]`](crate::puffs_fs) file system in-process, without
//! root and without `/dev/fuse`, over the same wire path as a real mount.
//!
//! puffs has a hidden mode, `PUFFS_COMFD`, in which the file system talks to a descriptor instead
//! of the kernel device so that a userspace peer can play the kernel. This module is that peer,
//! made first-class: [`mount`](mount()) opens a `SOCK_SEQPACKET` socket pair, mounts the usermount on one
//! end with [`Usermount::mount_on_channel`](crate::Usermount::mount_on_channel), runs its main loop ([`Usermount::run`](crate::Usermount::run), with its
//! [`threads`](crate::Usermount::threads)) on a thread the [`Loopback`] owns, and plays the kernel on
//! the other end. Every request is a FUSE frame built by the encoder in
//! [`fuse::request`](crate::fuse::request), decoded by the same decoder a real mount uses,
//! dispatched by the same session, and its reply is read back by the decoder in
//! [`fuse::reply`](crate::fuse::reply).
//!
//! ```
//! use std::ffi::OsStr;
//! use puffs::{puffs_fs, Cookie, Context, Errno, FileSystem, NewNode, Result, Usermount, Vattr, Vtype};
//! use puffs::loopback::{self, MountArgs};
//!
//! struct One;
//!
//! #[puffs_fs]
//! impl FileSystem for One {
//!     fn node_lookup(&self, _dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
//!         if name != "one" {
//!             return Err(Errno::ENOENT);
//!         }
//!         Ok(NewNode::new(Cookie(2), Vattr { size: 1, ..Vattr::new(Vtype::Reg, 0o444, 2) }))
//!     }
//! }
//!
//! let usermount = Usermount::init(One, "one");
//! let args = MountArgs::of(&usermount, Cookie(1));
//! let mounted = loopback::mount(usermount, args).unwrap();
//! assert_eq!(mounted.client().stat("one").unwrap().size, 1);
//! assert_eq!(mounted.client().stat("two").unwrap_err(), Errno::ENOENT);
//! let _fs: One = mounted.unmount(puffs::UnmountFlags::empty()).map_err(|e| e.errno()).unwrap();
//! ```
//!
//! # Kernel semantics
//!
//! The loopback reproduces what NetBSD's `puffs_vfsops.c` does on the kernel side, and says what
//! the same thing is in FUSE terms:
//!
//! | `puffs_vfsops.c` | loopback kernel | FUSE |
//! |---|---|---|
//! | `puffs_mount`: `pa_vers` mismatch → `EINVAL` | [`mount`](mount()) checks [`MountArgs::version`] against [`PUFFS_VERSION`]: `EINVAL`, the usermount handed back | `INIT` major/minor negotiation (the session refuses kernels older than 7.31) |
//! | `MNT_UPDATE` → `EOPNOTSUPP` | [`MountArgs::update`] → `EOPNOTSUPP` | `mount -o remount` is not passed to the server |
//! | `pa_flags &= PUFFS_KFLAG_MASK` ("nuke spy bits") | unknown [`KernelFlags`] bits are stripped; the result is [`Client::args`] | `INIT` flags: only bits both sides know are granted |
//! | name built as `PUFFS_NAMEPREFIX` + `pa_name` | [`MountArgs::fs_name`] becomes `puffs|NAME` (at most [`FS_NAME_MAX`] bytes), told to the file system in [`MountInfo::fs_name`](crate::MountInfo) | the `fuse.NAME` type of the mount table |
//! | `pa_maxreqlen` 0 or too large → maximum, too small → minimum, copied back to the server | [`MountArgs::max_request_len`] clamped into [`REQUEST_LEN_MIN`](crate::REQUEST_LEN_MIN)`..=`[`REQUEST_LEN_MAX`](crate::REQUEST_LEN_MAX); where the socket pair cannot carry a message that long (an unprivileged caller's `net.core.wmem_max`), clamped further to what it carries; the usermount mounts with the granted value and [`FileSystem::fs_mounted`](crate::FileSystem::fs_mounted) is told it | `max_write` in the `INIT` reply |
//! | `pmp_npnodehash` clamped into `1..=PUFFS_MAXPNODEBUCKETS`, default 256 | [`MountArgs::cookie_hash_buckets`] clamped into `1..=65536`, 0 meaning 256; the session's cookie table gets that many buckets | — (a server-side table) |
//! | `pmp_status = PUFFSTAT_MOUNTING` until `puffs_start2` | [`Status::Mounting`] from [`mount_nowait`] until the started main loop answers the root `GETATTR`; [`mount`](mount()) waits for it | the `INIT` handshake |
//! | `puffs_statvfs` while `MOUNTING` → `EINPROGRESS` (no deadlock) | [`Client::statvfs`] answers `EINPROGRESS` without asking the file system while [`Status::Mounting`]; afterwards the file system's [`fs_statvfs`](crate::FileSystem::fs_statvfs) | `STATFS` |
//! | `puffs_root`: the root vnode is cached with `pmp_rootcookie` | the root node (node id `FUSE_ROOT_ID` = [`MountArgs::root_cookie`] on the file-system side) is held for the life of the mount, never looked up nor forgotten, its attributes from a `GETATTR` at mount ([`Client::root_vattr`]) | `FUSE_ROOT_ID` |
//! | `puffs_unmount`: ask the server unless `PUFFSTAT_DYING`; an error refuses unless `MNT_FORCE` | [`Loopback::unmount`] sends the puffs-specific [`PUFFS_UNMOUNT`](crate::fuse::abi::opcode::PUFFS_UNMOUNT) (→ [`fs_unmount`](crate::FileSystem::fs_unmount)) unless [`Status::Dying`]; a refusal hands the mount back usable ([`UnmountError::Refused`]) unless [`UnmountFlags::FORCE`](crate::UnmountFlags::FORCE) | `DESTROY` (FUSE never asks: an unmount always happens) |
//! | `puffs_userdead`: waiters are woken with `ENXIO` | once the unmount is decided, every waiting and later call fails with `ENXIO`; then `DESTROY` is sent and the file system handed back | `ENOTCONN` after a connection abort |
//! | `puffs_sync` asks the server (`PUFFS_VFS_SYNC`) | [`Client::sync`] sends `SYNCFS` (→ [`fs_sync`](crate::FileSystem::fs_sync)) | `SYNCFS` (`ENOSYS` means nothing to do) |
//! | `puffs_suspendctl`: `START`, flush, then `SUSPENDED` or `ERROR`; `RESUME` | [`Client::suspend`] stops new operations, tells `Start`, drains the operations in flight, then tells `Suspended` (or `Error` and resumes normal operation if they do not drain within the timeout); [`Client::resume`] tells `Resume`. Each phase travels as the puffs-specific [`PUFFS_SUSPEND`](crate::fuse::abi::opcode::PUFFS_SUSPEND) (→ [`fs_suspend`](crate::FileSystem::fs_suspend)) | — (FUSE has no suspension) |
//! | the kernel's vnode cache and `VOP_RECLAIM` | the loopback caches no vnode but the root: every node a path walk looks up is forgotten when the call ends (`FORGET`, or `BATCH_FORGET` for several), an open file holds its node until [`Client::close`], so [`node_reclaim`](crate::FileSystem::node_reclaim) runs | `FORGET`, `BATCH_FORGET` |
//!
//! And what the loopback does as the Linux kernel would: a file system without `node_open`
//! answers `OPEN` with `ENOSYS`, which the loopback takes as "opens always succeed, with handle
//! 0" and stops sending `OPEN` and `RELEASE` (FUSE `NO_OPEN_SUPPORT`); writes and reads are cut
//! into pieces of the negotiated `max_write`; intermediate symbolic links of a path are followed
//! (at most 40, then `ELOOP`); bad names are refused before anything is sent (`EINVAL` for a NUL,
//! `ENAMETOOLONG` for a component over 255 bytes or a path over 4096).
//!
//! # Errors and bounds
//!
//! Calls answer [`Errno`](crate::Errno) values: the file system's own, or `ENXIO` once the mount is dying or
//! gone (the file system's side closed, the mount was unmounted or [aborted](Client::abort)),
//! `EIO` for a reply the decoder cannot read (wrong length, a body that does not fit the
//! request, a positive error), `ETIMEDOUT` when no reply came within [`MountArgs::timeout`], and
//! `EINPROGRESS` for `statvfs` while mounting. Nothing waits without a bound, and nothing the
//! file system's side sends can make the kernel side panic.

mod args;
mod client;
mod control;
mod file;
mod kernel;
mod lock;
mod mount;
mod namei;
mod range;
mod request;
mod suspend;
#[cfg(test)]
mod tests;
mod xattr;

pub use args::{KernelFlags, MountArgs, DEFAULT_TIMEOUT, FS_NAME_MAX, NAME_PREFIX, PATH_MAX, PUFFS_VERSION};
pub use client::Client;
pub use file::OpenFile;
pub use kernel::Status;
pub use mount::{mount, mount_nowait, Loopback, UnmountError};
pub use request::{Notification, Request};
