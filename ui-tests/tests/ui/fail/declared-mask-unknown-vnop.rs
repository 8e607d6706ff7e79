// The declared mask misspells a vnop: the macro suggests the closest one.
use puffs::{puffs_fs, Cookie, Context, FileSystem, Result, Vattr, Vtype};

struct Fs;

#[puffs_fs(vnops(getatr))]
impl FileSystem for Fs {
    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }
}

fn main() {}
