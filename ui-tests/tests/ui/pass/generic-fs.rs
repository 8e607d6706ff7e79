// Generics and where clauses of the impl carry over to the derived masks.
use puffs::{puffs_fs, Cookie, Context, FileSystem, Result, Vattr, Vtype};

struct Fs<T>(T);

#[puffs_fs]
impl<T> FileSystem for Fs<T>
where
    T: Send + Sync + 'static,
{
    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }
}

fn main() {
    assert_eq!(puffs::vnop_mask::<Fs<u8>>(), puffs::VnopMask::GETATTR);
    let _ = Fs(0u8);
}
