//! Where a read's answer goes: [`ReadOut`], handed to `node_read`, sends the file system's
//! bytes to the kernel from where they are (FUSE `READ` reply), and [`Answered`] proves it did.

use std::os::fd::{AsFd, BorrowedFd};

use nix::errno::Errno;

use crate::fs::Result;

/// The answer to one read (puffs `node_read`'s buffer; the FUSE `READ` reply), given to
/// [`node_read`](crate::FileSystem::node_read), which answers through exactly one of its
/// methods. Each consumes it and gives back the [`Answered`] that `node_read` returns, so a
/// read that is never answered, or answered twice, does not compile.
///
/// The kernel takes at most [`size`](ReadOut::size) bytes; fewer means the end of the file.
/// Longer data is cut to `size`.
///
/// - [`reply`](ReadOut::reply), [`reply_at`](ReadOut::reply_at) and
///   [`reply_vectored`](ReadOut::reply_vectored) send the file system's own bytes to the kernel
///   as they are, before they return: nothing is copied or zero-filled on the way, so they may
///   come from under a lock the file system holds.
/// - [`fill`](ReadOut::fill) lends a buffer of `size` bytes to read into (from a backend, a
///   decoder …): the worker's own, reused from one read to the next.
/// - [`reply_from_file`](ReadOut::reply_from_file) answers from a range of a host file.
///
/// ```
/// use puffs::{Answered, ReadOut};
///
/// // A file whose contents are in memory: the bytes from `offset` on, as many as fit.
/// fn read(contents: &[u8], offset: u64, out: ReadOut<'_>) -> puffs::Result<Answered> {
///     Ok(out.reply_at(contents, offset))
/// }
///
/// let answer = ReadOut::capture(4, |out| read(b"hello world", 6, out));
/// assert_eq!(answer.unwrap(), b"worl");
/// ```
pub struct ReadOut<'a> {
    size: usize,
    sink: &'a dyn ReadSink,
}

/// Proof that a read was answered: only [`ReadOut`]'s methods make one.
#[must_use = "node_read returns the Answered its ReadOut gave"]
#[derive(Debug)]
pub struct Answered {
    _private: (),
}

/// Whoever sends a read's answer: the session, or [`ReadOut::capture`].
pub(crate) trait ReadSink {
    /// Sends `parts`, one after the other: [`ReadOut`] has cut them to its size already.
    fn send(&self, parts: &mut dyn Iterator<Item = &[u8]>);

    /// Lends a buffer of `size` bytes to `read` and sends as many of its first bytes as `read`
    /// answers (never more than the buffer holds: [`ReadOut::fill`] sees to that).
    fn fill(&self, size: usize, read: &mut dyn FnMut(&mut [u8]) -> Result<usize>) -> Result<()>;

    /// Sends up to `size` bytes of `file` from `offset`.
    fn send_file(&self, file: BorrowedFd<'_>, offset: u64, size: usize) -> Result<()> {
        self.fill(size, &mut |buf| pread_full(file, buf, offset))
    }
}

impl<'a> ReadOut<'a> {
    pub(crate) fn new(size: usize, sink: &'a dyn ReadSink) -> ReadOut<'a> {
        ReadOut { size, sink }
    }

    /// The most bytes the kernel takes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Answers `data` (cut to [`size`](ReadOut::size)); empty at the end of the file.
    pub fn reply(self, data: &[u8]) -> Answered {
        self.reply_vectored([data])
    }

    /// Answers from `contents`, a whole file's bytes, those at `offset` and after; nothing at or
    /// past the end.
    pub fn reply_at(self, contents: &[u8], offset: u64) -> Answered {
        let start = usize::try_from(offset).map_or(contents.len(), |offset| offset.min(contents.len()));
        self.reply(&contents[start..])
    }

    /// Answers `parts` one after the other (cut to [`size`](ReadOut::size) in all), as a file
    /// kept in chunks holds them: sent together, with no copy into one buffer (past sixty-odd
    /// parts, the rest are joined into one, at the cost of a copy).
    pub fn reply_vectored<'p>(self, parts: impl IntoIterator<Item = &'p [u8]>) -> Answered {
        let mut cut = parts
            .into_iter()
            .scan(self.size, |left, part| {
                let part = &part[..part.len().min(*left)];
                *left -= part.len();
                Some(part)
            })
            .filter(|part| !part.is_empty());
        self.sink.send(&mut cut);
        Answered { _private: () }
    }

    /// Answers what `read` puts in the buffer it is lent (of [`size`](ReadOut::size) bytes), as
    /// many bytes as it says it read (cut to `size`).
    ///
    /// The buffer is the worker's, reused from read to read and not cleared in between: `read`
    /// must have written every byte it counts, as `read(2)` into it does.
    pub fn fill(self, read: impl FnOnce(&mut [u8]) -> Result<usize>) -> Result<Answered> {
        let mut read = Some(read);
        self.sink.fill(self.size, &mut |buf| match read.take() {
            Some(read) => read(buf).map(|n| n.min(buf.len())),
            None => Err(Errno::EIO),
        })?;
        Ok(Answered { _private: () })
    }

    /// Answers up to [`size`](ReadOut::size) bytes of the host file `file` from `offset`, fewer
    /// at its end. Errors of reading it are answered. On `/dev/fuse` a large read (32 KiB or
    /// more) is spliced from the file into the kernel (FUSE's splice of a reply), so its bytes
    /// never pass through the worker; elsewhere, and for small reads, they are copied through
    /// the worker's buffer.
    pub fn reply_from_file(self, file: &impl AsFd, offset: u64) -> Result<Answered> {
        self.sink.send_file(file.as_fd(), offset, self.size)?;
        Ok(Answered { _private: () })
    }

    /// Runs `read` with a `ReadOut` of `size` bytes and answers the bytes it answered: for
    /// calling [`node_read`](crate::FileSystem::node_read) outside a mount, in unit tests.
    pub fn capture(size: usize, read: impl FnOnce(ReadOut<'_>) -> Result<Answered>) -> Result<Vec<u8>> {
        let capture = Capture::default();
        let Answered { .. } = read(ReadOut::new(size, &capture))?;
        Ok(capture.bytes.into_inner())
    }
}

impl std::fmt::Debug for ReadOut<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOut").field("size", &self.size).finish_non_exhaustive()
    }
}

/// The bytes at `offset` of `file` into `buf`, reading again after a short read until `buf` is
/// full or the file ends; answers how many.
pub(crate) fn pread_full(file: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let at = i64::try_from(offset.saturating_add(done as u64)).map_err(|_| Errno::EINVAL)?;
        match nix::sys::uio::pread(file, &mut buf[done..], at) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// The sink of [`ReadOut::capture`]: keeps what was answered.
#[derive(Default)]
struct Capture {
    bytes: std::cell::RefCell<Vec<u8>>,
}

impl ReadSink for Capture {
    fn send(&self, parts: &mut dyn Iterator<Item = &[u8]>) {
        let mut bytes = self.bytes.borrow_mut();
        for part in parts {
            bytes.extend_from_slice(part);
        }
    }

    fn fill(&self, size: usize, read: &mut dyn FnMut(&mut [u8]) -> Result<usize>) -> Result<()> {
        let mut buf = vec![0; size];
        let n = read(&mut buf)?;
        self.send(&mut std::iter::once(&buf[..n]));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use nix::errno::Errno;

    use super::ReadOut;

    #[test]
    fn answers_are_cut_to_the_size_the_kernel_takes() {
        assert_eq!(ReadOut::capture(5, |out| Ok(out.reply(b"hello world"))).unwrap(), b"hello");
        let parts: [&[u8]; 3] = [b"ab", b"cd", b"ef"];
        assert_eq!(ReadOut::capture(5, |out| Ok(out.reply_vectored(parts))).unwrap(), b"abcde");
        assert_eq!(ReadOut::capture(3, |out| out.fill(|buf| Ok(buf.len() + 10))).unwrap().len(), 3);
    }

    #[test]
    fn reply_at_answers_nothing_at_or_past_the_end() {
        assert_eq!(ReadOut::capture(8, |out| Ok(out.reply_at(b"abc", 1))).unwrap(), b"bc");
        assert_eq!(ReadOut::capture(8, |out| Ok(out.reply_at(b"abc", 3))).unwrap(), b"");
        assert_eq!(ReadOut::capture(8, |out| Ok(out.reply_at(b"abc", u64::MAX))).unwrap(), b"");
    }

    #[test]
    fn a_host_file_is_read_to_its_end_and_its_errors_are_answered() {
        let mut file = tempfile();
        file.write_all(b"0123456789").unwrap();
        assert_eq!(ReadOut::capture(4, |out| out.reply_from_file(&file, 8)).unwrap(), b"89");
        assert_eq!(ReadOut::capture(4, |out| out.reply_from_file(&file, 20)).unwrap(), b"");
        let dir = std::fs::File::open("/").unwrap();
        assert_eq!(ReadOut::capture(4, |out| out.reply_from_file(&dir, 0)), Err(Errno::EISDIR));
    }

    fn tempfile() -> std::fs::File {
        let path = std::env::temp_dir().join(format!("puffs-readout-{}", std::process::id()));
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        file
    }
}
