//! Throughput and metadata rates of dtfs mounted through FUSE, as ratios against tmpfs measured in
//! the same run on the same machine.
//!
//! Run as root: `cargo bench -p puffs-benches --bench fuse_vs_tmpfs`. Without root or
//! `/dev/fuse` it says why and measures nothing. `PUFFS_BENCH_MIB` sets the data size (default
//! 64), `PUFFS_BENCH_FILES` the file count of the metadata runs (default 2000).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use puffs::{Cookie, MountFlags, MountOptions, Usermount};
use puffs_examples::dtfs::Dtfs;

const CHUNK: usize = 1 << 20;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A mount point that is unmounted and removed when dropped.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("puffs-bench-{tag}-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("create mount point");
        Scratch { dir }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Only what the bench mounted on its own fresh directory is still there to detach;
        // once that is gone, nothing is mounted at exactly this path.
        let table = puffs::mount_table::read().unwrap_or_default();
        if puffs::mount_table::top_at(&table, &self.dir).is_some() {
            let _ = umount2(&self.dir, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW);
        }
        let _ = fs::remove_dir(&self.dir);
    }
}

fn drop_caches() {
    nix::unistd::sync();
    let _ = fs::write("/proc/sys/vm/drop_caches", "3");
}

/// Seconds for one run of `work`, best of `rounds`.
fn best_of(rounds: usize, mut work: impl FnMut() -> Duration) -> f64 {
    (0..rounds).map(|_| work().as_secs_f64()).fold(f64::INFINITY, f64::min)
}

fn write_seq(root: &Path, mib: usize) -> Duration {
    let path = root.join("seq");
    let chunk = vec![0xa5u8; CHUNK];
    let start = Instant::now();
    let mut file = File::create(&path).expect("create");
    for _ in 0..mib {
        file.write_all(&chunk).expect("write");
    }
    file.sync_all().ok();
    drop(file);
    start.elapsed()
}

fn read_seq(root: &Path, mib: usize) -> Duration {
    let path = root.join("seq");
    drop_caches();
    let mut chunk = vec![0u8; CHUNK];
    let start = Instant::now();
    let mut file = OpenOptions::new().read(true).custom_flags(0).open(&path).expect("open");
    let mut total = 0;
    loop {
        let n = file.read(&mut chunk).expect("read");
        if n == 0 {
            break;
        }
        total += n;
    }
    assert_eq!(total, mib * CHUNK, "read back what was written");
    start.elapsed()
}

fn create_stat_unlink(root: &Path, files: usize) -> Duration {
    let dir = root.join("meta");
    let _ = fs::create_dir(&dir);
    let start = Instant::now();
    for i in 0..files {
        File::create(dir.join(format!("f{i}"))).expect("create");
    }
    for i in 0..files {
        fs::symlink_metadata(dir.join(format!("f{i}"))).expect("stat");
    }
    assert_eq!(fs::read_dir(&dir).expect("readdir").count(), files);
    for i in 0..files {
        fs::remove_file(dir.join(format!("f{i}"))).expect("unlink");
    }
    let elapsed = start.elapsed();
    fs::remove_dir(&dir).expect("rmdir");
    elapsed
}

struct Row {
    what: String,
    reference: f64,
    measured: f64,
}

fn run_all(root: &Path, mib: usize, files: usize) -> [f64; 3] {
    [
        best_of(3, || write_seq(root, mib)),
        best_of(3, || read_seq(root, mib)),
        best_of(3, || create_stat_unlink(root, files)),
    ]
}

fn main() {
    if !nix::unistd::geteuid().is_root() || !Path::new("/dev/fuse").exists() {
        println!("fuse_vs_tmpfs: needs root and /dev/fuse; nothing measured");
        return;
    }
    let mib = env_number("PUFFS_BENCH_MIB", 64);
    let files = env_number("PUFFS_BENCH_FILES", 2000);

    let tmpfs = Scratch::new("tmpfs");
    mount(Some("tmpfs"), &tmpfs.dir, Some("tmpfs"), MsFlags::empty(), Some("size=1g")).expect("mount tmpfs");
    let reference = run_all(&tmpfs.dir, mib, files);

    let mut rows = Vec::new();
    for threads in [1, 2] {
        let fuse = Scratch::new(&format!("dtfs{threads}"));
        let options = MountOptions::parse("default_permissions").expect("options");
        let mounted = Usermount::init(Dtfs::new(), "dtfs")
            .threads(threads)
            .handle_signals(false)
            .mount_options(options)
            .mount(&fuse.dir, MountFlags::empty(), Cookie(1))
            .map_err(puffs::Error::from)
            .expect("mount dtfs");
        let (done_tx, done_rx) = mpsc::channel();
        let server = std::thread::spawn(move || {
            let result = mounted.mainloop();
            let _ = done_tx.send(());
            result
        });
        let measured = run_all(&fuse.dir, mib, files);
        umount2(&fuse.dir, MntFlags::MNT_DETACH).expect("unmount dtfs");
        done_rx.recv_timeout(Duration::from_secs(30)).expect("main loop ends after unmount");
        server.join().expect("server thread").expect("main loop result");
        let names = [
            format!("sequential write, {mib} MiB"),
            format!("sequential read (cold), {mib} MiB"),
            format!("create+stat+readdir+unlink, {files} files"),
        ];
        for (i, name) in names.into_iter().enumerate() {
            rows.push(Row {
                what: format!("{name}, {threads} thread(s)"),
                reference: reference[i],
                measured: measured[i],
            });
        }
    }

    println!("\n{:<58} {:>11} {:>11} {:>9}", "workload (dtfs over FUSE vs tmpfs)", "tmpfs s", "dtfs s", "ratio");
    for row in rows {
        println!(
            "{:<58} {:>11.4} {:>11.4} {:>8.1}x",
            row.what,
            row.reference,
            row.measured,
            row.measured / row.reference
        );
    }
    println!("\nratio = dtfs time / tmpfs time, best of 3, measured in this run; lower is better.");
}
