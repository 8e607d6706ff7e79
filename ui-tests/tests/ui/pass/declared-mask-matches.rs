// A declared mask that agrees with the methods compiles, in any order.
use puffs::{puffs_fs, Cookie, Context, FileSystem, Result, StatVfs, Vattr, Vtype};

struct Fs;

#[puffs_fs(vfsops(statvfs), vnops(getattr))]
impl puffs::FileSystem for Fs {
    fn fs_statvfs(&self, _ctx: &Context<'_>) -> Result<StatVfs> {
        Ok(StatVfs::default())
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }
}

fn main() {
    assert_eq!(puffs::vnop_mask::<Fs>(), puffs::VnopMask::GETATTR);
    assert_eq!(puffs::vfsop_mask::<Fs>(), puffs::VfsopMask::STATVFS);
    let _ = <Fs as FileSystem>::node_lookup;
}
