// A misspelled vnop: the compiler suggests the closest operation of the trait.
use std::ffi::OsStr;

use puffs::{puffs_fs, Cookie, Cred, Errno, FileSystem, NewNode, Result};

struct Fs;

#[puffs_fs]
impl FileSystem for Fs {
    fn node_lokup(&self, _dir: Cookie, _name: &OsStr, _cred: &Cred) -> Result<NewNode> {
        Err(Errno::ENOENT)
    }
}

fn main() {}
