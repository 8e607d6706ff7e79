//! How the op dump (puffs `PUFFS_FLAG_OPDUMP`, the `-d` of the example programs) shows a
//! request: what a person reads. Sizes with units, modes in octal, flags by name, names quoted,
//! data cut short (a 4 MiB write is one line, not twelve megabytes of decimal numbers).

use std::ffi::OsStr;
use std::fmt::{self, Display, Formatter, Write as _};

use std::time::SystemTime;

use nix::fcntl::OFlag;

use super::abi::InitFlags;
use super::request::Operation;
use crate::fs::ioctl::IocFields;
use crate::vattr::{time_to_wire, SetVattr, TimeSet, Vtype};

/// How many bytes of a payload the dump shows.
const SHOWN_BYTES: usize = 32;

impl Display for Operation<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Operation::Init(init) => write!(
                f,
                "kernel {}.{}, max readahead {}, flags {}",
                init.major,
                init.minor,
                Size(init.max_readahead.into()),
                Flags(InitFlags::from_words(init.flags, init.flags2))
            ),
            Operation::Lookup { name } | Operation::Unlink { name } | Operation::Rmdir { name } => {
                write!(f, "{}", Name(name))
            }
            Operation::Forget { nlookup } => write!(f, "{nlookup} lookups"),
            Operation::BatchForget { nodes } => write!(f, "{} nodes", nodes.len()),
            Operation::Getattr { fh: Some(fh) } => write!(f, "fh {fh}"),
            Operation::Poll { fh, kh, schedule, events } => {
                write!(f, "fh {}, {events:?}", fh.0)?;
                if *schedule {
                    write!(f, ", notify kh {kh}")?;
                }
                Ok(())
            }
            Operation::Ioctl { fh, flags, command, arg, input, out_size } => {
                let ioc = IocFields::of(*command);
                let kind = ioc.kind as char;
                write!(f, "fh {}, command {command:#x} (type {kind:?}, number {}), arg {arg:#x}", fh.0, ioc.number)?;
                write!(f, ", {} bytes in, up to {out_size} out", input.len())?;
                if !flags.is_empty() {
                    write!(f, ", {flags:?}")?;
                }
                Ok(())
            }
            Operation::Statx { fh, flags, mask } => {
                write!(f, "mask {mask:#x}, flags {flags:#x}")?;
                fh.map_or(Ok(()), |fh| write!(f, ", fh {fh}"))
            }
            Operation::Setattr { changes, kill_suidgid } => {
                setattr(f, changes)?;
                if *kill_suidgid {
                    f.write_str(", kill suid/sgid")?;
                }
                Ok(())
            }
            Operation::Symlink { name, target } => write!(f, "{} -> {}", Name(name), Name(target)),
            Operation::Mknod { name, vtype, mode, rdev, umask } => {
                let mode = vtype.to_mode_bits() | mode;
                write!(f, "{} mode {mode:#o}, rdev {rdev:#x}, umask {umask:#o}", Name(name))
            }
            Operation::Mkdir { name, mode, umask } => write!(f, "{} mode {mode:#o}, umask {umask:#o}", Name(name)),
            Operation::Rename { newdir, flags, name, newname } => {
                write!(f, "{} -> node {newdir} {}", Name(name), Name(newname))?;
                if !flags.is_empty() {
                    write!(f, ", flags {}", Flags(*flags))?;
                }
                Ok(())
            }
            Operation::Link { oldnodeid, name } => write!(f, "node {oldnodeid} as {}", Name(name)),
            Operation::Open { flags, .. } => write!(f, "{}", OpenFlags(*flags)),
            Operation::Tmpfile { mode, umask, flags } => {
                let mode = Vtype::Reg.to_mode_bits() | mode;
                write!(f, "mode {mode:#o}, umask {umask:#o}, {}", OpenFlags(*flags))
            }
            Operation::Create { name, mode, umask, flags } => {
                let mode = Vtype::Reg.to_mode_bits() | mode;
                write!(f, "{} mode {mode:#o}, umask {umask:#o}, {}", Name(name), OpenFlags(*flags))
            }
            Operation::Read { fh, offset, size } | Operation::Readdir { fh, offset, size, .. } => {
                write!(f, "fh {}, {} at {offset}", fh.0, Size((*size).into()))
            }
            Operation::NotifyReply { offset, data } => {
                write!(f, "retrieved {} at {offset}: {}", Size(data.len() as u64), Bytes(data))
            }
            Operation::Write { fh, offset, data, kill_suidgid } => {
                write!(f, "fh {}, {} at {offset}: {}", fh.0, Size(data.len() as u64), Bytes(data))?;
                if *kill_suidgid {
                    f.write_str(", kill suid/sgid")?;
                }
                Ok(())
            }
            Operation::Release { fh, flags, .. } => write!(f, "fh {}, {}", fh.0, OpenFlags(*flags)),
            Operation::Fsync { fh, datasync, .. } => {
                let what = if *datasync { "data only" } else { "data and metadata" };
                write!(f, "fh {}, {what}", fh.0)
            }
            Operation::Flush { fh, owner } => write!(f, "fh {}, lock owner {:#x}", fh.0, owner.0),
            Operation::Getlk { fh, owner, lock, flock } | Operation::Setlk { fh, owner, lock, flock, .. } => write!(
                f,
                "fh {}, lock owner {:#x}, {}{:?} {}..={} pid {}",
                fh.0,
                owner.0,
                if *flock { "flock " } else { "" },
                lock.kind,
                lock.start,
                lock.end,
                lock.pid
            ),
            Operation::Setxattr { name, value, flags, acl_kill_sgid, .. } => {
                write!(f, "{} = {} {}", Name(name), Size(value.len() as u64), Bytes(value))?;
                if !flags.is_empty() {
                    write!(f, ", flags {}", Flags(*flags))?;
                }
                if *acl_kill_sgid {
                    f.write_str(", kill sgid")?;
                }
                Ok(())
            }
            Operation::Getxattr { name, size } => write!(f, "{}, room for {}", Name(name), Size((*size).into())),
            Operation::Listxattr { size } => write!(f, "room for {}", Size((*size).into())),
            Operation::Removexattr { name } => write!(f, "{}", Name(name)),
            Operation::Access { mode } => {
                if mode.is_empty() {
                    f.write_str("exists")
                } else {
                    write!(f, "{}", Flags(*mode))
                }
            }
            Operation::Interrupt { unique } => write!(f, "request {unique}"),
            Operation::Fallocate { fh, offset, length, mode } => {
                write!(f, "fh {}, {} at {offset}, mode {}", fh.0, Size(*length), Flags(*mode))
            }
            Operation::Lseek { fh, offset, whence } => write!(f, "fh {}, {whence:?} from {offset}", fh.0),
            Operation::CopyFileRange { fh_in, off_in, nodeid_out, fh_out, off_out, len, .. } => write!(
                f,
                "{} from fh {} at {off_in} to node {nodeid_out} fh {} at {off_out}",
                Size(*len),
                fh_in.0,
                fh_out.0
            ),
            Operation::PuffsUnmount { flags } => write!(f, "{}", Flags(*flags)),
            Operation::PuffsSuspend { phase } => write!(f, "{phase:?}"),
            Operation::Destroy
            | Operation::Getattr { fh: None }
            | Operation::Readlink
            | Operation::Statfs
            | Operation::Syncfs
            | Operation::Unsupported
            | Operation::Unknown => Ok(()),
        }
    }
}

/// The fields a `SETATTR` sets, and only those.
fn setattr(f: &mut Formatter<'_>, changes: &SetVattr) -> fmt::Result {
    let mut parts: Vec<String> = Vec::new();
    if let Some(mode) = changes.mode {
        parts.push(format!("mode {mode:#o}"));
    }
    if let Some(uid) = changes.uid {
        parts.push(format!("uid {uid}"));
    }
    if let Some(gid) = changes.gid {
        parts.push(format!("gid {gid}"));
    }
    if let Some(size) = changes.size {
        parts.push(format!("size {}", Size(size)));
    }
    for (name, time) in [("atime", changes.atime), ("mtime", changes.mtime)] {
        match time {
            Some(TimeSet::Now) => parts.push(format!("{name} now")),
            Some(TimeSet::At(t)) => parts.push(format!("{name} {}", Time(t))),
            None => {}
        }
    }
    if let Some(ctime) = changes.ctime {
        parts.push(format!("ctime {}", Time(ctime)));
    }
    if let Some(handle) = changes.handle {
        parts.push(format!("fh {}", handle.0));
    }
    f.write_str(&parts.join(", "))
}

/// A time as seconds and nanoseconds since the epoch, as the wire carries it.
struct Time(SystemTime);

impl Display for Time {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (secs, nsecs) = time_to_wire(self.0);
        write!(f, "{secs}.{nsecs:09}")
    }
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
pub(crate) struct Flags<B: bitflags::Flags>(pub(crate) B);

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
struct OpenFlags(OFlag);

impl Display for OpenFlags {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let flags = self.0.bits();
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
        let write =
            Operation::Write { fh: crate::fs::cookie::FileHandle(3), offset: 0, data: &data, kill_suidgid: false };
        let shown = write.to_string();
        assert_eq!(shown, format!("fh 3, 4 MiB at 0: \"{}\"…", "x".repeat(SHOWN_BYTES)));
        let create = Operation::Create {
            flags: OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC,
            mode: 0o644,
            umask: 0o022,
            name: OsStr::new("new"),
        };
        assert_eq!(create.to_string(), "\"new\" mode 0o100644, umask 0o22, O_WRONLY|O_CREAT|O_TRUNC");
        let changes =
            SetVattr { mode: Some(0o4755), size: Some(1536), mtime: Some(TimeSet::Now), ..Default::default() };
        let setattr = Operation::Setattr { changes, kill_suidgid: false };
        assert_eq!(setattr.to_string(), "mode 0o4755, size 1.5 KiB, mtime now");
        let chown = Operation::Setattr { changes: SetVattr { uid: Some(7), ..Default::default() }, kill_suidgid: true };
        assert_eq!(chown.to_string(), "uid 7, kill suid/sgid");
        let xattr = Operation::Setxattr {
            name: OsStr::new("user.a"),
            value: b"v\0\xff",
            flags: crate::fs::flags::XattrFlags::CREATE,
            extended: true,
            acl_kill_sgid: true,
        };
        assert_eq!(xattr.to_string(), "\"user.a\" = 3 B \"v\\0\\xff\", flags CREATE, kill sgid");
        assert_eq!(Size(512).to_string(), "512 B");
        assert_eq!(Operation::Access { mode: nix::unistd::AccessFlags::from_bits_retain(6) }.to_string(), "R_OK|W_OK");
    }
}
