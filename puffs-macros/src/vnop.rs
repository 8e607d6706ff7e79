//! The one table of operations: method of `FileSystem`, mask flag, request variant and its
//! arguments. Everything else that lists operations is generated from it.

/// The mask an operation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// A vnode operation, `node_*`, in `VnopMask`.
    Vnop,
    /// A file-system operation, `fs_*`, in `VfsopMask`.
    Vfsop,
}

impl Kind {
    /// Both kinds, in the order the masks are emitted.
    pub(crate) const ALL: [Kind; 2] = [Kind::Vnop, Kind::Vfsop];

    /// What the methods of this kind are named with: `node_`, `fs_`.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Kind::Vnop => "node_",
            Kind::Vfsop => "fs_",
        }
    }

    /// The word for one operation in messages: `vnop`, `vfsop`.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Kind::Vnop => "vnop",
            Kind::Vfsop => "vfsop",
        }
    }

    /// The attribute's list of this kind, which is also the plural noun: `vnops`, `vfsops`.
    pub(crate) fn list(self) -> &'static str {
        match self {
            Kind::Vnop => "vnops",
            Kind::Vfsop => "vfsops",
        }
    }

    /// The mask type in `puffs::__private`.
    pub(crate) fn mask_type(self) -> &'static str {
        match self {
            Kind::Vnop => "VnopMask",
            Kind::Vfsop => "VfsopMask",
        }
    }

    /// The mask constant of `Dispatch`.
    pub(crate) fn mask_const(self) -> &'static str {
        match self {
            Kind::Vnop => "VNOPS",
            Kind::Vfsop => "VFSOPS",
        }
    }

    /// The operations of this kind.
    pub(crate) fn ops(self) -> impl Iterator<Item = &'static Op> {
        OPS.iter().filter(move |op| op.kind == self)
    }
}

/// One operation: a method of `FileSystem`, the flag it sets, and the request it answers.
///
/// This table is the one list of operations. `#[puffs_fs]` derives a file system's masks and
/// dispatch from it; inside `puffs`, hidden macros expand it into the `VnopMask` and
/// `VfsopMask` flags, the typed request enum `Op` the dispatch matches on, and `Op::absent`,
/// the answer to an operation a file system does not implement. Adding an operation is adding
/// a row here and its method to `FileSystem`; a check generated with `Op::absent` holds the
/// method's signature to the row's arguments and answer, so the two cannot drift apart.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Op {
    pub(crate) kind: Kind,
    /// The method of `FileSystem`: `node_lookup`.
    pub(crate) method: &'static str,
    /// The flag of the kind's mask: `LOOKUP`.
    pub(crate) flag: &'static str,
    /// The variant of the request enum `Op`: `Lookup`.
    pub(crate) variant: &'static str,
    /// The method's arguments after `&self` and before the request's context, as the
    /// variant's fields: name and type, with `'a` the request's lifetime.
    pub(crate) args: &'static [(&'static str, &'static str)],
    /// Whether the method takes the request's context (`ctx: &Context`, the caller's
    /// credentials and interruption) last.
    pub(crate) cred: bool,
    /// What the method answers.
    pub(crate) returns: Returns,
    /// The framework's answer when the file system does not implement the operation.
    pub(crate) absent: Absent,
    /// What the kernel asks with it: the FUSE opcodes, or how it comes about.
    pub(crate) fuse: &'static str,
}

/// What an operation's method answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Returns {
    /// Nothing: the kernel tells, and there is nothing to answer.
    Nothing,
    /// `Result<T>`, with the type `T`.
    Result(&'static str),
}

/// The framework's answer to an operation the file system does not implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Absent {
    /// `ENOSYS`: the kernel stops asking where the protocol allows.
    Enosys,
    /// The answer type's `Default` (nothing, `Ok(())`, an empty `StatVfs` …): the operation
    /// succeeds without the file system.
    Default,
}

impl Op {
    /// `op` answering `Result<ty>`.
    const fn answers(self, ty: &'static str) -> Op {
        Op { returns: Returns::Result(ty), ..self }
    }

    /// `op` answering nothing, and so nothing to do when absent.
    const fn answers_nothing(self) -> Op {
        Op { returns: Returns::Nothing, absent: Absent::Default, ..self }
    }

    /// `op` succeeding with its answer's default when the file system does not implement it.
    const fn default_when_absent(self) -> Op {
        Op { absent: Absent::Default, ..self }
    }

    /// The name in the attribute's lists: the method without its prefix, `lookup`.
    pub(crate) fn name(&self) -> &'static str {
        &self.method[self.kind.prefix().len()..]
    }

    /// The operation implemented by the method `method`, if it is one.
    pub(crate) fn by_method(method: &str) -> Option<&'static Op> {
        OPS.iter().find(|op| op.method == method)
    }

    /// The operation of kind `kind` named `name` in the attribute's lists.
    pub(crate) fn by_name(kind: Kind, name: &str) -> Option<&'static Op> {
        kind.ops().find(|op| op.name() == name)
    }

    /// Every operation, in the order of the flags' bits.
    pub(crate) fn all() -> &'static [Op] {
        OPS
    }

    /// The bit of the flag in its mask: the row's place among the operations of its kind.
    pub(crate) fn bit(&self) -> u32 {
        self.kind.ops().position(|op| op == self).expect("in the table") as u32
    }
}

type Args = &'static [(&'static str, &'static str)];

/// A vnode operation answering `Result<()>`, `ENOSYS` when absent, until said otherwise.
const fn vnop(method: &'static str, flag: &'static str, variant: &'static str, args: Args, fuse: &'static str) -> Op {
    Op { kind: Kind::Vnop, method, flag, variant, args, cred: true, returns: UNIT, absent: Absent::Enosys, fuse }
}

/// A file-system operation answering `Result<()>`, `ENOSYS` when absent, until said otherwise.
const fn vfsop(method: &'static str, flag: &'static str, variant: &'static str, args: Args, fuse: &'static str) -> Op {
    Op { kind: Kind::Vfsop, method, flag, variant, args, cred: true, returns: UNIT, absent: Absent::Enosys, fuse }
}

const UNIT: Returns = Returns::Result("()");

/// `op` without a request context: the kernel tells, nobody asks.
const fn told(op: Op) -> Op {
    Op { cred: false, ..op }
}

const NODE: (&str, &str) = ("node", "crate::Cookie");
const DIR: (&str, &str) = ("dir", "crate::Cookie");
const NAME: (&str, &str) = ("name", "&'a ::std::ffi::OsStr");
const HANDLE: (&str, &str) = ("handle", "crate::FileHandle");
const OFFSET: (&str, &str) = ("offset", "u64");
const MODE: (&str, &str) = ("mode", "u32");
const LEN: (&str, &str) = ("len", "u64");
const NEW_NODE: &str = "crate::NewNode";
const VATTR: &str = "crate::Vattr";
const SIZE: &str = "usize";
const OS_STRING: &str = "::std::ffi::OsString";

/// Every operation, in the order of the flags' bits.
const OPS: &[Op] = &[
    vnop("node_lookup", "LOOKUP", "Lookup", &[DIR, NAME], "`LOOKUP`; each entry of `READDIRPLUS`").answers(NEW_NODE),
    vnop("node_getattr", "GETATTR", "Getattr", &[NODE], "`GETATTR`, `STATX`").answers(VATTR),
    vnop("node_setattr", "SETATTR", "Setattr", &[NODE, ("changes", "&'a crate::SetVattr")], "`SETATTR`").answers(VATTR),
    vnop("node_create", "CREATE", "Create", &[DIR, NAME, MODE], "`CREATE`, and `MKNOD` of a regular file")
        .answers(NEW_NODE),
    vnop("node_tmpfile", "TMPFILE", "Tmpfile", &[DIR, MODE], "`TMPFILE` (`open(2)` with `O_TMPFILE`)")
        .answers(NEW_NODE),
    vnop("node_mknod", "MKNOD", "Mknod", &[DIR, NAME, ("vtype", "crate::Vtype"), MODE, ("rdev", "u64")], "`MKNOD`")
        .answers(NEW_NODE),
    vnop("node_open", "OPEN", "Open", &[NODE, ("flags", "crate::OFlag")], "`OPEN`, `OPENDIR`")
        .answers("crate::Opened")
        .default_when_absent(),
    told(vnop("node_close", "CLOSE", "Close", &[NODE, HANDLE, ("flags", "crate::OFlag")], "`RELEASE`, `RELEASEDIR`"))
        .default_when_absent(),
    vnop("node_access", "ACCESS", "Access", &[NODE, ("mode", "crate::AccessFlags")], "`ACCESS`"),
    vnop("node_read", "READ", "Read", &[NODE, HANDLE, OFFSET, ("out", "crate::ReadOut<'a>")], "`READ`")
        .answers("crate::Answered"),
    vnop("node_write", "WRITE", "Write", &[NODE, HANDLE, OFFSET, ("data", "&'a [u8]")], "`WRITE`").answers(SIZE),
    vnop(
        "node_readdir",
        "READDIR",
        "Readdir",
        &[DIR, HANDLE, OFFSET, ("buf", "&'a mut crate::DirBuf<'a>")],
        "`READDIR`; `READDIRPLUS` with `node_lookup`",
    ),
    vnop("node_readlink", "READLINK", "Readlink", &[NODE], "`READLINK`").answers(OS_STRING),
    vnop("node_symlink", "SYMLINK", "Symlink", &[DIR, NAME, ("target", "&'a ::std::ffi::OsStr")], "`SYMLINK`")
        .answers(NEW_NODE),
    vnop("node_mkdir", "MKDIR", "Mkdir", &[DIR, NAME, MODE], "`MKDIR`").answers(NEW_NODE),
    vnop("node_rmdir", "RMDIR", "Rmdir", &[DIR, NAME], "`RMDIR`"),
    vnop("node_remove", "REMOVE", "Remove", &[DIR, NAME], "`UNLINK`"),
    vnop("node_link", "LINK", "Link", &[DIR, NODE, NAME], "`LINK`").answers(VATTR),
    vnop(
        "node_rename",
        "RENAME",
        "Rename",
        &[
            DIR,
            NAME,
            ("new_dir", "crate::Cookie"),
            ("new_name", "&'a ::std::ffi::OsStr"),
            ("flags", "crate::RenameFlags"),
        ],
        "`RENAME`, `RENAME2`",
    ),
    vnop("node_fsync", "FSYNC", "Fsync", &[NODE, HANDLE, ("datasync", "bool")], "`FSYNC`, `FSYNCDIR`"),
    told(vnop("node_inactive", "INACTIVE", "Inactive", &[NODE], "the last `RELEASE` of a node")).answers_nothing(),
    told(vnop("node_reclaim", "RECLAIM", "Reclaim", &[NODE], "`FORGET`, `BATCH_FORGET` to a lookup count of 0"))
        .answers_nothing(),
    vnop("node_getextattr", "GETEXTATTR", "Getextattr", &[NODE, NAME], "`GETXATTR`").answers("::std::vec::Vec<u8>"),
    vnop(
        "node_setextattr",
        "SETEXTATTR",
        "Setextattr",
        &[NODE, NAME, ("value", "&'a [u8]"), ("flags", "crate::XattrFlags")],
        "`SETXATTR`",
    ),
    vnop("node_listextattr", "LISTEXTATTR", "Listextattr", &[NODE], "`LISTXATTR`")
        .answers("::std::vec::Vec<::std::ffi::OsString>"),
    vnop("node_deleteextattr", "DELETEEXTATTR", "Deleteextattr", &[NODE, NAME], "`REMOVEXATTR`"),
    vnop(
        "node_advlock",
        "ADVLOCK",
        "Advlock",
        &[
            NODE,
            HANDLE,
            ("owner", "crate::LockOwner"),
            ("op", "crate::LockOp"),
            ("lock", "crate::FileLock"),
            ("flags", "crate::LockFlags"),
        ],
        "`GETLK`, `SETLK`, `SETLKW`, and the release of an owner's locks at `FLUSH` and `RELEASE`",
    )
    .answers("::std::option::Option<crate::FileLock>"),
    vnop("node_flush", "FLUSH", "Flush", &[NODE, HANDLE, ("owner", "crate::LockOwner")], "`FLUSH`"),
    vnop(
        "node_fallocate",
        "FALLOCATE",
        "Fallocate",
        &[NODE, HANDLE, OFFSET, LEN, ("mode", "crate::FallocateFlags")],
        "`FALLOCATE`; punch hole only without `node_fdiscard`",
    ),
    vnop("node_fdiscard", "FDISCARD", "Fdiscard", &[NODE, HANDLE, OFFSET, LEN], "`FALLOCATE` with `PUNCH_HOLE`"),
    vnop(
        "node_seek",
        "SEEK",
        "Seek",
        &[NODE, HANDLE, OFFSET, ("whence", "crate::SeekWhence")],
        "`LSEEK` with `SEEK_DATA` or `SEEK_HOLE`",
    )
    .answers("u64"),
    vnop(
        "node_copy_file_range",
        "COPY_FILE_RANGE",
        "CopyFileRange",
        &[NODE, HANDLE, OFFSET, ("to", "crate::Cookie"), ("to_handle", "crate::FileHandle"), ("to_offset", "u64"), LEN],
        "`COPY_FILE_RANGE`, `COPY_FILE_RANGE_64`",
    )
    .answers("u64"),
    vnop(
        "node_poll",
        "POLL",
        "Poll",
        &[NODE, HANDLE, ("events", "crate::PollEvents"), ("waker", "::std::option::Option<crate::PollWaker>")],
        "`POLL`",
    )
    .answers("crate::PollEvents"),
    vnop("node_ioctl", "IOCTL", "Ioctl", &[NODE, HANDLE, ("ioctl", "crate::Ioctl<'a>")], "`IOCTL`, restricted")
        .answers("crate::IoctlAnswer"),
    told(vfsop("fs_mounted", "MOUNTED", "Mounted", &[("info", "&'a crate::MountInfo")], "the reply to `INIT`"))
        .answers_nothing(),
    vfsop("fs_statvfs", "STATVFS", "Statvfs", &[], "`STATFS`").answers("crate::StatVfs").default_when_absent(),
    vfsop("fs_sync", "SYNC", "Sync", &[("waitfor", "crate::WaitFor")], "`SYNCFS`"),
    told(vfsop(
        "fs_unmount",
        "UNMOUNT",
        "Unmount",
        &[("flags", "crate::UnmountFlags")],
        "`DESTROY`, or the loopback kernel's unmount request",
    ))
    .default_when_absent(),
    told(vfsop("fs_suspend", "SUSPEND", "Suspend", &[("phase", "crate::SuspendPhase")], "the loopback kernel only"))
        .answers_nothing(),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{Op, OPS};

    #[test]
    fn every_op_is_named_after_its_kind_once() {
        let mut methods = BTreeSet::new();
        for op in OPS {
            assert!(op.method.starts_with(op.kind.prefix()), "{op:?}");
            assert!(methods.insert(op.method), "{op:?} twice");
            assert_eq!(Op::by_method(op.method), Some(op));
            assert_eq!(Op::by_name(op.kind, op.name()), Some(op));
        }
    }
}
