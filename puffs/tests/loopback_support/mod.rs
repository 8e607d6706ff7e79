//! What the loopback test files share: a file system that records what the kernel told it, with
//! gates that hold an operation until the test opens them, and an in-memory read-write one.

#![allow(dead_code)] // each test binary uses its own part

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use puffs::loopback::{self, Loopback, MountArgs};
use puffs::{
    puffs_fs, Answered, Context, Cookie, DirBuf, Errno, FileHandle, FileSystem, MountInfo, NewNode, ReadOut,
    RenameFlags, Result, SetVattr, StatVfs, SuspendPhase, UnmountFlags, Usermount, Vattr, Vtype, WaitFor, XattrFlags,
};

/// Longest a gate holds an operation, so that a failing test cannot hang.
const GATE_BOUND: Duration = Duration::from_secs(20);

/// Holds operations until opened; tells who is waiting.
#[derive(Default)]
pub struct Gate {
    state: Mutex<(bool, usize)>,
    changed: Condvar,
}

impl Gate {
    pub fn closed() -> Gate {
        Gate::default()
    }

    pub fn open() -> Gate {
        Gate { state: Mutex::new((true, 0)), changed: Condvar::new() }
    }

    pub fn pass(&self) {
        let mut state = self.state.lock().unwrap();
        state.1 += 1;
        self.changed.notify_all();
        let (state, _) = self.changed.wait_timeout_while(state, GATE_BOUND, |s| !s.0).unwrap();
        drop(state);
    }

    pub fn close(&self) {
        self.state.lock().unwrap().0 = false;
    }

    pub fn release(&self) {
        self.state.lock().unwrap().0 = true;
        self.changed.notify_all();
    }

    /// Waits (bounded) until someone is held at the gate.
    pub fn wait_for_waiter(&self) {
        let state = self.state.lock().unwrap();
        let (state, _) = self.changed.wait_timeout_while(state, GATE_BOUND, |s| s.1 == 0).unwrap();
        assert!(state.1 > 0, "nobody reached the gate");
    }
}

/// What the test sees of a [`Recorder`] once it was moved into the mount.
#[derive(Default)]
pub struct Log {
    pub events: Mutex<Vec<String>>,
    pub mounted: Mutex<Option<MountInfo>>,
    pub refuse_unmount: AtomicBool,
    /// Holds the getattr of the root.
    pub root_gate: Gate,
    /// Holds reads.
    pub read_gate: Gate,
}

impl Log {
    pub fn new() -> Arc<Log> {
        Arc::new(Log { root_gate: Gate::open(), read_gate: Gate::open(), ..Log::default() })
    }

    pub fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }

    pub fn record(&self, event: String) {
        self.events.lock().unwrap().push(event);
    }

    pub fn position(&self, event: &str) -> Option<usize> {
        self.events().iter().position(|e| e == event)
    }
}

pub const FILE: Cookie = Cookie(5);
pub const DIR: Cookie = Cookie(6);

/// A file system with a root, `file` and `dir/file`, recording every call.
pub struct Recorder {
    pub log: Arc<Log>,
    pub root: Cookie,
}

impl Recorder {
    fn attr(&self, node: Cookie) -> Result<Vattr> {
        if node == self.root {
            return Ok(Vattr { nlink: 3, ..Vattr::new(Vtype::Dir, 0o711, 4242) });
        }
        match node {
            FILE => Ok(Vattr { size: 4, ..Vattr::new(Vtype::Reg, 0o644, 5) }),
            DIR => Ok(Vattr::new(Vtype::Dir, 0o755, 6)),
            _ => Err(Errno::ENOENT),
        }
    }
}

#[puffs_fs]
impl FileSystem for Recorder {
    fn fs_mounted(&self, info: &MountInfo) {
        self.log.record(format!("mounted {}", info.fs_name));
        *self.log.mounted.lock().unwrap() = Some(info.clone());
    }

    fn fs_statvfs(&self, _ctx: &Context<'_>) -> Result<StatVfs> {
        self.log.record("statvfs".into());
        Ok(StatVfs { blocks: 1234, ..StatVfs::default() })
    }

    fn fs_sync(&self, waitfor: WaitFor, _ctx: &Context<'_>) -> Result<()> {
        self.log.record(format!("sync {waitfor:?}"));
        Ok(())
    }

    fn fs_unmount(&self, flags: UnmountFlags) -> Result<()> {
        self.log.record(format!("unmount {}", flags.bits()));
        if self.log.refuse_unmount.load(Ordering::SeqCst) {
            Err(Errno::EBUSY)
        } else {
            Ok(())
        }
    }

    fn fs_suspend(&self, phase: SuspendPhase) {
        self.log.record(format!("suspend {phase:?}"));
    }

    fn node_lookup(&self, dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        self.log.record(format!("lookup {} {}", dir.0, name.to_string_lossy()));
        match (dir, name.to_str()) {
            (d, Some("file")) if d == self.root || d == DIR => Ok(NewNode::new(FILE, self.attr(FILE)?)),
            (d, Some("dir")) if d == self.root => Ok(NewNode::new(DIR, self.attr(DIR)?)),
            _ => Err(Errno::ENOENT),
        }
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        self.log.record(format!("getattr {}", node.0));
        if node == self.root {
            self.log.root_gate.pass();
        }
        self.attr(node)
    }

    fn node_read(
        &self,
        node: Cookie,
        _fh: FileHandle,
        offset: u64,
        out: ReadOut<'_>,
        _ctx: &Context<'_>,
    ) -> Result<Answered> {
        self.log.record(format!("read {}", node.0));
        self.log.read_gate.pass();
        Ok(out.reply_at(b"data", offset))
    }

    fn node_reclaim(&self, node: Cookie) {
        self.log.record(format!("reclaim {}", node.0));
    }
}

/// Mount arguments for a recorder with a short name.
pub fn recorder(root: Cookie) -> (Usermount<Recorder>, Arc<Log>) {
    let log = Log::new();
    (Usermount::init(Recorder { log: log.clone(), root }, "rec"), log)
}

/// A mounted recorder with `threads` workers.
pub fn mounted_recorder(threads: usize) -> (Loopback<Recorder>, Arc<Log>) {
    let (usermount, log) = recorder(Cookie(1));
    let usermount = usermount.threads(threads);
    let args = MountArgs::of(&usermount, Cookie(1));
    let mounted = loopback::mount(usermount, args).map_err(puffs::Error::from).expect("loopback mount");
    (mounted, log)
}

/// Waits, bounded, until `done` holds; panics if it never does.
pub fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..2000 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{what} never happened");
}

// ---------------------------------------------------------------------------------------------

struct MemNode {
    vattr: Vattr,
    data: Vec<u8>,
    children: BTreeMap<OsString, u64>,
    target: OsString,
    xattrs: BTreeMap<OsString, Vec<u8>>,
}

/// An in-memory read-write file system (root cookie 1), recording reclaims.
pub struct Memfs {
    nodes: Mutex<(HashMap<u64, MemNode>, u64)>,
    pub reclaimed: Arc<Mutex<Vec<u64>>>,
}

impl Memfs {
    pub fn new() -> Memfs {
        let mut nodes = HashMap::new();
        nodes.insert(1, MemNode::new(Vattr { nlink: 2, ..Vattr::new(Vtype::Dir, 0o755, 1) }));
        Memfs { nodes: Mutex::new((nodes, 2)), reclaimed: Arc::default() }
    }

    fn make(&self, dir: Cookie, name: &OsStr, vtype: Vtype, mode: u32, ctx: &Context<'_>) -> Result<NewNode> {
        let mut guard = self.nodes.lock().unwrap();
        let (nodes, next) = &mut *guard;
        let parent = nodes.get(&dir.0).ok_or(Errno::ENOENT)?;
        if parent.vattr.vtype != Vtype::Dir {
            return Err(Errno::ENOTDIR);
        }
        let may_write = ctx.cred().uid == 0
            || (parent.vattr.uid == ctx.cred().uid && parent.vattr.mode & 0o200 != 0)
            || parent.vattr.mode & 0o002 != 0;
        if !may_write {
            return Err(Errno::EACCES);
        }
        if parent.children.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let id = *next;
        *next += 1;
        let mut vattr = Vattr::new(vtype, mode, id);
        vattr.uid = ctx.cred().uid;
        vattr.gid = ctx.cred().gid;
        if vtype == Vtype::Dir {
            vattr.nlink = 2;
            nodes.get_mut(&dir.0).unwrap().vattr.nlink += 1;
        }
        nodes.get_mut(&dir.0).unwrap().children.insert(name.to_owned(), id);
        nodes.insert(id, MemNode::new(vattr.clone()));
        Ok(NewNode::new(Cookie(id), vattr))
    }

    fn with<T>(&self, node: Cookie, f: impl FnOnce(&mut MemNode) -> Result<T>) -> Result<T> {
        let mut guard = self.nodes.lock().unwrap();
        f(guard.0.get_mut(&node.0).ok_or(Errno::ENOENT)?)
    }
}

impl MemNode {
    fn new(vattr: Vattr) -> MemNode {
        MemNode { vattr, data: Vec::new(), children: BTreeMap::new(), target: OsString::new(), xattrs: BTreeMap::new() }
    }
}

#[puffs_fs]
impl FileSystem for Memfs {
    fn fs_statvfs(&self, _ctx: &Context<'_>) -> Result<StatVfs> {
        let files = self.nodes.lock().unwrap().0.len() as u64;
        Ok(StatVfs { files, ..StatVfs::default() })
    }

    fn node_lookup(&self, dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
        let guard = self.nodes.lock().unwrap();
        let parent = guard.0.get(&dir.0).ok_or(Errno::ENOENT)?;
        let id = *parent.children.get(name).ok_or(Errno::ENOENT)?;
        Ok(NewNode::new(Cookie(id), guard.0[&id].vattr.clone()))
    }

    fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
        self.with(node, |n| Ok(n.vattr.clone()))
    }

    fn node_setattr(&self, node: Cookie, changes: &SetVattr, _ctx: &Context<'_>) -> Result<Vattr> {
        self.with(node, |n| {
            if let Some(mode) = changes.mode {
                n.vattr.mode = mode;
            }
            if let Some(uid) = changes.uid {
                n.vattr.uid = uid;
            }
            if let Some(size) = changes.size {
                n.data.resize(size as usize, 0);
                n.vattr.size = size;
            }
            if let Some(mtime) = changes.mtime {
                n.vattr.mtime = mtime.resolve();
            }
            Ok(n.vattr.clone())
        })
    }

    fn node_create(&self, dir: Cookie, name: &OsStr, mode: u32, ctx: &Context<'_>) -> Result<NewNode> {
        self.make(dir, name, Vtype::Reg, mode, ctx)
    }

    fn node_mkdir(&self, dir: Cookie, name: &OsStr, mode: u32, ctx: &Context<'_>) -> Result<NewNode> {
        self.make(dir, name, Vtype::Dir, mode, ctx)
    }

    fn node_symlink(&self, dir: Cookie, name: &OsStr, target: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
        let made = self.make(dir, name, Vtype::Lnk, 0o777, ctx)?;
        self.with(made.cookie, |n| {
            n.target = target.to_owned();
            n.vattr.size = target.len() as u64;
            Ok(())
        })?;
        Ok(NewNode { vattr: Vattr { size: target.len() as u64, ..made.vattr.clone() }, ..made })
    }

    fn node_readlink(&self, node: Cookie, _ctx: &Context<'_>) -> Result<OsString> {
        self.with(node, |n| if n.vattr.vtype == Vtype::Lnk { Ok(n.target.clone()) } else { Err(Errno::EINVAL) })
    }

    fn node_read(
        &self,
        node: Cookie,
        _fh: FileHandle,
        offset: u64,
        out: ReadOut<'_>,
        _ctx: &Context<'_>,
    ) -> Result<Answered> {
        self.with(node, |n| Ok(out.reply_at(&n.data, offset)))
    }

    fn node_write(&self, node: Cookie, _fh: FileHandle, offset: u64, data: &[u8], _ctx: &Context<'_>) -> Result<usize> {
        self.with(node, |n| {
            let end = offset as usize + data.len();
            if n.data.len() < end {
                n.data.resize(end, 0);
            }
            n.data[offset as usize..end].copy_from_slice(data);
            n.vattr.size = n.data.len() as u64;
            Ok(data.len())
        })
    }

    fn node_readdir(
        &self,
        dir: Cookie,
        _fh: FileHandle,
        offset: u64,
        buf: &mut DirBuf<'_>,
        _ctx: &Context<'_>,
    ) -> Result<()> {
        let guard = self.nodes.lock().unwrap();
        let node = guard.0.get(&dir.0).ok_or(Errno::ENOENT)?;
        let mut entries = vec![(dir.0, Vtype::Dir, OsString::from(".")), (1, Vtype::Dir, OsString::from(".."))];
        for (name, id) in &node.children {
            entries.push((*id, guard.0[id].vattr.vtype, name.clone()));
        }
        for (i, (id, vtype, name)) in entries.iter().enumerate().skip(offset as usize) {
            if !buf.push(*id, i as u64 + 1, *vtype, name) {
                break;
            }
        }
        Ok(())
    }

    fn node_remove(&self, dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<()> {
        let mut guard = self.nodes.lock().unwrap();
        let id = *guard.0.get(&dir.0).ok_or(Errno::ENOENT)?.children.get(name).ok_or(Errno::ENOENT)?;
        if guard.0[&id].vattr.vtype == Vtype::Dir {
            return Err(Errno::EISDIR);
        }
        guard.0.get_mut(&dir.0).unwrap().children.remove(name);
        guard.0.get_mut(&id).unwrap().vattr.nlink -= 1;
        Ok(())
    }

    fn node_rmdir(&self, dir: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<()> {
        let mut guard = self.nodes.lock().unwrap();
        let id = *guard.0.get(&dir.0).ok_or(Errno::ENOENT)?.children.get(name).ok_or(Errno::ENOENT)?;
        let node = &guard.0[&id];
        if node.vattr.vtype != Vtype::Dir {
            return Err(Errno::ENOTDIR);
        }
        if !node.children.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        guard.0.get_mut(&dir.0).unwrap().children.remove(name);
        guard.0.get_mut(&dir.0).unwrap().vattr.nlink -= 1;
        Ok(())
    }

    fn node_link(&self, dir: Cookie, node: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<Vattr> {
        let mut guard = self.nodes.lock().unwrap();
        let parent = guard.0.get_mut(&dir.0).ok_or(Errno::ENOENT)?;
        if parent.children.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        parent.children.insert(name.to_owned(), node.0);
        let target = guard.0.get_mut(&node.0).ok_or(Errno::ENOENT)?;
        target.vattr.nlink += 1;
        Ok(target.vattr.clone())
    }

    fn node_rename(
        &self,
        dir: Cookie,
        name: &OsStr,
        new_dir: Cookie,
        new_name: &OsStr,
        _flags: RenameFlags,
        _ctx: &Context<'_>,
    ) -> Result<()> {
        let mut guard = self.nodes.lock().unwrap();
        let id = *guard.0.get(&dir.0).ok_or(Errno::ENOENT)?.children.get(name).ok_or(Errno::ENOENT)?;
        if let Some(existing) = guard.0.get(&new_dir.0).ok_or(Errno::ENOENT)?.children.get(new_name) {
            if !guard.0[existing].children.is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
        }
        guard.0.get_mut(&dir.0).unwrap().children.remove(name);
        guard.0.get_mut(&new_dir.0).unwrap().children.insert(new_name.to_owned(), id);
        Ok(())
    }

    fn node_reclaim(&self, node: Cookie) {
        self.reclaimed.lock().unwrap().push(node.0);
    }

    fn node_getextattr(&self, node: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<Vec<u8>> {
        self.with(node, |n| n.xattrs.get(name).cloned().ok_or(Errno::ENODATA))
    }

    fn node_setextattr(
        &self,
        node: Cookie,
        name: &OsStr,
        value: &[u8],
        flags: XattrFlags,
        _ctx: &Context<'_>,
    ) -> Result<()> {
        self.with(node, |n| {
            let exists = n.xattrs.contains_key(name);
            if flags.contains(XattrFlags::CREATE) && exists {
                return Err(Errno::EEXIST);
            }
            if flags.contains(XattrFlags::REPLACE) && !exists {
                return Err(Errno::ENODATA);
            }
            n.xattrs.insert(name.to_owned(), value.to_vec());
            Ok(())
        })
    }

    fn node_listextattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vec<OsString>> {
        self.with(node, |n| Ok(n.xattrs.keys().cloned().collect()))
    }

    fn node_deleteextattr(&self, node: Cookie, name: &OsStr, _ctx: &Context<'_>) -> Result<()> {
        self.with(node, |n| n.xattrs.remove(name).map(drop).ok_or(Errno::ENODATA))
    }
}

/// A mounted Memfs (threads workers, request length `max_request_len`) and its reclaim log.
pub fn mounted_memfs(threads: usize, max_request_len: usize) -> (Loopback<Memfs>, Arc<Mutex<Vec<u64>>>) {
    let fs = Memfs::new();
    let reclaimed = fs.reclaimed.clone();
    let usermount = Usermount::init(fs, "memfs").threads(threads).max_request_len(max_request_len);
    let args = MountArgs::of(&usermount, Cookie(1));
    (loopback::mount(usermount, args).map_err(puffs::Error::from).expect("loopback mount"), reclaimed)
}
