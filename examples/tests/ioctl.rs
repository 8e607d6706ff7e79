//! `node_ioctl`: control commands reach the file system in the kernel's restricted form, with
//! exactly the bytes the command number declares going in and coming back; the kernel's own
//! `FS_IOC_GETFLAGS`/`SETFLAGS` (`lsattr`, `chattr`) arrive the same way. On the loopback
//! kernel and on a real mount, one body for both.

mod common;

use std::ffi::OsStr;
use std::sync::Mutex;

use common::Client;
use puffs::{
    puffs_fs, Context, Cookie, Errno, FileHandle, FileSystem, Ioctl, IoctlAnswer, IoctlFlags, MountFlags, NewNode,
    Result, SetVattr, Vattr, Vtype,
};

const ROOT: Cookie = Cookie(1);
const COUNTER: Cookie = Cookie(2);

/// `_IOR('E', 0, u64)`: read the counter.
const GET: u32 = nix::request_code_read!(b'E', 0, 8) as u32;
/// `_IOW('E', 1, u64)`: set it.
const SET: u32 = nix::request_code_write!(b'E', 1, 8) as u32;
/// `_IOWR('E', 2, u64)`: add to it and read the sum back.
const ADD: u32 = nix::request_code_readwrite!(b'E', 2, 8) as u32;
/// `_IO('E', 3)`: add the argument, a number; `ioctl` returns the sum.
const BUMP: u32 = nix::request_code_none!(b'E', 3) as u32;
/// `_IOR('E', 4, u32)`, which this file system answers with 8 bytes: more than it declares.
const OVERSIZED: u32 = nix::request_code_read!(b'E', 4, 4) as u32;
/// `_IOR('E', 9, u64)`, which no one knows.
const UNKNOWN: u32 = nix::request_code_read!(b'E', 9, 8) as u32;
/// `FS_IOC_GETFLAGS` and `FS_IOC_SETFLAGS` (`_IOR('f', 1, long)`, `_IOW('f', 2, long)`).
const GETFLAGS: u32 = nix::request_code_read!(b'f', 1, 8) as u32;
const SETFLAGS: u32 = nix::request_code_write!(b'f', 2, 8) as u32;
/// `FS_NODUMP_FL`, an inode flag `chattr +d` sets without privilege.
const NODUMP: u32 = 0x40;
/// `FS_IOC_FSGETXATTR` (`_IOR('X', 31, struct fsxattr)`), which the kernel asks before it sets
/// the inode flags, and `FS_XFLAG_NODUMP`, `NODUMP` in its words.
const FSGETXATTR: u32 = nix::request_code_read!(b'X', 31, 28) as u32;
const XFLAG_NODUMP: u32 = 0x80;

/// A root with one file, `counter`, a number driven by control commands; the root answers
/// [`GET`] with how it was asked, to show directories get ioctls too.
#[derive(Default)]
struct Counter {
    value: Mutex<u64>,
    inode_flags: Mutex<u32>,
}

fn number(bytes: &[u8]) -> Result<u64> {
    Ok(u64::from_ne_bytes(bytes.try_into().map_err(|_| Errno::EINVAL)?))
}

#[puffs_fs]
impl FileSystem for Counter {
    fn node_lookup(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
        match (dir, name.to_str()) {
            (ROOT, Some("counter")) => Ok(NewNode::new(COUNTER, self.node_getattr(COUNTER, ctx)?)),
            _ => Err(Errno::ENOENT),
        }
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(match node {
            ROOT => Vattr::new(Vtype::Dir, 0o755, 1),
            _ => Vattr { uid: nix::unistd::getuid().as_raw(), ..Vattr::new(Vtype::Reg, 0o644, node.0) },
        })
    }

    /// Attributes are fixed; its presence makes the mount writable, which `chattr` needs.
    fn node_setattr(&self, _node: Cookie, _changes: &SetVattr, _ctx: &Context<'_>) -> Result<Vattr> {
        Err(Errno::EPERM)
    }

    fn node_ioctl(&self, node: Cookie, _h: FileHandle, ioctl: Ioctl<'_>, _ctx: &Context<'_>) -> Result<IoctlAnswer> {
        if node == ROOT {
            return match ioctl.command {
                GET => Ok(IoctlAnswer::output(u64::from(ioctl.flags.bits()).to_ne_bytes())),
                _ => Err(Errno::ENOTTY),
            };
        }
        let mut value = self.value.lock().unwrap();
        match ioctl.command {
            GET => Ok(IoctlAnswer::output(value.to_ne_bytes())),
            SET => {
                *value = number(ioctl.input)?;
                Ok(IoctlAnswer::default())
            }
            ADD => {
                *value += number(ioctl.input)?;
                Ok(IoctlAnswer::output(value.to_ne_bytes()))
            }
            BUMP => {
                *value += ioctl.arg;
                Ok(IoctlAnswer::result(i32::try_from(*value).map_err(|_| Errno::EOVERFLOW)?))
            }
            OVERSIZED => Ok(IoctlAnswer::output(value.to_ne_bytes())),
            GETFLAGS => {
                assert_eq!(ioctl.out_size, 4, "the kernel moves an int for the inode flags");
                Ok(IoctlAnswer::output(self.inode_flags.lock().unwrap().to_ne_bytes()))
            }
            FSGETXATTR => {
                // `struct fsxattr`: the flags, then four numbers and padding, all zero here.
                let nodump = *self.inode_flags.lock().unwrap() & NODUMP != 0;
                let mut fsxattr = vec![0u8; 28];
                fsxattr[..4].copy_from_slice(&(if nodump { XFLAG_NODUMP } else { 0 }).to_ne_bytes());
                Ok(IoctlAnswer::output(fsxattr))
            }
            SETFLAGS => {
                let flags = u32::from_ne_bytes(ioctl.input.try_into().map_err(|_| Errno::EINVAL)?);
                *self.inode_flags.lock().unwrap() = flags;
                Ok(IoctlAnswer::default())
            }
            _ => Err(Errno::ENOTTY),
        }
    }
}

/// A file system with the counter file and no `node_ioctl`.
struct Plain;

#[puffs_fs]
impl FileSystem for Plain {
    fn node_lookup(&self, _dir: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        Ok(NewNode::new(COUNTER, Vattr::new(Vtype::Reg, 0o644, 2)))
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(if node == ROOT { Vattr::new(Vtype::Dir, 0o755, 1) } else { Vattr::new(Vtype::Reg, 0o644, 2) })
    }
}

/// What either kernel shows of [`Counter`].
fn counter_commands(client: &impl Client) {
    let mut buf = [0u8; 8];
    assert_eq!(client.ioctl("counter", SET, 0, &mut 41u64.to_ne_bytes()), Ok(0));
    assert_eq!(client.ioctl("counter", GET, 0, &mut buf), Ok(0));
    assert_eq!(u64::from_ne_bytes(buf), 41, "written in, read back");
    let mut sum = 1000u64.to_ne_bytes();
    assert_eq!(client.ioctl("counter", ADD, 0, &mut sum), Ok(0));
    assert_eq!(u64::from_ne_bytes(sum), 1041, "both ways in one command");
    assert_eq!(client.ioctl("counter", BUMP, 9, &mut []), Ok(1050), "a number argument and a return value");
    assert_eq!(client.ioctl("counter", UNKNOWN, 0, &mut buf), Err(Errno::ENOTTY));
    let mut small = [0u8; 8];
    assert_eq!(client.ioctl("counter", OVERSIZED, 0, &mut small), Err(Errno::EIO), "more than declared is refused");
    assert_eq!(small, [0; 8], "and nothing of it reaches the caller");
    assert_eq!(client.ioctl("", GET, 0, &mut buf), Ok(0));
    assert_eq!(u64::from_ne_bytes(buf), u64::from(IoctlFlags::DIR.bits()), "asked on a directory");
    assert_eq!(client.ioctl("", SET, 0, &mut buf), Err(Errno::ENOTTY));
    // The inode flags, as lsattr and chattr ask them: an int, in a buffer the size of the
    // `long` the command numbers declare.
    let mut flags = [0u8; 8];
    flags[..4].copy_from_slice(&NODUMP.to_ne_bytes());
    assert_eq!(client.ioctl("counter", SETFLAGS, 0, &mut flags), Ok(0));
    let mut flags = [0xffu8; 8];
    assert_eq!(client.ioctl("counter", GETFLAGS, 0, &mut flags), Ok(0));
    assert_eq!(flags[..4], NODUMP.to_ne_bytes());
    assert_eq!(flags[4..], [0xff; 4], "only the int is written");
}

#[test]
fn control_commands_reach_the_file_system_on_the_loopback_kernel() {
    let mount = common::LoopbackMount::mount(Counter::default(), "counter", ROOT);
    counter_commands(&mount);
    assert_eq!(mount.client().requests_sent(puffs::loopback::Request::Ioctl), 10);
    mount.unmount();
}

#[test]
fn without_node_ioctl_every_command_is_enotty_on_the_loopback_kernel() {
    let mount = common::LoopbackMount::mount(Plain, "plain", ROOT);
    assert_eq!(mount.ioctl("counter", GET, 0, &mut [0; 8]), Err(Errno::ENOTTY));
    assert_eq!(mount.ioctl("counter", BUMP, 1, &mut []), Err(Errno::ENOTTY));
    mount.unmount();
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn control_commands_reach_the_file_system_on_a_real_mount() {
    let mount = common::RealMount::mount(Counter::default(), "counter", ROOT, MountFlags::empty(), "");
    counter_commands(&mount);
    // The tools people use: chattr sets the flag through node_ioctl, lsattr shows it.
    let file = mount.dir().join("counter");
    let run = |tool: &str, args: &[&str]| {
        let out = std::process::Command::new(tool).args(args).arg(&file).output().expect(tool);
        assert!(out.status.success(), "{tool}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    run("chattr", &["-d"]);
    assert!(run("lsattr", &[]).starts_with("----------"), "no flags");
    run("chattr", &["+d"]);
    let shown = run("lsattr", &[]);
    assert_eq!(shown.split_whitespace().next().unwrap().matches('d').count(), 1, "nodump shown: {shown}");
    mount.unmount();
}

#[test]
#[cfg_attr(puffs_cannot_mount, ignore = "needs root and /dev/fuse: run the tests as root (see README)")]
fn without_node_ioctl_every_command_is_enotty_on_a_real_mount() {
    let mount = common::RealMount::mount(Plain, "plain", ROOT, MountFlags::empty(), "");
    assert_eq!(mount.ioctl("counter", GET, 0, &mut [0; 8]), Err(Errno::ENOTTY));
    assert_eq!(mount.ioctl("counter", BUMP, 1, &mut []), Err(Errno::ENOTTY));
    mount.unmount();
}
