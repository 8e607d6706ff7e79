//! Control of open files: `poll(2)` and `ioctl(2)`, with the answers the Linux kernel gives
//! when the file system does not implement them.

use nix::errno::Errno;

use crate::fs::cookie::FileHandle;
use crate::fs::ioctl::{IocFields, IoctlFlags};
use crate::fs::poll::PollEvents;
use crate::fuse::reply::{decode_body, ReplyBody, ReplyKind};
use crate::fuse::request::Operation;
use crate::vattr::Vtype;

use super::client::Client;
use super::file::OpenFile;
use super::kernel::Flavor;

impl Client {
    /// Which of `events` are ready on `file` (`poll(2)`: `POLL`, `node_poll`); with `wait`,
    /// the file system is handed a waker, as when the caller would block (its wake-ups are
    /// counted as [`Notification::PollWakeup`](super::Notification::PollWakeup)). Without
    /// `node_poll`, as the kernel answers: readable and writable.
    pub fn poll(&self, file: &OpenFile, events: PollEvents, wait: bool) -> Result<PollEvents, Errno> {
        let _op = self.enter()?;
        let kh = if wait { file.nodeid } else { 0 };
        let poll = Operation::Poll { fh: FileHandle(file.fh), kh, schedule: wait, events };
        match self.call(file.nodeid, &poll, Flavor::Client) {
            Ok(body) => match decode_body(ReplyKind::Poll, &body) {
                Some(ReplyBody::Poll(out)) => PollEvents::from_bits(out.revents).ok_or(Errno::EIO),
                _ => Err(Errno::EIO),
            },
            Err(Errno::ENOSYS) => Ok(PollEvents::IN | PollEvents::OUT | PollEvents::RDNORM | PollEvents::WRNORM),
            Err(e) => Err(e),
        }
    }

    /// Runs control command `command` on `file` (`ioctl(2)`: `IOCTL`, `node_ioctl`) as the
    /// kernel runs it for a file system, in the restricted form: `data` is the caller's
    /// argument buffer, of which the size `command` declares is sent when the command writes
    /// and read back into when it reads (`EFAULT` when `data` is shorter, as the kernel faults
    /// on a short buffer); `arg` is the argument as a number, for commands that move no data.
    /// Answers what `ioctl(2)` returns. As the kernel does: `ENOTTY` when the file system does
    /// not implement it, `EIO` when it reads back more than the command declares.
    pub fn ioctl(&self, file: &OpenFile, command: u32, arg: u64, data: &mut [u8]) -> Result<i32, Errno> {
        let _op = self.enter()?;
        let (in_size, out_size) = IocFields::restricted(command);
        if data.len() < in_size.max(out_size) as usize {
            return Err(Errno::EFAULT);
        }
        let flags = if file.vtype == Vtype::Dir { IoctlFlags::DIR } else { IoctlFlags::empty() };
        let input = &data[..in_size as usize];
        let ioctl = Operation::Ioctl { fh: FileHandle(file.fh), flags, command, arg, input, out_size };
        let body = self.call(file.nodeid, &ioctl, Flavor::Client).map_err(|e| match e {
            Errno::ENOSYS => Errno::ENOTTY,
            e => e,
        })?;
        match decode_body(ReplyKind::Ioctl, &body) {
            Some(ReplyBody::Ioctl { out, data: output })
                if out.flags == 0 && output.len() <= out_size as usize && out.result >= 0 =>
            {
                data[..output.len()].copy_from_slice(output);
                Ok(out.result)
            }
            _ => Err(Errno::EIO),
        }
    }
}
