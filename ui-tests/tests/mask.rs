//! The derived masks equal the implemented methods, checked at run time on file systems of every
//! shape: none, some, all operations.

use std::ffi::{OsStr, OsString};

use puffs::{
    puffs_fs, vfsop_mask, vnop_mask, AccessFlags, Answered, Context, Cookie, DirBuf, FileHandle, FileSystem, Ioctl,
    IoctlAnswer, MountInfo, NewNode, OFlag, Opened, PollEvents, PollWaker, ReadOut, RenameFlags, Result, SetVattr,
    StatVfs, SuspendPhase, UnmountFlags, Vattr, VfsopMask, VnopMask, Vtype, WaitFor, XattrFlags,
};

struct Nothing;

#[puffs_fs]
impl FileSystem for Nothing {}

#[test]
fn an_empty_impl_derives_empty_masks() {
    assert_eq!(vnop_mask::<Nothing>(), VnopMask::empty());
    assert_eq!(vfsop_mask::<Nothing>(), VfsopMask::empty());
}

struct Everything;

fn nope<T>() -> Result<T> {
    Err(puffs::Errno::ENOSYS)
}

#[puffs_fs]
impl FileSystem for Everything {
    fn fs_mounted(&self, _info: &MountInfo) {}
    fn fs_statvfs(&self, _ctx: &Context<'_>) -> Result<StatVfs> {
        nope()
    }
    fn fs_sync(&self, _waitfor: WaitFor, _ctx: &Context<'_>) -> Result<()> {
        nope()
    }
    fn fs_unmount(&self, _flags: UnmountFlags) -> Result<()> {
        nope()
    }
    fn fs_suspend(&self, _phase: SuspendPhase) {}
    fn node_lookup(&self, _dir: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        nope()
    }
    fn node_getattr(&self, _node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        nope()
    }
    fn node_setattr(&self, _node: Cookie, _changes: &SetVattr, _ctx: &Context<'_>) -> Result<Vattr> {
        nope()
    }
    fn node_create(&self, _dir: Cookie, _name: &OsStr, _mode: u32, _ctx: &Context<'_>) -> Result<NewNode> {
        nope()
    }
    fn node_tmpfile(&self, _dir: Cookie, _mode: u32, _ctx: &Context<'_>) -> Result<NewNode> {
        nope()
    }
    fn node_mknod(
        &self,
        _dir: Cookie,
        _name: &OsStr,
        _vtype: Vtype,
        _mode: u32,
        _rdev: u64,
        _ctx: &Context<'_>,
    ) -> Result<NewNode> {
        nope()
    }
    fn node_open(&self, _node: Cookie, _flags: OFlag, _ctx: &Context<'_>) -> Result<Opened> {
        nope()
    }
    fn node_close(&self, _node: Cookie, _handle: FileHandle, _flags: OFlag) -> Result<()> {
        nope()
    }
    fn node_access(&self, _node: Cookie, _mode: AccessFlags, _ctx: &Context<'_>) -> Result<()> {
        nope()
    }
    fn node_read(
        &self,
        _node: Cookie,
        _handle: FileHandle,
        _offset: u64,
        _out: ReadOut<'_>,
        _ctx: &Context<'_>,
    ) -> Result<Answered> {
        nope()
    }
    fn node_write(
        &self,
        _node: Cookie,
        _handle: FileHandle,
        _offset: u64,
        _data: &[u8],
        _ctx: &Context<'_>,
    ) -> Result<usize> {
        nope()
    }
    fn node_readdir(
        &self,
        _dir: Cookie,
        _handle: FileHandle,
        _offset: u64,
        _buf: &mut DirBuf<'_>,
        _ctx: &Context<'_>,
    ) -> Result<()> {
        nope()
    }
    fn node_readlink(&self, _node: Cookie, _ctx: &Context<'_>) -> Result<OsString> {
        nope()
    }
    fn node_symlink(&self, _dir: Cookie, _name: &OsStr, _target: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        nope()
    }
    fn node_mkdir(&self, _dir: Cookie, _name: &OsStr, _mode: u32, _ctx: &Context<'_>) -> Result<NewNode> {
        nope()
    }
    fn node_rmdir(&self, _dir: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<()> {
        nope()
    }
    fn node_remove(&self, _dir: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<()> {
        nope()
    }
    fn node_link(&self, _dir: Cookie, _node: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<Vattr> {
        nope()
    }
    fn node_rename(
        &self,
        _dir: Cookie,
        _name: &OsStr,
        _new_dir: Cookie,
        _new_name: &OsStr,
        _flags: RenameFlags,
        _ctx: &Context<'_>,
    ) -> Result<()> {
        nope()
    }
    fn node_fsync(&self, _node: Cookie, _handle: FileHandle, _datasync: bool, _ctx: &Context<'_>) -> Result<()> {
        nope()
    }
    fn node_inactive(&self, _node: Cookie) {}
    fn node_reclaim(&self, _node: Cookie) {}
    fn node_getextattr(&self, _node: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<Vec<u8>> {
        nope()
    }
    fn node_setextattr(
        &self,
        _node: Cookie,
        _name: &OsStr,
        _value: &[u8],
        _flags: XattrFlags,
        _ctx: &Context<'_>,
    ) -> Result<()> {
        nope()
    }
    fn node_listextattr(&self, _node: Cookie, _ctx: &Context<'_>) -> Result<Vec<OsString>> {
        nope()
    }
    fn node_deleteextattr(&self, _node: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<()> {
        nope()
    }

    fn node_advlock(
        &self,
        _node: Cookie,
        _handle: FileHandle,
        _owner: puffs::LockOwner,
        _op: puffs::LockOp,
        _lock: puffs::FileLock,
        _flags: puffs::LockFlags,
        _ctx: &Context<'_>,
    ) -> Result<Option<puffs::FileLock>> {
        nope()
    }

    fn node_flush(
        &self,
        _node: Cookie,
        _handle: FileHandle,
        _owner: puffs::LockOwner,
        _ctx: &Context<'_>,
    ) -> Result<()> {
        nope()
    }

    fn node_fallocate(
        &self,
        _node: Cookie,
        _handle: FileHandle,
        _offset: u64,
        _len: u64,
        _mode: puffs::FallocateFlags,
        _ctx: &Context<'_>,
    ) -> Result<()> {
        nope()
    }

    fn node_fdiscard(
        &self,
        _node: Cookie,
        _handle: FileHandle,
        _offset: u64,
        _len: u64,
        _ctx: &Context<'_>,
    ) -> Result<()> {
        nope()
    }

    fn node_seek(
        &self,
        _node: Cookie,
        _handle: FileHandle,
        _offset: u64,
        _whence: puffs::SeekWhence,
        _ctx: &Context<'_>,
    ) -> Result<u64> {
        nope()
    }

    fn node_poll(
        &self,
        _node: Cookie,
        _handle: FileHandle,
        _events: PollEvents,
        _waker: Option<PollWaker>,
        _ctx: &Context<'_>,
    ) -> Result<PollEvents> {
        nope()
    }

    fn node_ioctl(
        &self,
        _node: Cookie,
        _handle: FileHandle,
        _ioctl: Ioctl<'_>,
        _ctx: &Context<'_>,
    ) -> Result<IoctlAnswer> {
        nope()
    }

    fn node_copy_file_range(
        &self,
        _node: Cookie,
        _handle: FileHandle,
        _offset: u64,
        _to: Cookie,
        _to_handle: FileHandle,
        _to_offset: u64,
        _len: u64,
        _ctx: &Context<'_>,
    ) -> Result<u64> {
        nope()
    }
}

#[test]
fn a_full_impl_derives_full_masks() {
    assert_eq!(vnop_mask::<Everything>(), VnopMask::all());
    assert_eq!(vfsop_mask::<Everything>(), VfsopMask::all());
}

#[test]
fn the_examples_derive_exactly_their_methods() {
    // hello: lookup, getattr, open, read, readdir and statvfs; nothing that writes.
    let hello = vnop_mask::<puffs_examples::hello::Hello>();
    assert!(hello.contains(VnopMask::LOOKUP | VnopMask::GETATTR | VnopMask::READ | VnopMask::READDIR));
    assert!(!hello.intersects(VnopMask::WRITE | VnopMask::CREATE | VnopMask::SETATTR | VnopMask::REMOVE));
    // dtfs: a read-write file system implements every vnop that changes the tree.
    let dtfs = vnop_mask::<puffs_examples::dtfs::Dtfs>();
    assert!(dtfs.contains(
        VnopMask::LOOKUP
            | VnopMask::GETATTR
            | VnopMask::SETATTR
            | VnopMask::CREATE
            | VnopMask::MKNOD
            | VnopMask::READ
            | VnopMask::WRITE
            | VnopMask::READDIR
            | VnopMask::READLINK
            | VnopMask::SYMLINK
            | VnopMask::MKDIR
            | VnopMask::RMDIR
            | VnopMask::REMOVE
            | VnopMask::LINK
            | VnopMask::RENAME
            | VnopMask::RECLAIM
            | VnopMask::GETEXTATTR
            | VnopMask::SETEXTATTR
            | VnopMask::LISTEXTATTR
            | VnopMask::DELETEEXTATTR
    ));
}
