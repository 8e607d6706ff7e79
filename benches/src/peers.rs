//! The programs compared and how each is started, mounted and stopped.
//!
//! Every FUSE peer is a program of its own, started from the folder `benches/setup.sh` fills
//! (`target/bench-peers/bin`), in the foreground, with the same worker count and, when the bench
//! pins, on the same CPU as the client. A peer is mounted once for the whole run and unmounted
//! when its [`Running`] guard drops, even when the bench fails; only the fresh directory the
//! bench made for it is ever unmounted.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::workloads::Workload;

/// Who wrote the server: the ratios compare puffs with the best of libfuse and fuser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// The kernel's own tmpfs: no FUSE at all, the ceiling.
    Tmpfs,
    /// A server with no library (`benches/peers/raw_responder.c`): the limit of `/dev/fuse`.
    Raw,
    /// libfuse's examples, from Debian's source package of fuse3.
    Libfuse,
    /// fuser's examples, from crates.io.
    Fuser,
    /// This workspace's example programs.
    Puffs,
}

impl Family {
    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Family::Tmpfs => "tmpfs",
            Family::Raw => "raw",
            Family::Libfuse => "libfuse",
            Family::Fuser => "fuser",
            Family::Puffs => "puffs",
        }
    }

    /// Whether the family is a peer library puffs must match (libfuse, fuser).
    pub fn is_peer_library(self) -> bool {
        matches!(self, Family::Libfuse | Family::Fuser)
    }
}

/// The caching settings a group of peers shares, so that a ratio compares like with like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Caching {
    /// Zero entry and attribute lifetimes, no writeback cache, the page cache dropped at each
    /// open (libfuse: `timeout=0` / `--nocache`; fuser's simple always; puffs:
    /// `attr_timeout=0,entry_timeout=0`).
    None,
    /// A day's lifetimes, the writeback cache, the page cache kept across opens where the
    /// server says so (passthrough_hp's defaults; passthrough_ll `writeback,cache=always`;
    /// puffs `attr_timeout=86400,entry_timeout=86400,kernel_cache,writeback_cache`). fuser's simple has no
    /// such mode. FUSE passthrough excludes the writeback cache, so puffs's passthrough peer
    /// has the lifetimes only.
    Cached,
    /// The one-file hello servers, with the lifetimes they are written with (1 s).
    Hello,
}

impl Caching {
    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Caching::None => "no cache",
            Caching::Cached => "cached",
            Caching::Hello => "hello, 1 s",
        }
    }
}

/// What a peer serves, which decides the workloads it can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serves {
    /// A writable tree: every workload.
    Tree,
    /// One read-only file in the root, of this name: stat and open+read+close of it.
    Hello(&'static str),
}

/// One server to compare: a program with its arguments, or the kernel's tmpfs.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The name in the report, unique within its [`Caching`] group.
    pub name: String,
    /// Who wrote it.
    pub family: Family,
    /// Its caching group.
    pub caching: Caching,
    /// What it serves.
    pub serves: Serves,
    /// The program in the peers' folder, or `None` for tmpfs.
    program: Option<&'static str>,
    /// Its arguments; `{mnt}` and `{src}` stand for the mount point and the backing directory.
    args: Vec<String>,
    /// Workloads it is left out of, and why.
    skip: Option<Skip>,
}

/// Workloads a peer is left out of, and why (the report shows the reason in its place).
#[derive(Debug, Clone, Copy)]
struct Skip {
    workloads: fn(Workload) -> bool,
    why: &'static str,
}

/// How every peer is started: where the programs are, how many workers, which CPU.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The folder `benches/setup.sh` filled.
    pub bin: PathBuf,
    /// Worker threads of every server.
    pub threads: usize,
    /// The CPU servers and clients are pinned to, if any.
    pub cpu: Option<usize>,
    /// Where the bench makes mount points and backing directories.
    pub base: PathBuf,
    /// Where the servers' logs go.
    pub logs: PathBuf,
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

impl Peer {
    fn new(name: &str, family: Family, caching: Caching, serves: Serves, program: Option<&'static str>) -> Peer {
        Peer { name: name.to_string(), family, caching, serves, program, args: Vec::new(), skip: None }
    }

    fn args(mut self, line: &str) -> Peer {
        self.args = words(line);
        self
    }

    /// Why it is left out of `workload`, if it is.
    pub fn skips(&self, workload: Workload) -> Option<&'static str> {
        self.skip.filter(|skip| (skip.workloads)(workload)).map(|skip| skip.why)
    }
}

/// Every peer, in report order, started with `launch`'s worker count. A peer whose program
/// is missing is still listed; [`Running::start`] says it is missing.
pub fn catalogue(launch: &Launch) -> Vec<Peer> {
    use Caching::{Cached, Hello as HelloGroup, None as NoCache};
    use Family::{Fuser, Libfuse, Puffs, Raw, Tmpfs};
    let t = launch.threads;
    // libfuse's loops: -s is one thread; without it, a pool that grows with the load.
    let ll_threads = if t == 1 { "-s" } else { "" };
    let hp_threads = if t == 1 { "--single".to_string() } else { format!("--num-threads {t}") };
    let puffs = |name: &str, caching: Caching, program: &'static str, options: &str, rest: &str| {
        let serves = if program == "puffs-hello" { Serves::Hello("hello") } else { Serves::Tree };
        // nostatx: libfuse 3.14 and fuser answer no STATX, and a Rust client's stat (which asks
        // for the birth time) would cost puffs a request more after each lookup.
        Peer::new(name, Puffs, caching, serves, Some(program))
            .args(&format!("-f -t {t} -o nostatx,{options} {rest} {{mnt}}"))
    };
    let zero = "attr_timeout=0,entry_timeout=0";
    let day = "attr_timeout=86400,entry_timeout=86400,kernel_cache";
    let mut peers = Vec::new();
    for caching in [NoCache, Cached] {
        peers.push(Peer::new("tmpfs", Tmpfs, caching, Serves::Tree, None));
        let (ll, hp) = match caching {
            NoCache => ("timeout=0", "--nocache"),
            _ => ("writeback,cache=always", ""),
        };
        if caching == NoCache {
            peers.push(
                Peer::new("raw responder", Raw, caching, Serves::Hello("hello"), Some("raw_responder")).args("{mnt}"),
            );
        }
        peers.push(
            Peer::new("libfuse passthrough_ll", Libfuse, caching, Serves::Tree, Some("passthrough_ll"))
                .args(&format!("-f {ll_threads} -o source={{src}},{ll} {{mnt}}")),
        );
        peers.push(
            Peer::new("libfuse passthrough_hp", Libfuse, caching, Serves::Tree, Some("passthrough_hp"))
                .args(&format!("--foreground {hp_threads} {hp} {{src}} {{mnt}}")),
        );
        if caching == NoCache {
            peers.push(Peer {
                skip: Some(Skip {
                    workloads: |w| {
                        matches!(
                            w,
                            Workload::DirCreate | Workload::DirList | Workload::DirListStat | Workload::DirUnlink
                        )
                    },
                    why: "skipped: fuser's simple rewrites a whole directory for each entry made or removed \
                         (150 creates/s at 1000 entries), so 10k entries take many minutes",
                }),
                ..Peer::new("fuser simple", Fuser, caching, Serves::Tree, Some("fuser-simple"))
                    .args(&format!("--data-dir {{src}} --mount-point {{mnt}} --n-threads {t}"))
            });
        }
        let (lifetimes, writeback) = match caching {
            NoCache => (zero, ""),
            _ => (day, ",writeback_cache"),
        };
        // dtfs has POSIX ACLs, and with them the kernel's permission checks (a GETATTR more
        // per stat); no other peer checks, so neither does it here.
        let dtfs = format!("noacl,{lifetimes}{writeback}");
        let null = format!("nodefault_permissions,nopassthrough,{lifetimes}{writeback}");
        let source = "--source {src}";
        peers.push(puffs("puffs dtfs", caching, "puffs-dtfs", &dtfs, ""));
        peers.push(puffs("puffs dtfs io_uring", caching, "puffs-dtfs", &format!("{dtfs},io_uring"), ""));
        peers.push(puffs("puffs nullfs", caching, "puffs-nullfs", &null, source));
        peers.push(puffs("puffs nullfs io_uring", caching, "puffs-nullfs", &format!("{null},io_uring"), source));
        let passthrough = format!("nodefault_permissions,passthrough,{lifetimes}");
        peers.push(puffs("puffs nullfs passthrough", caching, "puffs-nullfs", &passthrough, source));
    }
    peers.push(
        Peer::new("raw responder", Raw, HelloGroup, Serves::Hello("hello"), Some("raw_responder")).args("-t 1 {mnt}"),
    );
    peers.push(
        Peer::new("libfuse hello_ll", Libfuse, HelloGroup, Serves::Hello("hello"), Some("hello_ll"))
            .args(&format!("-f {} {{mnt}}", if t == 1 { "-s" } else { "" })),
    );
    peers.push(
        Peer::new("fuser hello", Fuser, HelloGroup, Serves::Hello("hello.txt"), Some("fuser-hello")).args("{mnt}"),
    );
    peers.push(puffs("puffs hello", HelloGroup, "puffs-hello", "ro", ""));
    peers.push(puffs("puffs hello io_uring", HelloGroup, "puffs-hello", "ro,io_uring", ""));
    peers
}

/// A mounted peer: its server process (none for tmpfs) and its mount point. Dropping it
/// unmounts what the bench mounted and ends the server.
pub struct Running {
    /// The peer.
    pub peer: Peer,
    /// Where it is mounted: the root of every workload.
    pub root: PathBuf,
    /// Its backing directory (passthrough sources, fuser's data), kept for the report's logs.
    src: PathBuf,
    child: Option<Child>,
    log: PathBuf,
}

fn slug(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}

/// Whether `dir` is the top of a mount right now.
fn is_mounted(dir: &Path) -> bool {
    let table = puffs::mount_table::read().unwrap_or_default();
    puffs::mount_table::top_at(&table, dir).is_some()
}

impl Running {
    /// Starts `peer` and waits (up to 20 s) for its mount to appear. `backing` is the tmpfs
    /// under which each peer gets its own backing directory.
    pub fn start(peer: &Peer, launch: &Launch, backing: &Path) -> io::Result<Running> {
        let tag = slug(&format!("{}-{}", peer.caching.name(), peer.name));
        let root = launch.base.join("mnt").join(&tag);
        let src = backing.join(&tag);
        let log = launch.logs.join(format!("{tag}.log"));
        for dir in [&root, &src] {
            fs::create_dir_all(dir)?;
        }
        fs::create_dir_all(&launch.logs)?;
        let mut running = Running { peer: peer.clone(), root, src, child: None, log };
        let Some(program) = peer.program else {
            mount(Some("tmpfs"), &running.root, Some("tmpfs"), MsFlags::empty(), Some("size=80%"))
                .map_err(io::Error::from)?;
            return Ok(running);
        };
        let path = launch.bin.join(program);
        if !path.exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} is missing: run benches/setup.sh", path.display()),
            ));
        }
        let args: Vec<String> = peer
            .args
            .iter()
            .map(|a| {
                a.replace("{mnt}", &running.root.to_string_lossy()).replace("{src}", &running.src.to_string_lossy())
            })
            .collect();
        let mut command = match launch.cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        let output = File::create(&running.log)?;
        command.args(&args).stdin(Stdio::null()).stdout(output.try_clone()?).stderr(output);
        running.child = Some(command.spawn()?);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !is_mounted(&running.root) {
            let exited = running.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                let said = fs::read_to_string(&running.log).unwrap_or_default();
                return Err(io::Error::other(format!(
                    "{} did not mount ({}): {}",
                    peer.name,
                    exited.map_or("timed out after 20 s".to_string(), |s| s.to_string()),
                    said.trim()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(running)
    }

    /// The server's log (its standard output and error).
    pub fn log(&self) -> &Path {
        &self.log
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // The mount point is a fresh directory of the bench's: whatever is mounted there is
        // the peer's own.
        if is_mounted(&self.root) {
            let _ = umount2(&self.root, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW);
        }
        if let Some(child) = self.child.as_mut() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = fs::remove_dir(&self.root);
        let _ = fs::remove_dir_all(&self.src);
    }
}
