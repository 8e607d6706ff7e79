//! `#[puffs_fs(lower = field)]`: a block that defines some operations and leaves the rest to
//! the file system in one of its fields, whose operations join its masks.

use std::ffi::OsStr;

use puffs::{puffs_fs, vfsop_mask, vnop_mask, Context, Cookie, Errno, FileSystem, NewNode, Result, StatVfs, Vattr};
use puffs::{VfsopMask, VnopMask, Vtype};

struct Lower;

#[puffs_fs]
impl FileSystem for Lower {
    fn node_lookup(&self, _dir: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        Err(Errno::ENOENT)
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }

    fn fs_statvfs(&self, _ctx: &Context<'_>) -> Result<StatVfs> {
        Ok(StatVfs { files: 7, ..StatVfs::default() })
    }
}

/// Overrides lookup; the rest is `Lower`'s.
struct Upper {
    lower: Lower,
}

#[puffs_fs(lower = lower)]
impl FileSystem for Upper {
    fn node_lookup(&self, _dir: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        Err(Errno::EACCES)
    }

    fn node_readlink(&self, _node: Cookie, _ctx: &Context<'_>) -> Result<std::ffi::OsString> {
        Ok("target".into())
    }
}

/// A tuple struct names its lower layer by index, and layers stack.
struct Top(Upper);

#[puffs_fs(lower = 0)]
impl FileSystem for Top {}

#[test]
fn the_masks_join_the_lower_layers() {
    assert_eq!(vnop_mask::<Upper>(), VnopMask::LOOKUP | VnopMask::GETATTR | VnopMask::READLINK);
    assert_eq!(vfsop_mask::<Upper>(), VfsopMask::STATVFS);
    assert_eq!(vnop_mask::<Top>(), vnop_mask::<Upper>());
    assert_eq!(vfsop_mask::<Top>(), VfsopMask::STATVFS);
}

#[test]
fn what_the_block_defines_answers_and_the_rest_goes_below() {
    use puffs::__private::{Dispatch, Op};
    let top = Top(Upper { lower: Lower });
    let ctx = Context::ROOT;
    let lookup = top.dispatch(Op::Lookup { dir: Cookie(1), name: OsStr::new("x") }, &ctx).node();
    assert_eq!(lookup, Err(Errno::EACCES), "the upper layer's lookup");
    let vattr = top.dispatch(Op::Getattr { node: Cookie(5) }, &ctx).vattr().unwrap();
    assert_eq!(vattr.fileid, 5, "the lower layer's getattr");
    assert_eq!(top.dispatch(Op::Statvfs {}, &ctx).statvfs().unwrap().files, 7);
    let absent = top.dispatch(Op::Symlink { dir: Cookie(1), name: OsStr::new("l"), target: OsStr::new("t") }, &ctx);
    assert_eq!(absent.node(), Err(Errno::ENOSYS), "defined nowhere: the framework's answer");
}
