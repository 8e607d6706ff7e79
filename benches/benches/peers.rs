//! puffs-rs against libfuse, fuser, a raw responder and tmpfs, in one run.
//!
//! Run `benches/run` as root (it builds the peers first), or, once they are built,
//! `cargo bench -p puffs-benches --bench peers`. Settings come from the environment:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PUFFS_BENCH_ROUNDS` | 5 | rounds; every figure is a median over them |
//! | `PUFFS_BENCH_MIB` | 1024 | size of the sequential file |
//! | `PUFFS_BENCH_OPS` | 20000 | small files, 4 KiB writes and random reads per sample |
//! | `PUFFS_BENCH_FILES` | 10000 | entries of the directory workloads |
//! | `PUFFS_BENCH_STATS` | 20000 | stats (and hello opens) per client per sample |
//! | `PUFFS_BENCH_THREADS` | 1 | worker threads of every server |
//! | `PUFFS_BENCH_CPU` | 0 | the CPU servers and clients are pinned to; `none` pins nothing |
//! | `PUFFS_BENCH_PEERS` | target/bench-peers | where `benches/setup.sh` put the programs |
//! | `PUFFS_BENCH_ONLY` | all | comma-separated words; only peers whose name has one run |
//! | `PUFFS_BENCH_OUT` | target/bench-report | where the CSV, the SVG and the servers' logs go |
//!
//! Without root or `/dev/fuse` it says so and measures nothing.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{sched_setaffinity, CpuSet};
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;
use puffs_benches::chart;
use puffs_benches::peers::{self, Launch, Running};
use puffs_benches::report::{self, Results};
use puffs_benches::workloads::{self, Sizes};

fn setting(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v}: not a number")),
        Err(_) => default,
    }
}

/// A tmpfs the bench mounted on a fresh directory of its own: unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: PathBuf) -> Tmpfs {
        fs::create_dir_all(&dir).expect("make the backing directory");
        mount(Some("tmpfs"), &dir, Some("tmpfs"), MsFlags::empty(), Some("size=80%")).expect("mount tmpfs");
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = umount2(&self.0, MntFlags::MNT_DETACH);
        let _ = fs::remove_dir(&self.0);
    }
}

/// On Ctrl-C, SIGTERM or SIGHUP, unmounts everything mounted under `base` (all of it the
/// bench's: `base` is a fresh directory of its own) and exits, so that no server or mount
/// outlives the bench; the servers end when their mounts go. The signals are blocked in
/// every thread but the one waiting for them (programs started later get the default mask).
fn clean_up_on_signals(base: PathBuf) {
    let mut signals = SigSet::empty();
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        signals.add(signal);
    }
    signals.thread_block().expect("block the signals");
    std::thread::spawn(move || {
        let signal = signals.wait().expect("wait for a signal");
        let table = puffs::mount_table::read().unwrap_or_default();
        // Deepest first: the peers' mounts, then the backing tmpfs they sit beside.
        let mut ours: Vec<_> = table.iter().filter(|m| m.mount_point.starts_with(&base)).collect();
        ours.sort_by_key(|m| std::cmp::Reverse(m.mount_point.components().count()));
        for mount in ours {
            let _ = umount2(&mount.mount_point, MntFlags::MNT_DETACH);
        }
        // Nothing is mounted under it any more: what is left are the bench's own folders.
        let _ = fs::remove_dir_all(&base);
        eprintln!("peers: {signal}: unmounted the peers, nothing reported");
        std::process::exit(130);
    });
}

/// The order of `n` peers in round `round`: a shuffle (Fisher-Yates, xorshift), the same in
/// every run.
fn round_order(n: usize, round: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = 0x2545_f491_4f6c_dd1d_u64 ^ (round as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for i in (1..n).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order
}

fn main() {
    if !nix::unistd::geteuid().is_root() || !Path::new("/dev/fuse").exists() {
        println!("peers: needs root and /dev/fuse; nothing measured");
        return;
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf();
    let sizes = Sizes {
        stats: setting("PUFFS_BENCH_STATS", 20000),
        mib: setting("PUFFS_BENCH_MIB", 1024),
        ops: setting("PUFFS_BENCH_OPS", 20000),
        files: setting("PUFFS_BENCH_FILES", 10000),
    };
    let rounds = setting("PUFFS_BENCH_ROUNDS", 5);
    let cpu = match std::env::var("PUFFS_BENCH_CPU").as_deref() {
        Ok("none") => None,
        Ok(v) => Some(v.parse().unwrap_or_else(|_| panic!("PUFFS_BENCH_CPU={v}: a CPU number or `none`"))),
        Err(_) => Some(0),
    };
    let out = std::env::var_os("PUFFS_BENCH_OUT").map_or(workspace.join("target/bench-report"), PathBuf::from);
    let base = std::env::temp_dir().join(format!("puffs-bench-{}", std::process::id()));
    clean_up_on_signals(base.clone());
    let launch = Launch {
        bin: std::env::var_os("PUFFS_BENCH_PEERS")
            .map_or(workspace.join("target/bench-peers"), PathBuf::from)
            .join("bin"),
        threads: setting("PUFFS_BENCH_THREADS", 1),
        cpu,
        base: base.clone(),
        logs: out.join("logs"),
    };
    if let Some(cpu) = cpu {
        // The client: this thread and the threads it starts. The servers get the same CPU
        // from taskset, so a round trip is two context switches on one CPU.
        let mut set = CpuSet::new();
        set.set(cpu).expect("CPU number");
        sched_setaffinity(Pid::from_raw(0), &set).expect("pin the client");
    }
    let only: Vec<String> = std::env::var("PUFFS_BENCH_ONLY")
        .map(|v| v.split(',').map(str::to_string).filter(|w| !w.is_empty()).collect())
        .unwrap_or_default();
    let catalogue: Vec<_> = peers::catalogue(&launch)
        .into_iter()
        .filter(|p| {
            only.is_empty() || p.family == peers::Family::Tmpfs || only.iter().any(|w| p.name.contains(w.as_str()))
        })
        .collect();

    let backing = Tmpfs::mount(base.join("backing"));
    let mut results = Results::default();
    let mut running = Vec::new();
    for (i, peer) in catalogue.iter().enumerate() {
        match Running::start(peer, &launch, &backing.0) {
            Ok(r) => running.push((i, r)),
            Err(e) => {
                println!("not run: {} ({}): {e}", peer.name, peer.caching.name());
                for workload in workloads::ALL {
                    if workload.runs_on(peer.caching, peer.serves) {
                        results.fail(workload, peer.caching, i, format!("not run: {e}"));
                    }
                }
            }
        }
    }
    let heading = format!(
        "{rounds} rounds, {} server thread(s), {}; {} MiB file, {} ops, {} entries, {} stats",
        launch.threads,
        cpu.map_or("unpinned".to_string(), |c| format!("client and servers pinned to CPU {c}")),
        sizes.mib,
        sizes.ops,
        sizes.files,
        sizes.stats
    );
    println!("peers: {heading}");
    let started = Instant::now();
    for round in 0..rounds {
        let round_started = Instant::now();
        // A new order each round, so that no peer always runs first, or right after the same
        // one: what a peer leaves behind (memory to free, files to forget) slows the next one.
        for &k in &round_order(running.len(), round) {
            let (i, peer) = &running[k];
            for workload in workloads::sequence() {
                if !workload.runs_on(peer.peer.caching, peer.peer.serves) {
                    continue;
                }
                if let Some(why) = peer.peer.skips(workload) {
                    results.fail(workload, peer.peer.caching, *i, why.to_string());
                    continue;
                }
                match workloads::run(workload, &peer.root, peer.peer.serves, &sizes) {
                    Ok(figure) => results.add(workload, peer.peer.caching, *i, figure),
                    Err(e) => {
                        workloads::clean(&peer.root);
                        let log = peer.log().display();
                        results.fail(workload, peer.peer.caching, *i, format!("{e} (log: {log})"));
                    }
                }
            }
        }
        println!("round {}/{rounds}: {:.1} s", round + 1, round_started.elapsed().as_secs_f64());
    }
    drop(running);
    drop(backing);
    let _ = fs::remove_dir_all(&base);

    let groups = results.groups(&catalogue, &sizes);
    print!("{}", report::table(&groups));
    fs::create_dir_all(&out).expect("report folder");
    let csv = out.join("peers.csv");
    let svg = out.join("peers.svg");
    fs::write(&csv, report::csv(&groups)).expect("write the CSV");
    fs::write(&svg, chart::svg(&groups, &heading)).expect("write the SVG");
    println!(
        "\n{heading}; {:.0} s in all.\nx best = median / best median of libfuse's and fuser's peers in the same group; \
         x raw = median / the raw responder's. Higher is faster.\nwrote {} and {}",
        started.elapsed().as_secs_f64(),
        csv.display(),
        svg.display()
    );
}
