//! How the op dump (puffs `PUFFS_FLAG_OPDUMP`, the `-d` of the example programs) shows a
//! request: what a person reads. Sizes with units, modes in octal, flags by name, names quoted,
//! data cut short (a 4 MiB write is one line, not twelve megabytes of decimal numbers).

use std::ffi::OsStr;
use std::fmt::{self, Display, Formatter, Write as _};

use super::abi::{self, fattr};
use super::request::Operation;
use crate::{AccessFlags, OFlag, RenameFlags, XattrFlags};

/// How many bytes of a payload the dump shows.
const SHOWN_BYTES: usize = 32;

impl Display for Operation<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Operation::Init(init) => write!(
                f,
                "kernel {}.{}, max readahead {}, flags {:#x}/{:#x}",
                init.major,
                init.minor,
                Size(init.max_readahead.into()),
                init.flags,
                init.flags2
            ),
            Operation::Lookup { name } | Operation::Unlink { name } | Operation::Rmdir { name } => {
                write!(f, "{}", Name(name))
            }
            Operation::Forget { nlookup } => write!(f, "{nlookup} lookups"),
            Operation::BatchForget { nodes } => write!(f, "{} nodes", nodes.len()),
            Operation::Getattr { fh: Some(fh) } => write!(f, "fh {fh}"),
            Operation::Setattr(arg) => setattr(f, arg),
            Operation::Symlink { name, target } => write!(f, "{} -> {}", Name(name), Name(target)),
            Operation::Mknod { arg, name } => {
                write!(f, "{} mode {:#o}, rdev {:#x}, umask {:#o}", Name(name), arg.mode, arg.rdev, arg.umask)
            }
            Operation::Mkdir { arg, name } => write!(f, "{} mode {:#o}, umask {:#o}", Name(name), arg.mode, arg.umask),
            Operation::Rename { newdir, flags, name, newname } => {
                write!(f, "{} -> node {newdir} {}", Name(name), Name(newname))?;
                if *flags != 0 {
                    write!(f, ", flags {}", Flags(RenameFlags::from_bits_retain(*flags)))?;
                }
                Ok(())
            }
            Operation::Link { oldnodeid, name } => write!(f, "node {oldnodeid} as {}", Name(name)),
            Operation::Open { arg, .. } => write!(f, "{}", OpenFlags(arg.flags)),
            Operation::Create { arg, name } => {
                write!(f, "{} mode {:#o}, umask {:#o}, {}", Name(name), arg.mode, arg.umask, OpenFlags(arg.flags))
            }
            Operation::Read(arg) | Operation::Readdir(arg) => {
                write!(f, "fh {}, {} at {}", arg.fh, Size(arg.size.into()), arg.offset)
            }
            Operation::Write { arg, data } => {
                write!(f, "fh {}, {} at {}: {}", arg.fh, Size(data.len() as u64), arg.offset, Bytes(data))
            }
            Operation::Release { arg, .. } => write!(f, "fh {}, {}", arg.fh, OpenFlags(arg.flags)),
            Operation::Fsync { arg, .. } => {
                let what = if arg.fsync_flags & abi::FSYNC_FDATASYNC != 0 { "data only" } else { "data and metadata" };
                write!(f, "fh {}, {what}", arg.fh)
            }
            Operation::Flush(arg) => write!(f, "fh {}", arg.fh),
            Operation::Setxattr { name, value, flags } => {
                write!(f, "{} = {} {}", Name(name), Size(value.len() as u64), Bytes(value))?;
                if *flags != 0 {
                    write!(f, ", flags {}", Flags(XattrFlags::from_bits_retain(*flags)))?;
                }
                Ok(())
            }
            Operation::Getxattr { name, size } => write!(f, "{}, room for {}", Name(name), Size((*size).into())),
            Operation::Listxattr { size } => write!(f, "room for {}", Size((*size).into())),
            Operation::Removexattr { name } => write!(f, "{}", Name(name)),
            Operation::Access { mask } => {
                if *mask == 0 {
                    f.write_str("exists")
                } else {
                    write!(f, "{}", Flags(AccessFlags::from_bits_retain(*mask as i32)))
                }
            }
            Operation::Interrupt { unique } => write!(f, "request {unique}"),
            Operation::PuffsUnmount { flags } => write!(f, "{}", Flags(*flags)),
            Operation::PuffsSuspend { phase } => write!(f, "{phase:?}"),
            Operation::Destroy
            | Operation::Getattr { fh: None }
            | Operation::Readlink
            | Operation::Statfs
            | Operation::Syncfs
            | Operation::NotifyReply
            | Operation::Unsupported
            | Operation::Unknown => Ok(()),
        }
    }
}

/// The fields a `SETATTR` sets, and only those.
fn setattr(f: &mut Formatter<'_>, arg: &abi::SetattrIn) -> fmt::Result {
    let mut parts: Vec<String> = Vec::new();
    let valid = arg.valid;
    if valid & fattr::MODE != 0 {
        parts.push(format!("mode {:#o}", arg.mode));
    }
    if valid & fattr::UID != 0 {
        parts.push(format!("uid {}", arg.uid));
    }
    if valid & fattr::GID != 0 {
        parts.push(format!("gid {}", arg.gid));
    }
    if valid & fattr::SIZE != 0 {
        parts.push(format!("size {}", Size(arg.size)));
    }
    for (now, set, name, secs, nsecs) in [
        (fattr::ATIME_NOW, fattr::ATIME, "atime", arg.atime, arg.atimensec),
        (fattr::MTIME_NOW, fattr::MTIME, "mtime", arg.mtime, arg.mtimensec),
    ] {
        if valid & now != 0 {
            parts.push(format!("{name} now"));
        } else if valid & set != 0 {
            parts.push(format!("{name} {secs}.{nsecs:09}"));
        }
    }
    if valid & fattr::CTIME != 0 {
        parts.push(format!("ctime {}.{:09}", arg.ctime, arg.ctimensec));
    }
    if valid & fattr::FH != 0 {
        parts.push(format!("fh {}", arg.fh));
    }
    if valid & fattr::KILL_SUIDGID != 0 {
        parts.push("kill suid/sgid".into());
    }
    f.write_str(&parts.join(", "))
}

/// A name as the dump quotes it (escaped where it is not printable UTF-8).
struct Name<'a>(&'a OsStr);

impl Display for Name<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// A byte count with a unit: `512 B`, `4 KiB`, `1.5 MiB`.
struct Size(u64);

impl Display for Size {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut unit = 0;
        let mut scaled = self.0 as f64;
        while scaled >= 1024.0 && unit + 1 < UNITS.len() {
            scaled /= 1024.0;
            unit += 1;
        }
        if unit == 0 || scaled.fract() == 0.0 {
            write!(f, "{scaled} {}", UNITS[unit])
        } else {
            write!(f, "{scaled:.1} {}", UNITS[unit])
        }
    }
}

/// The start of a payload, as escaped text, with how much was left out.
struct Bytes<'a>(&'a [u8]);

impl Display for Bytes<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let shown = &self.0[..self.0.len().min(SHOWN_BYTES)];
        f.write_char('"')?;
        for chunk in shown.utf8_chunks() {
            for c in chunk.valid().chars() {
                write!(f, "{}", c.escape_debug())?;
            }
            for byte in chunk.invalid() {
                write!(f, "\\x{byte:02x}")?;
            }
        }
        f.write_char('"')?;
        if self.0.len() > shown.len() {
            write!(f, "…")?;
        }
        Ok(())
    }
}

/// Set flags by name, joined with `|`; bits without a name in hex.
struct Flags<B: bitflags::Flags>(B);

impl<B: bitflags::Flags> Display for Flags<B>
where
    B::Bits: fmt::LowerHex + PartialEq + Copy,
{
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut names: Vec<String> = self.0.iter_names().map(|(name, _)| name.to_string()).collect();
        let unnamed = B::from_bits_retain(self.0.bits()).difference(B::from_bits_truncate(self.0.bits()));
        if !unnamed.is_empty() {
            names.push(format!("{:#x}", unnamed.bits()));
        }
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join("|"))
        }
    }
}

/// `open(2)` flags: the access mode, then the other flags by name.
struct OpenFlags(u32);

impl Display for OpenFlags {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let flags = self.0 as i32;
        let access = match flags & nix::libc::O_ACCMODE {
            nix::libc::O_RDONLY => "O_RDONLY",
            nix::libc::O_WRONLY => "O_WRONLY",
            _ => "O_RDWR",
        };
        // The kernel always sets O_LARGEFILE, which the C library of 64-bit targets calls 0.
        const KERNEL_O_LARGEFILE: i32 = 0o100000;
        let large = flags & KERNEL_O_LARGEFILE != 0 && nix::libc::O_LARGEFILE == 0;
        let rest = OFlag::from_bits_retain(flags & !nix::libc::O_ACCMODE & !if large { KERNEL_O_LARGEFILE } else { 0 });
        f.write_str(access)?;
        if !rest.is_empty() {
            write!(f, "|{}", Flags(rest))?;
        }
        if large {
            f.write_str("|O_LARGEFILE")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_modes_flags_and_payloads_read_as_a_person_reads() {
        let data = vec![b'x'; 4 << 20];
        let arg = abi::WriteIn { fh: 3, offset: 0, size: data.len() as u32, ..Default::default() };
        let write = Operation::Write { arg, data: &data };
        let shown = write.to_string();
        assert_eq!(shown, format!("fh 3, 4 MiB at 0: \"{}\"…", "x".repeat(SHOWN_BYTES)));
        let create = Operation::Create {
            arg: abi::CreateIn {
                flags: (nix::libc::O_WRONLY | nix::libc::O_CREAT | nix::libc::O_TRUNC) as u32,
                mode: 0o100644,
                umask: 0o022,
                open_flags: 0,
            },
            name: OsStr::new("new"),
        };
        assert_eq!(create.to_string(), "\"new\" mode 0o100644, umask 0o22, O_WRONLY|O_CREAT|O_TRUNC");
        let setattr = Operation::Setattr(abi::SetattrIn {
            valid: fattr::MODE | fattr::SIZE | fattr::MTIME_NOW,
            mode: 0o4755,
            size: 1536,
            ..Default::default()
        });
        assert_eq!(setattr.to_string(), "mode 0o4755, size 1.5 KiB, mtime now");
        let xattr = Operation::Setxattr { name: OsStr::new("user.a"), value: b"v\0\xff", flags: 1 };
        assert_eq!(xattr.to_string(), "\"user.a\" = 3 B \"v\\0\\xff\", flags CREATE");
        assert_eq!(Size(512).to_string(), "512 B");
        assert_eq!(Operation::Access { mask: 6 }.to_string(), "R_OK|W_OK");
    }
}
