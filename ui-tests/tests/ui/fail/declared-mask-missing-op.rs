// The impl defines `node_getattr`, but the declared mask leaves `getattr` out.
use puffs::{puffs_fs, Cookie, Context, FileSystem, Result, Vattr, Vtype};

struct Fs;

#[puffs_fs(vnops(lookup))]
impl FileSystem for Fs {
    fn node_lookup(&self, _dir: Cookie, _name: &std::ffi::OsStr, _ctx: &Context<'_>) -> Result<puffs::NewNode> {
        Err(puffs::Errno::ENOENT)
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }
}

fn main() {}
