//! `open(2)` with `O_TRUNC` truncates inside the `OPEN` (`ATOMIC_O_TRUNC`): for a file system
//! with `node_open` and `node_setattr`, the framework truncates through the open file right
//! after a successful open, and the kernel sends no `SETATTR` of its own. A truncation that
//! fails fails the open and closes what was opened. On both kernels.

mod common;

use std::ffi::OsStr;
use std::sync::{Arc, Mutex};

use common::Client;
use puffs::{
    puffs_fs, Answered, Context, Cookie, Errno, FileHandle, FileSystem, MountFlags, NewNode, OFlag, Opened, ReadOut,
    Result, SetVattr, Vattr, Vtype,
};

const ROOT: Cookie = Cookie(1);
const FILE: Cookie = Cookie(2);
const HANDLE: FileHandle = FileHandle(5);

/// A root with one file, `f`, whose opens and size changes are recorded; `frozen` refuses
/// size changes. Clones share the record.
#[derive(Default, Clone)]
struct Recorder(Arc<Record>);

#[derive(Default)]
struct Record {
    data: Mutex<Vec<u8>>,
    /// Each size change: the size and the open file it came through.
    truncates: Mutex<Vec<(u64, Option<FileHandle>)>>,
    opens: Mutex<u32>,
    closes: Mutex<u32>,
    frozen: Mutex<bool>,
}

impl Recorder {
    fn vattr(&self, node: Cookie) -> Vattr {
        match node {
            ROOT => Vattr::new(Vtype::Dir, 0o755, 1),
            _ => Vattr { size: self.0.data.lock().unwrap().len() as u64, ..Vattr::new(Vtype::Reg, 0o644, 2) },
        }
    }
}

#[puffs_fs]
impl FileSystem for Recorder {
    fn node_lookup(&self, dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        match (dir, name.to_str()) {
            (ROOT, Some("f")) => Ok(NewNode::new(FILE, self.vattr(FILE))),
            _ => Err(Errno::ENOENT),
        }
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(self.vattr(node))
    }

    fn node_setattr(&self, node: Cookie, changes: &SetVattr, _ctx: &Context<'_>) -> Result<Vattr> {
        if let Some(size) = changes.size {
            if *self.0.frozen.lock().unwrap() {
                return Err(Errno::EPERM);
            }
            self.0.truncates.lock().unwrap().push((size, changes.handle));
            self.0.data.lock().unwrap().resize(size as usize, 0);
        }
        Ok(self.vattr(node))
    }

    fn node_open(&self, _node: Cookie, _flags: OFlag, _ctx: &Context<'_>) -> Result<Opened> {
        *self.0.opens.lock().unwrap() += 1;
        Ok(Opened::handle(HANDLE))
    }

    fn node_close(&self, _node: Cookie, handle: FileHandle, _flags: OFlag) -> Result<()> {
        assert_eq!(handle, HANDLE);
        *self.0.closes.lock().unwrap() += 1;
        Ok(())
    }

    fn node_read(
        &self,
        _n: Cookie,
        _h: FileHandle,
        offset: u64,
        out: ReadOut<'_>,
        _ctx: &Context<'_>,
    ) -> Result<Answered> {
        Ok(out.reply_at(&self.0.data.lock().unwrap(), offset))
    }

    fn node_write(&self, _n: Cookie, _h: FileHandle, offset: u64, buf: &[u8], _ctx: &Context<'_>) -> Result<usize> {
        let mut data = self.0.data.lock().unwrap();
        let end = offset as usize + buf.len();
        if data.len() < end {
            data.resize(end, 0);
        }
        data[offset as usize..end].copy_from_slice(buf);
        Ok(buf.len())
    }
}

fn the_open_truncates(c: &impl Client, fs: &Recorder) {
    c.write_file("f", b"contents").unwrap();
    fs.0.truncates.lock().unwrap().clear();
    c.write_file("f", b"new").unwrap();
    assert_eq!(c.read_file("f").unwrap(), b"new");
    assert_eq!(*fs.0.truncates.lock().unwrap(), [(0, Some(HANDLE))], "one truncation, through the open file");

    // A truncation the file system refuses fails the open, and what it opened is closed.
    *fs.0.frozen.lock().unwrap() = true;
    let opens = *fs.0.opens.lock().unwrap();
    assert_eq!(c.write_file("f", b"lost"), Err(Errno::EPERM));
    assert_eq!(*fs.0.opens.lock().unwrap(), opens + 1, "the open happened");
    // Releases of earlier opens travel on their own: every open ends closed.
    common::eventually("every open closed", || *fs.0.closes.lock().unwrap() == opens + 1);
    assert_eq!(c.read_file("f").unwrap(), b"new", "nothing was truncated nor written");
}

#[test]
fn an_open_with_o_trunc_truncates_on_the_loopback_kernel() {
    let fs = Recorder::default();
    let mount = common::LoopbackMount::mount(fs.clone(), "recorder", ROOT);
    the_open_truncates(&mount, &fs);
    assert_eq!(mount.client().requests_sent(puffs::loopback::Request::Setattr), 0, "no SETATTR was sent");
    mount.unmount();
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn an_open_with_o_trunc_truncates_on_a_real_mount() {
    let fs = Recorder::default();
    let mount = common::RealMount::mount(fs.clone(), "recorder", ROOT, MountFlags::empty(), "");
    the_open_truncates(&mount, &fs);
    mount.unmount();
}

/// A file system whose `node_open` answers `ENOSYS` ("no opens needed") and that has no
/// `node_close`: the kernel stops sending opens after the first, and an `O_TRUNC` open must
/// then still truncate, through a `SETATTR` of the kernel's.
#[derive(Default, Clone)]
struct Openless(Recorder);

#[puffs_fs]
impl FileSystem for Openless {
    fn node_lookup(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
        self.0.node_lookup(dir, name, ctx)
    }

    fn node_getattr(&self, node: Cookie, ctx: &Context<'_>) -> Result<Vattr> {
        self.0.node_getattr(node, ctx)
    }

    fn node_setattr(&self, node: Cookie, changes: &SetVattr, ctx: &Context<'_>) -> Result<Vattr> {
        self.0.node_setattr(node, changes, ctx)
    }

    fn node_open(&self, _node: Cookie, _flags: OFlag, _ctx: &Context<'_>) -> Result<Opened> {
        *self.0 .0.opens.lock().unwrap() += 1;
        Err(Errno::ENOSYS)
    }

    fn node_read(
        &self,
        n: Cookie,
        h: FileHandle,
        offset: u64,
        out: ReadOut<'_>,
        ctx: &Context<'_>,
    ) -> Result<Answered> {
        self.0.node_read(n, h, offset, out, ctx)
    }

    fn node_write(&self, n: Cookie, h: FileHandle, offset: u64, buf: &[u8], ctx: &Context<'_>) -> Result<usize> {
        self.0.node_write(n, h, offset, buf, ctx)
    }
}

fn an_openless_open_truncates(c: &impl Client, fs: &Openless) {
    let record = &fs.0 .0;
    c.write_file("f", b"contents").unwrap();
    assert_eq!(*record.opens.lock().unwrap(), 1, "ENOSYS stopped the opens");
    c.write_file("f", b"new").unwrap();
    assert_eq!(c.read_file("f").unwrap(), b"new", "the second open truncated");
    assert_eq!(*record.opens.lock().unwrap(), 1, "opens stay stopped");
    assert_eq!(*record.truncates.lock().unwrap(), [(0, None), (0, None)], "each truncation a SETATTR of its own");
}

#[test]
fn an_open_answered_enosys_still_truncates_on_the_loopback_kernel() {
    let fs = Openless::default();
    let mount = common::LoopbackMount::mount(fs.clone(), "openless", ROOT);
    an_openless_open_truncates(&mount, &fs);
    mount.unmount();
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn an_open_answered_enosys_still_truncates_on_a_real_mount() {
    let fs = Openless::default();
    let mount = common::RealMount::mount(fs.clone(), "openless", ROOT, MountFlags::empty(), "");
    an_openless_open_truncates(&mount, &fs);
    mount.unmount();
}
