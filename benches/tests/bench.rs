//! The peer benchmark's parts, without mounting anything: the workloads on a plain directory
//! (they must check what they read), and the report's medians, ratios, CSV and chart.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use puffs_benches::chart;
use puffs_benches::peers::{catalogue, Caching, Family, Launch, Serves};
use puffs_benches::report::{self, median, Results};
use puffs_benches::workloads::{self, Sizes, Workload};

const SIZES: Sizes = Sizes { stats: 50, mib: 2, ops: 300, files: 40 };

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("puffs-bench-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// A launch that starts nothing: the catalogue only reads it.
fn launch() -> Launch {
    let nowhere = PathBuf::from("/nonexistent");
    Launch { bin: nowhere.clone(), threads: 1, cpu: None, base: nowhere.clone(), logs: nowhere }
}

#[test]
fn every_workload_runs_on_a_directory_and_leaves_it_empty() {
    let dir = scratch("workloads");
    // Dropping caches needs root; as another user the two workloads that do it are left out.
    let root = nix::unistd::geteuid().is_root();
    for workload in workloads::sequence() {
        if !workload.runs_on(Caching::None, Serves::Tree) {
            continue;
        }
        if !root && matches!(workload, Workload::SeqReadCold | Workload::DirList | Workload::DirListStat) {
            continue;
        }
        let figure =
            workloads::run(workload, &dir, Serves::Tree, &SIZES).unwrap_or_else(|e| panic!("{workload:?}: {e}"));
        assert!(figure.is_finite() && figure > 0.0, "{workload:?}: {figure}");
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "the workloads leave nothing behind");
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn reads_of_wrong_bytes_fail_the_workload() {
    let dir = scratch("corrupt");
    workloads::run(Workload::SeqWrite, &dir, Serves::Tree, &SIZES).expect("write");
    workloads::run(Workload::SeqReadWarm, &dir, Serves::Tree, &SIZES).expect("the file as written reads back");
    // One byte changed in the middle of a block: the sequential read sees it.
    let file = OpenOptions::new().write(true).open(dir.join("bench-seq")).unwrap();
    file.write_all_at(&[0xee], 1_000_000 + 100).unwrap();
    let error = workloads::run(Workload::SeqReadWarm, &dir, Serves::Tree, &SIZES).expect_err("a wrong byte fails");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
    // Every block moved one place down: the random reads see block numbers out of place.
    let both = OpenOptions::new().read(true).write(true).open(dir.join("bench-seq")).unwrap();
    let mut next = [0u8; 4096];
    for block in 0..(2 << 20) / 4096 - 1 {
        both.read_exact_at(&mut next, (block + 1) * 4096).unwrap();
        both.write_all_at(&next, block * 4096).unwrap();
    }
    let error = workloads::run(Workload::RandRead4k, &dir, Serves::Tree, &SIZES).expect_err("misplaced blocks fail");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
    workloads::clean(&dir);
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn a_hello_server_is_stat_and_read_by_its_file_name() {
    let dir = scratch("hello");
    std::fs::write(dir.join("hello.txt"), "Hello World!\n").unwrap();
    let serves = Serves::Hello("hello.txt");
    assert!(Workload::Stat1.runs_on(Caching::None, serves) && Workload::HelloRead.runs_on(Caching::Hello, serves));
    assert!(
        !Workload::SeqWrite.runs_on(Caching::None, serves) && !Workload::SeqWrite.runs_on(Caching::Hello, Serves::Tree)
    );
    for workload in [Workload::Stat1, Workload::Stat2, Workload::HelloRead] {
        workloads::run(workload, &dir, serves, &SIZES).unwrap_or_else(|e| panic!("{workload:?}: {e}"));
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "a hello server's tree is left as it was");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn medians_are_of_the_middle() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    assert!(median(&[]).is_nan());
}

#[test]
fn ratios_are_against_the_best_peer_library_and_the_raw_responder_of_the_same_group() {
    let peers = catalogue(&launch());
    let index = |caching: Caching, name: &str| {
        peers.iter().position(|p| p.caching == caching && p.name == name).unwrap_or_else(|| panic!("{name}"))
    };
    let mut results = Results::default();
    let stat = |results: &mut Results, name: &str, figures: &[f64]| {
        for f in figures {
            results.add(Workload::Stat1, Caching::None, index(Caching::None, name), *f);
        }
    };
    stat(&mut results, "tmpfs", &[1000.0]);
    stat(&mut results, "raw responder", &[200.0, 210.0, 190.0]);
    stat(&mut results, "libfuse passthrough_ll", &[150.0, 160.0, 140.0]);
    stat(&mut results, "fuser simple", &[40.0]);
    stat(&mut results, "puffs dtfs", &[190.0, 100.0, 200.0]);
    results.fail(Workload::Stat1, Caching::None, index(Caching::None, "puffs nullfs"), "not run: missing".into());
    // Another group's figures do not count in this one.
    results.add(Workload::Stat1, Caching::Hello, index(Caching::Hello, "libfuse hello_ll"), 9999.0);

    let groups = results.groups(&peers, &SIZES);
    let group = groups.iter().find(|g| g.workload == Workload::Stat1 && g.caching == Caching::None).unwrap();
    assert_eq!(group.best_peer.as_deref(), Some("libfuse passthrough_ll"), "tmpfs and raw are not peers");
    let row = |name: &str| group.rows.iter().find(|r| r.peer == name).unwrap();
    let dtfs = row("puffs dtfs");
    assert_eq!((dtfs.median, dtfs.min, dtfs.max, dtfs.samples), (190.0, 100.0, 200.0, 3));
    assert!((dtfs.vs_best_peer.unwrap() - 190.0 / 150.0).abs() < 1e-9);
    assert!((dtfs.vs_raw.unwrap() - 190.0 / 200.0).abs() < 1e-9);
    assert_eq!(row("tmpfs").family, Family::Tmpfs);
    let nullfs = row("puffs nullfs");
    assert_eq!((nullfs.samples, nullfs.vs_best_peer, nullfs.error.as_deref()), (0, None, Some("not run: missing")));

    let csv = report::csv(&groups);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("workload,caching,unit,peer,family,median"));
    assert!(
        lines.contains(&"\"stat, 1 client\",no cache,ops/s,puffs dtfs,puffs,190.000,100.000,200.000,3,1.2667,0.9500,"),
        "{csv}"
    );
    assert_eq!(lines.len(), 1 + 6 + 1, "a header, six peers of the stat group, one of the hello group");

    let table = report::table(&groups);
    assert!(
        table.contains("[best peer: libfuse passthrough_ll]") && table.contains("failed: not run: missing"),
        "{table}"
    );

    let svg = chart::svg(&groups, "a <test> run");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("a &lt;test&gt; run"), "text is escaped");
    assert!(
        svg.contains(">1.27x<") && svg.contains(">6.67x (off scale)<") && svg.contains("not run: missing"),
        "{svg}"
    );
    assert_eq!(svg.matches("<svg").count(), 1);
}
