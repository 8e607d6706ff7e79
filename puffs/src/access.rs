//! Permission checks for file systems that make their own (libpuffs `puffs_access`,
//! `puffs_access_chown`, `puffs_access_chmod`, `puffs_access_times`): the rules of Linux for
//! the mode bits, owners and groups, with the caller's supplementary groups.
//!
//! Mounted with `default_permissions` (or with [`FileSystem::POSIX_ACL`](crate::FileSystem::POSIX_ACL),
//! which implies it), the kernel makes these checks before a request reaches the file
//! system, and it knows the caller's groups. Without it, the kernel checks nothing but the
//! execute bits of regular files and sends every request: the file system decides, with
//! these functions, which is what it must do when its permissions are not the mode bits
//! (a network file system whose server decides) or when it must not pay the extra `GETATTR`
//! the kernel's checks cost. [`MountInfo::kernel_checks`](crate::MountInfo::kernel_checks)
//! tells which way a mount went.
//!
//! FUSE does not carry supplementary groups: [`in_group`] reads them, when a check needs them,
//! from `/proc` for the calling thread, as libfuse's `fuse_req_getgroups` does.
//!
//! ```
//! use puffs::{access, AccessFlags, Cred, Vattr, Vtype};
//!
//! let mut file = Vattr::new(Vtype::Reg, 0o640, 2);
//! file.uid = 1000;
//! file.gid = 1000;
//! let owner = Cred { uid: 1000, gid: 1000, pid: 0 };
//! let other = Cred { uid: 1001, gid: 1001, pid: 0 };
//! assert_eq!(access::access(&file, AccessFlags::W_OK, &owner), Ok(()));
//! assert_eq!(access::access(&file, AccessFlags::R_OK, &other), Err(puffs::Errno::EACCES));
//! ```

use std::ffi::OsStr;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::AccessFlags;

use crate::cred::Cred;
use crate::fs::Result;
use crate::vattr::{SetVattr, TimeSet, Vattr, Vtype};

/// Set-group-id, which `chmod` by someone outside the file's group drops.
const S_ISGID: u32 = 0o2000;
/// Both set-id bits.
const SET_IDS: u32 = 0o6000;
/// The sticky bit: in a directory, only owners may remove or rename what is in it.
const S_ISVTX: u32 = 0o1000;

/// May `cred` access `node` as `wanted` asks (puffs `puffs_access`; what `access(2)` and the
/// kernel's `generic_permission` decide)? `EACCES` if not.
///
/// The owner's bits apply to its owner, the group's to its group's members, the others' to
/// everyone else. The superuser may read and write anything, and execute what anyone may
/// (a directory is always searchable for it).
pub fn access(node: &Vattr, wanted: AccessFlags, cred: &Cred) -> Result<()> {
    let wanted = wanted & (AccessFlags::R_OK | AccessFlags::W_OK | AccessFlags::X_OK);
    let granted = if cred.is_root() {
        let executable = node.vtype == Vtype::Dir || node.mode & 0o111 != 0;
        if executable {
            AccessFlags::R_OK | AccessFlags::W_OK | AccessFlags::X_OK
        } else {
            AccessFlags::R_OK | AccessFlags::W_OK
        }
    } else {
        let shift = if cred.uid == node.uid {
            6
        } else if in_group(cred, node.gid) {
            3
        } else {
            0
        };
        AccessFlags::from_bits_truncate(((node.mode >> shift) & 0o7) as i32)
    };
    if granted.contains(wanted) {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

/// May `cred` open `node` with `open(2)` flags `flags` (`node_open`)? Reading and writing
/// take the matching right, and `O_TRUNC` the right to write (`EACCES`), as the kernel's
/// `may_open` says; an open with `O_CREAT` follows the creation of the file for the same
/// caller and is allowed whatever the file's mode.
pub fn access_open(node: &Vattr, flags: OFlag, cred: &Cred) -> Result<()> {
    if flags.contains(OFlag::O_CREAT) {
        return Ok(());
    }
    let mut wanted = match flags & OFlag::O_ACCMODE {
        OFlag::O_WRONLY => AccessFlags::W_OK,
        OFlag::O_RDWR => AccessFlags::R_OK | AccessFlags::W_OK,
        _ => AccessFlags::R_OK,
    };
    if flags.contains(OFlag::O_TRUNC) {
        wanted |= AccessFlags::W_OK;
    }
    access(node, wanted, cred)
}

/// May `cred` read (`write` false: get or list) or write (set or remove) `node`'s extended
/// attribute `name`, as the kernel's `xattr_permission` says? `trusted.` attributes are the
/// superuser's (others read `ENODATA`, write `EPERM`); `user.` attributes live on files and
/// directories only (the same errors) and in a sticky directory only its owner writes them
/// (`EPERM`), and they take the right to read or write the node (`EACCES`). The others
/// (`security.`, `system.`) are left to the kernel.
pub fn access_extattr(node: &Vattr, name: &OsStr, write: bool, cred: &Cred) -> Result<()> {
    let refused = if write { Errno::EPERM } else { Errno::ENODATA };
    let name = name.as_encoded_bytes();
    if name.starts_with(b"trusted.") {
        return if cred.is_root() { Ok(()) } else { Err(refused) };
    }
    if !name.starts_with(b"user.") {
        return Ok(());
    }
    if !matches!(node.vtype, Vtype::Reg | Vtype::Dir) {
        return Err(refused);
    }
    let sticky_dir = node.vtype == Vtype::Dir && node.mode & S_ISVTX != 0;
    if write && sticky_dir && !cred.is_root() && cred.uid != node.uid {
        return Err(Errno::EPERM);
    }
    access(node, if write { AccessFlags::W_OK } else { AccessFlags::R_OK }, cred)
}

/// May `cred` give `node` the owner `uid` and the group `gid` (`None`: unchanged)? (puffs
/// `puffs_access_chown`.) `EPERM` if not: only the superuser gives a file away; its owner may
/// change its group to one the owner is in.
pub fn access_chown(node: &Vattr, uid: Option<u32>, gid: Option<u32>, cred: &Cred) -> Result<()> {
    if cred.is_root() {
        return Ok(());
    }
    let uid_changes = uid.is_some_and(|uid| uid != node.uid);
    let gid_changes = gid.is_some_and(|gid| gid != node.gid);
    if uid_changes || (gid_changes && cred.uid != node.uid) {
        return Err(Errno::EPERM);
    }
    match gid {
        Some(gid) if gid_changes && !in_group(cred, gid) => Err(Errno::EPERM),
        _ => Ok(()),
    }
}

/// May `cred` set `node`'s permission bits to `mode` (puffs `puffs_access_chmod`)? `EPERM` if
/// it is neither the owner nor the superuser. Answers the mode to store: without set-group-id
/// when the caller is not in the file's group, as Linux drops it.
pub fn access_chmod(node: &Vattr, mode: u32, cred: &Cred) -> Result<u32> {
    if cred.is_root() {
        return Ok(mode);
    }
    if cred.uid != node.uid {
        return Err(Errno::EPERM);
    }
    if mode & S_ISGID != 0 && node.vtype != Vtype::Dir && !in_group(cred, node.gid) {
        return Ok(mode & !S_ISGID);
    }
    Ok(mode)
}

/// May `cred` set `node`'s access and modification times as `atime` and `mtime` ask (puffs
/// `puffs_access_times`)? Setting them to now takes being the owner or the right to write
/// (`EACCES`); setting them to anything else takes being the owner (`EPERM`). The superuser
/// may do both.
pub fn access_times(node: &Vattr, atime: Option<TimeSet>, mtime: Option<TimeSet>, cred: &Cred) -> Result<()> {
    if cred.is_root() || cred.uid == node.uid || (atime.is_none() && mtime.is_none()) {
        return Ok(());
    }
    let explicit = [atime, mtime].iter().any(|t| matches!(t, Some(TimeSet::At(_))));
    if explicit {
        return Err(Errno::EPERM);
    }
    access(node, AccessFlags::W_OK, cred)
}

/// May `cred` make the changes `changes` asks of `node` (`node_setattr`)? Each part follows
/// its rule: [`access_chown`], [`access_chmod`], [`access_times`], and a new size takes the
/// right to write, unless it comes through an open file (`ftruncate`: checked when it was
/// opened). Answers the changes to make: a mode may lose set-group-id (see [`access_chmod`]).
pub fn access_setattr(node: &Vattr, changes: &SetVattr, cred: &Cred) -> Result<SetVattr> {
    let mut allowed = changes.clone();
    if changes.uid.is_some() || changes.gid.is_some() {
        access_chown(node, changes.uid, changes.gid, cred)?;
    }
    if let Some(mode) = changes.mode {
        // A write, truncate or change of owner drops set-id bits in the same change (FUSE
        // `HANDLE_KILLPRIV_V2`, see `FileSystem`): that takes no ownership.
        let resizes_or_chowns = changes.size.is_some() || changes.uid.is_some() || changes.gid.is_some();
        let drops_setid_only = mode & !SET_IDS == node.mode & !SET_IDS && mode & !node.mode == 0;
        if !(resizes_or_chowns && drops_setid_only) {
            allowed.mode = Some(access_chmod(node, mode, cred)?);
        }
    }
    access_times(node, changes.atime, changes.mtime, cred)?;
    if changes.size.is_some() && changes.handle.is_none() {
        access(node, AccessFlags::W_OK, cred)?;
    }
    Ok(allowed)
}

/// May `cred` remove (or rename away) `victim` from directory `dir`? It takes writing and
/// searching `dir` (`EACCES`) and, if `dir` is sticky, owning `victim` or `dir` (`EPERM`), as
/// the kernel's `may_delete` says.
pub fn access_remove(dir: &Vattr, victim: &Vattr, cred: &Cred) -> Result<()> {
    access(dir, AccessFlags::W_OK | AccessFlags::X_OK, cred)?;
    if dir.mode & S_ISVTX != 0 && !cred.is_root() && cred.uid != victim.uid && cred.uid != dir.uid {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// Whether `cred` is in group `gid`: as its own group, or as one of the supplementary groups
/// of the calling thread, read from `/proc` only when the own group does not match. A caller
/// whose groups cannot be read (it is gone, or the kernel asked on its own: pid 0) is in its
/// own group only.
pub fn in_group(cred: &Cred, gid: u32) -> bool {
    cred.gid == gid || supplementary_groups(cred).is_ok_and(|groups| groups.contains(&gid))
}

/// The supplementary groups of the thread behind `cred` (libfuse `fuse_req_getgroups`), from
/// the `Groups:` line of `/proc/PID/task/PID/status`. `ESRCH` when it is gone or unknown.
pub fn supplementary_groups(cred: &Cred) -> Result<Vec<u32>> {
    if cred.pid == 0 {
        return Err(Errno::ESRCH);
    }
    let status = std::fs::read_to_string(format!("/proc/{0}/task/{0}/status", cred.pid)).map_err(|_| Errno::ESRCH)?;
    let line = status.lines().find_map(|line| line.strip_prefix("Groups:")).ok_or(Errno::ESRCH)?;
    line.split_whitespace().map(|gid| gid.parse().map_err(|_| Errno::EIO)).collect()
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn node(vtype: Vtype, mode: u32, uid: u32, gid: u32) -> Vattr {
        let mut vattr = Vattr::new(vtype, mode, 2);
        vattr.uid = uid;
        vattr.gid = gid;
        vattr
    }

    const fn cred(uid: u32, gid: u32) -> Cred {
        Cred { uid, gid, pid: 0 }
    }

    const ROOT: Cred = Cred::ROOT;
    const OWNER: Cred = cred(10, 20);
    const MEMBER: Cred = cred(11, 20);
    const OTHER: Cred = cred(12, 30);

    #[test]
    fn owner_group_and_others_each_get_their_own_bits() {
        let file = node(Vtype::Reg, 0o741, 10, 20);
        let (r, w, x) = (AccessFlags::R_OK, AccessFlags::W_OK, AccessFlags::X_OK);
        assert_eq!(access(&file, r | w | x, &OWNER), Ok(()));
        assert_eq!(access(&file, r, &MEMBER), Ok(()));
        assert_eq!(access(&file, w, &MEMBER), Err(Errno::EACCES));
        assert_eq!(access(&file, x, &OTHER), Ok(()));
        assert_eq!(access(&file, r, &OTHER), Err(Errno::EACCES));
        // The owner's bits, even when the group's or others' would grant more.
        let odd = node(Vtype::Reg, 0o077, 10, 20);
        assert_eq!(access(&odd, r, &OWNER), Err(Errno::EACCES));
        assert_eq!(access(&odd, AccessFlags::F_OK, &OTHER), Ok(()), "existence needs nothing");
    }

    #[test]
    fn an_open_takes_the_rights_its_access_mode_and_truncation_ask() {
        let file = node(Vtype::Reg, 0o640, 10, 20);
        assert_eq!(access_open(&file, OFlag::O_RDWR, &OWNER), Ok(()));
        assert_eq!(access_open(&file, OFlag::O_RDONLY, &MEMBER), Ok(()));
        assert_eq!(access_open(&file, OFlag::O_WRONLY, &MEMBER), Err(Errno::EACCES));
        assert_eq!(
            access_open(&file, OFlag::O_RDONLY | OFlag::O_TRUNC, &MEMBER),
            Err(Errno::EACCES),
            "truncating writes"
        );
        assert_eq!(access_open(&file, OFlag::O_RDONLY, &OTHER), Err(Errno::EACCES));
        let made = node(Vtype::Reg, 0o000, 12, 30);
        assert_eq!(access_open(&made, OFlag::O_RDWR | OFlag::O_CREAT, &OTHER), Ok(()), "just created for the caller");
        assert_eq!(access_open(&made, OFlag::O_RDWR, &OTHER), Err(Errno::EACCES));
    }

    #[test]
    fn a_truncate_or_chown_drops_set_id_bits_without_ownership_but_a_chmod_does_not() {
        let file = node(Vtype::Reg, 0o6775, 10, 20);
        let truncate = SetVattr { size: Some(0), mode: Some(0o775), ..SetVattr::default() };
        assert_eq!(access_setattr(&file, &truncate, &MEMBER).map(|c| c.mode), Ok(Some(0o775)));
        let chmod = SetVattr { mode: Some(0o775), ..SetVattr::default() };
        assert_eq!(access_setattr(&file, &chmod, &MEMBER), Err(Errno::EPERM));
        let widen = SetVattr { size: Some(0), mode: Some(0o777), ..SetVattr::default() };
        assert_eq!(access_setattr(&file, &widen, &MEMBER), Err(Errno::EPERM), "more than a drop");
    }

    #[test]
    fn extended_attributes_follow_their_namespace() {
        let file = node(Vtype::Reg, 0o640, 10, 20);
        let name = |n: &str| OsStr::new(n).to_owned();
        assert_eq!(access_extattr(&file, &name("user.a"), true, &OWNER), Ok(()));
        assert_eq!(access_extattr(&file, &name("user.a"), false, &MEMBER), Ok(()));
        assert_eq!(access_extattr(&file, &name("user.a"), true, &MEMBER), Err(Errno::EACCES));
        assert_eq!(access_extattr(&file, &name("trusted.a"), false, &OWNER), Err(Errno::ENODATA));
        assert_eq!(access_extattr(&file, &name("trusted.a"), true, &ROOT), Ok(()));
        let link = node(Vtype::Lnk, 0o777, 10, 20);
        assert_eq!(access_extattr(&link, &name("user.a"), true, &OWNER), Err(Errno::EPERM));
        let sticky = node(Vtype::Dir, 0o1777, 10, 20);
        assert_eq!(access_extattr(&sticky, &name("user.a"), true, &OTHER), Err(Errno::EPERM));
        assert_eq!(access_extattr(&file, &name("security.a"), true, &OTHER), Ok(()), "the kernel's");
    }

    #[test]
    fn the_superuser_reads_and_writes_all_and_executes_what_anyone_may() {
        let (r, w, x) = (AccessFlags::R_OK, AccessFlags::W_OK, AccessFlags::X_OK);
        assert_eq!(access(&node(Vtype::Reg, 0o000, 10, 20), r | w, &ROOT), Ok(()));
        assert_eq!(access(&node(Vtype::Reg, 0o600, 10, 20), x, &ROOT), Err(Errno::EACCES));
        assert_eq!(access(&node(Vtype::Reg, 0o001, 10, 20), x, &ROOT), Ok(()));
        assert_eq!(access(&node(Vtype::Dir, 0o000, 10, 20), x, &ROOT), Ok(()));
    }

    #[test]
    fn only_the_superuser_gives_files_away_and_owners_pick_their_own_groups() {
        let file = node(Vtype::Reg, 0o644, 10, 20);
        assert_eq!(access_chown(&file, Some(12), None, &ROOT), Ok(()));
        assert_eq!(access_chown(&file, Some(12), None, &OWNER), Err(Errno::EPERM));
        assert_eq!(access_chown(&file, Some(10), Some(20), &OWNER), Ok(()), "no change is allowed");
        assert_eq!(access_chown(&file, None, Some(30), &OWNER), Err(Errno::EPERM), "not the owner's group");
        assert_eq!(access_chown(&file, None, Some(20), &MEMBER), Ok(()), "unchanged");
        let theirs = node(Vtype::Reg, 0o644, 12, 20);
        assert_eq!(access_chown(&theirs, None, Some(30), &OTHER), Ok(()), "the owner, into its own group");
        assert_eq!(access_chown(&theirs, None, Some(30), &MEMBER), Err(Errno::EPERM), "not the owner");
    }

    #[test]
    fn chmod_is_the_owners_and_drops_set_group_id_outside_the_group() {
        let file = node(Vtype::Reg, 0o644, 10, 99);
        assert_eq!(access_chmod(&file, 0o600, &MEMBER), Err(Errno::EPERM));
        assert_eq!(access_chmod(&file, 0o2755, &OWNER), Ok(0o755), "the owner is not in group 99");
        assert_eq!(access_chmod(&file, 0o2755, &ROOT), Ok(0o2755));
        let inside = node(Vtype::Reg, 0o644, 10, 20);
        assert_eq!(access_chmod(&inside, 0o2755, &OWNER), Ok(0o2755));
        let dir = node(Vtype::Dir, 0o755, 10, 99);
        assert_eq!(access_chmod(&dir, 0o2755, &OWNER), Ok(0o2755), "directories keep it");
    }

    #[test]
    fn times_are_the_owners_but_now_is_anyone_who_may_write() {
        let file = node(Vtype::Reg, 0o664, 10, 20);
        let at = Some(TimeSet::At(SystemTime::UNIX_EPOCH));
        assert_eq!(access_times(&file, at, at, &OWNER), Ok(()));
        assert_eq!(access_times(&file, at, None, &MEMBER), Err(Errno::EPERM));
        assert_eq!(access_times(&file, Some(TimeSet::Now), Some(TimeSet::Now), &MEMBER), Ok(()));
        assert_eq!(access_times(&file, Some(TimeSet::Now), Some(TimeSet::Now), &OTHER), Err(Errno::EACCES));
        assert_eq!(access_times(&file, at, at, &ROOT), Ok(()));
    }

    #[test]
    fn setattr_checks_each_change_and_truncation_through_a_handle_is_not_checked_again() {
        let file = node(Vtype::Reg, 0o644, 10, 99);
        let truncate = SetVattr { size: Some(0), ..SetVattr::default() };
        assert_eq!(access_setattr(&file, &truncate, &OTHER).map(drop), Err(Errno::EACCES));
        let through_handle = SetVattr { handle: Some(crate::FileHandle(3)), ..truncate.clone() };
        assert_eq!(access_setattr(&file, &through_handle, &OTHER).map(drop), Ok(()));
        let chmod = SetVattr { mode: Some(0o2700), ..SetVattr::default() };
        assert_eq!(access_setattr(&file, &chmod, &OWNER).map(|c| c.mode), Ok(Some(0o700)));
        assert_eq!(access_setattr(&file, &chmod, &OTHER).map(drop), Err(Errno::EPERM));
    }

    #[test]
    fn sticky_directories_keep_what_is_in_them_for_its_owners() {
        let sticky = node(Vtype::Dir, 0o1777, 10, 20);
        let mine = node(Vtype::Reg, 0o644, 12, 30);
        let theirs = node(Vtype::Reg, 0o644, 11, 20);
        assert_eq!(access_remove(&sticky, &mine, &OTHER), Ok(()));
        assert_eq!(access_remove(&sticky, &theirs, &OTHER), Err(Errno::EPERM));
        assert_eq!(access_remove(&sticky, &theirs, &OWNER), Ok(()), "the directory's owner");
        assert_eq!(access_remove(&sticky, &theirs, &ROOT), Ok(()));
        let closed = node(Vtype::Dir, 0o755, 10, 20);
        assert_eq!(access_remove(&closed, &mine, &OTHER), Err(Errno::EACCES));
    }

    #[test]
    fn supplementary_groups_are_read_for_the_calling_thread() {
        // A thread of its own with groups of its own: setgroups(2) itself changes one thread
        // (the C library's wrapper would change them all). Without the privilege to set them,
        // the thread's groups are the process's.
        let reading = std::thread::spawn(|| {
            let wanted = [4242u32, 4343];
            // SAFETY: setgroups reads `wanted.len()` group ids from a live array.
            let set = unsafe { nix::libc::syscall(nix::libc::SYS_setgroups, wanted.len(), wanted.as_ptr()) } == 0;
            let expected: Vec<u32> = if set {
                wanted.to_vec()
            } else {
                nix::unistd::getgroups().unwrap().iter().map(|g| g.as_raw()).collect()
            };
            let me = Cred { uid: 1, gid: 1, pid: nix::unistd::gettid().as_raw() as u32 };
            (supplementary_groups(&me), expected, set.then(|| (in_group(&me, 4343), in_group(&me, 4444))))
        });
        let (read, expected, membership) = reading.join().unwrap();
        assert_eq!(read, Ok(expected));
        if let Some(membership) = membership {
            assert_eq!(membership, (true, false));
        }
        let kernel = Cred { uid: 1, gid: 1, pid: 0 };
        assert_eq!(supplementary_groups(&kernel), Err(Errno::ESRCH), "the kernel's own requests");
        assert!(in_group(&kernel, 1) && !in_group(&kernel, 4343));
    }
}
