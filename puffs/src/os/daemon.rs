//! `puffs_daemon`: fork, and let the parent exit with the child's mount result.

use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::unistd::{self, ForkResult};

use crate::error::Error;

/// The child's end of the report pipe.
#[derive(Debug)]
pub(crate) struct Daemon {
    report: OwnedFd,
}

/// How many threads this process runs, from `/proc/self/status`.
fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Threads:"))?.trim().parse().ok()
}

/// Forks. The parent waits for the child's report and exits; the child answers.
pub(crate) fn fork(name: &str) -> Result<Daemon, Error> {
    // After fork only the calling thread exists in the child: a lock another thread held
    // (the allocator's, say) would stay locked forever. Refuse rather than risk it.
    match thread_count() {
        Some(1) => {}
        Some(n) => {
            return Err(Error::new(
                format!(
                    "daemonize: the process runs {n} threads, and forking is safe only with one; \
                     daemonize before starting any thread, or stay in the foreground"
                ),
                Errno::EBUSY,
            ))
        }
        None => return Err(Error::new("daemonize: count the threads (/proc/self/status)", Errno::ENOENT)),
    }
    let failed = |e: Errno| Error::new("daemonize", e);
    // Close-on-exec: a program the child starts (the auto_unmount watchdog) must not keep
    // the parent waiting.
    let (read_end, write_end) = unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(failed)?;
    // SAFETY: the process runs one thread (checked above), so the child may go on running
    // arbitrary code.
    match unsafe { unistd::fork() }.map_err(failed)? {
        ForkResult::Parent { .. } => {
            drop(write_end);
            // The child writes nothing on success, and the error's text on failure; the
            // pipe closes either way.
            let mut report = Vec::new();
            let mut chunk = [0u8; 512];
            let complete = loop {
                match unistd::read(&read_end, &mut chunk) {
                    Ok(0) => break true,
                    Ok(n) => report.extend_from_slice(&chunk[..n]),
                    Err(Errno::EINTR) => continue,
                    Err(_) => break false,
                }
            };
            if complete && report == b"ok" {
                std::process::exit(0);
            }
            let text = String::from_utf8_lossy(&report);
            let text = if text.is_empty() { "the daemon ended before it mounted".into() } else { text };
            // The same words as in the foreground, where the program prints `NAME: error`.
            eprintln!("{name}: {text}");
            std::process::exit(1);
        }
        ForkResult::Child => {
            drop(read_end);
            unistd::setsid().map_err(failed)?;
            let _ = unistd::chdir("/");
            let null = nix::fcntl::open("/dev/null", nix::fcntl::OFlag::O_RDWR, nix::sys::stat::Mode::empty())
                .map_err(failed)?;
            unistd::dup2_stdin(&null).map_err(failed)?;
            unistd::dup2_stdout(&null).map_err(failed)?;
            unistd::dup2_stderr(&null).map_err(failed)?;
            Ok(Daemon { report: write_end })
        }
    }
}

impl Daemon {
    /// Tells the waiting parent how the mount went.
    pub(crate) fn report(self, result: Result<(), &Error>) {
        let text = result.map_or_else(|e| e.to_string(), |()| "ok".to_string());
        let _ = unistd::write(&self.report, text.as_bytes());
    }
}
