//! POSIX access control lists as Linux stores them in the extended attributes
//! `system.posix_acl_access` and `system.posix_acl_default`, and the rules that tie them to a
//! node's mode (what the kernel's `posix_acl_create`, `posix_acl_chmod` and
//! `posix_acl_equiv_mode` do for disk file systems).
//!
//! A file system that sets [`FileSystem::POSIX_ACL`](crate::FileSystem::POSIX_ACL) only
//! stores these attributes; the framework applies the rules with this module. It is public for
//! file systems that check permissions themselves.

use nix::errno::Errno;

/// The attribute holding a node's access ACL.
pub const ACCESS_XATTR: &str = "system.posix_acl_access";
/// The attribute holding a directory's default ACL, inherited by what is created in it.
pub const DEFAULT_XATTR: &str = "system.posix_acl_default";

/// The version of the extended-attribute format.
const XATTR_VERSION: u32 = 2;
/// The id of entries that name no user or group.
const UNDEFINED_ID: u32 = u32::MAX;

/// Whom an ACL entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AclTag {
    /// The owner (`user::`).
    UserObj,
    /// A named user (`user:NAME:`).
    User(u32),
    /// The owning group (`group::`).
    GroupObj,
    /// A named group (`group:NAME:`).
    Group(u32),
    /// The most the named entries and the owning group may get (`mask::`).
    Mask,
    /// Everyone else (`other::`).
    Other,
}

impl AclTag {
    fn wire(self) -> (u16, u32) {
        match self {
            AclTag::UserObj => (0x01, UNDEFINED_ID),
            AclTag::User(uid) => (0x02, uid),
            AclTag::GroupObj => (0x04, UNDEFINED_ID),
            AclTag::Group(gid) => (0x08, gid),
            AclTag::Mask => (0x10, UNDEFINED_ID),
            AclTag::Other => (0x20, UNDEFINED_ID),
        }
    }

    fn from_wire(tag: u16, id: u32) -> Option<AclTag> {
        Some(match tag {
            0x01 => AclTag::UserObj,
            0x02 => AclTag::User(id),
            0x04 => AclTag::GroupObj,
            0x08 => AclTag::Group(id),
            0x10 => AclTag::Mask,
            0x20 => AclTag::Other,
            _ => return None,
        })
    }
}

/// One entry: whom, and which of read (4), write (2) and execute (1) they get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AclEntry {
    /// Whom the entry is about.
    pub tag: AclTag,
    /// `rwx` as the bits 4, 2, 1.
    pub perm: u32,
}

/// A valid POSIX ACL: one owner, owning-group and other entry, named entries sorted and
/// unique, and a mask whenever there are named entries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Acl {
    entries: Vec<AclEntry>,
}

impl Acl {
    /// Decodes and checks the extended-attribute form; `EINVAL` if it is not a valid ACL.
    pub fn from_xattr(bytes: &[u8]) -> Result<Acl, Errno> {
        let (header, body) = bytes.split_at_checked(4).ok_or(Errno::EINVAL)?;
        if u32::from_le_bytes(header.try_into().map_err(|_| Errno::EINVAL)?) != XATTR_VERSION || body.len() % 8 != 0 {
            return Err(Errno::EINVAL);
        }
        let entries = body
            .chunks_exact(8)
            .map(|e| {
                let tag = u16::from_le_bytes([e[0], e[1]]);
                let perm = u16::from_le_bytes([e[2], e[3]]);
                let id = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
                let tag = AclTag::from_wire(tag, id).ok_or(Errno::EINVAL)?;
                if perm & !0o7 != 0 {
                    return Err(Errno::EINVAL);
                }
                Ok(AclEntry { tag, perm: u32::from(perm) })
            })
            .collect::<Result<Vec<_>, Errno>>()?;
        Acl::new(entries)
    }

    /// An ACL of `entries`, in any order; `EINVAL` if they do not make a valid ACL.
    pub fn new(mut entries: Vec<AclEntry>) -> Result<Acl, Errno> {
        entries.sort_by_key(|e| e.tag);
        let count = |wanted: fn(&AclTag) -> bool| entries.iter().filter(|e| wanted(&e.tag)).count();
        let unique = entries.windows(2).all(|pair| pair[0].tag != pair[1].tag);
        let named = count(|t| matches!(t, AclTag::User(_) | AclTag::Group(_)));
        let masks = count(|t| *t == AclTag::Mask);
        let valid = unique
            && count(|t| *t == AclTag::UserObj) == 1
            && count(|t| *t == AclTag::GroupObj) == 1
            && count(|t| *t == AclTag::Other) == 1
            && masks <= 1
            && (named == 0 || masks == 1)
            && entries.iter().all(|e| e.perm & !0o7 == 0);
        if valid {
            Ok(Acl { entries })
        } else {
            Err(Errno::EINVAL)
        }
    }

    /// The ACL that says what the permission bits of `mode` say: owner, group, other.
    pub fn from_mode(mode: u32) -> Acl {
        Acl {
            entries: vec![
                AclEntry { tag: AclTag::UserObj, perm: (mode >> 6) & 0o7 },
                AclEntry { tag: AclTag::GroupObj, perm: (mode >> 3) & 0o7 },
                AclEntry { tag: AclTag::Other, perm: mode & 0o7 },
            ],
        }
    }

    /// The entries, sorted.
    pub fn entries(&self) -> &[AclEntry] {
        &self.entries
    }

    /// The extended-attribute form.
    pub fn to_xattr(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(4 + 8 * self.entries.len());
        bytes.extend_from_slice(&XATTR_VERSION.to_le_bytes());
        for entry in &self.entries {
            let (tag, id) = entry.tag.wire();
            bytes.extend_from_slice(&tag.to_le_bytes());
            bytes.extend_from_slice(&(entry.perm as u16).to_le_bytes());
            bytes.extend_from_slice(&id.to_le_bytes());
        }
        bytes
    }

    fn perm(&self, tag: AclTag) -> Option<u32> {
        self.entries.iter().find(|e| e.tag == tag).map(|e| e.perm)
    }

    fn set_perm(&mut self, tag: AclTag, perm: u32) {
        if let Some(entry) = self.entries.iter_mut().find(|e| e.tag == tag) {
            entry.perm = perm;
        }
    }

    /// Whether the permission bits alone say it all (no named entries, no mask).
    pub fn is_equivalent_to_mode(&self) -> bool {
        self.entries.len() == 3
    }

    /// The permission bits (`0o777`) the ACL gives the mode: the owner's, the mask's (or the
    /// owning group's when there is no mask) as the group bits, and other's.
    pub fn mode_bits(&self) -> u32 {
        let group = self.perm(AclTag::Mask).or(self.perm(AclTag::GroupObj)).unwrap_or(0);
        (self.perm(AclTag::UserObj).unwrap_or(0) << 6) | (group << 3) | self.perm(AclTag::Other).unwrap_or(0)
    }

    /// Brings the ACL in step with a `chmod` to `mode`: the owner, the mask (or the owning
    /// group) and other take the new bits; named entries stay, limited by the new mask.
    pub fn chmod(&mut self, mode: u32) {
        self.set_perm(AclTag::UserObj, (mode >> 6) & 0o7);
        let group_class = if self.perm(AclTag::Mask).is_some() { AclTag::Mask } else { AclTag::GroupObj };
        self.set_perm(group_class, (mode >> 3) & 0o7);
        self.set_perm(AclTag::Other, mode & 0o7);
    }

    /// What a node created with `mode` in a directory with this default ACL gets: its mode
    /// (the bits the ACL does not grant taken away; the umask does not apply) and its access
    /// ACL, or `None` where the mode says it all.
    pub fn inherit(&self, mode: u32) -> (u32, Option<Acl>) {
        let mut acl = self.clone();
        let mut mode = mode;
        let owner = acl.perm(AclTag::UserObj).unwrap_or(0) & ((mode >> 6) & 0o7);
        acl.set_perm(AclTag::UserObj, owner);
        let other = acl.perm(AclTag::Other).unwrap_or(0) & (mode & 0o7);
        acl.set_perm(AclTag::Other, other);
        let group_class = if acl.perm(AclTag::Mask).is_some() { AclTag::Mask } else { AclTag::GroupObj };
        let group = acl.perm(group_class).unwrap_or(0) & ((mode >> 3) & 0o7);
        acl.set_perm(group_class, group);
        mode = (mode & !0o777) | (owner << 6) | (group << 3) | other;
        let access = (!acl.is_equivalent_to_mode()).then_some(acl);
        (mode, access)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tag: AclTag, perm: u32) -> AclEntry {
        AclEntry { tag, perm }
    }

    /// `user::rwx user:1000:r-- group::r-x mask::r-x other::---`.
    fn with_named_user() -> Acl {
        Acl::new(vec![
            entry(AclTag::Other, 0),
            entry(AclTag::User(1000), 4),
            entry(AclTag::UserObj, 7),
            entry(AclTag::GroupObj, 5),
            entry(AclTag::Mask, 5),
        ])
        .unwrap()
    }

    #[test]
    fn the_xattr_form_round_trips_and_is_sorted() {
        let acl = with_named_user();
        let bytes = acl.to_xattr();
        assert_eq!(bytes.len(), 4 + 5 * 8);
        assert_eq!(&bytes[..4], &2u32.to_le_bytes());
        // user:: first, with the undefined id; user:1000 next.
        assert_eq!(&bytes[4..12], &[1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(&bytes[12..20], &[2, 0, 4, 0, 0xe8, 0x03, 0, 0]);
        assert_eq!(Acl::from_xattr(&bytes), Ok(acl));
    }

    #[test]
    fn invalid_acls_are_einval() {
        let good = with_named_user().to_xattr();
        let mut bad_version = good.clone();
        bad_version[0] = 1;
        let mut bad_perm = good.clone();
        bad_perm[6] = 0o10;
        let mut bad_tag = good.clone();
        bad_tag[4] = 0x40;
        for bytes in [&b""[..], &good[..3], &good[..good.len() - 1], &bad_version, &bad_perm, &bad_tag] {
            assert_eq!(Acl::from_xattr(bytes), Err(Errno::EINVAL), "{bytes:?}");
        }
        // A named entry needs a mask; the base entries are needed once each.
        let no_mask = vec![
            entry(AclTag::UserObj, 7),
            entry(AclTag::User(1), 7),
            entry(AclTag::GroupObj, 5),
            entry(AclTag::Other, 0),
        ];
        assert_eq!(Acl::new(no_mask), Err(Errno::EINVAL));
        assert_eq!(Acl::new(vec![entry(AclTag::UserObj, 7), entry(AclTag::Other, 0)]), Err(Errno::EINVAL));
        let twice = vec![
            entry(AclTag::UserObj, 7),
            entry(AclTag::User(1), 7),
            entry(AclTag::User(1), 4),
            entry(AclTag::GroupObj, 5),
            entry(AclTag::Mask, 7),
            entry(AclTag::Other, 0),
        ];
        assert_eq!(Acl::new(twice), Err(Errno::EINVAL));
        // A mask without named entries is valid (setfacl -m m::r makes one).
        let mask_only = vec![
            entry(AclTag::UserObj, 7),
            entry(AclTag::GroupObj, 5),
            entry(AclTag::Mask, 4),
            entry(AclTag::Other, 0),
        ];
        assert!(Acl::new(mask_only).is_ok());
    }

    #[test]
    fn the_mode_follows_the_mask_and_chmod_follows_the_mode() {
        let mut acl = with_named_user();
        assert!(!acl.is_equivalent_to_mode());
        assert_eq!(acl.mode_bits(), 0o750);
        acl.chmod(0o640);
        assert_eq!(acl.mode_bits(), 0o640);
        // The mask took the group bits; the owning group and the named user kept theirs.
        assert_eq!(acl.perm(AclTag::Mask), Some(4));
        assert_eq!(acl.perm(AclTag::GroupObj), Some(5));
        assert_eq!(acl.perm(AclTag::User(1000)), Some(4));
        let mut plain = Acl::from_mode(0o754);
        assert!(plain.is_equivalent_to_mode());
        plain.chmod(0o600);
        assert_eq!(plain, Acl::from_mode(0o600));
    }

    #[test]
    fn inheritance_masks_the_mode_with_the_default_acl_not_the_umask() {
        // A directory default of user::rwx group::r-x other::r-x: a file asked as 0666 gets
        // 0644, whatever the umask; no access ACL is needed.
        let default = Acl::from_mode(0o755);
        assert_eq!(default.inherit(0o100666), (0o100644, None));
        // With a named user, the new node carries an access ACL and the mask as group bits.
        let (mode, access) = with_named_user().inherit(0o666);
        assert_eq!(mode, 0o640);
        let access = access.expect("an access ACL");
        assert_eq!(access.perm(AclTag::User(1000)), Some(4));
        assert_eq!(access.perm(AclTag::Mask), Some(4));
        assert_eq!(access.mode_bits(), 0o640);
        // Set-id and sticky bits pass through.
        assert_eq!(Acl::from_mode(0o777).inherit(0o1777).0, 0o1777);
    }
}
