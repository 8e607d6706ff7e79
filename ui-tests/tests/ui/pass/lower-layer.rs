// A file system over another: the block defines what it changes, and the rest goes to the
// file system in its field `lower`, whose operations join the masks.
use std::ffi::OsStr;

use puffs::{puffs_fs, Context, Cookie, Errno, FileSystem, NewNode, Result, Vattr, VnopMask, Vtype};

struct Lower;

#[puffs_fs]
impl FileSystem for Lower {
    fn node_lookup(&self, _dir: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        Err(Errno::ENOENT)
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }
}

struct Hidden {
    lower: Lower,
}

#[puffs_fs(lower = lower)]
impl FileSystem for Hidden {
    fn node_lookup(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
        if name.as_encoded_bytes().starts_with(b".") {
            return Err(Errno::ENOENT);
        }
        self.lower.node_lookup(dir, name, ctx)
    }
}

fn main() {
    assert_eq!(puffs::vnop_mask::<Hidden>(), VnopMask::LOOKUP | VnopMask::GETATTR);
}
