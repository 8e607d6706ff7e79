//! The mount table of this process's mount namespace, as `/proc/self/mountinfo` shows it: which
//! mount is where. A usermount reads it to tell the mount it made from anything else mounted at
//! the same place (before, beneath or after it), so that it never unmounts what is not its own.
//!
//! Not public API: exposed (hidden) so that the project's own tests apply the same rule.

use std::io;
use std::path::{Path, PathBuf};

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// The mount's id: unique among the mounts that exist at one time.
    pub id: u64,
    /// The id of the mount it sits on.
    pub parent: u64,
    /// The device of its file system, `(major, minor)`; a FUSE connection has its own.
    pub dev: (u32, u32),
    /// Where it is mounted, as an absolute path.
    pub mount_point: PathBuf,
    /// The file-system type (`fuse.dtfs`, `tmpfs`).
    pub fstype: String,
    /// The mount source (`dtfs`, `/dev/sda1`).
    pub source: String,
}

impl MountEntry {
    /// Whether this is a FUSE mount (`fuse`, `fuse.NAME`, `fuseblk`).
    pub fn is_fuse(&self) -> bool {
        self.fstype == "fuse" || self.fstype == "fuseblk" || self.fstype.starts_with("fuse.")
    }

    /// The number of its FUSE connection under `/sys/fs/fuse/connections`.
    pub fn fuse_connection(&self) -> u64 {
        fuse_connection(self.dev)
    }
}

/// The number under `/sys/fs/fuse/connections` of the FUSE connection with device `dev`
/// (`(major, minor)`): the kernel's `dev_t`, minor in the low 20 bits, major above.
pub fn fuse_connection(dev: (u32, u32)) -> u64 {
    (u64::from(dev.0) << 20) | u64::from(dev.1)
}

/// The mount table now.
pub fn read() -> io::Result<Vec<MountEntry>> {
    Ok(parse(&std::fs::read_to_string("/proc/self/mountinfo")?))
}

/// Parses the text of a `mountinfo` file; lines that do not parse are skipped.
pub fn parse(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountEntry> {
    // id parent major:minor root mount-point options [optional fields...] - fstype source super
    let mut fields = line.split(' ');
    let id = fields.next()?.parse().ok()?;
    let parent = fields.next()?.parse().ok()?;
    let (major, minor) = fields.next()?.split_once(':')?;
    let dev = (major.parse().ok()?, minor.parse().ok()?);
    let _root = fields.next()?;
    let mount_point = PathBuf::from(unescape(fields.next()?));
    let mut fields = fields.skip_while(|f| *f != "-").skip(1);
    let fstype = unescape(fields.next()?);
    let source = unescape(fields.next()?);
    Some(MountEntry { id, parent, dev, mount_point, fstype, source })
}

/// Undoes the kernel's octal escapes of space, tab, newline and backslash (`\040`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal =
            bytes.get(i + 1..i + 4).filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(d.iter().fold(0u8, |v, c| v.wrapping_mul(8).wrapping_add(c - b'0')));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount visible at `dir`: of the mounts there, the one nothing else is mounted on top of.
pub fn top_at<'a>(entries: &'a [MountEntry], dir: &Path) -> Option<&'a MountEntry> {
    let here: Vec<&MountEntry> = entries.iter().filter(|e| e.mount_point == dir).collect();
    here.iter().rev().find(|e| !here.iter().any(|above| above.parent == e.id)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
22 1 0:21 / /tmp rw,nosuid shared:5 - tmpfs tmpfs rw
40 22 0:52 / /tmp/with\\040space rw,nosuid,nodev - fuse.dtfs dtfs rw,user_id=0,group_id=0
41 40 0:53 / /tmp/with\\040space rw - tmpfs other rw
50 22 0:60 / /tmp/d rw master:1 shared:2 - fuse.dtfs my\\134source rw
garbage line
";

    #[test]
    fn lines_parse_with_escapes_and_optional_fields() {
        let table = parse(TABLE);
        assert_eq!(table.len(), 4);
        assert_eq!(table[1].mount_point, Path::new("/tmp/with space"));
        assert_eq!((table[1].id, table[1].parent, table[1].dev), (40, 22, (0, 52)));
        assert_eq!(table[3].fstype, "fuse.dtfs");
        assert_eq!(table[3].source, "my\\source");
        assert!(table[3].is_fuse() && !table[0].is_fuse());
        assert_eq!(table[3].fuse_connection(), 60);
    }

    #[test]
    fn the_top_mount_is_the_one_nothing_sits_on() {
        let table = parse(TABLE);
        assert_eq!(top_at(&table, Path::new("/tmp/with space")).map(|e| e.id), Some(41));
        assert_eq!(top_at(&table, Path::new("/tmp/d")).map(|e| e.id), Some(50));
        assert_eq!(top_at(&table, Path::new("/nowhere")), None);
    }
}
