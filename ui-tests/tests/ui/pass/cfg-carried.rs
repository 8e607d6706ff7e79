// A method under `#[cfg]` adds its bit only when it is compiled in.
use puffs::{puffs_fs, Cookie, Context, FileHandle, FileSystem, Result, Vattr, VnopMask, Vtype};

struct Fs;

#[puffs_fs]
impl FileSystem for Fs {
    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }

    #[cfg(any())]
    fn node_read(&self, _node: Cookie, _fh: FileHandle, _offset: u64, out: puffs::ReadOut<'_>, _ctx: &Context<'_>) -> Result<puffs::Answered> {
        Ok(out.reply(&[]))
    }

    #[cfg(all())]
    fn node_write(&self, _node: Cookie, _fh: FileHandle, _offset: u64, data: &[u8], _ctx: &Context<'_>) -> Result<usize> {
        Ok(data.len())
    }
}

fn main() {
    assert_eq!(puffs::vnop_mask::<Fs>(), VnopMask::GETATTR | VnopMask::WRITE);
}
