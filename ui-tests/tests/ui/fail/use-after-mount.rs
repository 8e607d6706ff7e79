// Using the Unmounted value after mount consumed it.
use puffs::{puffs_fs, Cookie, Context, FileSystem, Result, Vattr, Vtype};

struct Tiny;

#[puffs_fs]
impl FileSystem for Tiny {
    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }
}

fn main() {
    let unmounted = puffs::Usermount::init(Tiny, "tiny");
    let _mounted = unmounted.mount("/mnt", puffs::MountFlags::empty(), Cookie(1));
    let _ = unmounted.threads(2);
}
