//! A message channel to the kernel: one `read` is one request, one `write` is one reply.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::stat::{fstat, SFlag};

use crate::fuse::abi;

/// A descriptor that carries whole messages: `/dev/fuse`, or one end of a `SOCK_SEQPACKET`
/// socket pair for the loopback kernel (puffs's `PUFFS_COMFD`).
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
    /// Whether `fd` is a character device (`/dev/fuse`), not a socket.
    device: bool,
}

impl Channel {
    /// The most parts [`Channel::send`] sends without allocating.
    pub const PARTS_MAX: usize = 64;

    /// A channel on `fd`.
    pub fn new(fd: OwnedFd) -> Channel {
        let device = fstat(&fd).is_ok_and(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR);
        Channel { fd, device }
    }

    /// Whether the channel is `/dev/fuse`, which takes a reply spliced from a pipe as one
    /// message; a socket would cut it into several.
    pub fn is_device(&self) -> bool {
        self.device
    }

    /// Reads one message of at most `capacity` bytes into `buf` (cleared first); retries on
    /// `EINTR`. `ENODEV` means the file system was unmounted; `EAGAIN` means nothing is pending
    /// in non-blocking mode.
    ///
    /// The buffer is not zeroed first: a request buffer is a megabyte, and clearing it for every
    /// request would cost more than the request.
    pub fn receive(&self, buf: &mut Vec<u8>, capacity: usize) -> Result<(), Errno> {
        buf.clear();
        buf.reserve(capacity);
        loop {
            let spare = buf.spare_capacity_mut();
            // SAFETY: `spare` is writable memory of at least `capacity` bytes owned by `buf`;
            // read(2) writes at most that many bytes into it and reports how many.
            let n = unsafe { nix::libc::read(self.fd.as_raw_fd(), spare.as_mut_ptr().cast(), capacity) };
            match Errno::result(n) {
                Ok(0) => return Err(Errno::ENODEV),
                Ok(n) => {
                    // SAFETY: the first `n` bytes of the spare capacity were just written.
                    unsafe { buf.set_len(n as usize) };
                    return Ok(());
                }
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes one message made of `parts`; retries on `EINTR`. Up to [`Channel::PARTS_MAX`]
    /// parts go out with no allocation.
    pub fn send(&self, parts: &[&[u8]]) -> Result<(), Errno> {
        let mut slices = [IoSlice::new(&[]); Channel::PARTS_MAX];
        if parts.len() > slices.len() {
            return self.send_slices(&parts.iter().map(|p| IoSlice::new(p)).collect::<Vec<_>>());
        }
        for (slice, part) in slices.iter_mut().zip(parts) {
            *slice = IoSlice::new(part);
        }
        self.send_slices(&slices[..parts.len()])
    }

    /// Writes one message made of `slices`; retries on `EINTR`.
    pub fn send_slices(&self, slices: &[IoSlice<'_>]) -> Result<(), Errno> {
        let total: usize = slices.iter().map(|s| s.len()).sum();
        loop {
            match nix::sys::uio::writev(&self.fd, slices) {
                Ok(n) if n == total => return Ok(()),
                Ok(_) => return Err(Errno::EIO),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Registers `file` with the kernel as a backing file, for opens answered with passthrough
    /// (`FUSE_DEV_IOC_BACKING_OPEN`); answers its id. Only `/dev/fuse` of a mount granted
    /// `PASSTHROUGH` takes it, from a server with `CAP_SYS_ADMIN` (`EPERM` otherwise); a file
    /// on a stacked file system fails with `ELOOP`.
    pub fn backing_open(&self, file: BorrowedFd<'_>) -> Result<u32, Errno> {
        nix::ioctl_write_ptr!(backing_open, abi::ioc::MAGIC, abi::ioc::BACKING_OPEN, [u8; abi::BackingMap::SIZE]);
        let map = abi::BackingMap { fd: file.as_raw_fd(), flags: 0, padding: 0 }.to_bytes();
        // SAFETY: the command reads exactly the 16 bytes of `map`, which outlives the call.
        let id = unsafe { backing_open(self.fd.as_raw_fd(), &map) }?;
        u32::try_from(id).map_err(|_| Errno::EIO)
    }

    /// Forgets backing file `id` (`FUSE_DEV_IOC_BACKING_CLOSE`); the opens that use it keep
    /// it until they are released.
    pub fn backing_close(&self, id: u32) -> Result<(), Errno> {
        nix::ioctl_write_ptr!(backing_close, abi::ioc::MAGIC, abi::ioc::BACKING_CLOSE, u32);
        // SAFETY: the command reads the one `u32` behind the pointer, which outlives the call.
        unsafe { backing_close(self.fd.as_raw_fd(), &id) }.map(drop)
    }

    /// Switches the descriptor between blocking and non-blocking reads.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<(), Errno> {
        use nix::fcntl::{fcntl, FcntlArg, OFlag};
        let flags = OFlag::from_bits_retain(fcntl(&self.fd, FcntlArg::F_GETFL)?);
        let flags = if nonblocking { flags | OFlag::O_NONBLOCK } else { flags & !OFlag::O_NONBLOCK };
        fcntl(&self.fd, FcntlArg::F_SETFL(flags)).map(drop)
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Channel {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
