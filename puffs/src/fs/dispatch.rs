//! Dispatch: the typed request of every operation ([`Op`], generated from the table of
//! operations), what the file system answered ([`Outcome`]), and the framework's answer for the
//! operations a file system does not implement ([`Op::absent`], the one place that decides it).
//!
//! `#[puffs_fs]` implements [`Dispatch`] for a file system: its masks, and a `match` with one
//! arm per method the `impl` block defines, each calling that method with the request's fields.
//! Every other request falls to [`Op::absent`] and never reaches the file system.

use std::ffi::OsString;

use nix::errno::Errno;

use crate::fs::answer::{NewNode, Opened, StatVfs};
use crate::fs::context::Context;
use crate::fs::ioctl::IoctlAnswer;
use crate::fs::lock::FileLock;
use crate::fs::mask::{VfsopMask, VnopMask};
use crate::fs::poll::PollEvents;
use crate::fs::read::Answered;
use crate::fs::Result;
use crate::vattr::Vattr;

puffs_macros::__operation_requests! {
    /// A request for one operation, decoded, checked and typed: each variant holds the
    /// arguments of its method of [`FileSystem`](crate::FileSystem) but the caller's
    /// credentials, with the method's argument names.
    #[derive(Debug)]
    pub enum Op<'a>;
}

/// The operations `#[puffs_fs]` found in a file system's `impl` block, and the dispatch to them.
/// Implemented only by the macro: not public API.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no derived vnop mask or dispatch: its `impl FileSystem` block needs `#[puffs_fs]`",
    label = "the `impl FileSystem for {Self}` block lacks `#[puffs_fs]`",
    note = "write `#[puffs::puffs_fs]` on the line above `impl FileSystem for {Self}`"
)]
pub trait Dispatch {
    /// The vnode operations the `impl` block defines.
    const VNOPS: VnopMask;
    /// The file-system operations the `impl` block defines.
    const VFSOPS: VfsopMask;

    /// Runs `op` in the request context `ctx`: its method if the block defines it, else
    /// [`Op::absent`].
    fn dispatch(&self, op: Op<'_>, ctx: &Context<'_>) -> Outcome;
}

/// A file system that can be the lower layer of a `#[puffs_fs(lower = field)]` block: any
/// with `#[puffs_fs]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the lower layer: it is not a file system with `#[puffs_fs]`",
    label = "this field is `{Self}`",
    note = "`lower = field` names the field holding the file system that answers what the block does not define"
)]
pub trait LowerLayer: Dispatch {}

impl<T: Dispatch + ?Sized> LowerLayer for T {}

/// The masks of the lower layer that `field` reaches, found from the field's type: its share of
/// a `#[puffs_fs(lower = field)]` block's masks.
pub const fn lower_masks<S: ?Sized, L: LowerLayer + ?Sized>(field: fn(&S) -> &L) -> (VnopMask, VfsopMask) {
    let _ = field;
    (L::VNOPS, L::VFSOPS)
}

/// Runs `op` on the lower layer `lower`: the dispatch of a `#[puffs_fs(lower = field)]` block
/// for what it does not define.
pub fn lower_dispatch<L: LowerLayer + ?Sized>(lower: &L, op: Op<'_>, ctx: &Context<'_>) -> Outcome {
    lower.dispatch(op, ctx)
}

/// What an operation answered, by the type its method returns.
#[derive(Debug)]
#[allow(missing_docs)]
pub enum Outcome {
    Node(Result<NewNode>),
    Vattr(Result<Vattr>),
    Opened(Result<Opened>),
    Size(Result<usize>),
    Answered(Result<Answered>),
    Offset(Result<u64>),
    Lock(Result<Option<FileLock>>),
    Poll(Result<PollEvents>),
    Ioctl(Result<IoctlAnswer>),
    Target(Result<OsString>),
    Value(Result<Vec<u8>>),
    Names(Result<Vec<OsString>>),
    StatVfs(Result<StatVfs>),
    Done(Result<()>),
}

/// `From` each method's return type, and the accessor that takes it back out: a mismatch is a
/// bug of the framework, answered `EIO`.
macro_rules! outcomes {
    ($($variant:ident($ty:ty) => $get:ident;)*) => {
        $(
            impl From<Result<$ty>> for Outcome {
                fn from(result: Result<$ty>) -> Outcome {
                    Outcome::$variant(result)
                }
            }
        )*

        impl Outcome {
            $(
                #[doc = concat!("The `", stringify!($ty), "` answered.")]
                pub fn $get(self) -> Result<$ty> {
                    match self {
                        Outcome::$variant(result) => result,
                        other => mismatch(other),
                    }
                }
            )*
        }
    };
}

outcomes! {
    Node(NewNode) => node;
    Vattr(Vattr) => vattr;
    Opened(Opened) => opened;
    Size(usize) => size;
    Answered(Answered) => answered;
    Offset(u64) => offset;
    Lock(Option<FileLock>) => lock;
    Poll(PollEvents) => poll;
    Ioctl(IoctlAnswer) => ioctl;
    Target(OsString) => target;
    Value(Vec<u8>) => value;
    Names(Vec<OsString>) => names;
    StatVfs(StatVfs) => statvfs;
    Done(()) => done;
}

/// Operations the kernel only tells of (`node_inactive`, `node_reclaim`, `fs_mounted`,
/// `fs_suspend`) answer nothing.
impl From<()> for Outcome {
    fn from((): ()) -> Outcome {
        Outcome::Done(Ok(()))
    }
}

fn mismatch<T>(outcome: Outcome) -> Result<T> {
    debug_assert!(false, "an operation answered {outcome:?}, of another type than its request's");
    log::error!("an operation answered {outcome:?}, of another type than its request's");
    Err(Errno::EIO)
}

puffs_macros::__operation_absent! {
    /// The framework's answer to an operation the file system does not implement, from each
    /// row of the table of operations: `ENOSYS`, which tells the kernel to stop asking where the
    /// protocol allows (and a mount without any operation that changes it is read-only), or a
    /// success that needs no file system. An absent `node_open` answers handle 0, and the
    /// kernel is told that opens need not reach the file system (`FUSE_NO_OPEN_SUPPORT`) unless
    /// close or inactive do; an absent `fs_statvfs` answers [`StatVfs::default`]: no blocks,
    /// no nodes, names up to 255 bytes; an absent `fs_unmount` consents.
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::sync::Mutex;

    use nix::errno::Errno;
    use puffs_macros::puffs_fs;

    use crate::cred::Cred;
    use crate::fs::answer::{NewNode, StatVfs};
    use crate::fs::context::Context;
    use crate::fs::cookie::Cookie;
    use crate::fs::{FileSystem, Result};
    use crate::vattr::{Vattr, Vtype};

    use super::{Dispatch, Op, Outcome};

    #[derive(Default)]
    struct Fs {
        calls: Mutex<Vec<String>>,
    }

    #[puffs_fs]
    impl FileSystem for Fs {
        fn node_lookup(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
            self.calls.lock().unwrap().push(format!("lookup {} {name:?} by {}", dir.0, ctx.cred().uid));
            Ok(NewNode::new(Cookie(7), Vattr::new(Vtype::Reg, 0o644, 7)))
        }

        #[cfg(any())]
        fn node_getattr(&self, _node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
            unreachable!("compiled out")
        }

        fn node_reclaim(&self, node: Cookie) {
            self.calls.lock().unwrap().push(format!("reclaim {}", node.0));
        }
    }

    const CRED: Context<'static> = Context::new(Cred { uid: 1000, gid: 100, pid: 9 });

    #[test]
    fn an_implemented_operation_reaches_its_method_with_the_requests_fields() {
        let fs = Fs::default();
        let found = fs.dispatch(Op::Lookup { dir: Cookie(1), name: OsStr::new("a") }, &CRED).node();
        assert_eq!(found.map(|n| n.cookie), Ok(Cookie(7)));
        fs.dispatch(Op::Reclaim { node: Cookie(7) }, &CRED).done().unwrap();
        assert_eq!(*fs.calls.lock().unwrap(), ["lookup 1 \"a\" by 1000", "reclaim 7"]);
    }

    #[test]
    fn an_absent_operation_gets_the_frameworks_answer_and_never_reaches_the_file_system() {
        let fs = Fs::default();
        assert_eq!(fs.dispatch(Op::Getattr { node: Cookie(1) }, &CRED).vattr(), Err(Errno::ENOSYS), "cfg'd out");
        assert_eq!(fs.dispatch(Op::Statvfs {}, &CRED).statvfs(), Ok(StatVfs::default()));
        assert_eq!(
            fs.dispatch(Op::Open { node: Cookie(1), flags: nix::fcntl::OFlag::O_RDONLY }, &CRED).opened(),
            Ok(Default::default())
        );
        assert!(matches!(fs.dispatch(Op::Inactive { node: Cookie(1) }, &CRED), Outcome::Done(Ok(()))));
        assert!(fs.calls.lock().unwrap().is_empty());
    }
}
