// An `impl FileSystem` without `#[puffs_fs]`: no mask is derived, so it is not a file system.
use puffs::{Cookie, Cred, FileSystem, Result, Vattr, Vtype};

struct Fs;

impl FileSystem for Fs {
    fn node_getattr(&self, node: Cookie, _cred: &Cred) -> Result<Vattr> {
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }
}

fn main() {}
