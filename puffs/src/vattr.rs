//! Node attributes: the puffs `vattr`, its node type and the changes a `setattr` asks for.

use std::time::{Duration, SystemTime};

/// The type of a node (puffs `enum vtype`; the `S_IFMT` bits of a FUSE `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vtype {
    /// A regular file.
    Reg,
    /// A directory.
    Dir,
    /// A symbolic link.
    Lnk,
    /// A block device.
    Blk,
    /// A character device.
    Chr,
    /// A named pipe.
    Fifo,
    /// A socket.
    Sock,
}

impl Vtype {
    /// The `S_IFMT` bits of this type.
    pub const fn to_mode_bits(self) -> u32 {
        match self {
            Vtype::Reg => libc_mode::S_IFREG,
            Vtype::Dir => libc_mode::S_IFDIR,
            Vtype::Lnk => libc_mode::S_IFLNK,
            Vtype::Blk => libc_mode::S_IFBLK,
            Vtype::Chr => libc_mode::S_IFCHR,
            Vtype::Fifo => libc_mode::S_IFIFO,
            Vtype::Sock => libc_mode::S_IFSOCK,
        }
    }

    /// The type named by the `S_IFMT` bits of `mode`, if they name one.
    pub const fn from_mode_bits(mode: u32) -> Option<Vtype> {
        Some(match mode & libc_mode::S_IFMT {
            libc_mode::S_IFREG => Vtype::Reg,
            libc_mode::S_IFDIR => Vtype::Dir,
            libc_mode::S_IFLNK => Vtype::Lnk,
            libc_mode::S_IFBLK => Vtype::Blk,
            libc_mode::S_IFCHR => Vtype::Chr,
            libc_mode::S_IFIFO => Vtype::Fifo,
            libc_mode::S_IFSOCK => Vtype::Sock,
            _ => return None,
        })
    }

    /// The `d_type` value of this type in a directory entry (`DT_*`).
    pub const fn to_dirent_type(self) -> u32 {
        self.to_mode_bits() >> 12
    }
}

/// The `S_IF*` constants, spelled out so that they are the same on every target.
pub(crate) mod libc_mode {
    pub(crate) const S_IFMT: u32 = 0o170000;
    pub(crate) const S_IFSOCK: u32 = 0o140000;
    pub(crate) const S_IFLNK: u32 = 0o120000;
    pub(crate) const S_IFREG: u32 = 0o100000;
    pub(crate) const S_IFBLK: u32 = 0o060000;
    pub(crate) const S_IFDIR: u32 = 0o040000;
    pub(crate) const S_IFCHR: u32 = 0o020000;
    pub(crate) const S_IFIFO: u32 = 0o010000;
}

/// The permission bits of a mode: rwx for user, group and other plus set-uid, set-gid and sticky.
pub const MODE_PERMISSION_BITS: u32 = 0o7777;

/// The attributes of a node (puffs `struct vattr`; FUSE `struct fuse_attr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vattr {
    /// What kind of node this is.
    pub vtype: Vtype,
    /// Permission bits (`0o7777`); the type bits come from `vtype`.
    pub mode: u32,
    /// Number of hard links.
    pub nlink: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// File serial number shown to applications as `st_ino`.
    pub fileid: u64,
    /// Size in bytes.
    pub size: u64,
    /// Bytes of storage used (reported to the kernel in 512-byte blocks, rounded up).
    pub bytes: u64,
    /// Preferred I/O block size.
    pub blocksize: u32,
    /// Device number, for block and character devices.
    pub rdev: u64,
    /// Last access.
    pub atime: SystemTime,
    /// Last modification of the contents.
    pub mtime: SystemTime,
    /// Last change of the attributes.
    pub ctime: SystemTime,
    /// Creation (puffs `va_birthtime`), when the file system keeps it: `statx(2)`'s
    /// `stx_btime` (FUSE `STATX`). `None` says it is unknown, and `statx` reports none.
    pub birthtime: Option<SystemTime>,
}

impl Vattr {
    /// Attributes of a fresh node of type `vtype` with permissions `mode`, owned by root, one
    /// link, size zero and all three times set to now.
    pub fn new(vtype: Vtype, mode: u32, fileid: u64) -> Vattr {
        let now = SystemTime::now();
        Vattr {
            vtype,
            mode: mode & MODE_PERMISSION_BITS,
            nlink: 1,
            uid: 0,
            gid: 0,
            fileid,
            size: 0,
            bytes: 0,
            blocksize: 4096,
            rdev: 0,
            atime: now,
            mtime: now,
            ctime: now,
            birthtime: None,
        }
    }

    /// The full mode: type bits and permission bits, as `st_mode` shows it.
    pub fn st_mode(&self) -> u32 {
        self.vtype.to_mode_bits() | (self.mode & MODE_PERMISSION_BITS)
    }
}

/// A time to set in a [`SetVattr`]: a given instant, or the server's "now" (`UTIME_NOW`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSet {
    /// Set the time to this instant.
    At(SystemTime),
    /// Set the time to the current time of the file system.
    Now,
}

impl TimeSet {
    /// The instant this resolves to, taking "now" from the clock.
    pub fn resolve(self) -> SystemTime {
        match self {
            TimeSet::At(t) => t,
            TimeSet::Now => SystemTime::now(),
        }
    }
}

/// The attribute changes a `setattr` asks for (puffs passes a `vattr` with `VNOVAL` holes; here a
/// missing change is `None`). FUSE `struct fuse_setattr_in`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetVattr {
    /// New permission bits.
    pub mode: Option<u32>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New size (truncate or extend).
    pub size: Option<u64>,
    /// New access time.
    pub atime: Option<TimeSet>,
    /// New modification time.
    pub mtime: Option<TimeSet>,
    /// New change time.
    pub ctime: Option<SystemTime>,
    /// The open file the change came through (`ftruncate`, `fchmod` …), if any.
    pub handle: Option<crate::fs::cookie::FileHandle>,
}

impl SetVattr {
    /// Whether nothing is to change.
    pub fn is_empty(&self) -> bool {
        self.mode.is_none()
            && self.uid.is_none()
            && self.gid.is_none()
            && self.size.is_none()
            && self.atime.is_none()
            && self.mtime.is_none()
            && self.ctime.is_none()
    }
}

/// Splits a time into seconds and nanoseconds since the epoch, as the wire carries it; times before
/// the epoch give negative seconds.
pub(crate) fn time_to_wire(t: SystemTime) -> (i64, u32) {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let (mut secs, mut nanos) = (-(d.as_secs() as i64), d.subsec_nanos());
            if nanos > 0 {
                secs -= 1;
                nanos = 1_000_000_000 - nanos;
            }
            (secs, nanos)
        }
    }
}

/// The inverse of [`time_to_wire`]; out-of-range values saturate instead of panicking.
pub(crate) fn time_from_wire(secs: i64, nanos: u32) -> SystemTime {
    let nanos = Duration::from_nanos(u64::from(nanos.min(999_999_999)));
    if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs as u64) + nanos).unwrap_or(SystemTime::UNIX_EPOCH)
    } else {
        SystemTime::UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))
            .and_then(|t| t.checked_add(nanos))
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_round_trips_across_the_epoch() {
        for (s, n) in [(0, 0), (1, 5), (-1, 0), (-1, 999_999_999), (-12345, 17), (1 << 40, 3)] {
            let t = time_from_wire(s, n);
            assert_eq!(time_to_wire(t), (s, n), "{s}.{n}");
        }
    }

    #[test]
    fn vtype_mode_bits_round_trip() {
        for v in [Vtype::Reg, Vtype::Dir, Vtype::Lnk, Vtype::Blk, Vtype::Chr, Vtype::Fifo, Vtype::Sock] {
            assert_eq!(Vtype::from_mode_bits(v.to_mode_bits() | 0o644), Some(v));
        }
        assert_eq!(Vtype::from_mode_bits(0o644), None);
        assert_eq!(Vtype::Dir.to_dirent_type(), 4);
        assert_eq!(Vtype::Reg.to_dirent_type(), 8);
    }
}
