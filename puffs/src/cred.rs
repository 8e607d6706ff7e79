//! The caller of an operation.

/// Who is asking: the credentials of the process behind a request (puffs `puffs_cred`; FUSE
/// `uid`, `gid` and `pid` of `struct fuse_in_header`).
///
/// FUSE does not carry supplementary groups: [`access::in_group`](crate::access::in_group) reads
/// them when a permission check needs them, and the checks of [`crate::access`] use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cred {
    /// Effective user id (file-system user id on Linux).
    pub uid: u32,
    /// Effective group id (file-system group id on Linux).
    pub gid: u32,
    /// Thread-group id of the caller; 0 when the kernel itself asks.
    pub pid: u32,
}

impl Cred {
    /// The superuser, as the kernel asks on its own behalf.
    pub const ROOT: Cred = Cred { uid: 0, gid: 0, pid: 0 };

    /// Whether the caller is the superuser.
    pub fn is_root(&self) -> bool {
        self.uid == 0
    }
}
