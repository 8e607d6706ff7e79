//! FUSE passthrough: an open answered with a host file ([`Opened::with_backing`]) is read and
//! written by the kernel on that file, and its reads and writes never reach the file system.
//! Where passthrough is not granted (the loopback kernel; no `passthrough` option) the same
//! file system serves them itself.

mod common;

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::Client;
use puffs::{
    puffs_fs, Answered, BackingFile, Context, Cookie, Errno, FileHandle, FileSystem, MountFlags, NewNode, OFlag,
    Opened, ReadOut, Result, SetVattr, Vattr, Vtype,
};

const ROOT: Cookie = Cookie(1);
const FILE: Cookie = Cookie(2);

/// A root with one file, `f`, whose bytes are those of a host file; opens hand the host file
/// as their backing file. Counts the reads and writes that reach it. Clones share all.
#[derive(Clone)]
struct Mirror(Arc<Mirrored>);

struct Mirrored {
    host: Arc<File>,
    reads: AtomicUsize,
    writes: AtomicUsize,
    opens: AtomicUsize,
}

impl Mirror {
    fn new() -> Mirror {
        let path = std::env::temp_dir().join(format!("puffs-passthrough-{}-{}", std::process::id(), next()));
        let host = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let counters = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
        Mirror(Arc::new(Mirrored { host: Arc::new(host), reads: counters.0, writes: counters.1, opens: counters.2 }))
    }

    fn vattr(&self, node: Cookie) -> Vattr {
        match node {
            ROOT => Vattr::new(Vtype::Dir, 0o755, 1),
            _ => Vattr { size: self.0.host.metadata().unwrap().len(), ..Vattr::new(Vtype::Reg, 0o666, 2) },
        }
    }

    fn served(&self) -> (usize, usize) {
        (self.0.reads.load(Ordering::SeqCst), self.0.writes.load(Ordering::SeqCst))
    }
}

fn next() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[puffs_fs]
impl FileSystem for Mirror {
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
            self.0.host.set_len(size).map_err(|e| puffs::io_errno(&e))?;
        }
        Ok(self.vattr(node))
    }

    fn node_open(&self, node: Cookie, _flags: OFlag, _ctx: &Context<'_>) -> Result<Opened> {
        self.0.opens.fetch_add(1, Ordering::SeqCst);
        let opened = Opened::handle(FileHandle(7));
        match node {
            FILE => Ok(opened.with_backing(BackingFile::shared(self.0.host.clone()))),
            _ => Ok(opened),
        }
    }

    fn node_read(
        &self,
        _node: Cookie,
        _handle: FileHandle,
        offset: u64,
        out: ReadOut<'_>,
        _ctx: &Context<'_>,
    ) -> Result<Answered> {
        self.0.reads.fetch_add(1, Ordering::SeqCst);
        out.reply_from_file(&*self.0.host, offset)
    }

    fn node_write(&self, _n: Cookie, _h: FileHandle, offset: u64, data: &[u8], _ctx: &Context<'_>) -> Result<usize> {
        self.0.writes.fetch_add(1, Ordering::SeqCst);
        self.0.host.write_at(data, offset).map_err(|e| puffs::io_errno(&e))
    }
}

/// What holds on both kernels: bytes written read back the same and land in the host file.
fn bytes_land_in_the_host_file(c: &impl Client, fs: &Mirror) {
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    c.write_file("f", &data).unwrap();
    assert_eq!(c.read_file("f").unwrap(), data);
    let mut host = Vec::new();
    (&*fs.0.host).seek(SeekFrom::Start(0)).unwrap();
    (&*fs.0.host).read_to_end(&mut host).unwrap();
    assert_eq!(host, data, "the host file holds what was written");
    c.write_at("f", 10, b"hello").unwrap();
    assert_eq!(c.read_at("f", 8, 9).unwrap(), [data[8], data[9], b'h', b'e', b'l', b'l', b'o', data[15], data[16]]);
}

/// [`bytes_land_in_the_host_file`], every read and write served by the file system.
fn bytes_land_in_the_host_file_through_the_file_system(c: &impl Client, fs: &Mirror) {
    bytes_land_in_the_host_file(c, fs);
    let (reads, writes) = fs.served();
    assert!(reads > 0 && writes > 0, "served by the file system: {reads} reads, {writes} writes");
}

#[test]
fn without_passthrough_the_file_system_serves_reads_and_writes_on_the_loopback_kernel() {
    let fs = Mirror::new();
    let mount = common::LoopbackMount::mount(fs.clone(), "mirror", ROOT);
    assert!(!mount.mount_info().passthrough, "the loopback kernel offers no passthrough");
    bytes_land_in_the_host_file_through_the_file_system(&mount, &fs);
    mount.unmount();
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn without_the_option_a_real_mount_serves_reads_and_writes_itself() {
    let fs = Mirror::new();
    let mount = common::RealMount::mount(fs.clone(), "mirror", ROOT, MountFlags::empty(), "");
    assert!(!mount.mount_info().passthrough, "not asked for");
    bytes_land_in_the_host_file_through_the_file_system(&mount, &fs);
    mount.unmount();
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn with_passthrough_reads_and_writes_never_reach_the_file_system() {
    let fs = Mirror::new();
    let mount = common::RealMount::mount(fs.clone(), "mirror", ROOT, MountFlags::empty(), "passthrough");
    assert!(mount.mount_info().passthrough, "granted to a server with CAP_SYS_ADMIN");
    bytes_land_in_the_host_file(&mount, &fs);

    // Two opens at once share the backing file; after both close, a new open registers it
    // again; a shared map reads the host file's bytes.
    let path = mount.dir().join("f");
    let first = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
    let second = File::open(&path).unwrap();
    first.write_all_at(b"shared", 0).unwrap();
    let mut got = [0; 6];
    second.read_exact_at(&mut got, 0).unwrap();
    assert_eq!(&got, b"shared");
    drop((first, second));
    let third = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
    (&third).write_all(b"THIRD").unwrap();
    drop(third);
    assert_eq!(&mount.read_at("f", 0, 6).unwrap(), b"THIRDd");
    assert_eq!(fs.served(), (0, 0), "no read nor write reached the file system");
    assert!(fs.0.opens.load(Ordering::SeqCst) >= 5, "every open did");

    let file = File::open(&path).unwrap();
    let map = unsafe {
        nix::sys::mman::mmap(
            None,
            std::num::NonZeroUsize::new(5).unwrap(),
            nix::sys::mman::ProtFlags::PROT_READ,
            nix::sys::mman::MapFlags::MAP_SHARED,
            &file,
            0,
        )
    }
    .unwrap();
    let mapped = unsafe { std::slice::from_raw_parts(map.as_ptr().cast::<u8>(), 5) }.to_vec();
    unsafe { nix::sys::mman::munmap(map, 5) }.unwrap();
    assert_eq!(&mapped, b"THIRD");
    assert_eq!(fs.served(), (0, 0), "nor did the map's");
    drop(file);
    mount.unmount();
}
