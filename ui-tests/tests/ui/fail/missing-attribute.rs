// An `impl FileSystem` without `#[puffs_fs]`: no mask is derived, so it is not a file system.
use puffs::{Cookie, Context, FileSystem, Result, Vattr, Vtype};

struct Fs;

impl FileSystem for Fs {
    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }
}

fn main() {}
