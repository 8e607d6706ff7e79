//! `hello`: a read-only file system holding one file, `hello`, whose content is
//! [`Hello::CONTENT`]. It implements only what reading needs, so its vnop mask has no writing
//! operation and the kernel is told it needs no `open`.
//!
//! Mounted for real (as root; `hello -f MOUNTPOINT` does this):
//!
//! ```no_run
//! use puffs::{MountFlags, Usermount};
//! use puffs_examples::hello::Hello;
//!
//! let mounted = Usermount::init(Hello, "hello").mount("/mnt", MountFlags::RDONLY, Hello::ROOT)?;
//! mounted.mainloop()?;
//! # Ok::<(), puffs::Error>(())
//! ```
//!
//! Or in-process on the loopback kernel, as tests do:
//!
//! ```
//! use puffs::loopback::{self, MountArgs};
//! use puffs::{OFlag, UnmountFlags, Usermount};
//! use puffs_examples::hello::Hello;
//!
//! let usermount = Usermount::init(Hello, "hello");
//! let args = MountArgs::of(&usermount, Hello::ROOT);
//! let mounted = loopback::mount(usermount, args)?;
//! let file = mounted.client().open("hello", OFlag::O_RDONLY, 0).unwrap();
//! assert_eq!(mounted.client().read(&file, 0, 100).unwrap(), Hello::CONTENT);
//! mounted.client().close(file).unwrap();
//! mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).unwrap();
//! # Ok::<(), puffs::Error>(())
//! ```

use std::ffi::OsStr;
use std::time::SystemTime;

use puffs::{
    puffs_fs, Answered, Context, Cookie, DirBuf, Errno, FileHandle, FileSystem, NewNode, ReadOut, Result, StatVfs,
    Vattr, Vtype,
};

/// The `hello` file system. It has no state: its tree is fixed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hello;

impl Hello {
    /// The root directory's cookie, to pass to `mount`.
    pub const ROOT: Cookie = Cookie(1);
    /// The cookie of the one file.
    pub const FILE: Cookie = Cookie(2);
    /// The name of the one file.
    pub const FILE_NAME: &'static str = "hello";
    /// The content of the one file.
    pub const CONTENT: &'static [u8] = b"Hello, world!\n";

    fn vattr(node: Cookie) -> Result<Vattr> {
        // Fixed times: the tree never changes, so its times do not either.
        let epoch = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let mut vattr = match node {
            Hello::ROOT => {
                let mut v = Vattr::new(Vtype::Dir, 0o555, node.0);
                v.nlink = 2;
                v
            }
            Hello::FILE => {
                let mut v = Vattr::new(Vtype::Reg, 0o444, node.0);
                v.size = Hello::CONTENT.len() as u64;
                v.bytes = v.size;
                v
            }
            _ => return Err(Errno::ENOENT),
        };
        (vattr.atime, vattr.mtime, vattr.ctime) = (epoch, epoch, epoch);
        Ok(vattr)
    }
}

#[puffs_fs]
impl FileSystem for Hello {
    fn fs_statvfs(&self, _ctx: &Context<'_>) -> Result<StatVfs> {
        Ok(StatVfs { blocks: 1, files: 2, ..StatVfs::default() })
    }

    fn node_lookup(&self, dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        match dir {
            Hello::ROOT if name == Hello::FILE_NAME => Ok(NewNode::new(Hello::FILE, Hello::vattr(Hello::FILE)?)),
            Hello::ROOT => Err(Errno::ENOENT),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Hello::vattr(node)
    }

    fn node_read(
        &self,
        node: Cookie,
        _handle: FileHandle,
        offset: u64,
        out: ReadOut<'_>,
        _ctx: &Context<'_>,
    ) -> Result<Answered> {
        if node != Hello::FILE {
            return Err(Errno::EISDIR);
        }
        Ok(out.reply_at(Hello::CONTENT, offset))
    }

    fn node_readdir(
        &self,
        dir: Cookie,
        _handle: FileHandle,
        offset: u64,
        buf: &mut DirBuf<'_>,
        _ctx: &Context<'_>,
    ) -> Result<()> {
        if dir != Hello::ROOT {
            return Err(Errno::ENOTDIR);
        }
        let entries = [
            (Hello::ROOT, Vtype::Dir, "."),
            (Hello::ROOT, Vtype::Dir, ".."),
            (Hello::FILE, Vtype::Reg, Hello::FILE_NAME),
        ];
        for (position, (node, vtype, name)) in entries.iter().enumerate().skip(offset as usize) {
            if !buf.push(node.0, position as u64 + 1, *vtype, OsStr::new(name)) {
                break;
            }
        }
        Ok(())
    }
}
