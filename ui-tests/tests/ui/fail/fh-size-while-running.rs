// A before-mount setter (`fh_size(32)`) called on a Running usermount.
use puffs::{puffs_fs, Cookie, Context, FileSystem, Result, Vattr, Vtype};

struct Tiny;

#[puffs_fs]
impl FileSystem for Tiny {
    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }
}

fn main() {
    let mounted = puffs::Usermount::init(Tiny, "tiny")
        .mount("/mnt", puffs::MountFlags::empty(), Cookie(1))
        .map_err(puffs::Error::from)
        .unwrap();
    let running = mounted.start();
    let _ = running.fh_size(32);
}
