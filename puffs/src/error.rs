//! The error of a usermount call: what was being done and the errno it ended with.

use std::fmt;

use nix::errno::Errno;

/// A failed usermount call (`mount`, `mainloop` …): what was being done and why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    context: String,
    errno: Errno,
}

impl Error {
    /// An error of `errno` while doing `context` ("mount /mnt", "read /dev/fuse").
    pub fn new(context: impl Into<String>, errno: Errno) -> Error {
        Error { context: context.into(), errno }
    }

    /// The errno behind the error.
    pub fn errno(&self) -> Errno {
        self.errno
    }

    /// What was being done.
    pub fn context(&self) -> &str {
        &self.context
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({:?})", self.context, self.errno.desc(), self.errno)
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        std::io::Error::new(std::io::Error::from_raw_os_error(e.errno as i32).kind(), e)
    }
}

/// An I/O error becomes an `Error` with its errno (`EIO` when it has none), its text as the
/// context.
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::new(e.to_string(), io_errno(&e))
    }
}

/// The errno of an I/O error, for an operation's answer: the system's own, or `EIO` for an
/// error that did not come from the system.
pub fn io_errno(e: &std::io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::from_raw)
}
