//! The ids a file system chooses: node cookies and open-file handles.

/// The identity of a node, chosen by the file system (puffs `puffs_cookie_t`).
///
/// The framework never interprets a cookie; it hands it back in every operation on that node.
/// Towards FUSE, the root cookie given at mount becomes `FUSE_ROOT_ID` and every other cookie is
/// used as the node id itself, so the value `0` is reserved: a file system must not return it for
/// a node other than the root (the caller then gets `EIO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cookie(pub u64);

/// An open-file handle chosen by the file system in [`FileSystem::node_open`](crate::FileSystem::node_open) (FUSE `fh`).
///
/// File systems that keep no per-open state can ignore it; it is [`FileHandle::NONE`] then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileHandle(pub u64);

impl FileHandle {
    /// The handle of a file system that does not implement `node_open`.
    pub const NONE: FileHandle = FileHandle(0);
}
