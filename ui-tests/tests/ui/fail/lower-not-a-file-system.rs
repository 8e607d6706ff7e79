// `lower = field` names a field that holds no file system.
use puffs::{puffs_fs, FileSystem};

struct Upper {
    lower: String,
}

#[puffs_fs(lower = lower)]
impl FileSystem for Upper {}

fn main() {}
