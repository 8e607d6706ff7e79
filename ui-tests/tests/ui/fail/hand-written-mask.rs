// A mask written by hand inside the impl: the mask is derived, never declared this way.
use puffs::{puffs_fs, Cookie, Context, FileSystem, Result, Vattr, Vtype};

struct Fs;

#[puffs_fs]
impl FileSystem for Fs {
    const VNOPS: puffs::VnopMask = puffs::VnopMask::all();

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }
}

fn main() {}
