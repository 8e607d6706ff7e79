//! `puffs::null`, a pass-through of a host directory: the POSIX bodies every read-write file
//! system passes, what the host and the mount see of each other, callers owning what they
//! make, and passthrough keeping reads and writes away from the server. Every body runs on a
//! real mount (through `/dev/fuse`, with passthrough, over io_uring) and on the loopback
//! kernel.
//!
//! The file system under test is `Counted`: `Null` with its reads, writes and reclaims counted
//! by an overlay that defines only those three operations (`#[puffs_fs(lower = null)]`).

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::Client;
use puffs::null::Null;
use puffs::{puffs_fs, Answered, Context, Cookie, FileHandle, FileSystem, ReadOut, Result};

/// What reached the server.
#[derive(Debug, Default)]
struct Served {
    reads: AtomicUsize,
    writes: AtomicUsize,
    reclaims: AtomicUsize,
}

/// `Null`, counting.
struct Counted {
    null: Null,
    served: Arc<Served>,
}

#[puffs_fs(lower = null)]
impl FileSystem for Counted {
    fn node_read(
        &self,
        node: Cookie,
        handle: FileHandle,
        offset: u64,
        out: ReadOut<'_>,
        ctx: &Context<'_>,
    ) -> Result<Answered> {
        self.served.reads.fetch_add(1, Ordering::SeqCst);
        self.null.node_read(node, handle, offset, out, ctx)
    }

    fn node_write(
        &self,
        node: Cookie,
        handle: FileHandle,
        offset: u64,
        data: &[u8],
        ctx: &Context<'_>,
    ) -> Result<usize> {
        self.served.writes.fetch_add(1, Ordering::SeqCst);
        self.null.node_write(node, handle, offset, data, ctx)
    }

    fn node_reclaim(&self, node: Cookie) {
        self.served.reclaims.fetch_add(1, Ordering::SeqCst);
        self.null.node_reclaim(node);
    }
}

/// A fresh host directory, removed with everything in it when dropped.
struct Source(PathBuf);

impl Source {
    fn new() -> Source {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("puffs-null-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Source(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a body gets: the mount, the host directory under it, and what reached the server.
struct Mounted<'a> {
    c: &'a dyn Client,
    source: &'a Source,
    served: &'a Served,
    /// Reads and writes of open files go to the host file in the kernel.
    passthrough: bool,
}

fn counted(source: &Source) -> (Counted, Arc<Served>) {
    let served = Arc::new(Served::default());
    (Counted { null: Null::new(&source.0).unwrap(), served: served.clone() }, served)
}

/// Runs `body` on a fresh mirror mounted for real with `options`.
fn on_a_real_mount(options: &str, body: fn(&Mounted<'_>)) {
    let source = Source::new();
    let (fs, served) = counted(&source);
    let mount = common::RealMount::mount(fs, "null", Null::ROOT, puffs::MountFlags::empty(), options);
    assert_eq!(mount.mount_info().passthrough, options.contains("passthrough"), "{options}");
    if options.contains("io_uring") {
        assert!(matches!(mount.transport(), puffs::Transport::IoUring { .. }), "{:?}", mount.transport());
    }
    let passthrough = mount.mount_info().passthrough;
    common::bounded(&mount, |c| body(&Mounted { c, source: &source, served: &served, passthrough }));
    mount.unmount();
}

/// Runs `body` on a fresh mirror on the loopback kernel.
fn on_the_loopback_kernel(body: fn(&Mounted<'_>)) {
    let source = Source::new();
    let (fs, served) = counted(&source);
    let mount = common::LoopbackMount::mount(fs, "null", Null::ROOT);
    assert!(!mount.mount_info().passthrough);
    common::bounded(&mount, |c| body(&Mounted { c, source: &source, served: &served, passthrough: false }));
    mount.unmount();
}
/// What goes through the mount is on the host, and what the host does shows through the
/// mount, even to nodes the kernel already knows (a node is its host inode, not its path).
fn host_and_mount_see_one_tree(m: &Mounted<'_>) {
    let (c, source) = (m.c, m.source);
    c.mkdir("d", 0o755).unwrap();
    c.write_file("d/f", b"through the mount").unwrap();
    assert_eq!(std::fs::read(source.path("d/f")).unwrap(), b"through the mount");
    std::fs::write(source.path("host"), b"from the host").unwrap();
    assert_eq!(c.read_file("host").unwrap(), b"from the host");
    let ino = c.stat("d/f").unwrap().ino;
    assert_eq!(ino, std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(source.path("d/f")).unwrap()));
    // The host renames a directory the kernel knows: the new path leads to the same file.
    std::fs::rename(source.path("d"), source.path("moved")).unwrap();
    assert_eq!(c.read_file("moved/f").unwrap(), b"through the mount");
    assert_eq!(c.stat("moved/f").unwrap().ino, ino);
    assert_eq!(c.list("").unwrap(), ["host", "moved"]);
    // Names the host holds beyond what one listing reply carries.
    for i in 0..200 {
        std::fs::write(source.path(&format!("moved/n{i:03}")), b"").unwrap();
    }
    assert_eq!(c.list("moved").unwrap().len(), 201);
}

/// Nodes the kernel forgets are given back: unlinked names, once the kernel drops them.
fn forgotten_nodes_are_reclaimed(m: &Mounted<'_>) {
    let c = m.c;
    c.mkdir("d", 0o755).unwrap();
    for i in 0..20 {
        c.write_file(&format!("d/{i}"), b"data").unwrap();
    }
    for i in 0..20 {
        c.unlink(&format!("d/{i}")).unwrap();
    }
    c.rmdir("d").unwrap();
    common::eventually("the 21 nodes reclaimed", || m.served.reclaims.load(Ordering::SeqCst) >= 21);
}

/// A node made by a file created with `O_TMPFILE` holds data and can be named.
fn tmpfiles_hold_data_and_can_be_named(m: &Mounted<'_>) {
    let c = m.c;
    c.mkdir("tmp", 0o755).unwrap();
    let data = common::posix::pattern(10_000, 7);
    assert_eq!(c.tmpfile("tmp", &data, None).unwrap(), data);
    assert_eq!(c.list("tmp").unwrap(), Vec::<String>::new(), "no name");
    assert_eq!(c.tmpfile("tmp", &data, Some("tmp/kept")).unwrap(), data);
    assert_eq!(std::fs::read(m.source.path("tmp/kept")).unwrap(), data, "named on the host");
}

/// Reads and writes reach the server unless the kernel passes them through to the host file.
fn reads_and_writes_reach_the_server_unless_passed_through(m: &Mounted<'_>) {
    let c = m.c;
    let data = common::posix::pattern(1 << 20, 9);
    c.write_file("f", &data).unwrap();
    assert_eq!(c.read_file("f").unwrap(), data);
    let served = (m.served.reads.load(Ordering::SeqCst), m.served.writes.load(Ordering::SeqCst));
    if m.passthrough {
        assert_eq!(served, (0, 0), "passed through");
    } else {
        assert!(served.0 > 0 && served.1 > 0, "served: {served:?}");
    }
}

// Each body on both kernels: the real one through `/dev/fuse`, with passthrough, and through
// io_uring; and the loopback kernel.
common::suite!(on_a_real_mount, on_the_loopback_kernel, posix (m: &Mounted<'_>) => m.c, [
    host_and_mount_see_one_tree,
    forgotten_nodes_are_reclaimed,
    tmpfiles_hold_data_and_can_be_named,
    reads_and_writes_reach_the_server_unless_passed_through,
];
    real(puffs_cannot_mount, "needs root and /dev/fuse: run the tests as root (see README)") => "default_permissions";
    passthrough(puffs_cannot_mount, "needs root and /dev/fuse: run the tests as root (see README)")
        => "default_permissions,passthrough";
    io_uring(
        puffs_no_io_uring,
        "needs root, /dev/fuse and FUSE over io_uring (echo Y > /sys/module/fuse/parameters/enable_uring)"
    ) => "default_permissions,io_uring";
);

/// A caller who is not root owns what they make on the host, with the group a set-group-id
/// directory gives, and the mode they asked.
#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn callers_own_what_they_make_on_the_host() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;

    let source = Source::new();
    let (fs, _) = counted(&source);
    let mount =
        common::RealMount::mount(fs, "null", Null::ROOT, puffs::MountFlags::empty(), "default_permissions,allow_other");
    std::fs::set_permissions(&source.0, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::create_dir(source.path("sgid")).unwrap();
    std::os::unix::fs::chown(source.path("sgid"), None, Some(4242)).unwrap();
    std::fs::set_permissions(source.path("sgid"), std::fs::Permissions::from_mode(0o2777)).unwrap();

    let script = "umask 022 && echo data > f && mkdir d && ln -s f l && mkfifo p && echo x > sgid/g && mkdir sgid/sub && umask 0 && mkdir sgid/open";
    let status = std::process::Command::new("/bin/sh")
        .args(["-c", script])
        .current_dir(mount.dir())
        .uid(65534)
        .gid(65533)
        .status()
        .unwrap();
    assert!(status.success());
    for (name, mode) in [("f", 0o644), ("d", 0o755), ("p", 0o644)] {
        let meta = std::fs::symlink_metadata(source.path(name)).unwrap();
        assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o7777), (65534, 65533, mode), "{name}");
    }
    assert_eq!(std::fs::symlink_metadata(source.path("l")).unwrap().uid(), 65534);
    let g = std::fs::metadata(source.path("sgid/g")).unwrap();
    assert_eq!((g.uid(), g.gid()), (65534, 4242), "the set-group-id directory's group");
    let sub = std::fs::metadata(source.path("sgid/sub")).unwrap();
    assert_eq!((sub.gid(), sub.mode() & 0o7777), (4242, 0o2755), "and its set-group-id bit, on a directory");
    // The server's umask (022) does not take bits the caller's (0) left.
    assert_eq!(std::fs::metadata(source.path("sgid/open")).unwrap().mode() & 0o7777, 0o2777);
    mount.unmount();
}

/// A mirror of a directory that does not exist is refused before anything is mounted.
#[test]
fn a_missing_source_is_refused() {
    let error = Null::new(Path::new("/nonexistent/puffs-null")).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(nix::libc::ENOENT));
    let file = Null::new(Path::new("/proc/self/status")).unwrap_err();
    assert_eq!(file.raw_os_error(), Some(nix::libc::ENOTDIR));
}
