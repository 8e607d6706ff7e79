//! The error of a failed mount, which gives the unmounted usermount back.

use std::fmt;

use super::state::Unmounted;
use super::Usermount;
use crate::error::Error;
use crate::fs::FileSystem;

/// A failed [`mount`](Usermount::mount): why, and the usermount, still [`Unmounted`], to try
/// again or to take the file system back (as std's `IntoInnerError` gives the writer back).
///
/// It converts into [`Error`] and [`std::io::Error`], so `?` works in a function returning
/// either:
///
/// ```no_run
/// # use puffs::{puffs_fs, Cookie, FileSystem, MountFlags, Usermount};
/// # struct Fs;
/// # #[puffs_fs] impl FileSystem for Fs {}
/// fn serve() -> std::io::Result<()> {
///     let mounted = Usermount::init(Fs, "fs").mount("/mnt", MountFlags::RDONLY, Cookie(1))?;
///     mounted.mainloop()?;
///     Ok(())
/// }
/// ```
pub struct MountError<F: FileSystem> {
    error: Error,
    usermount: Usermount<F, Unmounted>,
}

impl<F: FileSystem> MountError<F> {
    pub(crate) fn new(error: Error, usermount: Usermount<F, Unmounted>) -> MountError<F> {
        MountError { error, usermount }
    }

    /// Why the mount failed.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The usermount, unmounted, with its file system and settings.
    pub fn into_usermount(self) -> Usermount<F, Unmounted> {
        self.usermount
    }

    /// Why the mount failed, dropping the usermount.
    pub fn into_error(self) -> Error {
        self.error
    }

    /// Both parts.
    pub fn into_parts(self) -> (Error, Usermount<F, Unmounted>) {
        (self.error, self.usermount)
    }
}

impl<F: FileSystem> fmt::Debug for MountError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MountError").field("error", &self.error).field("usermount", &self.usermount).finish()
    }
}

impl<F: FileSystem> fmt::Display for MountError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<F: FileSystem> std::error::Error for MountError<F> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<F: FileSystem> From<MountError<F>> for Error {
    fn from(e: MountError<F>) -> Error {
        e.error
    }
}

impl<F: FileSystem> From<MountError<F>> for std::io::Error {
    fn from(e: MountError<F>) -> std::io::Error {
        e.error.into()
    }
}
