//! `auto_unmount`: a watchdog process that unmounts the file system when its server ends
//! without unmounting it, even by `kill -9`, so that no dead mount (`Transport endpoint is not
//! connected`) is left behind.
//!
//! The watchdog is a small shell process started right after the mount, in a process group of
//! its own (a Ctrl-C at the terminal does not reach it). It waits on a socket whose other end
//! only the server holds. A server that unmounts by itself first writes `done` and the watchdog
//! leaves. When the socket closes with nothing written (the server died), the watchdog checks
//! that the mount it watches is still in the mount table (same mount id, same FUSE device)
//! and detaches it: with `fusermount3 -u -z` for a user who is not root, `umount -l` for root.
//!
//! libfuse's helper has an `auto_unmount` of its own, but before libfuse 3.15 it works only for
//! mounts with `allow_other` (its check runs as root, whom the kernel keeps out of other users'
//! mounts), and root's `mount(2)` path does not have it at all; this watchdog works for both.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};

use crate::error::io_errno;
use crate::error::Error;
use crate::os::fusermount;

/// The watchdog's program, shell built-ins only: `$1` the mount id, `$2` the FUSE device as
/// `major:minor`, then the unmount command with its arguments.
const SCRIPT: &str = r#"IFS= read -r verdict
[ -z "$verdict" ] || exit 0
id=$1 dev=$2
shift 2
while read -r mount parent device rest; do
    if [ "$mount" = "$id" ] && [ "$device" = "$dev" ]; then exec "$@"; fi
done < /proc/self/mountinfo"#;

/// The running watchdog of one mount. Dropping it tells the watchdog that the server took
/// care of the mount itself.
#[derive(Debug)]
pub(crate) struct Watchdog {
    tell: Option<OwnedFd>,
    process: Child,
}

impl Watchdog {
    /// Starts the watchdog of mount `id` of FUSE device `dev` on `dir`.
    pub(crate) fn start(dir: &Path, id: u64, dev: (u32, u32)) -> Result<Watchdog, Error> {
        let failed = |what: &str, e: Errno| Error::new(format!("auto_unmount of {}: {what}", dir.display()), e);
        let (unmount, args): (std::path::PathBuf, &[&str]) = if nix::unistd::geteuid().is_root() {
            (fusermount::find_program("umount").unwrap_or_else(|| "/bin/umount".into()), &["-l", "--"])
        } else {
            (fusermount::helper_path()?, &["-u", "-z", "-q", "--"])
        };
        // A socket rather than a pipe: telling a watchdog that died already must not raise
        // SIGPIPE in the server (MSG_NOSIGNAL).
        let (ours, theirs) = socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC)
            .map_err(|e| failed("make the socket pair", e))?;
        let process = Command::new("/bin/sh")
            .args(["-c", SCRIPT, "puffs-auto-unmount"])
            .arg(id.to_string())
            .arg(format!("{}:{}", dev.0, dev.1))
            .arg(&unmount)
            .args(args)
            .arg(dir)
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| failed("start /bin/sh", io_errno(&e)))?;
        Ok(Watchdog { tell: Some(ours), process })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tell) = self.tell.take() {
            let _ = send(tell.as_raw_fd(), b"done\n", MsgFlags::MSG_NOSIGNAL);
        }
        // It leaves at once; reap it, but never wait long.
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            match self.process.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }
}
