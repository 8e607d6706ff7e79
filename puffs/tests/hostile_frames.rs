//! Hostile frames from a peer playing the kernel: sizes that would make the server allocate
//! gigabytes, and `.` or `..` as the name of an entry to make, move or remove. Every such frame
//! gets a clear errno (or a reply clamped to the mount's limits); none reaches the file system
//! with a name POSIX forbids, and none aborts the process.
//!
//! This binary lowers its own address-space limit, so an allocation of the size a peer asks for
//! fails (and would abort the process) instead of being quietly overcommitted.

mod fake_kernel;

use std::ffi::{OsStr, OsString};
use std::sync::Mutex;

use fake_kernel::{body, pair, FakeKernel};
use nix::sys::resource::{setrlimit, Resource};
use puffs::fuse::abi::{self, opcode};
use puffs::fuse::request::Operation;
use puffs::{
    puffs_fs, Answered, Context, Cookie, DirBuf, Errno, FileHandle, FileSystem, NewNode, OFlag, ReadOut, RenameFlags,
    Result, Usermount, Vattr, Vtype,
};

/// Answers every operation with success and records it.
#[derive(Default)]
struct Yes {
    calls: Mutex<Vec<String>>,
}

impl Yes {
    fn made(&self, what: &str, name: &OsStr) -> Result<NewNode> {
        self.calls.lock().unwrap().push(format!("{what} {}", name.to_string_lossy()));
        Ok(NewNode::new(Cookie(9), Vattr::new(Vtype::Reg, 0o644, 9)))
    }
}

#[puffs_fs]
impl FileSystem for Yes {
    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
    }
    fn node_create(&self, _dir: Cookie, name: &OsStr, _mode: u32, _ctx: &Context<'_>) -> Result<NewNode> {
        self.made("create", name)
    }
    fn node_mknod(&self, _d: Cookie, name: &OsStr, _v: Vtype, _m: u32, _r: u64, _c: &Context<'_>) -> Result<NewNode> {
        self.made("mknod", name)
    }
    fn node_mkdir(&self, _dir: Cookie, name: &OsStr, _mode: u32, _ctx: &Context<'_>) -> Result<NewNode> {
        self.made("mkdir", name)
    }
    fn node_symlink(&self, _dir: Cookie, name: &OsStr, _target: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        self.made("symlink", name)
    }
    fn node_link(&self, _dir: Cookie, _node: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<Vattr> {
        self.made("link", name).map(|n| n.vattr)
    }
    fn node_rename(
        &self,
        _d: Cookie,
        name: &OsStr,
        _n: Cookie,
        _nn: &OsStr,
        _f: RenameFlags,
        _c: &Context<'_>,
    ) -> Result<()> {
        self.made("rename", name).map(drop)
    }
    fn node_rmdir(&self, _dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<()> {
        self.made("rmdir", name).map(drop)
    }
    fn node_remove(&self, _dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<()> {
        self.made("remove", name).map(drop)
    }
    fn node_read(
        &self,
        _n: Cookie,
        _fh: FileHandle,
        _off: u64,
        out: ReadOut<'_>,
        _c: &Context<'_>,
    ) -> Result<Answered> {
        let size = out.size();
        out.fill(|buf| {
            buf.fill(b'r');
            Ok(size)
        })
    }
    fn node_readdir(
        &self,
        _d: Cookie,
        _fh: FileHandle,
        off: u64,
        buf: &mut DirBuf<'_>,
        _c: &Context<'_>,
    ) -> Result<()> {
        for i in off..100_000 {
            if !buf.push(i + 2, i + 1, Vtype::Reg, OsStr::new("an-entry-name")) {
                break;
            }
        }
        Ok(())
    }
    fn node_getextattr(&self, _node: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<Vec<u8>> {
        Ok(b"value".to_vec())
    }
    fn node_listextattr(&self, _node: Cookie, _ctx: &Context<'_>) -> Result<Vec<OsString>> {
        Ok(vec![OsString::from("user.a")])
    }
}

/// The errno of a request's reply and the length of its body.
fn call(kernel: &FakeKernel, op: u32, nodeid: u64, body: &[u8]) -> (i32, usize) {
    let (errno, body) = kernel.call(op, nodeid, body);
    (errno, body.len())
}

/// Caps this process's address space at what it uses now plus `spare` bytes.
fn limit_address_space(spare: u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmSize in /proc/self/status");
    let limit = kib * 1024 + spare;
    setrlimit(Resource::RLIMIT_AS, limit, limit).expect("lower the address-space limit");
}

#[test]
fn hostile_sizes_and_dot_names_get_an_errno_never_an_abort() {
    let (channel, kernel) = pair();
    kernel.init(7, 45);
    // A request length a socket's default buffers carry in one message.
    const GRANTED: usize = 64 * 1024;
    let mounted = Usermount::init(Yes::default(), "hostile")
        .max_request_len(GRANTED)
        .mount_on_channel(channel, Cookie(1), "hostile")
        .map_err(puffs::Error::from)
        .expect("mount on channel");
    assert_eq!(kernel.reply().0.error, 0, "INIT answered");
    let server = std::thread::spawn(move || mounted.mainloop());
    // 4 GiB asked for would now fail to allocate, and an allocation failure aborts.
    limit_address_space(1 << 30);

    // Sizes: each reply is clamped to the request length the mount granted.
    let (fh, offset, size) = (FileHandle(0), 0, u32::MAX);
    for (opcode, plus) in [(opcode::READDIR, false), (opcode::READDIRPLUS, true)] {
        let (errno, len) = call(&kernel, opcode, abi::ROOT_ID, &body(&Operation::Readdir { fh, offset, size, plus }));
        assert_eq!(errno, 0, "{} of 4 GiB is answered", opcode::name(opcode));
        assert!(len > 0 && len <= GRANTED, "{} reply of {len} bytes", opcode::name(opcode));
    }
    let (errno, len) = call(&kernel, opcode::READ, 9, &body(&Operation::Read { fh, offset, size }));
    assert_eq!((errno, len), (0, GRANTED), "READ of 4 GiB is clamped");
    let getxattr = body(&Operation::Getxattr { name: OsStr::new("user.a"), size: u32::MAX });
    assert_eq!(call(&kernel, opcode::GETXATTR, 9, &getxattr), (0, 5));
    assert_eq!(call(&kernel, opcode::LISTXATTR, 9, &body(&Operation::Listxattr { size: u32::MAX })), (0, 7));

    // `.` and `..` as a new entry's name: EEXIST, as POSIX says for each creating call.
    for dot in [".", ".."] {
        let name = OsStr::new(dot);
        let creating = [
            (opcode::MKDIR, Operation::Mkdir { name, mode: 0o755, umask: 0 }),
            (opcode::CREATE, Operation::Create { name, mode: 0o644, umask: 0, flags: OFlag::empty() }),
            (opcode::MKNOD, Operation::Mknod { name, vtype: Vtype::Fifo, mode: 0o644, rdev: 0, umask: 0 }),
            (opcode::SYMLINK, Operation::Symlink { name, target: OsStr::new("t") }),
            (opcode::LINK, Operation::Link { oldnodeid: 9, name }),
        ];
        for (op, request) in creating {
            assert_eq!(call(&kernel, op, abi::ROOT_ID, &body(&request)).0, Errno::EEXIST as i32, "{request:?}");
        }
        // Renaming from or to `.` or `..`: EINVAL.
        let plain = OsStr::new("plain");
        for (name, newname) in [(name, plain), (plain, name)] {
            for flags in [RenameFlags::empty(), RenameFlags::NOREPLACE] {
                let rename = Operation::Rename { newdir: abi::ROOT_ID, flags, name, newname };
                let op = if flags.is_empty() { opcode::RENAME } else { opcode::RENAME2 };
                assert_eq!(call(&kernel, op, abi::ROOT_ID, &body(&rename)).0, Errno::EINVAL as i32, "{rename:?}");
            }
        }
        // Removing them: rmdir(".") is EINVAL, rmdir("..") ENOTEMPTY; both are directories to unlink.
        let rmdir = if dot == "." { Errno::EINVAL } else { Errno::ENOTEMPTY };
        assert_eq!(call(&kernel, opcode::RMDIR, abi::ROOT_ID, &body(&Operation::Rmdir { name })).0, rmdir as i32);
        assert_eq!(
            call(&kernel, opcode::UNLINK, abi::ROOT_ID, &body(&Operation::Unlink { name })).0,
            Errno::EISDIR as i32
        );
    }
    // Ordinary names still work.
    assert_eq!(
        call(
            &kernel,
            opcode::MKDIR,
            abi::ROOT_ID,
            &body(&Operation::Mkdir { name: OsStr::new("..."), mode: 0o755, umask: 0 })
        )
        .0,
        0
    );

    drop(kernel);
    let fs = server.join().expect("server thread").expect("main loop ends when the kernel goes away");
    assert_eq!(fs.calls.into_inner().unwrap(), vec!["mkdir ...".to_string()], "no dot name reached the file system");
}
