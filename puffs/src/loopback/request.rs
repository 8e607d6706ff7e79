//! What a test of a file system counts: the kinds of request the loopback kernel sends, by the
//! operation each asks for (see [`Client::requests_sent`](super::Client::requests_sent)), and
//! the notifications it receives (see
//! [`Client::notifications_received`](super::Client::notifications_received)).

use crate::fuse::abi::{notify, opcode};

macro_rules! requests {
    ($($(#[doc = $doc:literal])* $name:ident = $opcode:ident,)*) => {
        /// A kind of request the loopback kernel sends, named after what it asks of the file
        /// system: the key of [`Client::requests_sent`](super::Client::requests_sent), for
        /// tests that check how often a file system was asked ("was `OPEN` asked again after
        /// `ENOSYS`?").
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Request {
            $($(#[doc = $doc])* $name,)*
        }

        impl Request {
            /// The FUSE opcode it travels under.
            pub(super) fn opcode(self) -> u32 {
                match self {
                    $(Request::$name => opcode::$opcode,)*
                }
            }
        }
    };
}

requests! {
    /// The handshake (`INIT`).
    Init = INIT,
    /// The last request of a mount (`DESTROY`; the file system's `fs_unmount`, forced).
    Destroy = DESTROY,
    /// An interrupted call (`INTERRUPT`; the operation's [`Context`](crate::Context) sees it).
    Interrupt = INTERRUPT,
    /// `node_lookup` (`LOOKUP`).
    Lookup = LOOKUP,
    /// One node's lookups forgotten (`FORGET`; `node_reclaim` at zero).
    Forget = FORGET,
    /// Several nodes' lookups forgotten (`BATCH_FORGET`).
    BatchForget = BATCH_FORGET,
    /// `node_getattr` (`GETATTR`).
    Getattr = GETATTR,
    /// `node_getattr` for `statx(2)` with the birth time (`STATX`).
    Statx = STATX,
    /// `node_setattr` (`SETATTR`).
    Setattr = SETATTR,
    /// `node_readlink` (`READLINK`).
    Readlink = READLINK,
    /// `node_symlink` (`SYMLINK`).
    Symlink = SYMLINK,
    /// `node_mknod` (`MKNOD`).
    Mknod = MKNOD,
    /// `node_mkdir` (`MKDIR`).
    Mkdir = MKDIR,
    /// `node_remove` (`UNLINK`).
    Remove = UNLINK,
    /// `node_rmdir` (`RMDIR`).
    Rmdir = RMDIR,
    /// `node_rename` without flags (`RENAME`).
    Rename = RENAME,
    /// `node_rename` with `renameat2(2)` flags (`RENAME2`).
    Rename2 = RENAME2,
    /// `node_link` (`LINK`).
    Link = LINK,
    /// `node_open` of a file (`OPEN`).
    Open = OPEN,
    /// `node_open` of a directory (`OPENDIR`).
    OpenDir = OPENDIR,
    /// `node_read` (`READ`).
    Read = READ,
    /// `node_write` (`WRITE`).
    Write = WRITE,
    /// `node_readdir` (`READDIR`).
    Readdir = READDIR,
    /// `node_readdir` and a `node_lookup` of each entry (`READDIRPLUS`).
    ReaddirPlus = READDIRPLUS,
    /// `node_close` of a file (`RELEASE`).
    Close = RELEASE,
    /// `node_close` of a directory (`RELEASEDIR`).
    CloseDir = RELEASEDIR,
    /// `node_fsync` of a file (`FSYNC`).
    Fsync = FSYNC,
    /// `node_fsync` of a directory (`FSYNCDIR`).
    FsyncDir = FSYNCDIR,
    /// `node_access` (`ACCESS`).
    Access = ACCESS,
    /// `node_create` (`CREATE`).
    Create = CREATE,
    /// `node_tmpfile` (`TMPFILE`).
    Tmpfile = TMPFILE,
    /// `node_getextattr` (`GETXATTR`).
    Getextattr = GETXATTR,
    /// `node_setextattr` (`SETXATTR`).
    Setextattr = SETXATTR,
    /// `node_listextattr` (`LISTXATTR`).
    Listextattr = LISTXATTR,
    /// `node_deleteextattr` (`REMOVEXATTR`).
    Deleteextattr = REMOVEXATTR,
    /// `node_flush` (`FLUSH`, at each close of a file).
    Flush = FLUSH,
    /// `node_advlock` testing a lock (`GETLK`).
    Getlk = GETLK,
    /// `node_advlock` setting a lock (`SETLK`).
    Setlk = SETLK,
    /// `node_advlock` setting a lock the caller waits for (`SETLKW`).
    Setlkw = SETLKW,
    /// `node_fallocate` or `node_fdiscard` (`FALLOCATE`).
    Fallocate = FALLOCATE,
    /// `node_seek` (`LSEEK`).
    Seek = LSEEK,
    /// `node_copy_file_range` (`COPY_FILE_RANGE_64`, the opcode of protocol 7.45).
    CopyFileRange = COPY_FILE_RANGE_64,
    /// `node_poll` (`POLL`).
    Poll = POLL,
    /// `node_ioctl` (`IOCTL`).
    Ioctl = IOCTL,
    /// `fs_statvfs` (`STATFS`).
    Statvfs = STATFS,
    /// `fs_sync` (`SYNCFS`).
    Sync = SYNCFS,
    /// `fs_unmount`, asked before an unmount (puffs-specific `PUFFS_UNMOUNT`).
    Unmount = PUFFS_UNMOUNT,
    /// `fs_suspend`, one phase (puffs-specific `PUFFS_SUSPEND`).
    Suspend = PUFFS_SUSPEND,
}

/// A kind of notification the file system's side sends the loopback kernel (through a
/// [`Notifier`](crate::Notifier)): the key of
/// [`Client::notifications_received`](super::Client::notifications_received). The loopback
/// kernel caches nothing, so it has nothing to drop; a retrieve is answered with no bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Notification {
    /// A poll wake-up (`NOTIFY_POLL`).
    PollWakeup,
    /// Cached attributes and data dropped (`NOTIFY_INVAL_INODE`).
    InvalidateNode,
    /// A cached name dropped or expired (`NOTIFY_INVAL_ENTRY`).
    InvalidateEntry,
    /// Data handed to the cache (`NOTIFY_STORE`).
    Store,
    /// Cached data asked for (`NOTIFY_RETRIEVE`).
    Retrieve,
    /// A name removed (`NOTIFY_DELETE`).
    Delete,
    /// Every cached name dropped (`NOTIFY_INC_EPOCH`).
    InvalidateAllNames,
    /// Unused nodes let go (`NOTIFY_PRUNE`).
    Prune,
}

impl Notification {
    /// The FUSE notification code it travels under.
    pub(super) fn code(self) -> i32 {
        match self {
            Notification::PollWakeup => notify::POLL,
            Notification::InvalidateNode => notify::INVAL_INODE,
            Notification::InvalidateEntry => notify::INVAL_ENTRY,
            Notification::Store => notify::STORE,
            Notification::Retrieve => notify::RETRIEVE,
            Notification::Delete => notify::DELETE,
            Notification::InvalidateAllNames => notify::INC_EPOCH,
            Notification::Prune => notify::PRUNE,
        }
    }
}
