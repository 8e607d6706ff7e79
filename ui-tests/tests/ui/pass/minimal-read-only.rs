// The smallest file system: one operation, an empty root directory.
use puffs::{puffs_fs, Cookie, Context, FileSystem, Result, Vattr, Vtype};

struct Empty;

#[puffs_fs]
impl FileSystem for Empty {
    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(Vattr { nlink: 2, ..Vattr::new(Vtype::Dir, 0o555, node.0) })
    }
}

fn main() {
    assert_eq!(puffs::vnop_mask::<Empty>(), puffs::VnopMask::GETATTR);
    assert_eq!(puffs::vfsop_mask::<Empty>(), puffs::VfsopMask::empty());
}
