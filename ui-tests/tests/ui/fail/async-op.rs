// An `async` vnop: puffs operations are synchronous.
use puffs::{puffs_fs, Cookie, Context, FileSystem, Result, Vattr, Vtype};

struct Fs;

#[puffs_fs]
impl FileSystem for Fs {
    async fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }
}

fn main() {}
