//! Mounting and unmounting through libfuse's setuid helper `fusermount3`, for users who may not
//! call `mount(2)` themselves (what libfuse, fuser and go-fuse do too).
//!
//! The protocol: the server makes a socket pair and runs the helper with one end in the
//! environment variable `_FUSE_COMMFD`. The helper checks that the user may mount there (write
//! access to the mount point, `user_allow_other` in `/etc/fuse.conf` for `allow_other`), opens
//! `/dev/fuse`, mounts it (always `nosuid,nodev`) and sends the descriptor back over the socket
//! as `SCM_RIGHTS`, then exits.
//!
//! The helper's own `auto_unmount` is not used: before libfuse 3.15 it works only for mounts
//! with `allow_other` (its check runs as root, whom the kernel keeps out of other mounts);
//! puffs's [`crate::os::auto_unmount`] watchdog does that job with any helper version.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::sys::socket::{recvmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType};
use nix::unistd::AccessFlags;

use crate::error::io_errno;
use crate::error::Error;
use crate::settings::MountOptions;

/// The helper's name, looked up in `PATH`.
pub(crate) const HELPER: &str = "fusermount3";

/// Where the administrator allows `allow_other` for users (`user_allow_other`).
pub(crate) const FUSE_CONF: &str = "/etc/fuse.conf";

/// The environment variable naming the helper's end of the socket.
const COMMFD_ENV: &str = "_FUSE_COMMFD";

/// The first program `name` in `PATH`.
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// The helper's path: the first `fusermount3` in `PATH`, or an error that names it and says
/// where it comes from.
pub(crate) fn helper_path() -> Result<PathBuf, Error> {
    find_program(HELPER).ok_or_else(|| {
        Error::new(
            format!(
                "mounting as a user who is not root needs the helper `{HELPER}`, which is not in PATH \
                 (it comes with libfuse 3: the `fuse3` package); or mount as root"
            ),
            Errno::EPERM,
        )
    })
}

impl MountOptions {
    /// Whether this process may mount with `allow_other`: as root, or where `/etc/fuse.conf`
    /// lets users (a line `user_allow_other`, read by the helper `fusermount3`).
    pub fn allow_other_permitted() -> bool {
        nix::unistd::geteuid().is_root() || user_allow_other()
    }
}

/// Whether `/etc/fuse.conf` lets users mount with `allow_other` (a line `user_allow_other`).
pub(crate) fn user_allow_other() -> bool {
    std::fs::read_to_string(FUSE_CONF)
        .map(|conf| conf.lines().any(|line| line.split('#').next().unwrap_or("").trim() == "user_allow_other"))
        .unwrap_or(false)
}

/// Escapes a value of `fsname=` or `subtype=` for the helper's option list: commas and
/// backslashes are taken literally when preceded by a backslash.
pub(crate) fn escape_option_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if c == ',' || c == '\\' {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Runs the helper to mount `/dev/fuse` on `dir` with the `-o` option list `options`, and
/// answers the device.
pub(crate) fn mount(dir: &Path, options: &str) -> Result<OwnedFd, Error> {
    let helper = helper_path()?;
    let failed = |what: &str, e: Errno| Error::new(format!("mount {} through {HELPER}: {what}", dir.display()), e);
    let (ours, theirs) = socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC)
        .map_err(|e| failed("make the socket pair", e))?;
    let their_fd: RawFd = theirs.as_raw_fd();
    let mut command = Command::new(&helper);
    command
        .arg0(HELPER)
        .arg("-o")
        .arg(options)
        .arg("--")
        .arg(dir)
        .env(COMMFD_ENV, their_fd.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: the closure runs in the child between fork and exec and only calls fcntl(2),
    // which is async-signal-safe; it lets the helper's end of the socket survive exec (it is
    // close-on-exec everywhere else, so no other child inherits it).
    unsafe {
        command.pre_exec(move || {
            if nix::libc::fcntl(their_fd, nix::libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|e| failed(&format!("start {}", helper.display()), io_errno(&e)))?;
    drop(theirs);
    let received = receive_fd(&ours);
    let mut stderr = child.stderr.take();
    let helper_said = |stderr: &mut Option<std::process::ChildStderr>| {
        let mut text = String::new();
        if let Some(pipe) = stderr.as_mut() {
            let _ = pipe.read_to_string(&mut text);
        }
        text.lines()
            .map(|l| l.trim_start_matches(HELPER).trim_start_matches(':').trim().to_string())
            .collect::<Vec<_>>()
    };
    drop(ours);
    match received {
        Ok(device) => {
            let said = helper_said(&mut stderr);
            let _ = child.wait();
            for line in said.iter().filter(|l| !l.is_empty()) {
                log::warn!("{HELPER}: {line}");
            }
            Ok(device)
        }
        Err(errno) => {
            let said = helper_said(&mut stderr);
            let status = child.wait().ok();
            let reason = said.into_iter().filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
            let reason = if reason.is_empty() {
                match status {
                    Some(status) => format!("it ended ({status}) without sending the FUSE device"),
                    None => "it sent no FUSE device".to_string(),
                }
            } else {
                reason
            };
            let reason = match nix::unistd::access(crate::os::mount::FUSE_DEVICE, AccessFlags::R_OK | AccessFlags::W_OK)
            {
                // The helper opens the device as the user: udev's default rule makes it 0666.
                Err(_) => format!(
                    "{reason} ({device} must be readable and writable by every user, mode 0666, \
                     as udev's default rule makes it: `chmod 0666 {device}` as root)",
                    device = crate::os::mount::FUSE_DEVICE
                ),
                Ok(()) => reason,
            };
            Err(failed(&reason, if errno == Errno::ENODATA { Errno::EPERM } else { errno }))
        }
    }
}

/// Receives the descriptor the helper sends; `ENODATA` when it closed the socket without one.
fn receive_fd(socket: &OwnedFd) -> Result<OwnedFd, Errno> {
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!(RawFd);
    loop {
        let message = match recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(Errno::EINTR) => continue,
            other => other?,
        };
        if message.bytes == 0 {
            return Err(Errno::ENODATA);
        }
        let mut received = None;
        for cmsg in message.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                for fd in fds {
                    // SAFETY: SCM_RIGHTS installed `fd` in this process; nothing else owns it.
                    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                    received.get_or_insert(owned);
                }
            }
        }
        return received.ok_or(Errno::ENODATA);
    }
}

/// Detaches the FUSE mount on `dir` through the helper (`fusermount3 -u -z`), which unmounts
/// only FUSE mounts of the calling user.
pub(crate) fn unmount(dir: &Path) -> Result<(), Error> {
    let helper = helper_path()?;
    let output = Command::new(&helper)
        .arg0(HELPER)
        .args(["-u", "-z", "--"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::new(format!("unmount {} through {}", dir.display(), helper.display()), io_errno(&e)))?;
    if output.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr);
    let said = said.trim().trim_start_matches(HELPER).trim_start_matches(':').trim();
    Err(Error::new(format!("unmount {} through {HELPER}: {said}", dir.display()), Errno::EPERM))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_values_escape_commas_and_backslashes() {
        assert_eq!(escape_option_value("plain"), "plain");
        assert_eq!(escape_option_value("a,b\\c"), "a\\,b\\\\c");
    }
}
