// A known vnop with the wrong signature: `node_read` takes `&mut [u8]`, not `Vec<u8>`.
use puffs::{puffs_fs, Cookie, Context, FileHandle, FileSystem, Result};

struct Fs;

#[puffs_fs]
impl FileSystem for Fs {
    fn node_read(&self, _node: Cookie, _fh: FileHandle, _offset: u64, _buf: Vec<u8>, _ctx: &Context<'_>) -> Result<usize> {
        Ok(0)
    }
}

fn main() {}
