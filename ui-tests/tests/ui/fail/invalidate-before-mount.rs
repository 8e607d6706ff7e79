// A Running-only call (`invalidate_node`) on an Unmounted usermount.
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
    let _ = unmounted.invalidate_node(Cookie(1));
}
