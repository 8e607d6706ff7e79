//! Daemonizing forks, which is safe only while the process runs one thread: with more, the
//! mount is refused before anything is forked or mounted.

use puffs::{puffs_fs, Cookie, Errno, FileSystem, MountFlags, Usermount};

struct Nothing;

#[puffs_fs]
impl FileSystem for Nothing {}

#[test]
fn daemonizing_a_process_with_threads_is_refused_with_the_reason() {
    // The test harness runs this test on a thread of its own: the process has several.
    let _another = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(2)));
    let dir = std::env::temp_dir();
    let (error, _unmounted) = Usermount::init(Nothing, "nothing")
        .daemonize(true)
        .mount(&dir, MountFlags::empty(), Cookie(1))
        .expect_err("a process with threads must not fork")
        .into_parts();
    assert_eq!(error.errno(), Errno::EBUSY);
    assert!(error.context().contains("threads") && error.context().contains("foreground"), "{error}");
}
