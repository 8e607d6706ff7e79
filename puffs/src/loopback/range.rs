//! Operations on byte ranges of open files: `fallocate(2)`, `lseek(2)` for data and holes, and
//! `copy_file_range(2)`, with the fallbacks the Linux kernel applies when the file system does
//! not implement them.

use nix::errno::Errno;
use nix::fcntl::OFlag;

use crate::fs::cookie::FileHandle;
use crate::fs::flags::{FallocateFlags, SeekWhence};
use crate::fuse::reply::{decode_body, ReplyBody, ReplyKind};
use crate::fuse::request::{ends_past_max, Operation, MAX_OFFSET};
use crate::vattr::Vtype;

use super::client::{attr_of, empty_of, Client};
use super::file::OpenFile;
use super::kernel::Flavor;

impl Client {
    /// Allocates, zeroes or punches `len` bytes of an open file from `offset` (`fallocate(2)`:
    /// `FALLOCATE`, to `node_fdiscard` for a punched hole when the file system has it, else to
    /// `node_fallocate`). As the kernel does: `EBADF` unless open for writing, `EINVAL` for an
    /// empty or too large range, `EOPNOTSUPP` for a mode FUSE does not pass and, when the file
    /// system does not implement it, for every mode.
    pub fn fallocate(&self, file: &OpenFile, offset: u64, len: u64, mode: FallocateFlags) -> Result<(), Errno> {
        let _op = self.enter()?;
        file.writable()?;
        if len == 0 || ends_past_max(offset, len) {
            return Err(Errno::EINVAL);
        }
        if mode.contains(FallocateFlags::PUNCH_HOLE) && !mode.contains(FallocateFlags::KEEP_SIZE) {
            return Err(Errno::EOPNOTSUPP);
        }
        let fallocate = Operation::Fallocate { fh: FileHandle(file.fh), offset, length: len, mode };
        match self.call(file.nodeid, &fallocate, Flavor::Client) {
            Ok(body) => empty_of(&body),
            Err(Errno::ENOSYS) => Err(Errno::EOPNOTSUPP),
            Err(e) => Err(e),
        }
    }

    /// The offset of the first data or hole at or after `offset` in an open file (`lseek(2)`
    /// with `SEEK_DATA` or `SEEK_HOLE`: `LSEEK`, `node_seek`). Without `node_seek`, as the
    /// kernel does, the whole file is data and its end the only hole: the size comes from a
    /// `GETATTR`. `ENXIO` at or past the end.
    pub fn seek(&self, file: &OpenFile, offset: u64, whence: SeekWhence) -> Result<u64, Errno> {
        let _op = self.enter()?;
        if file.vtype() != Vtype::Reg {
            return Err(Errno::EINVAL);
        }
        if offset > MAX_OFFSET {
            return Err(Errno::ENXIO);
        }
        let lseek = Operation::Lseek { fh: FileHandle(file.fh), offset, whence };
        match self.call(file.nodeid, &lseek, Flavor::Client) {
            Ok(body) => match decode_body(ReplyKind::Offset, &body) {
                Some(ReplyBody::Offset(at)) if at <= MAX_OFFSET => Ok(at),
                _ => Err(Errno::EIO),
            },
            Err(Errno::ENOSYS) => {
                let size =
                    attr_of(&self.call(file.nodeid, &Operation::Getattr { fh: Some(file.fh) }, Flavor::Client)?)?.size;
                match whence {
                    _ if offset >= size => Err(Errno::ENXIO),
                    SeekWhence::Data => Ok(offset),
                    SeekWhence::Hole => Ok(size),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Copies up to `len` bytes from `from` at `from_offset` to `to` at `to_offset`
    /// (`copy_file_range(2)`: `COPY_FILE_RANGE_64`, `node_copy_file_range`); answers how many
    /// were copied. As the kernel does: `EBADF` unless `from` is open for reading and `to` for
    /// writing (and not for appending), `EISDIR`/`EINVAL` for what is not a regular file,
    /// `EINVAL` for overlapping ranges of one file; without `node_copy_file_range` the bytes go
    /// through this side, a read and a write.
    pub fn copy_file_range(
        &self,
        from: &OpenFile,
        from_offset: u64,
        to: &OpenFile,
        to_offset: u64,
        len: u64,
    ) -> Result<u64, Errno> {
        let op = self.enter()?;
        if from.flags() & OFlag::O_ACCMODE == OFlag::O_WRONLY {
            return Err(Errno::EBADF);
        }
        to.writable()?;
        if to.flags().contains(OFlag::O_APPEND) {
            return Err(Errno::EBADF);
        }
        for file in [from, to] {
            match file.vtype() {
                Vtype::Reg => {}
                Vtype::Dir => return Err(Errno::EISDIR),
                _ => return Err(Errno::EINVAL),
            }
        }
        if ends_past_max(from_offset, len) || ends_past_max(to_offset, len) {
            return Err(Errno::EINVAL);
        }
        let overlap = from_offset < to_offset.saturating_add(len) && to_offset < from_offset.saturating_add(len);
        if from.nodeid == to.nodeid && overlap {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(0);
        }
        let copy = Operation::CopyFileRange {
            fh_in: FileHandle(from.fh),
            off_in: from_offset,
            nodeid_out: to.nodeid,
            fh_out: FileHandle(to.fh),
            off_out: to_offset,
            len,
            wide: true,
        };
        match self.call(from.nodeid, &copy, Flavor::Client) {
            Ok(body) => match decode_body(ReplyKind::Offset, &body) {
                Some(ReplyBody::Offset(copied)) if copied <= len => Ok(copied),
                _ => Err(Errno::EIO),
            },
            Err(Errno::ENOSYS) => {
                drop(op);
                let chunk = len.min(u64::from(self.max_write().max(1))) as usize;
                let data = self.read(from, from_offset, chunk)?;
                Ok(self.write(to, to_offset, &data)? as u64)
            }
            Err(e) => Err(e),
        }
    }
}
