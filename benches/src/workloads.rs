//! The workloads: what a client does on a mounted peer, and how fast, in one figure each.
//!
//! Every workload checks what it reads (a wrong byte or a missing entry fails the run, not
//! the figure) and leaves the peer's root as it found it. Figures are throughputs, higher is
//! better: operations, entries or megabytes per second.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::peers::{Caching, Serves};

/// How big each workload is.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Stats per stat sample, per client.
    pub stats: usize,
    /// Mebibytes of the sequential file.
    pub mib: usize,
    /// Operations of the small-file, 4 KiB write and random read workloads.
    pub ops: usize,
    /// Entries of the directory workloads.
    pub files: usize,
}

/// One workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    /// `stat` of one file by path, one client: with zero lifetimes, a LOOKUP and a GETATTR
    /// round trip each.
    Stat1,
    /// The same from two client threads at once.
    Stat2,
    /// open + read + close of the hello file (the hello servers' round trips).
    HelloRead,
    /// create + write 4 KiB + close + unlink of a new file.
    SmallFile,
    /// Sequential write of the big file in 1 MiB writes, then fsync.
    SeqWrite,
    /// Sequential read of it after the page cache is dropped.
    SeqReadCold,
    /// Sequential read of it again, right after.
    SeqReadWarm,
    /// 4 KiB `pwrite`s over the existing file, then fsync.
    Write4k,
    /// 4 KiB `pread`s at random offsets of it.
    RandRead4k,
    /// Creating the entries of a directory.
    DirCreate,
    /// Listing it, caches dropped first.
    DirList,
    /// Listing it and `lstat`ing each entry, caches dropped first.
    DirListStat,
    /// Removing its entries.
    DirUnlink,
}

/// Every workload in report order.
pub const ALL: [Workload; 13] = [
    Workload::Stat1,
    Workload::Stat2,
    Workload::HelloRead,
    Workload::SmallFile,
    Workload::SeqWrite,
    Workload::SeqReadCold,
    Workload::SeqReadWarm,
    Workload::Write4k,
    Workload::RandRead4k,
    Workload::DirCreate,
    Workload::DirList,
    Workload::DirListStat,
    Workload::DirUnlink,
];

impl Workload {
    /// Its name in the report, with its size.
    pub fn name(self, sizes: &Sizes) -> String {
        let Sizes { mib, ops, files, .. } = *sizes;
        match self {
            Workload::Stat1 => "stat, 1 client".into(),
            Workload::Stat2 => "stat, 2 clients".into(),
            Workload::HelloRead => "open+read+close".into(),
            Workload::SmallFile => "create+write 4K+close+unlink".into(),
            Workload::SeqWrite => format!("sequential write {mib} MiB"),
            Workload::SeqReadCold => format!("sequential read {mib} MiB, cold"),
            Workload::SeqReadWarm => format!("sequential read {mib} MiB, warm"),
            Workload::Write4k => format!("4 KiB writes x{ops}"),
            Workload::RandRead4k => format!("random 4 KiB reads x{ops}"),
            Workload::DirCreate => format!("directory of {files}: create"),
            Workload::DirList => format!("directory of {files}: readdir"),
            Workload::DirListStat => format!("directory of {files}: readdir+lstat"),
            Workload::DirUnlink => format!("directory of {files}: unlink"),
        }
    }

    /// The unit of its figure.
    pub fn unit(self) -> &'static str {
        match self {
            Workload::SeqWrite | Workload::SeqReadCold | Workload::SeqReadWarm => "MB/s",
            Workload::DirList | Workload::DirListStat => "entries/s",
            _ => "ops/s",
        }
    }

    /// Whether it runs in a caching group on a peer that serves `serves`.
    pub fn runs_on(self, caching: Caching, serves: Serves) -> bool {
        match self {
            Workload::Stat1 | Workload::Stat2 => caching == Caching::None,
            Workload::HelloRead => caching == Caching::Hello,
            _ => caching != Caching::Hello && serves == Serves::Tree,
        }
    }
}

/// The order a round runs them in: the sequential file is written before it is read, and the
/// directory is made before it is listed; the last of each removes what the first made.
pub fn sequence() -> [Workload; 13] {
    ALL
}

const BIG: &str = "bench-seq";
const DIR: &str = "bench-dir";
const STAT: &str = "bench-stat";
const CHUNK: usize = 1 << 20;
const SMALL: usize = 4096;

/// The byte at `offset` of the big file: each 4 KiB block starts with its number (8 bytes,
/// little-endian), so a misplaced block shows; the rest is the same in every block.
fn byte_at(offset: u64) -> u8 {
    let (block, within) = (offset / SMALL as u64, offset % SMALL as u64);
    if within < 8 {
        (block >> (8 * within)) as u8
    } else {
        (within as u8).wrapping_mul(7) ^ 0x5a
    }
}

/// A buffer of whole blocks holding the file's bytes from block-aligned `offset`: the
/// unchanging part is made once ([`template`]), each write only stamps the block numbers.
fn stamp(buf: &mut [u8], offset: u64) {
    for (i, block) in buf.chunks_mut(SMALL).enumerate() {
        let number = offset / SMALL as u64 + i as u64;
        block[..8].copy_from_slice(&number.to_le_bytes());
    }
}

fn template(len: usize) -> Vec<u8> {
    (0..len as u64).map(byte_at).collect()
}

fn check(buf: &[u8], offset: u64) -> io::Result<()> {
    match buf.iter().zip(offset..).position(|(b, o)| *b != byte_at(o)) {
        None => Ok(()),
        Some(i) => Err(invalid(format!("wrong byte read at {}", offset + i as u64))),
    }
}

/// Drops the kernel's clean page, dentry and inode caches (root only), so that the next
/// access goes to the server; then lets the servers digest the forgets this sends them (a
/// listed directory's 10k nodes, say), so that the measure that follows is not theirs.
pub fn drop_caches() -> io::Result<()> {
    nix::unistd::sync();
    fs::write("/proc/sys/vm/drop_caches", "3")?;
    std::thread::sleep(Duration::from_millis(300));
    Ok(())
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

fn megabytes_per_second(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9)
}

/// A small deterministic generator for the random offsets, the same on every peer.
fn offsets(count: usize, blocks: u64) -> impl Iterator<Item = u64> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..count).map(move |_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % blocks) * SMALL as u64
    })
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Runs `workload` once on the peer mounted at `root` and returns its figure. Its client
/// threads run where the calling thread may (they inherit its CPU affinity).
pub fn run(workload: Workload, root: &Path, serves: Serves, sizes: &Sizes) -> io::Result<f64> {
    match workload {
        Workload::Stat1 | Workload::Stat2 => {
            let target = match serves {
                Serves::Hello(name) => root.join(name),
                Serves::Tree => {
                    let path = root.join(STAT);
                    File::create(&path)?;
                    path
                }
            };
            let clients = if workload == Workload::Stat1 { 1 } else { 2 };
            let stat = || -> io::Result<()> {
                for _ in 0..sizes.stats {
                    fs::symlink_metadata(&target)?;
                }
                Ok(())
            };
            let start = Instant::now();
            std::thread::scope(|s| {
                let threads: Vec<_> = (0..clients).map(|_| s.spawn(stat)).collect();
                threads.into_iter().try_for_each(|t| t.join().expect("stat client"))
            })?;
            let elapsed = start.elapsed();
            if serves == Serves::Tree {
                fs::remove_file(&target)?;
            }
            Ok(per_second(sizes.stats * clients, elapsed))
        }
        Workload::HelloRead => {
            let Serves::Hello(name) = serves else {
                return Err(io::Error::new(io::ErrorKind::Unsupported, "a tree serves no hello file"));
            };
            let path = root.join(name);
            let mut buf = [0u8; 256];
            let start = Instant::now();
            for _ in 0..sizes.stats {
                let n = File::open(&path)?.read(&mut buf)?;
                if n == 0 {
                    return Err(invalid(format!("{} read empty", path.display())));
                }
            }
            Ok(per_second(sizes.stats, start.elapsed()))
        }
        Workload::SmallFile => {
            let block = [0x5au8; SMALL];
            let start = Instant::now();
            for i in 0..sizes.ops {
                let path = root.join(format!("bench-small-{}", i % 64));
                File::create(&path)?.write_all(&block)?;
                fs::remove_file(&path)?;
            }
            Ok(per_second(sizes.ops, start.elapsed()))
        }
        Workload::SeqWrite => {
            let mut chunk = template(CHUNK);
            let start = Instant::now();
            let mut file = File::create(root.join(BIG))?;
            for i in 0..sizes.mib {
                stamp(&mut chunk, (i * CHUNK) as u64);
                file.write_all(&chunk)?;
            }
            file.sync_all()?;
            drop(file);
            Ok(megabytes_per_second(sizes.mib * CHUNK, start.elapsed()))
        }
        Workload::SeqReadCold | Workload::SeqReadWarm => {
            if workload == Workload::SeqReadCold {
                drop_caches()?;
            }
            let mut chunk = vec![0u8; CHUNK];
            let mut file = File::open(root.join(BIG))?;
            let mut checked = Duration::ZERO;
            let start = Instant::now();
            let mut total = 0usize;
            loop {
                let n = file.read(&mut chunk)?;
                if n == 0 {
                    break;
                }
                // Checking costs the client time no server should be charged for.
                let checking = Instant::now();
                check(&chunk[..n], total as u64)?;
                checked += checking.elapsed();
                total += n;
            }
            let elapsed = start.elapsed() - checked;
            if total != sizes.mib * CHUNK {
                return Err(invalid(format!("read {total} bytes of {}", sizes.mib * CHUNK)));
            }
            Ok(megabytes_per_second(total, elapsed))
        }
        Workload::Write4k => {
            let file = OpenOptions::new().write(true).open(root.join(BIG))?;
            let blocks = (sizes.mib * CHUNK / SMALL) as u64;
            let mut block = template(SMALL);
            let start = Instant::now();
            for i in 0..sizes.ops as u64 {
                // Sequential blocks over the file, rewritten with the bytes they hold, so the
                // reads after it still check.
                let offset = (i % blocks) * SMALL as u64;
                stamp(&mut block, offset);
                file.write_all_at(&block, offset)?;
            }
            file.sync_all()?;
            Ok(per_second(sizes.ops, start.elapsed()))
        }
        Workload::RandRead4k => {
            let file = File::open(root.join(BIG))?;
            let blocks = (sizes.mib * CHUNK / SMALL) as u64;
            let mut block = [0u8; SMALL];
            let start = Instant::now();
            for offset in offsets(sizes.ops, blocks) {
                file.read_exact_at(&mut block, offset)?;
                // The block's number and its last byte: enough to see a misplaced block, at
                // a cost far below a read's.
                if block[..8] != (offset / SMALL as u64).to_le_bytes()
                    || block[SMALL - 1] != byte_at(offset + SMALL as u64 - 1)
                {
                    return Err(invalid(format!("wrong bytes read at {offset}")));
                }
            }
            let elapsed = start.elapsed();
            fs::remove_file(root.join(BIG))?;
            Ok(per_second(sizes.ops, elapsed))
        }
        Workload::DirCreate => {
            let dir = root.join(DIR);
            fs::create_dir(&dir)?;
            let start = Instant::now();
            for i in 0..sizes.files {
                File::create(dir.join(format!("entry-{i:06}")))?;
            }
            Ok(per_second(sizes.files, start.elapsed()))
        }
        Workload::DirList | Workload::DirListStat => {
            drop_caches()?;
            let dir = root.join(DIR);
            let start = Instant::now();
            let mut count = 0;
            for entry in fs::read_dir(&dir)? {
                let entry = entry?;
                if workload == Workload::DirListStat {
                    fs::symlink_metadata(entry.path())?;
                }
                count += 1;
            }
            let elapsed = start.elapsed();
            if count != sizes.files {
                return Err(invalid(format!("listed {count} entries of {}", sizes.files)));
            }
            Ok(per_second(count, elapsed))
        }
        Workload::DirUnlink => {
            let dir = root.join(DIR);
            let start = Instant::now();
            for i in 0..sizes.files {
                fs::remove_file(dir.join(format!("entry-{i:06}")))?;
            }
            let elapsed = start.elapsed();
            fs::remove_dir(&dir)?;
            Ok(per_second(sizes.files, elapsed))
        }
    }
}

/// Removes what a failed workload may have left, so the next one starts clean.
pub fn clean(root: &Path) {
    let _ = fs::remove_file(root.join(BIG));
    let _ = fs::remove_file(root.join(STAT));
    let _ = fs::remove_dir_all(root.join(DIR));
    for i in 0..64 {
        let _ = fs::remove_file(root.join(format!("bench-small-{i}")));
    }
}
