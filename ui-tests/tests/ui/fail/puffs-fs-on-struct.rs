// `#[puffs_fs]` put on a struct instead of the `impl FileSystem` block.
use puffs::puffs_fs;

#[puffs_fs]
struct NotAnImpl;

fn main() {}
