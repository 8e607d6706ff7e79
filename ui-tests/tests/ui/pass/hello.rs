// The hello file system of the crate docs compiles, and mounting it type-checks through every state.
use std::ffi::OsStr;

use puffs::{puffs_fs, Answered, ReadOut, Cookie, Context, DirBuf, Errno, FileHandle, FileSystem, NewNode, Result, Usermount, Vattr, Vtype};

struct Hello;

const ROOT: Cookie = Cookie(1);
const FILE: Cookie = Cookie(2);
const TEXT: &[u8] = b"Hello, world!\n";

#[puffs_fs]
impl FileSystem for Hello {
    fn node_lookup(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
        if dir != ROOT || name != "hello" {
            return Err(Errno::ENOENT);
        }
        Ok(NewNode::new(FILE, self.node_getattr(FILE, ctx)?))
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        match node {
            ROOT => Ok(Vattr { nlink: 2, ..Vattr::new(Vtype::Dir, 0o555, 1) }),
            FILE => Ok(Vattr { size: TEXT.len() as u64, ..Vattr::new(Vtype::Reg, 0o444, 2) }),
            _ => Err(Errno::ENOENT),
        }
    }

    fn node_read(&self, node: Cookie, _fh: FileHandle, offset: u64, out: ReadOut<'_>, _ctx: &Context<'_>) -> Result<Answered> {
        if node != FILE {
            return Err(Errno::EISDIR);
        }
        Ok(out.reply_at(TEXT, offset))
    }

    fn node_readdir(&self, _dir: Cookie, _fh: FileHandle, offset: u64, buf: &mut DirBuf<'_>, _ctx: &Context<'_>) -> Result<()> {
        let entries = [(1, Vtype::Dir, "."), (1, Vtype::Dir, ".."), (2, Vtype::Reg, "hello")];
        for (i, (fileid, vtype, name)) in entries.iter().enumerate().skip(offset as usize) {
            if !buf.push(*fileid, i as u64 + 1, *vtype, OsStr::new(name)) {
                break;
            }
        }
        Ok(())
    }
}

#[allow(dead_code)]
fn every_state() -> std::result::Result<(), puffs::Error> {
    let unmounted = Usermount::init(Hello, "hello")
        .root_info(Vtype::Dir)
        .max_request_len(1 << 16)
        .fh_size(0)
        .cookie_hash_buckets(64)
        .stack_size(1 << 16)
        .threads(2)
        .daemonize(false);
    let mounted = unmounted.mount("/mnt/hello", puffs::MountFlags::RDONLY, ROOT).map_err(puffs::Error::from)?;
    let running = mounted.start();
    running.set_blocking_mode(puffs::BlockingMode::Block)?;
    running.invalidate_node(FILE)?;
    let _hello: Hello = running.run()?;
    Ok(())
}

fn main() {}
