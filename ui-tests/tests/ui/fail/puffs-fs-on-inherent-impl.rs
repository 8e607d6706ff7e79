// `#[puffs_fs]` put on an inherent impl, which implements no trait.
use puffs::puffs_fs;

struct Fs;

#[puffs_fs]
impl Fs {
    fn node_getattr(&self) {}
}

fn main() {}
