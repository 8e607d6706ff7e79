//! The masks of the operations a file system implements, generated from the table of
//! operations in `puffs-macros` (one flag per row).

use crate::fs::FileSystem;

puffs_macros::__operation_flags! {
    vnop =>
    /// The vnode operations a file system implements (puffs `pa_vnopmask`).
    ///
    /// Derived by [`#[puffs_fs]`](crate::puffs_fs) from the methods present in the
    /// `impl FileSystem` block: an operation outside the mask is never dispatched to the file
    /// system; the framework answers the kernel itself.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct VnopMask: u64;
}

puffs_macros::__operation_flags! {
    vfsop =>
    /// The file-system-wide operations a file system implements (puffs vfsops), derived by
    /// [`#[puffs_fs]`](crate::puffs_fs) like [`VnopMask`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct VfsopMask: u32;
}

impl VnopMask {
    /// The operations that change the file system: without any of them, a mount is read-only.
    pub const CHANGES: VnopMask = VnopMask::SETATTR
        .union(VnopMask::CREATE)
        .union(VnopMask::MKNOD)
        .union(VnopMask::WRITE)
        .union(VnopMask::SYMLINK)
        .union(VnopMask::MKDIR)
        .union(VnopMask::RMDIR)
        .union(VnopMask::REMOVE)
        .union(VnopMask::LINK)
        .union(VnopMask::RENAME)
        .union(VnopMask::SETEXTATTR)
        .union(VnopMask::DELETEEXTATTR)
        .union(VnopMask::FALLOCATE)
        .union(VnopMask::FDISCARD)
        .union(VnopMask::COPY_FILE_RANGE);
}

/// The vnop mask of file system `F`, as [`#[puffs_fs]`](crate::puffs_fs) derived it.
pub fn vnop_mask<F: FileSystem>() -> VnopMask {
    <F as crate::fs::dispatch::Dispatch>::VNOPS
}

/// The vfsop mask of file system `F`, as [`#[puffs_fs]`](crate::puffs_fs) derived it.
pub fn vfsop_mask<F: FileSystem>() -> VfsopMask {
    <F as crate::fs::dispatch::Dispatch>::VFSOPS
}
