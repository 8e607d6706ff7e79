//! SIGINT and SIGTERM unmount the running file systems of the process.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use nix::errno::Errno;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd;

use crate::os::mount::MountGuard;

type AskUnmount = Arc<dyn Fn(bool) -> Result<(), Errno> + Send + Sync>;

struct Registry {
    next_id: u64,
    mounts: Vec<(u64, Arc<MountGuard>, AskUnmount)>,
    previous: Vec<(Signal, SigAction)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry { next_id: 0, mounts: Vec::new(), previous: Vec::new() });
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
static SIGNALS: AtomicU32 = AtomicU32::new(0);
static WATCHER: OnceLock<OwnedFd> = OnceLock::new();

extern "C" fn on_signal(_: nix::libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::SeqCst);
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; the buffer is a valid one-byte array.
        unsafe { nix::libc::write(fd, [1u8].as_ptr().cast(), 1) };
    }
}

/// Keeps the mount registered for unmount by signal while alive.
#[derive(Debug)]
pub(crate) struct Watch {
    id: u64,
}

fn watcher_thread(read_end: &'static OwnedFd) {
    let mut byte = [0u8; 1];
    loop {
        match unistd::read(read_end, &mut byte) {
            Ok(0) => return,
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        }
        let force = SIGNALS.load(Ordering::SeqCst) >= 2;
        let mounts: Vec<_> = REGISTRY.lock().map(|r| r.mounts.clone()).unwrap_or_default();
        for (_, mount, ask) in mounts {
            match ask(force) {
                Ok(()) => {
                    if let Err(e) = mount.unmount() {
                        log::warn!("{e}");
                    }
                }
                Err(e) => log::warn!(
                    "the file system at {} refuses to unmount ({}); signal again to force",
                    mount.dir().display(),
                    e.desc()
                ),
            }
        }
    }
}

/// Registers `mount` to be unmounted on SIGINT or SIGTERM after `ask(force)` agrees.
pub(crate) fn watch(mount: Arc<MountGuard>, ask: impl Fn(bool) -> Result<(), Errno> + Send + Sync + 'static) -> Watch {
    if WATCHER.get().is_none() {
        if let Ok((read_end, write_end)) = unistd::pipe() {
            if WATCHER.set(read_end).is_ok() {
                WAKE_FD.store(write_end.as_raw_fd(), Ordering::SeqCst);
                std::mem::forget(write_end);
                let _ = std::thread::Builder::new().name("puffs-signals".into()).spawn(move || {
                    if let Some(fd) = WATCHER.get() {
                        watcher_thread(fd)
                    }
                });
            }
        }
    }
    let mut registry = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    if registry.mounts.is_empty() {
        SIGNALS.store(0, Ordering::SeqCst);
        let action = SigAction::new(SigHandler::Handler(on_signal), SaFlags::empty(), SigSet::empty());
        for signal in [Signal::SIGINT, Signal::SIGTERM] {
            // SAFETY: the handler only touches atomics and calls write(2).
            if let Ok(previous) = unsafe { sigaction(signal, &action) } {
                registry.previous.push((signal, previous));
            }
        }
    }
    let id = registry.next_id;
    registry.next_id += 1;
    registry.mounts.push((id, mount, Arc::new(ask)));
    Watch { id }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut registry = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
        registry.mounts.retain(|(id, _, _)| *id != self.id);
        if registry.mounts.is_empty() {
            for (signal, previous) in std::mem::take(&mut registry.previous) {
                // SAFETY: restores the disposition that was in place before.
                let _ = unsafe { sigaction(signal, &previous) };
            }
        }
    }
}
