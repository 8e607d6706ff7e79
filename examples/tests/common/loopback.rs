//! The loopback kernel as a [`Client`]: the same test bodies, without root.

use puffs::{Cookie, Errno, FileSystem, StatVfs, Usermount, Vtype};

use super::client::{Client, Outcome, Stat};

/// A file system mounted on the in-process loopback kernel: no root, no `/dev/fuse`, the same
/// frames, decoder, dispatch and encoder as a real mount. Dropping it aborts the mount.
pub struct LoopbackMount<F: FileSystem> {
    mount: Option<puffs::loopback::Loopback<F>>,
}

impl<F: FileSystem> LoopbackMount<F> {
    /// Mounts `fs` as `name` with root `root` on a new loopback kernel.
    pub fn mount(fs: F, name: &str, root: Cookie) -> LoopbackMount<F> {
        let usermount = Usermount::init(fs, name);
        let args = puffs::loopback::MountArgs::of(&usermount, root);
        let mount = puffs::loopback::mount(usermount, args)
            .map_err(puffs::Error::from)
            .unwrap_or_else(|e| panic!("loopback mount of {name}: {e}"));
        LoopbackMount { mount: Some(mount) }
    }

    /// The loopback kernel's own client, for what the [`Client`] trait does not say (counters).
    pub fn client(&self) -> &puffs::loopback::Client {
        self.mount.as_ref().expect("mounted until unmount").client()
    }

    /// What the file system's side was granted at `INIT`.
    pub fn mount_info(&self) -> &puffs::MountInfo {
        self.mount.as_ref().expect("mounted until unmount").mount_info()
    }

    /// Unmounts (asking the file system, as an unforced unmount does) and gives it back.
    pub fn unmount(mut self) -> F {
        let mount = self.mount.take().expect("mounted until unmount");
        mount.unmount(puffs::UnmountFlags::empty()).unwrap_or_else(|e| panic!("loopback unmount: {e}"))
    }

    fn read_from(&self, file: &puffs::loopback::OpenFile, offset: u64, len: usize) -> Outcome<Vec<u8>> {
        let mut data = Vec::new();
        while data.len() < len {
            let chunk = self.client().read(file, offset + data.len() as u64, (len - data.len()).min(1 << 20))?;
            if chunk.is_empty() {
                break;
            }
            data.extend_from_slice(&chunk);
        }
        Ok(data)
    }

    fn write_to(&self, file: &puffs::loopback::OpenFile, offset: u64, data: &[u8]) -> Outcome<()> {
        let mut done = 0;
        while done < data.len() {
            match self.client().write(file, offset + done as u64, &data[done..])? {
                0 => return Err(Errno::EIO),
                n => done += n,
            }
        }
        Ok(())
    }

    /// Opens `path` with `flags`, runs `with` on the open file, and closes it whatever happened.
    fn with_open<T>(
        &self,
        path: &str,
        flags: nix::fcntl::OFlag,
        with: impl FnOnce(&puffs::loopback::OpenFile) -> Outcome<T>,
    ) -> Outcome<T> {
        let file = self.client().open(path, flags, 0o644)?;
        let result = with(&file);
        let closed = self.client().close(file);
        let value = result?;
        closed.map(|()| value)
    }
}

fn stat_of(vattr: &puffs::Vattr) -> Stat {
    Stat {
        vtype: vattr.vtype,
        mode: vattr.mode,
        nlink: u64::from(vattr.nlink),
        size: vattr.size,
        uid: vattr.uid,
        gid: vattr.gid,
        ino: vattr.fileid,
        rdev: vattr.rdev,
        allocated: vattr.bytes.next_multiple_of(512),
    }
}

impl<F: FileSystem> Client for LoopbackMount<F> {
    fn kernel(&self) -> &'static str {
        "loopback"
    }

    fn write_file(&self, path: &str, data: &[u8]) -> Outcome<()> {
        use nix::fcntl::OFlag;
        self.with_open(path, OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC, |f| self.write_to(f, 0, data))
    }

    fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> Outcome<()> {
        self.with_open(path, nix::fcntl::OFlag::O_WRONLY, |f| self.write_to(f, offset, data))
    }

    fn read_file(&self, path: &str) -> Outcome<Vec<u8>> {
        self.with_open(path, nix::fcntl::OFlag::O_RDONLY, |f| self.read_from(f, 0, usize::MAX))
    }

    fn read_at(&self, path: &str, offset: u64, len: usize) -> Outcome<Vec<u8>> {
        self.with_open(path, nix::fcntl::OFlag::O_RDONLY, |f| self.read_from(f, offset, len))
    }

    fn stat(&self, path: &str) -> Outcome<Stat> {
        self.client().stat(path).map(|v| stat_of(&v))
    }

    fn list(&self, path: &str) -> Outcome<Vec<String>> {
        let mut names: Vec<String> = self
            .client()
            .readdir(path)?
            .into_iter()
            .map(|entry| entry.name.to_string_lossy().into_owned())
            .filter(|name| name != "." && name != "..")
            .collect();
        names.sort();
        Ok(names)
    }

    fn mkdir(&self, path: &str, mode: u32) -> Outcome<()> {
        self.client().mkdir(path, mode)
    }

    fn rmdir(&self, path: &str) -> Outcome<()> {
        self.client().rmdir(path)
    }

    fn unlink(&self, path: &str) -> Outcome<()> {
        self.client().unlink(path)
    }

    fn rename(&self, from: &str, to: &str) -> Outcome<()> {
        self.client().rename(from, to)
    }

    fn rename_with(&self, from: &str, to: &str, flags: puffs::RenameFlags) -> Outcome<()> {
        self.client().rename_with(from, to, flags)
    }

    fn mknod(&self, path: &str, vtype: Vtype, mode: u32, rdev: u64) -> Outcome<()> {
        self.client().mknod(path, vtype, mode, rdev)
    }

    fn symlink(&self, target: &str, path: &str) -> Outcome<()> {
        self.client().symlink(target, path)
    }

    fn readlink(&self, path: &str) -> Outcome<String> {
        Ok(self.client().readlink(path)?.to_string_lossy().into_owned())
    }

    fn link(&self, existing: &str, new: &str) -> Outcome<()> {
        self.client().link(existing, new)
    }

    fn chmod(&self, path: &str, mode: u32) -> Outcome<()> {
        let changes = puffs::SetVattr { mode: Some(mode), ..puffs::SetVattr::default() };
        self.client().setattr(path, &changes).map(drop)
    }

    fn fallocate(&self, path: &str, mode: puffs::FallocateFlags, offset: u64, len: u64) -> Outcome<()> {
        self.with_open(path, nix::fcntl::OFlag::O_WRONLY, |f| self.client().fallocate(f, offset, len, mode))
    }

    fn seek(&self, path: &str, offset: u64, whence: puffs::SeekWhence) -> Outcome<u64> {
        self.with_open(path, nix::fcntl::OFlag::O_RDONLY, |f| self.client().seek(f, offset, whence))
    }

    fn copy_range(&self, from: &str, from_offset: u64, to: &str, to_offset: u64, len: u64) -> Outcome<u64> {
        self.with_open(from, nix::fcntl::OFlag::O_RDONLY, |source| {
            self.with_open(to, nix::fcntl::OFlag::O_WRONLY, |dest| {
                self.client().copy_file_range(source, from_offset, dest, to_offset, len)
            })
        })
    }

    fn tmpfile(&self, dir: &str, data: &[u8], link_as: Option<&str>) -> Outcome<Vec<u8>> {
        let client = self.client();
        let file = client.tmpfile(dir, nix::fcntl::OFlag::O_RDWR, 0o600)?;
        let outcome = client.write(&file, 0, data).and_then(|_| client.read(&file, 0, data.len() + 1));
        let outcome =
            outcome.and_then(|back| link_as.map_or(Ok(()), |name| client.link_open(&file, name)).map(|()| back));
        client.close(file)?;
        outcome
    }

    fn ioctl(&self, path: &str, command: u32, arg: u64, data: &mut [u8]) -> Outcome<i32> {
        self.with_open(path, nix::fcntl::OFlag::O_RDONLY, |f| self.client().ioctl(f, command, arg, data))
    }

    fn birth_time(&self, path: &str) -> Outcome<Option<std::time::SystemTime>> {
        self.client().statx(path).map(|vattr| vattr.birthtime)
    }

    fn truncate(&self, path: &str, size: u64) -> Outcome<()> {
        let changes = puffs::SetVattr { size: Some(size), ..puffs::SetVattr::default() };
        self.client().setattr(path, &changes).map(drop)
    }

    fn set_xattr(&self, path: &str, name: &str, value: &[u8]) -> Outcome<()> {
        self.client().setxattr(path, name, value, puffs::XattrFlags::empty())
    }

    fn get_xattr(&self, path: &str, name: &str) -> Outcome<Vec<u8>> {
        self.client().getxattr(path, name)
    }

    fn list_xattr(&self, path: &str) -> Outcome<Vec<String>> {
        let mut names: Vec<String> =
            self.client().listxattr(path)?.into_iter().map(|n| n.to_string_lossy().into_owned()).collect();
        names.sort();
        Ok(names)
    }

    fn remove_xattr(&self, path: &str, name: &str) -> Outcome<()> {
        self.client().removexattr(path, name)
    }

    fn statvfs(&self) -> Outcome<StatVfs> {
        self.client().statvfs()
    }

    fn abort(&self) {
        self.client().abort();
    }
}
