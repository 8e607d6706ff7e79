//! Unmount, sync and suspension on the loopback kernel, as `puffs_vfsops.c` does them: the file
//! system is asked unless dying, a refusal keeps the mount unless forced, waiters are released,
//! and every suspension phase is told.

mod loopback_support;

use std::sync::atomic::Ordering;

use loopback_support::{eventually, mounted_recorder};
use puffs::loopback::Request;
use puffs::loopback::{self, MountArgs, Status, UnmountError};
use puffs::{Cookie, Errno, OFlag, UnmountFlags, Usermount};

#[test]
fn an_agreed_unmount_sends_destroy_and_hands_the_file_system_back() {
    let (mounted, log) = mounted_recorder(1);
    let client = mounted.client().clone();
    let fs = mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
    let unmounts: Vec<_> = log.events().into_iter().filter(|e| e.starts_with("unmount")).collect();
    assert_eq!(unmounts, vec!["unmount 0"], "asked once, without force; DESTROY does not ask again");
    assert_eq!(client.requests_sent(Request::Unmount), 1);
    assert_eq!(client.requests_sent(Request::Destroy), 1);
    assert_eq!(client.status(), Status::Finished);
    assert_eq!(client.stat("file"), Err(Errno::ENXIO), "later calls are released with ENXIO");
    assert!(std::sync::Arc::ptr_eq(&fs.log, &log), "the same file system came back");
}

#[test]
fn a_refused_unmount_keeps_the_mount_unless_forced() {
    let (mounted, log) = mounted_recorder(1);
    log.refuse_unmount.store(true, Ordering::SeqCst);
    let mounted = match mounted.unmount(UnmountFlags::empty()) {
        Err(UnmountError::Refused { errno, loopback }) => {
            assert_eq!(errno, Errno::EBUSY);
            *loopback
        }
        Err(other) => panic!("the refusal was not honoured: {other:?}"),
        Ok(_) => panic!("unmounted despite the refusal"),
    };
    assert_eq!(mounted.client().status(), Status::Serving);
    assert_eq!(mounted.client().stat("file").expect("still usable").size, 4);
    assert_eq!(mounted.client().requests_sent(Request::Destroy), 0);
    let client = mounted.client().clone();
    // Force always wins, even over a second refusal.
    let fs = mounted.unmount(UnmountFlags::FORCE).map_err(|e| e.errno()).expect("forced unmount");
    let unmounts: Vec<_> = log.events().into_iter().filter(|e| e.starts_with("unmount")).collect();
    assert_eq!(unmounts, vec!["unmount 0", "unmount 1"], "asked without, then with force");
    assert_eq!(client.requests_sent(Request::Destroy), 1);
    assert_eq!(client.stat(""), Err(Errno::ENXIO));
    drop(fs);
}

#[test]
fn a_dying_mount_is_not_asked() {
    let (mounted, log) = mounted_recorder(1);
    // The file system leaves on its own (puffs_exit): its side of the connection closes.
    mounted.notifier().unmount().expect("puffs_exit");
    eventually("the kernel noticing the file system is gone", || mounted.client().status() == Status::Dying);
    assert_eq!(mounted.client().stat("file"), Err(Errno::ENXIO), "calls fail instead of hanging");
    let client = mounted.client().clone();
    let fs = mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount of a dying mount");
    let unmounts: Vec<_> = log.events().into_iter().filter(|e| e.starts_with("unmount")).collect();
    // Only the usermount's own goodbye at the end of its main loop, which is always forced.
    assert_eq!(unmounts, vec!["unmount 1"], "the kernel did not ask");
    assert_eq!(client.requests_sent(Request::Unmount), 0);
    assert_eq!(client.requests_sent(Request::Destroy), 0, "no DESTROY to a closed connection");
    drop(fs);
}

#[test]
fn waiters_are_released_when_the_unmount_is_forced() {
    let (mounted, log) = mounted_recorder(2);
    log.refuse_unmount.store(true, Ordering::SeqCst);
    log.read_gate.close();
    let client = mounted.client().clone();
    let reader = {
        let log = log.clone();
        std::thread::spawn(move || {
            let file = client.open("file", OFlag::O_RDONLY, 0).expect("open");
            let read = client.read(&file, 0, 4);
            // Only now may the file system's read finish: the waiter was released before.
            log.read_gate.release();
            (read, client.stat("file"))
        })
    };
    log.read_gate.wait_for_waiter();
    let fs = mounted.unmount(UnmountFlags::FORCE).map_err(|e| e.errno()).expect("forced unmount");
    let (read, later) = reader.join().expect("reader thread");
    assert_eq!(read, Err(Errno::ENXIO), "the blocked read was released");
    assert_eq!(later, Err(Errno::ENXIO), "and so is a later call");
    assert!(log.events().contains(&"unmount 1".to_string()), "the file system was asked, forced");
    drop(fs);
}

#[test]
fn sync_asks_the_file_system() {
    let (mounted, log) = mounted_recorder(1);
    mounted.client().sync().expect("sync");
    assert!(log.events().contains(&"sync Wait".to_string()));
    assert_eq!(mounted.client().requests_sent(Request::Sync), 1);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn suspend_and_resume_tell_each_phase_and_hold_calls_in_between() {
    let (mounted, log) = mounted_recorder(1);
    mounted.client().suspend().expect("suspend");
    assert_eq!(mounted.client().suspend(), Err(Errno::EBUSY), "already suspended");
    let phases = |log: &loopback_support::Log| -> Vec<String> {
        log.events().into_iter().filter(|e| e.starts_with("suspend")).collect()
    };
    assert_eq!(phases(&log), vec!["suspend Start", "suspend Suspended"]);
    let client = mounted.client().clone();
    let held = std::thread::spawn(move || client.stat("file"));
    mounted.client().resume().expect("resume");
    assert_eq!(held.join().expect("held thread").expect("stat after resume").size, 4);
    assert_eq!(phases(&log), vec!["suspend Start", "suspend Suspended", "suspend Resume"]);
    let resumed = log.position("suspend Resume").unwrap();
    let looked_up = log.position("lookup 1 file").expect("the held call went on");
    assert!(looked_up > resumed, "no operation reached the suspended file system: {:?}", log.events());
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}

#[test]
fn a_suspension_that_cannot_drain_tells_error_and_goes_back_to_normal() {
    let (usermount, log) = loopback_support::recorder(Cookie(1));
    let usermount: Usermount<_> = usermount.threads(2);
    let args = MountArgs { timeout: std::time::Duration::from_millis(300), ..MountArgs::of(&usermount, Cookie(1)) };
    let mounted = loopback::mount(usermount, args).map_err(puffs::Error::from).expect("mount");
    log.read_gate.close();
    let client = mounted.client().clone();
    let reader = std::thread::spawn(move || {
        let file = client.open("file", OFlag::O_RDONLY, 0).expect("open");
        client.read(&file, 0, 4)
    });
    log.read_gate.wait_for_waiter();
    // The read stays in flight until the gate opens, which is after suspend answered.
    assert_eq!(mounted.client().suspend(), Err(Errno::ETIMEDOUT));
    log.read_gate.release();
    let phases: Vec<_> = log.events().into_iter().filter(|e| e.starts_with("suspend")).collect();
    assert_eq!(phases, vec!["suspend Start", "suspend Error"]);
    // Its caller either gave up within the bound or saw the answer once the gate opened.
    let read = reader.join().expect("reader");
    assert!(matches!(&read, Err(Errno::ETIMEDOUT)) || read == Ok(b"data".to_vec()), "{read:?}");
    assert_eq!(mounted.client().stat("file").expect("normal operation again").size, 4);
    mounted.unmount(UnmountFlags::empty()).map_err(|e| e.errno()).expect("unmount");
}
