// `lower` without the field it names.
use puffs::{puffs_fs, FileSystem};

struct Upper;

#[puffs_fs(lower)]
impl FileSystem for Upper {}

fn main() {}
