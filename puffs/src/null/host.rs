//! The host side of the null file system: the system calls on host descriptors that `nix`
//! does not wrap (`statx`, extended attributes by path, `getdents64`), the `/proc/self/fd`
//! path of a descriptor, and the translation of host attributes into a [`Vattr`].

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::time::{Duration, SystemTime};

use nix::errno::Errno;
use nix::libc;

use crate::fs::Result;
use crate::vattr::{Vattr, Vtype};

/// The path that reaches the inode behind `fd` (even an `O_PATH` one) from anywhere: what
/// the calls that take no descriptor (`open`, `truncate`, `utimensat`, extended attributes)
/// are given.
pub(super) fn proc_path(fd: BorrowedFd<'_>) -> CString {
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL in a number")
}

/// `name` as a C string; `EINVAL` for a name holding NUL (the kernel never sends one).
pub(super) fn c_name(name: &OsStr) -> Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| Errno::EINVAL)
}

/// Host attributes of one inode: its [`Vattr`] and its device, which with the serial number
/// tells inodes apart.
#[derive(Debug, Clone)]
pub(super) struct HostAttr {
    pub(super) vattr: Vattr,
    pub(super) dev: u64,
}

impl HostAttr {
    /// The `(device, inode)` pair naming the inode on the host.
    pub(super) fn key(&self) -> (u64, u64) {
        (self.dev, self.vattr.fileid)
    }
}

/// The attributes of the inode behind `fd`, birth time included where the host keeps it
/// (`statx` with `AT_EMPTY_PATH`; a symbolic link is not followed).
pub(super) fn stat(fd: BorrowedFd<'_>) -> Result<HostAttr> {
    stat_at(fd, c"", libc::AT_EMPTY_PATH)
}

/// The attributes of `name` in directory `dir`, not following a symbolic link.
pub(super) fn stat_name(dir: BorrowedFd<'_>, name: &OsStr) -> Result<HostAttr> {
    stat_at(dir, &c_name(name)?, 0)
}

fn stat_at(dir: BorrowedFd<'_>, path: &std::ffi::CStr, flags: i32) -> Result<HostAttr> {
    // SAFETY: an all-zero `statx` is a valid value; the kernel overwrites what it reports.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    let flags = flags | libc::AT_SYMLINK_NOFOLLOW | libc::AT_STATX_SYNC_AS_STAT;
    let mask = libc::STATX_BASIC_STATS | libc::STATX_BTIME;
    // SAFETY: `path` is a C string and `st` a writable `statx`, both alive for the call.
    let res = unsafe { libc::statx(dir.as_raw_fd(), path.as_ptr(), flags, mask, &mut st) };
    Errno::result(res)?;
    let mode = u32::from(st.stx_mode);
    let vtype = Vtype::from_mode_bits(mode).ok_or(Errno::EIO)?;
    let time = |t: libc::statx_timestamp| instant(t.tv_sec, t.tv_nsec);
    let vattr = Vattr {
        vtype,
        mode: mode & crate::vattr::MODE_PERMISSION_BITS,
        nlink: st.stx_nlink,
        uid: st.stx_uid,
        gid: st.stx_gid,
        fileid: st.stx_ino,
        size: st.stx_size,
        bytes: st.stx_blocks.saturating_mul(512),
        blocksize: st.stx_blksize,
        rdev: nix::sys::stat::makedev(u64::from(st.stx_rdev_major), u64::from(st.stx_rdev_minor)),
        atime: time(st.stx_atime),
        mtime: time(st.stx_mtime),
        ctime: time(st.stx_ctime),
        birthtime: (st.stx_mask & libc::STATX_BTIME != 0).then(|| time(st.stx_btime)),
    };
    Ok(HostAttr { vattr, dev: nix::sys::stat::makedev(u64::from(st.stx_dev_major), u64::from(st.stx_dev_minor)) })
}

/// The instant `secs` seconds and `nanos` nanoseconds from the epoch (before it when `secs`
/// is negative).
fn instant(secs: i64, nanos: u32) -> SystemTime {
    let nanos = Duration::from_nanos(u64::from(nanos));
    match u64::try_from(secs) {
        Ok(secs) => SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + nanos,
        Err(_) => SystemTime::UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + nanos,
    }
}

/// The value of extended attribute `name` of the inode at `path` (`getxattr`, which follows
/// the `/proc` link to the inode itself).
pub(super) fn get_xattr(path: &CString, name: &OsStr) -> Result<Vec<u8>> {
    let name = c_name(name)?;
    loop {
        // SAFETY: a null buffer of size 0 asks for the size only.
        let size = unsafe { libc::getxattr(path.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) };
        let size = Errno::result(size)? as usize;
        let mut value = vec![0u8; size];
        // SAFETY: `value` has room for `size` bytes.
        let got = unsafe { libc::getxattr(path.as_ptr(), name.as_ptr(), value.as_mut_ptr().cast(), size) };
        match Errno::result(got) {
            Ok(got) => {
                value.truncate(got as usize);
                return Ok(value);
            }
            // It grew in between: ask its size again.
            Err(Errno::ERANGE) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Sets extended attribute `name` of the inode at `path` (`setxattr` with `flags`,
/// `XATTR_CREATE` or `XATTR_REPLACE`).
pub(super) fn set_xattr(path: &CString, name: &OsStr, value: &[u8], flags: i32) -> Result<()> {
    let name = c_name(name)?;
    // SAFETY: `value` is readable for its length; the C strings live through the call.
    let res = unsafe { libc::setxattr(path.as_ptr(), name.as_ptr(), value.as_ptr().cast(), value.len(), flags) };
    Errno::result(res).map(drop)
}

/// The names of the extended attributes of the inode at `path`.
pub(super) fn list_xattr(path: &CString) -> Result<Vec<OsString>> {
    loop {
        // SAFETY: a null buffer of size 0 asks for the size only.
        let size = Errno::result(unsafe { libc::listxattr(path.as_ptr(), std::ptr::null_mut(), 0) })? as usize;
        let mut list = vec![0u8; size];
        // SAFETY: `list` has room for `size` bytes.
        match Errno::result(unsafe { libc::listxattr(path.as_ptr(), list.as_mut_ptr().cast(), size) }) {
            Ok(got) => {
                list.truncate(got as usize);
                let names = list.split(|&b| b == 0).filter(|n| !n.is_empty());
                return Ok(names.map(|n| OsString::from_vec(n.to_vec())).collect());
            }
            Err(Errno::ERANGE) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Removes extended attribute `name` of the inode at `path`.
pub(super) fn remove_xattr(path: &CString, name: &OsStr) -> Result<()> {
    let name = c_name(name)?;
    // SAFETY: both C strings live through the call.
    Errno::result(unsafe { libc::removexattr(path.as_ptr(), name.as_ptr()) }).map(drop)
}

/// One entry of a host directory, as `getdents64` gives it.
#[derive(Debug)]
pub(super) struct HostEntry<'a> {
    pub(super) ino: u64,
    /// Where the entry after it starts: what `lseek` on the directory takes to resume there.
    pub(super) next: u64,
    /// The `DT_*` type; `DT_UNKNOWN` (0) where the host does not say.
    pub(super) d_type: u8,
    pub(super) name: &'a OsStr,
}

/// Reads entries of directory `dir` from position `offset` into `buf` (`lseek`, then
/// `getdents64`); answers how many bytes of records it holds, 0 at the end.
pub(super) fn read_dir(dir: BorrowedFd<'_>, offset: u64, buf: &mut [u8]) -> Result<usize> {
    let offset = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
    nix::unistd::lseek(dir.as_fd(), offset, nix::unistd::Whence::SeekSet)?;
    // SAFETY: `buf` is writable for its length, which is what the kernel is told.
    let n = unsafe { libc::syscall(libc::SYS_getdents64, dir.as_raw_fd(), buf.as_mut_ptr(), buf.len()) };
    Errno::result(n).map(|n| n as usize)
}

/// The records `getdents64` wrote into `buf`, in order; a malformed one ends the walk.
pub(super) fn entries(buf: &[u8]) -> impl Iterator<Item = HostEntry<'_>> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        // `struct linux_dirent64`: ino u64, off i64, reclen u16, type u8, name (NUL-ended).
        let record = buf.get(at..)?;
        let reclen = usize::from(u16::from_ne_bytes(record.get(16..18)?.try_into().ok()?));
        let record = record.get(..reclen).filter(|_| reclen > 19)?;
        at += reclen;
        let name = &record[19..];
        let name = &name[..name.iter().position(|&b| b == 0)?];
        Some(HostEntry {
            ino: u64::from_ne_bytes(record[0..8].try_into().ok()?),
            next: u64::from_ne_bytes(record[8..16].try_into().ok()?),
            d_type: record[18],
            name: OsStr::from_bytes(name),
        })
    })
}

/// The node type of a `DT_*` directory entry type; `None` for `DT_UNKNOWN`.
pub(super) fn dirent_vtype(d_type: u8) -> Option<Vtype> {
    [Vtype::Reg, Vtype::Dir, Vtype::Lnk, Vtype::Blk, Vtype::Chr, Vtype::Fifo, Vtype::Sock]
        .into_iter()
        .find(|vtype| vtype.to_dirent_type() == u32::from(d_type))
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::{dirent_vtype, entries, read_dir, stat};
    use crate::vattr::Vtype;

    #[test]
    fn a_directory_reads_whole_and_resumes_where_an_entry_says() {
        let dir = std::env::temp_dir().join(format!("puffs-null-host-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["a", "b", "c"] {
            std::fs::write(dir.join(name), name).unwrap();
        }
        let fd = std::fs::File::open(&dir).unwrap();
        let mut buf = [0u8; 4096];
        let n = read_dir(fd.as_fd(), 0, &mut buf).unwrap();
        let all: Vec<_> = entries(&buf[..n]).map(|e| (e.name.to_owned(), e.next, e.d_type)).collect();
        let mut names: Vec<_> = all.iter().map(|(name, ..)| name.to_str().unwrap().to_owned()).collect();
        names.sort();
        assert_eq!(names, [".", "..", "a", "b", "c"]);
        // From the second entry's `next` on, the rest comes, and no more.
        let n = read_dir(fd.as_fd(), all[1].1, &mut buf).unwrap();
        let rest: Vec<_> = entries(&buf[..n]).map(|e| e.name.to_owned()).collect();
        assert_eq!(rest, all[2..].iter().map(|(name, ..)| name.clone()).collect::<Vec<_>>());
        assert!(all.iter().all(|(.., d_type)| dirent_vtype(*d_type).is_some()), "tmpfs and ext4 say types");
        assert_eq!(stat(fd.as_fd()).unwrap().vattr.vtype, Vtype::Dir);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn malformed_records_end_the_walk() {
        assert_eq!(entries(&[0u8; 10]).count(), 0);
        let mut record = [0u8; 24];
        record[16] = 3; // a length shorter than the header
        assert_eq!(entries(&record).count(), 0);
    }
}
