// Implementing the derived masks and dispatch by hand beside the macro: they would disagree with
// the methods.
use puffs::{puffs_fs, Cookie, Context, FileSystem, Result, Vattr, VfsopMask, VnopMask, Vtype};

struct Fs;

#[puffs_fs]
impl FileSystem for Fs {
    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }
}

impl puffs::__private::Dispatch for Fs {
    const VNOPS: VnopMask = VnopMask::all();
    const VFSOPS: VfsopMask = VfsopMask::all();

    fn dispatch(&self, op: puffs::__private::Op<'_>, _ctx: &Context<'_>) -> puffs::__private::Outcome {
        op.absent()
    }
}

fn main() {}
