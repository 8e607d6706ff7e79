//! Decoding a request frame from the kernel into a typed [`Request`].

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use super::abi::{self, opcode, InHeader};
use crate::Errno;

/// Longest name accepted in a request, in bytes (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// A decoded request: its header and its operation with borrowed names and data.
#[derive(Debug)]
pub struct Request<'a> {
    /// The request header: opcode, unique id, node id and the caller.
    pub header: InHeader,
    /// The operation and its arguments.
    pub op: Operation<'a>,
}

/// The operation of a request, with its arguments. Names are validated: non-empty, at most
/// [`NAME_MAX`] bytes, without `/` or NUL.
#[derive(Debug)]
#[allow(missing_docs)]
pub enum Operation<'a> {
    Init(abi::InitIn),
    Destroy,
    Lookup {
        name: &'a OsStr,
    },
    Forget {
        nlookup: u64,
    },
    BatchForget {
        nodes: Vec<abi::ForgetOne>,
    },
    Getattr {
        fh: Option<u64>,
    },
    Setattr(abi::SetattrIn),
    Readlink,
    Symlink {
        name: &'a OsStr,
        target: &'a OsStr,
    },
    Mknod {
        arg: abi::MknodIn,
        name: &'a OsStr,
    },
    Mkdir {
        arg: abi::MkdirIn,
        name: &'a OsStr,
    },
    Unlink {
        name: &'a OsStr,
    },
    Rmdir {
        name: &'a OsStr,
    },
    Rename {
        newdir: u64,
        flags: u32,
        name: &'a OsStr,
        newname: &'a OsStr,
    },
    Link {
        oldnodeid: u64,
        name: &'a OsStr,
    },
    Open {
        arg: abi::OpenIn,
        dir: bool,
    },
    Read(abi::ReadIn),
    Write {
        arg: abi::WriteIn,
        data: &'a [u8],
    },
    Statfs,
    Release {
        arg: abi::ReleaseIn,
        dir: bool,
    },
    Fsync {
        arg: abi::FsyncIn,
        dir: bool,
    },
    Setxattr {
        name: &'a OsStr,
        value: &'a [u8],
        flags: u32,
    },
    Getxattr {
        name: &'a OsStr,
        size: u32,
    },
    Listxattr {
        size: u32,
    },
    Removexattr {
        name: &'a OsStr,
    },
    Flush(abi::FlushIn),
    Readdir(abi::ReadIn),
    Access {
        mask: u32,
    },
    Create {
        arg: abi::CreateIn,
        name: &'a OsStr,
    },
    Interrupt {
        unique: u64,
    },
    Syncfs,
    /// A reply to a notification; carries nothing the framework asked for.
    NotifyReply,
    /// A known opcode the framework does not implement (locks, ioctl, poll, bmap, fallocate,
    /// lseek, copy_file_range, readdirplus, tmpfile, statx, DAX mappings): answered `ENOSYS`,
    /// which tells the kernel to fall back or to stop asking.
    Unsupported,
    /// An opcode this protocol version does not define: answered `ENOSYS`.
    Unknown,
}

/// Why a frame could not be decoded, and the errno to answer it with when it has a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The request's header, when at least that was readable.
    pub header: Option<InHeader>,
    /// The errno to answer with.
    pub errno: Errno,
    /// What was wrong, for the log.
    pub reason: &'static str,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.header {
            Some(h) => write!(f, "malformed {} request (unique {}): {}", opcode::name(h.opcode), h.unique, self.reason),
            None => write!(f, "malformed request frame: {}", self.reason),
        }
    }
}

impl std::error::Error for DecodeError {}

/// A cursor over the body of a request.
struct Body<'a> {
    header: InHeader,
    rest: &'a [u8],
}

impl<'a> Body<'a> {
    fn fail(&self, errno: Errno, reason: &'static str) -> DecodeError {
        DecodeError { header: Some(self.header), errno, reason }
    }

    fn record<T>(&mut self, size: usize, decode: fn(&[u8]) -> Option<T>) -> Result<T, DecodeError> {
        let value = decode(self.rest).ok_or_else(|| self.fail(Errno::EINVAL, "body shorter than its record"))?;
        self.rest = &self.rest[size..];
        Ok(value)
    }

    /// A NUL-terminated string, with no rule on its contents (symlink targets).
    fn string(&mut self) -> Result<&'a OsStr, DecodeError> {
        let end = self
            .rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.fail(Errno::EINVAL, "string not NUL-terminated"))?;
        let s = OsStr::from_bytes(&self.rest[..end]);
        self.rest = &self.rest[end + 1..];
        Ok(s)
    }

    /// A NUL-terminated name of a directory entry.
    fn name(&mut self) -> Result<&'a OsStr, DecodeError> {
        let name = self.string()?;
        check_name(name.as_bytes()).map_err(|(errno, reason)| self.fail(errno, reason))?;
        Ok(name)
    }
}

/// Checks a directory-entry name: the errno and reason if it is not acceptable.
pub fn check_name(name: &[u8]) -> Result<(), (Errno, &'static str)> {
    if name.is_empty() {
        Err((Errno::EINVAL, "empty name"))
    } else if name.len() > NAME_MAX {
        Err((Errno::ENAMETOOLONG, "name longer than NAME_MAX"))
    } else if name.contains(&b'/') {
        Err((Errno::EINVAL, "name contains '/'"))
    } else if name.contains(&0) {
        Err((Errno::EINVAL, "name contains NUL"))
    } else {
        Ok(())
    }
}

impl<'a> Request<'a> {
    /// Decodes one frame. The frame must be exactly as long as its header says.
    pub fn decode(frame: &'a [u8]) -> Result<Request<'a>, DecodeError> {
        let header = InHeader::decode(frame).ok_or(DecodeError {
            header: None,
            errno: Errno::EIO,
            reason: "frame shorter than a request header",
        })?;
        let mut body = Body { header, rest: &frame[InHeader::SIZE..] };
        if header.len as usize != frame.len() {
            return Err(body.fail(Errno::EIO, "header length differs from frame length"));
        }
        let ext = usize::from(header.total_extlen) * 8;
        if ext > body.rest.len() {
            return Err(body.fail(Errno::EIO, "extension length exceeds frame"));
        }
        // Extensions (security contexts, supplementary groups) trail the body; none is
        // negotiated, so they are cut off and ignored.
        body.rest = &body.rest[..body.rest.len() - ext];
        let op = match header.opcode {
            opcode::INIT => {
                // Kernels before 7.36 send 16 bytes; the missing flags2 reads as zero.
                let mut padded = [0u8; abi::InitIn::SIZE];
                let n = body.rest.len().min(padded.len());
                if n < 16 {
                    return Err(body.fail(Errno::EINVAL, "INIT body shorter than 16 bytes"));
                }
                padded[..n].copy_from_slice(&body.rest[..n]);
                Operation::Init(abi::InitIn::decode(&padded).expect("padded to size"))
            }
            opcode::DESTROY => Operation::Destroy,
            opcode::LOOKUP => Operation::Lookup { name: body.name()? },
            opcode::FORGET => {
                Operation::Forget { nlookup: body.record(abi::ForgetIn::SIZE, abi::ForgetIn::decode)?.nlookup }
            }
            opcode::BATCH_FORGET => {
                let arg = body.record(abi::BatchForgetIn::SIZE, abi::BatchForgetIn::decode)?;
                let count = arg.count as usize;
                if body.rest.len() / abi::ForgetOne::SIZE < count {
                    return Err(body.fail(Errno::EINVAL, "BATCH_FORGET count exceeds frame"));
                }
                let nodes = body
                    .rest
                    .chunks_exact(abi::ForgetOne::SIZE)
                    .take(count)
                    .filter_map(abi::ForgetOne::decode)
                    .collect();
                Operation::BatchForget { nodes }
            }
            opcode::GETATTR => {
                let arg = body.record(abi::GetattrIn::SIZE, abi::GetattrIn::decode)?;
                Operation::Getattr { fh: (arg.getattr_flags & 1 != 0).then_some(arg.fh) }
            }
            opcode::SETATTR => Operation::Setattr(body.record(abi::SetattrIn::SIZE, abi::SetattrIn::decode)?),
            opcode::READLINK => Operation::Readlink,
            opcode::SYMLINK => {
                let name = body.name()?;
                let target = body.string()?;
                if target.is_empty() {
                    return Err(body.fail(Errno::ENOENT, "empty symlink target"));
                }
                Operation::Symlink { name, target }
            }
            opcode::MKNOD => {
                let arg = body.record(abi::MknodIn::SIZE, abi::MknodIn::decode)?;
                Operation::Mknod { arg, name: body.name()? }
            }
            opcode::MKDIR => {
                let arg = body.record(abi::MkdirIn::SIZE, abi::MkdirIn::decode)?;
                Operation::Mkdir { arg, name: body.name()? }
            }
            opcode::UNLINK => Operation::Unlink { name: body.name()? },
            opcode::RMDIR => Operation::Rmdir { name: body.name()? },
            opcode::RENAME => {
                let arg = body.record(abi::RenameIn::SIZE, abi::RenameIn::decode)?;
                Operation::Rename { newdir: arg.newdir, flags: 0, name: body.name()?, newname: body.name()? }
            }
            opcode::RENAME2 => {
                let arg = body.record(abi::Rename2In::SIZE, abi::Rename2In::decode)?;
                Operation::Rename { newdir: arg.newdir, flags: arg.flags, name: body.name()?, newname: body.name()? }
            }
            opcode::LINK => {
                let arg = body.record(abi::LinkIn::SIZE, abi::LinkIn::decode)?;
                Operation::Link { oldnodeid: arg.oldnodeid, name: body.name()? }
            }
            opcode::OPEN | opcode::OPENDIR => Operation::Open {
                arg: body.record(abi::OpenIn::SIZE, abi::OpenIn::decode)?,
                dir: header.opcode == opcode::OPENDIR,
            },
            opcode::READ => Operation::Read(body.record(abi::ReadIn::SIZE, abi::ReadIn::decode)?),
            opcode::READDIR => Operation::Readdir(body.record(abi::ReadIn::SIZE, abi::ReadIn::decode)?),
            opcode::WRITE => {
                let arg = body.record(abi::WriteIn::SIZE, abi::WriteIn::decode)?;
                let data = body
                    .rest
                    .get(..arg.size as usize)
                    .ok_or_else(|| body.fail(Errno::EINVAL, "WRITE size exceeds frame"))?;
                Operation::Write { arg, data }
            }
            opcode::STATFS => Operation::Statfs,
            opcode::RELEASE | opcode::RELEASEDIR => Operation::Release {
                arg: body.record(abi::ReleaseIn::SIZE, abi::ReleaseIn::decode)?,
                dir: header.opcode == opcode::RELEASEDIR,
            },
            opcode::FSYNC | opcode::FSYNCDIR => Operation::Fsync {
                arg: body.record(abi::FsyncIn::SIZE, abi::FsyncIn::decode)?,
                dir: header.opcode == opcode::FSYNCDIR,
            },
            opcode::SETXATTR => {
                let arg = body.record(abi::SetxattrIn::SIZE, abi::SetxattrIn::decode)?;
                let name = body.string()?;
                if name.is_empty() {
                    return Err(body.fail(Errno::EINVAL, "empty attribute name"));
                }
                let value = body
                    .rest
                    .get(..arg.size as usize)
                    .ok_or_else(|| body.fail(Errno::EINVAL, "SETXATTR size exceeds frame"))?;
                Operation::Setxattr { name, value, flags: arg.flags }
            }
            opcode::GETXATTR => {
                let arg = body.record(abi::GetxattrIn::SIZE, abi::GetxattrIn::decode)?;
                Operation::Getxattr { size: arg.size, name: body.string()? }
            }
            opcode::LISTXATTR => {
                Operation::Listxattr { size: body.record(abi::GetxattrIn::SIZE, abi::GetxattrIn::decode)?.size }
            }
            opcode::REMOVEXATTR => Operation::Removexattr { name: body.string()? },
            opcode::FLUSH => Operation::Flush(body.record(abi::FlushIn::SIZE, abi::FlushIn::decode)?),
            opcode::ACCESS => Operation::Access { mask: body.record(abi::AccessIn::SIZE, abi::AccessIn::decode)?.mask },
            opcode::CREATE => {
                let arg = body.record(abi::CreateIn::SIZE, abi::CreateIn::decode)?;
                Operation::Create { arg, name: body.name()? }
            }
            opcode::INTERRUPT => {
                Operation::Interrupt { unique: body.record(abi::InterruptIn::SIZE, abi::InterruptIn::decode)?.unique }
            }
            opcode::SYNCFS => Operation::Syncfs,
            opcode::NOTIFY_REPLY => Operation::NotifyReply,
            opcode::GETLK
            | opcode::SETLK
            | opcode::SETLKW
            | opcode::BMAP
            | opcode::IOCTL
            | opcode::POLL
            | opcode::FALLOCATE
            | opcode::READDIRPLUS
            | opcode::LSEEK
            | opcode::COPY_FILE_RANGE
            | opcode::SETUPMAPPING
            | opcode::REMOVEMAPPING
            | opcode::TMPFILE
            | opcode::STATX
            | opcode::CUSE_INIT => Operation::Unsupported,
            _ => Operation::Unknown,
        };
        Ok(Request { header, op })
    }

    /// Whether the kernel waits for a reply to this request.
    pub fn wants_reply(&self) -> bool {
        !matches!(
            self.op,
            Operation::Forget { .. }
                | Operation::BatchForget { .. }
                | Operation::Interrupt { .. }
                | Operation::NotifyReply
        )
    }
}
