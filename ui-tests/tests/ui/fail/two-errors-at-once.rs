// Two independent mistakes are both reported in one compile.
use puffs::{puffs_fs, Cookie, Context, FileSystem, Result, Vattr, Vtype};

struct Fs;

#[puffs_fs(vnops(getattr, raed))]
impl FileSystem for Fs {
    const VNOPS: puffs::VnopMask = puffs::VnopMask::all();

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }
}

fn main() {}
