// A known vnop with the wrong signature: `node_read` answers through a `ReadOut`, not a `Vec<u8>`.
use puffs::{puffs_fs, Answered, Cookie, Context, FileHandle, FileSystem, Result};

struct Fs;

#[puffs_fs]
impl FileSystem for Fs {
    fn node_read(&self, _node: Cookie, _fh: FileHandle, _offset: u64, _out: Vec<u8>, _ctx: &Context<'_>) -> Result<Answered> {
        Err(puffs::Errno::EIO)
    }
}

fn main() {}
