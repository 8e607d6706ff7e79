// `lower = field` names a field the type does not have.
use puffs::{puffs_fs, Cookie, Context, FileSystem, Result, Vattr, Vtype};

struct Lower;

#[puffs_fs]
impl FileSystem for Lower {
    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }
}

struct Upper {
    null: Lower,
}

#[puffs_fs(lower = nul)]
impl FileSystem for Upper {}

fn main() {}
