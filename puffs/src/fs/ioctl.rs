//! Control commands on open files: the `ioctl(2)` request `node_ioctl` is asked and what it
//! answers (FUSE `IOCTL`, in the restricted form the kernel uses for file systems).

use bitflags::bitflags;

bitflags! {
    /// How the caller issued an [`Ioctl`] (FUSE `FUSE_IOCTL_*` request flags).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct IoctlFlags: u32 {
        /// A 32-bit process on a 64-bit kernel (`compat_ioctl`): structures in the data have
        /// its layout.
        const COMPAT = 1 << 0;
        /// The caller is a 32-bit process (set with `COMPAT`).
        const BITS32 = 1 << 3;
        /// Issued on an open directory.
        const DIR = 1 << 4;
        /// An x32 process (32-bit pointers, 64-bit `time_t`).
        const COMPAT_X32 = 1 << 5;
    }
}

/// One `ioctl(2)` on an open file, as [`node_ioctl`](crate::FileSystem::node_ioctl) is asked
/// it (FUSE `struct fuse_ioctl_in` and its data).
///
/// It is the restricted form: the kernel moves the data that the command number says
/// (`_IOC_SIZE(command)` bytes, in when `_IOC_WRITE` is set, out when `_IOC_READ` is), and
/// nothing else, so the file system can neither ask for more nor follow pointers. Build the
/// numbers to match with `nix`'s `request_code_read!`, `request_code_write!`,
/// `request_code_readwrite!` and `request_code_none!`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ioctl<'a> {
    /// The command number (`_IOC` encoded).
    pub command: u32,
    /// The argument as the caller passed it: a number for commands that move no data, else
    /// an address in the caller, of no use here.
    pub arg: u64,
    /// The bytes the command writes to the file: `_IOC_SIZE(command)` of them, or none.
    pub input: &'a [u8],
    /// How many bytes the command reads back: `_IOC_SIZE(command)`, or 0. The answer's
    /// [`output`](IoctlAnswer::output) may be shorter, never longer.
    pub out_size: u32,
    /// How the caller issued it.
    pub flags: IoctlFlags,
}

/// What [`node_ioctl`](crate::FileSystem::node_ioctl) answers: the system call's return value
/// and the bytes copied back to the caller (FUSE `struct fuse_ioctl_out` and its data).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IoctlAnswer {
    /// What `ioctl(2)` returns: 0 or more. Failures are `Err(errno)` of the operation.
    pub result: i32,
    /// The bytes the caller reads back, at most [`Ioctl::out_size`] of them.
    pub output: Vec<u8>,
}

impl IoctlAnswer {
    /// A command that returns `result` and reads nothing back.
    pub fn result(result: i32) -> IoctlAnswer {
        IoctlAnswer { result, output: Vec::new() }
    }

    /// A command that returns 0 and reads back `output`.
    pub fn output(output: impl Into<Vec<u8>>) -> IoctlAnswer {
        IoctlAnswer { result: 0, output: output.into() }
    }
}

/// Where `_IOC` puts the size and direction of a command, on this architecture: most use two
/// direction bits above fourteen size bits; these use three above thirteen.
mod ioc {
    const THREE_DIRECTION_BITS: bool = cfg!(any(
        target_arch = "mips",
        target_arch = "mips32r6",
        target_arch = "mips64",
        target_arch = "mips64r6",
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "sparc64"
    ));
    pub(super) const SIZE_BITS: u32 = if THREE_DIRECTION_BITS { 13 } else { 14 };
    pub(super) const READ: u32 = 2;
    pub(super) const WRITE: u32 = if THREE_DIRECTION_BITS { 4 } else { 1 };
}

/// What an `_IOC` command number says: its type, number, data size and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IocFields {
    /// The type, often a letter (`'f'` for `FS_IOC_*`).
    pub(crate) kind: u8,
    /// The command's number within its type.
    pub(crate) number: u8,
    /// The size of its data.
    pub(crate) size: u32,
    /// Data goes from the caller to the file (`_IOC_WRITE`).
    pub(crate) write: bool,
    /// Data comes back to the caller (`_IOC_READ`).
    pub(crate) read: bool,
}

/// `_IOC(dir, kind, number, size)`.
const fn ioc(dir: u32, kind: u8, number: u8, size: usize) -> u32 {
    (dir << (16 + ioc::SIZE_BITS)) | ((size as u32) << 16) | ((kind as u32) << 8) | number as u32
}

/// `FS_IOC_GETFLAGS` and `FS_IOC_SETFLAGS`: declared with a `long`, they move an `int`.
const FS_IOC_GETFLAGS: u32 = ioc(ioc::READ, b'f', 1, std::mem::size_of::<nix::libc::c_long>());
const FS_IOC_SETFLAGS: u32 = ioc(ioc::WRITE, b'f', 2, std::mem::size_of::<nix::libc::c_long>());

impl IocFields {
    pub(crate) fn of(command: u32) -> IocFields {
        let dir = command >> (16 + ioc::SIZE_BITS);
        IocFields {
            kind: (command >> 8) as u8,
            number: command as u8,
            size: (command >> 16) & ((1 << ioc::SIZE_BITS) - 1),
            write: dir & ioc::WRITE != 0,
            read: dir & ioc::READ != 0,
        }
    }

    /// The bytes the kernel moves in and out for `command` in the restricted form: the size
    /// the number declares, in each direction it declares.
    pub(crate) fn restricted(command: u32) -> (u32, u32) {
        let fields = IocFields::of(command);
        let size = match command {
            FS_IOC_GETFLAGS | FS_IOC_SETFLAGS => std::mem::size_of::<nix::libc::c_int>() as u32,
            _ => fields.size,
        };
        (if fields.write { size } else { 0 }, if fields.read { size } else { 0 })
    }
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::IocFields;

    #[test]
    fn command_numbers_decode_as_the_kernel_reads_them() {
        // _IOR('E', 0, u64) and _IOW('E', 1, u64), as nix builds them.
        let get = nix::request_code_read!(b'E', 0, 8) as u32;
        let set = nix::request_code_write!(b'E', 1, 8) as u32;
        let both = nix::request_code_readwrite!(b'x', 9, 12) as u32;
        assert_eq!(IocFields::of(get), IocFields { kind: b'E', number: 0, size: 8, write: false, read: true });
        assert_eq!(IocFields::restricted(get), (0, 8));
        assert_eq!(IocFields::restricted(set), (8, 0));
        assert_eq!(IocFields::restricted(both), (12, 12));
        assert_eq!(IocFields::restricted(nix::request_code_none!(b'E', 2) as u32), (0, 0));
        assert_eq!(super::FS_IOC_GETFLAGS, 0x8008_6601);
        assert_eq!(IocFields::restricted(super::FS_IOC_GETFLAGS), (0, 4), "FS_IOC_GETFLAGS moves an int");
        assert_eq!(IocFields::restricted(super::FS_IOC_SETFLAGS), (4, 0), "FS_IOC_SETFLAGS moves an int");
    }
}
