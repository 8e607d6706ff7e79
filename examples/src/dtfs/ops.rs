//! dtfs's vnode operations: the `#[puffs_fs]` impl, each method a change or a read of the tree.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::sync::atomic::Ordering;

use puffs::{
    puffs_fs, AccessFlags, Answered, Context, Cookie, DirBuf, Errno, FallocateFlags, FileHandle, FileLock, FileSystem,
    LockFlags, LockOp, LockOwner, MountInfo, NewNode, OFlag, Opened, ReadOut, RenameFlags, Result, SeekWhence,
    SetVattr, StatVfs, Vattr, Vtype, WaitFor, XattrFlags,
};

use super::content;
use super::tree::{
    now, read_lock, vtype_of, write_lock, Content, Directory, Tree, BLOCK, CHUNK, FIRST_ENTRY_POSITION, LINK_MAX,
    MAX_FILE_SIZE, XATTR_SIZE_MAX,
};
use super::Dtfs;

#[puffs_fs]
impl FileSystem for Dtfs {
    // dtfs stores the two ACL attributes like any other; the framework and the kernel do the rest.
    const POSIX_ACL: bool = true;

    fn fs_mounted(&self, info: &MountInfo) {
        self.checks.store(!info.kernel_checks, Ordering::Relaxed);
    }

    fn fs_statvfs(&self, _ctx: &Context<'_>) -> Result<StatVfs> {
        let tree = read_lock(&self.tree);
        let blocks = tree.capacity / BLOCK;
        let free = tree.capacity.saturating_sub(tree.used) / BLOCK;
        Ok(StatVfs {
            frsize: BLOCK as u32,
            bsize: BLOCK as u32,
            blocks,
            bfree: free,
            bavail: free,
            files: tree.max_nodes,
            ffree: tree.max_nodes.saturating_sub(tree.nodes.len() as u64),
            namemax: 255,
        })
    }

    fn fs_sync(&self, _waitfor: WaitFor, _ctx: &Context<'_>) -> Result<()> {
        // Memory is the backing store: everything written is already there.
        Ok(())
    }

    fn node_lookup(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
        let tree = read_lock(&self.tree);
        self.allow(&tree.node(dir)?.vattr, AccessFlags::X_OK, ctx)?;
        let ino = match name.as_encoded_bytes() {
            b"." => tree.dir(dir.0).map(|_| dir.0)?,
            b".." => tree.dir(dir.0)?.parent,
            _ => tree.child(dir.0, name)?,
        };
        tree.hand_out(ino)
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(read_lock(&self.tree).node(node)?.vattr.clone())
    }

    fn node_setattr(&self, node: Cookie, changes: &SetVattr, ctx: &Context<'_>) -> Result<Vattr> {
        let mut tree = write_lock(&self.tree);
        let changes = self.allow_setattr(&tree.node(node)?.vattr, changes, ctx)?;
        let t = now();
        if let Some(size) = changes.size {
            if size > MAX_FILE_SIZE {
                return Err(Errno::EFBIG);
            }
            let mut file = tree.file_mut(node.0)?;
            file.set_size(size);
            file.vattr.mtime = t;
        }
        let vattr = &mut tree.node_mut(node.0)?.vattr;
        if let Some(mode) = changes.mode {
            vattr.mode = mode & puffs::MODE_PERMISSION_BITS;
        }
        if let Some(uid) = changes.uid {
            vattr.uid = uid;
        }
        if let Some(gid) = changes.gid {
            vattr.gid = gid;
        }
        if let Some(atime) = changes.atime {
            vattr.atime = atime.resolve();
        }
        if let Some(mtime) = changes.mtime {
            vattr.mtime = mtime.resolve();
        }
        vattr.ctime = changes.ctime.unwrap_or(t);
        Ok(vattr.clone())
    }

    fn node_create(&self, dir: Cookie, name: &OsStr, mode: u32, ctx: &Context<'_>) -> Result<NewNode> {
        let mut tree = write_lock(&self.tree);
        self.allow_entry(&tree.node(dir)?.vattr, ctx)?;
        tree.make(dir.0, name, Vtype::Reg, mode, ctx.cred(), Content::File(BTreeMap::new()))
    }

    fn node_tmpfile(&self, dir: Cookie, mode: u32, ctx: &Context<'_>) -> Result<NewNode> {
        let mut tree = write_lock(&self.tree);
        self.allow_entry(&tree.node(dir)?.vattr, ctx)?;
        tree.make_unnamed(dir.0, mode, ctx.cred())
    }

    fn node_open(&self, node: Cookie, flags: OFlag, ctx: &Context<'_>) -> Result<Opened> {
        if !self.checks() {
            // Nothing to check: the kernel stops sending opens.
            return Err(Errno::ENOSYS);
        }
        self.allow_open(&read_lock(&self.tree).node(node)?.vattr, flags, ctx)?;
        Ok(Opened::default())
    }

    fn node_access(&self, node: Cookie, mode: AccessFlags, ctx: &Context<'_>) -> Result<()> {
        self.allow(&read_lock(&self.tree).node(node)?.vattr, mode, ctx)
    }

    fn node_mknod(
        &self,
        dir: Cookie,
        name: &OsStr,
        vtype: Vtype,
        mode: u32,
        rdev: u64,
        ctx: &Context<'_>,
    ) -> Result<NewNode> {
        let content = match vtype {
            Vtype::Reg => Content::File(BTreeMap::new()),
            Vtype::Chr | Vtype::Blk | Vtype::Fifo | Vtype::Sock => Content::Special,
            Vtype::Dir | Vtype::Lnk => return Err(Errno::EINVAL),
        };
        let mut tree = write_lock(&self.tree);
        self.allow_entry(&tree.node(dir)?.vattr, ctx)?;
        let made = tree.make(dir.0, name, vtype, mode, ctx.cred(), content)?;
        let node = tree.node_mut(made.cookie.0)?;
        if matches!(vtype, Vtype::Chr | Vtype::Blk) {
            node.vattr.rdev = rdev;
        }
        Ok(NewNode::new(made.cookie, node.vattr.clone()))
    }

    fn node_read(
        &self,
        node: Cookie,
        _handle: FileHandle,
        offset: u64,
        out: ReadOut<'_>,
        _ctx: &Context<'_>,
    ) -> Result<Answered> {
        let tree = read_lock(&self.tree);
        let node = tree.node(node)?;
        match &node.content {
            // Sent from the chunks as they lie, under the lock: no copy.
            Content::File(chunks) => {
                let size = out.size();
                Ok(out.reply_vectored(content::slices(chunks, node.vattr.size, offset, size)))
            }
            Content::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    fn node_write(
        &self,
        node: Cookie,
        _handle: FileHandle,
        offset: u64,
        data: &[u8],
        _ctx: &Context<'_>,
    ) -> Result<usize> {
        write_lock(&self.tree).file_mut(node.0)?.write_at(offset, data)
    }

    fn node_readdir(
        &self,
        dir: Cookie,
        _handle: FileHandle,
        offset: u64,
        buf: &mut DirBuf<'_>,
        _ctx: &Context<'_>,
    ) -> Result<()> {
        let tree = read_lock(&self.tree);
        let directory = tree.dir(dir.0)?;
        let dots = [(0, dir.0, "."), (1, directory.parent, "..")];
        for (position, ino, name) in dots.into_iter().skip(offset.min(2) as usize) {
            if !buf.push(ino, position + 1, Vtype::Dir, OsStr::new(name)) {
                return Ok(());
            }
        }
        for (&position, name) in directory.positions.range(offset.max(FIRST_ENTRY_POSITION)..) {
            let ino = directory.entries[name].ino;
            if !buf.push(ino, position + 1, vtype_of(&tree, ino), name) {
                break;
            }
        }
        Ok(())
    }

    fn node_readlink(&self, node: Cookie, _ctx: &Context<'_>) -> Result<OsString> {
        match &read_lock(&self.tree).node(node)?.content {
            Content::Symlink(target) => Ok(target.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn node_symlink(&self, dir: Cookie, name: &OsStr, target: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
        if target.len() >= 4096 {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut tree = write_lock(&self.tree);
        self.allow_entry(&tree.node(dir)?.vattr, ctx)?;
        tree.make(dir.0, name, Vtype::Lnk, 0o777, ctx.cred(), Content::Symlink(target.to_owned()))
    }

    fn node_mkdir(&self, dir: Cookie, name: &OsStr, mode: u32, ctx: &Context<'_>) -> Result<NewNode> {
        let mut tree = write_lock(&self.tree);
        self.allow_entry(&tree.node(dir)?.vattr, ctx)?;
        tree.make(dir.0, name, Vtype::Dir, mode, ctx.cred(), Content::Dir(Directory::new(dir.0)))
    }

    fn node_rmdir(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<()> {
        match name.as_encoded_bytes() {
            b"." => return Err(Errno::EINVAL),
            b".." => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        let mut tree = write_lock(&self.tree);
        let ino = tree.child(dir.0, name)?;
        self.allow_remove(&tree.node(dir)?.vattr, &tree.node(Cookie(ino))?.vattr, ctx)?;
        if !tree.dir(ino)?.entries.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        if ino == Dtfs::ROOT.0 {
            return Err(Errno::EBUSY);
        }
        tree.dir_mut(dir.0)?.remove(name);
        tree.node_mut(dir.0)?.vattr.nlink -= 1;
        tree.touch_dir(dir.0);
        tree.unlink_node(ino);
        Ok(())
    }

    fn node_remove(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<()> {
        let mut tree = write_lock(&self.tree);
        let ino = tree.child(dir.0, name)?;
        self.allow_remove(&tree.node(dir)?.vattr, &tree.node(Cookie(ino))?.vattr, ctx)?;
        if matches!(tree.node(Cookie(ino))?.content, Content::Dir(_)) {
            return Err(Errno::EISDIR);
        }
        tree.dir_mut(dir.0)?.remove(name);
        tree.touch_dir(dir.0);
        tree.unlink_node(ino);
        Ok(())
    }

    fn node_link(&self, dir: Cookie, node: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<Vattr> {
        let mut tree = write_lock(&self.tree);
        self.allow_entry(&tree.node(dir)?.vattr, ctx)?;
        let target = tree.node(node)?;
        if matches!(target.content, Content::Dir(_)) {
            return Err(Errno::EPERM);
        }
        if target.vattr.nlink >= LINK_MAX {
            return Err(Errno::EMLINK);
        }
        if target.vattr.nlink == 0 && !target.linkable {
            return Err(Errno::ENOENT);
        }
        let directory = tree.dir(dir.0)?;
        if directory.entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        if tree.node(dir)?.vattr.nlink == 0 {
            return Err(Errno::ENOENT);
        }
        tree.dir_mut(dir.0)?.insert(name, node.0);
        tree.touch_dir(dir.0);
        let target = tree.node_mut(node.0)?;
        target.vattr.nlink += 1;
        target.linkable = false;
        target.vattr.ctime = now();
        Ok(tree.hand_out(node.0)?.vattr)
    }

    fn node_rename(
        &self,
        dir: Cookie,
        name: &OsStr,
        new_dir: Cookie,
        new_name: &OsStr,
        flags: RenameFlags,
        ctx: &Context<'_>,
    ) -> Result<()> {
        if flags.contains(RenameFlags::WHITEOUT) || flags.contains(RenameFlags::EXCHANGE | RenameFlags::NOREPLACE) {
            return Err(Errno::EINVAL);
        }
        let dotted = |n: &OsStr| matches!(n.as_encoded_bytes(), b"." | b"..");
        if dotted(name) || dotted(new_name) {
            return Err(Errno::EINVAL);
        }
        let mut tree = write_lock(&self.tree);
        let (dir, new_dir) = (dir.0, new_dir.0);
        let source = tree.child(dir, name)?;
        tree.dir(new_dir)?;
        if tree.node(Cookie(new_dir))?.vattr.nlink == 0 {
            return Err(Errno::ENOENT);
        }
        let target = match tree.child(new_dir, new_name) {
            Ok(ino) => Some(ino),
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(e),
        };
        let is_dir = |tree: &Tree, ino: u64| matches!(tree.nodes.get(&ino).map(|n| &n.content), Some(Content::Dir(_)));
        let source_is_dir = is_dir(&tree, source);
        self.allow_rename(&tree, (dir, source), (new_dir, target), flags, ctx)?;
        if source_is_dir && tree.is_within(new_dir, source) {
            return Err(Errno::EINVAL);
        }
        if flags.contains(RenameFlags::EXCHANGE) {
            let target = target.ok_or(Errno::ENOENT)?;
            let target_is_dir = is_dir(&tree, target);
            if target_is_dir && tree.is_within(dir, target) {
                return Err(Errno::EINVAL);
            }
            if source == target {
                return Ok(());
            }
            tree.dir_mut(dir)?.remove(name);
            tree.dir_mut(new_dir)?.remove(new_name);
            tree.dir_mut(dir)?.insert(name, target);
            tree.dir_mut(new_dir)?.insert(new_name, source);
            if dir != new_dir && source_is_dir != target_is_dir {
                let (gains, loses) = if source_is_dir { (new_dir, dir) } else { (dir, new_dir) };
                tree.node_mut(gains)?.vattr.nlink += 1;
                tree.node_mut(loses)?.vattr.nlink -= 1;
            }
            for (moved, parent) in [(source, new_dir), (target, dir)] {
                if let Ok(d) = tree.dir_mut(moved) {
                    d.parent = parent;
                }
                tree.node_mut(moved)?.vattr.ctime = now();
            }
            tree.touch_dir(dir);
            tree.touch_dir(new_dir);
            return Ok(());
        }
        if let Some(target) = target {
            if flags.contains(RenameFlags::NOREPLACE) {
                return Err(Errno::EEXIST);
            }
            if target == source {
                // Two names of one node: POSIX says do nothing.
                return Ok(());
            }
            match (source_is_dir, is_dir(&tree, target)) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !tree.dir(target)?.entries.is_empty() => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
            if tree.is_within(dir, target) {
                // The target directory holds the source: it is not empty.
                return Err(Errno::ENOTEMPTY);
            }
            tree.dir_mut(new_dir)?.remove(new_name);
            if source_is_dir {
                tree.node_mut(new_dir)?.vattr.nlink -= 1;
            }
            tree.unlink_node(target);
        }
        tree.dir_mut(dir)?.remove(name);
        tree.dir_mut(new_dir)?.insert(new_name, source);
        if source_is_dir && dir != new_dir {
            tree.dir_mut(source)?.parent = new_dir;
            tree.node_mut(dir)?.vattr.nlink -= 1;
            tree.node_mut(new_dir)?.vattr.nlink += 1;
        }
        tree.node_mut(source)?.vattr.ctime = now();
        tree.touch_dir(dir);
        tree.touch_dir(new_dir);
        Ok(())
    }

    fn node_fsync(&self, node: Cookie, _handle: FileHandle, _datasync: bool, _ctx: &Context<'_>) -> Result<()> {
        read_lock(&self.tree).node(node).map(drop)
    }

    fn node_reclaim(&self, node: Cookie) {
        self.locks.forget(node);
        let mut tree = write_lock(&self.tree);
        if let Some(n) = tree.nodes.get_mut(&node.0) {
            n.known.store(false, Ordering::Relaxed);
            if n.vattr.nlink == 0 {
                tree.free(node.0);
            }
        }
    }

    fn node_getextattr(&self, node: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<Vec<u8>> {
        let tree = read_lock(&self.tree);
        let node = tree.node(node)?;
        self.allow_extattr(&node.vattr, name, false, ctx)?;
        node.xattrs.get(name).cloned().ok_or(Errno::ENODATA)
    }

    fn node_setextattr(
        &self,
        node: Cookie,
        name: &OsStr,
        value: &[u8],
        flags: XattrFlags,
        ctx: &Context<'_>,
    ) -> Result<()> {
        if name.is_empty() {
            return Err(Errno::EINVAL);
        }
        if value.len() > XATTR_SIZE_MAX {
            return Err(Errno::E2BIG);
        }
        let mut tree = write_lock(&self.tree);
        let (used, capacity) = (tree.used, tree.capacity);
        let node = tree.node_mut(node.0)?;
        self.allow_extattr(&node.vattr, name, true, ctx)?;
        let old = node.xattrs.get(name).map(|v| (name.len() + v.len()) as u64);
        match (old.is_some(), flags.contains(XattrFlags::CREATE), flags.contains(XattrFlags::REPLACE)) {
            (true, true, _) => return Err(Errno::EEXIST),
            (false, _, true) => return Err(Errno::ENODATA),
            _ => {}
        }
        let new = (name.len() + value.len()) as u64;
        let used = used - old.unwrap_or(0) + new;
        if used > capacity {
            return Err(Errno::ENOSPC);
        }
        node.xattrs.insert(name.to_owned(), value.to_vec());
        node.vattr.ctime = now();
        tree.used = used;
        Ok(())
    }

    fn node_listextattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vec<OsString>> {
        Ok(read_lock(&self.tree).node(node)?.xattrs.keys().cloned().collect())
    }

    fn node_deleteextattr(&self, node: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<()> {
        let mut tree = write_lock(&self.tree);
        let node = tree.node_mut(node.0)?;
        self.allow_extattr(&node.vattr, name, true, ctx)?;
        let value = node.xattrs.remove(name).ok_or(Errno::ENODATA)?;
        node.vattr.ctime = now();
        tree.used -= (name.len() + value.len()) as u64;
        Ok(())
    }

    fn node_advlock(
        &self,
        node: Cookie,
        _handle: FileHandle,
        owner: LockOwner,
        op: LockOp,
        lock: FileLock,
        flags: LockFlags,
        _ctx: &Context<'_>,
    ) -> Result<Option<FileLock>> {
        self.locks.advlock(node, owner, op, &lock, flags)
    }

    fn node_fallocate(
        &self,
        node: Cookie,
        _handle: FileHandle,
        offset: u64,
        len: u64,
        mode: FallocateFlags,
        _ctx: &Context<'_>,
    ) -> Result<()> {
        write_lock(&self.tree).file_mut(node.0)?.fallocate(offset, len, mode)
    }

    fn node_fdiscard(
        &self,
        node: Cookie,
        _handle: FileHandle,
        offset: u64,
        len: u64,
        _ctx: &Context<'_>,
    ) -> Result<()> {
        let end = offset.saturating_add(len);
        write_lock(&self.tree).file_mut(node.0)?.punch(offset, end);
        Ok(())
    }

    fn node_seek(
        &self,
        node: Cookie,
        _handle: FileHandle,
        offset: u64,
        whence: SeekWhence,
        _ctx: &Context<'_>,
    ) -> Result<u64> {
        let tree = read_lock(&self.tree);
        let node = tree.node(node)?;
        match &node.content {
            Content::File(chunks) => content::seek(chunks, node.vattr.size, offset, whence),
            _ => Err(Errno::EINVAL),
        }
    }

    fn node_copy_file_range(
        &self,
        node: Cookie,
        _handle: FileHandle,
        offset: u64,
        to: Cookie,
        _to_handle: FileHandle,
        to_offset: u64,
        len: u64,
        _ctx: &Context<'_>,
    ) -> Result<u64> {
        let mut tree = write_lock(&self.tree);
        let source = tree.node(node)?;
        let Content::File(chunks) = &source.content else { return Err(Errno::EINVAL) };
        let size = source.vattr.size;
        // Only the chunks of the range: the two files may be one.
        let first = offset / CHUNK;
        let last = offset.saturating_add(len.min(size.saturating_sub(offset))).div_ceil(CHUNK);
        let range: content::Chunks = chunks.range(first..last).map(|(&i, c)| (i, c.clone())).collect();
        let mut dest = tree.file_mut(to.0)?;
        content::copy(&range, size, offset, &mut dest, to_offset, len)
    }
}
