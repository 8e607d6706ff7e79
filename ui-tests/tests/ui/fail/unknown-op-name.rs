// A misspelled vnop: the compiler suggests the closest operation of the trait.
use std::ffi::OsStr;

use puffs::{puffs_fs, Cookie, Context, Errno, FileSystem, NewNode, Result};

struct Fs;

#[puffs_fs]
impl FileSystem for Fs {
    fn node_lokup(&self, _dir: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        Err(Errno::ENOENT)
    }
}

fn main() {}
