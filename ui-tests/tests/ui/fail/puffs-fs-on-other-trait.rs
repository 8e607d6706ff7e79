// `#[puffs_fs]` put on an impl of a trait other than `FileSystem`.
use puffs::puffs_fs;

struct Fs;

#[puffs_fs]
impl Clone for Fs {
    fn clone(&self) -> Fs {
        Fs
    }
}

fn main() {}
