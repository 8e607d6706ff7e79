//! The handshake that opens a session: the kernel's `INIT`, answered with the protocol version
//! and the features this file system can use (decided from its masks and settings), and what
//! was granted told to the file system.

use nix::errno::Errno;

use crate::fs::context::Context;
use crate::fs::dispatch::Op;
use crate::fs::mask::{vnop_mask, VnopMask};
use crate::fs::FileSystem;
use crate::fuse::abi::{self, InitFlags};
use crate::fuse::dump::Flags;
use crate::fuse::reply::Reply;
use crate::fuse::request::{Operation, Request};
use crate::settings::{DataCache, MountInfo, ReaddirPlus, Transport, REQUEST_HEADER_ROOM};

use super::Session;

impl<F: FileSystem> Session<F> {
    /// Handles the `INIT` frame that opens every session, for a mount the kernel knows as
    /// `fs_name`, and tells the file system ([`FileSystem::fs_mounted`]). Answers what was
    /// granted; `EAGAIN` when the kernel speaks a newer major version and will ask again.
    pub(crate) fn handle_init(&self, frame: &[u8], fs_name: &str) -> Result<MountInfo, Errno> {
        let request = Request::decode(frame).map_err(|e| {
            self.dump(format_args!("!! {e}"));
            Errno::EPROTO
        })?;
        let Operation::Init(init) = request.op else {
            self.send_error(request.header.unique, Errno::EIO);
            return Err(Errno::EPROTO);
        };
        let unique = request.header.unique;
        self.dump(format_args!("-> INIT unique {unique}: kernel {}.{}", init.major, init.minor));
        if init.major < abi::KERNEL_VERSION
            || (init.major == abi::KERNEL_VERSION && init.minor < abi::MIN_KERNEL_MINOR_VERSION)
        {
            self.send_error(unique, Errno::EPROTO);
            return Err(Errno::EPROTO);
        }
        if init.major > abi::KERNEL_VERSION {
            // Answer with our major only; the kernel retries INIT with it.
            let mut reply = Reply::new(unique, 8);
            abi::InitOut { major: abi::KERNEL_VERSION, minor: abi::KERNEL_MINOR_VERSION, ..Default::default() }
                .encode(reply.body());
            self.send(unique, &[&reply.finish()]);
            return Err(Errno::EAGAIN);
        }
        let minor = init.minor.min(abi::KERNEL_MINOR_VERSION);
        let offered = InitFlags::from_words(init.flags, init.flags2);
        let mut wanted = self.wanted(fs_name);
        wanted.set(InitFlags::PASSTHROUGH, self.wants_passthrough(fs_name));
        let mut granted = offered & wanted;
        let acl = InitFlags::POSIX_ACL | InitFlags::DONT_MASK;
        if !granted.contains(acl) {
            // Both or neither: inheriting default ACLs needs the unmasked mode.
            granted.remove(acl);
        }
        let max_write = (self.request_len - REQUEST_HEADER_ROOM) as u32;
        let max_pages = max_write.div_ceil(4096).max(1) as u16;
        let mut transport = Transport::Device;
        if self.settings.options.io_uring {
            if !offered.contains(InitFlags::OVER_IO_URING) {
                log::info!("{fs_name}: the kernel offers no io_uring (enable_uring is off, or before 6.14): /dev/fuse");
            } else {
                match self.make_rings(max_write as usize, max_pages as usize) {
                    Ok(rings) => {
                        transport = rings;
                        granted |= InitFlags::OVER_IO_URING;
                    }
                    Err(e) => log::warn!("{fs_name}: no io_uring ({e}): requests come through /dev/fuse"),
                }
            }
        }
        self.notices.negotiated(granted, init.minor);
        self.dump(format_args!("   INIT offered {}", Flags(offered)));
        self.dump(format_args!("   INIT granted {}", Flags(granted)));
        let out = abi::InitOut {
            major: abi::KERNEL_VERSION,
            minor,
            max_readahead: init.max_readahead,
            flags: granted.to_words().0,
            flags2: granted.to_words().1,
            max_background: 16,
            congestion_threshold: 12,
            max_write,
            time_gran: 1,
            max_pages,
            max_stack_depth: if granted.contains(InitFlags::PASSTHROUGH) { abi::MAX_STACK_DEPTH } else { 0 },
            ..Default::default()
        };
        let mut reply = Reply::new(unique, abi::InitOut::SIZE);
        out.encode(reply.body());
        self.send(unique, &[&reply.finish()]);
        let info = MountInfo {
            fs_name: fs_name.to_string(),
            max_request_len: self.request_len,
            max_write,
            cookie_hash_buckets: self.nodes.bucket_count(),
            protocol: (abi::KERNEL_VERSION, minor),
            posix_acl: self.acl_granted(),
            kernel_checks: self.settings.options.default_permissions || self.acl_granted(),
            transport,
            passthrough: granted.contains(InitFlags::PASSTHROUGH),
        };
        let _ = self.call(Op::Mounted { info: &info }, &Context::ROOT).done();
        Ok(info)
    }

    /// The capabilities this file system asks of the kernel, from its masks and the mount
    /// options; the kernel grants those it offers too.
    fn wanted(&self, fs_name: &str) -> InitFlags {
        let vnops = vnop_mask::<F>();
        let options = &self.settings.options;
        let mut wanted = InitFlags::ASYNC_READ
            | InitFlags::BIG_WRITES
            | InitFlags::MAX_PAGES
            | InitFlags::PARALLEL_DIROPS
            | InitFlags::ABORT_ERROR
            | InitFlags::INIT_EXT
            | InitFlags::HAS_EXPIRE_ONLY;
        wanted.set(InitFlags::NO_OPEN_SUPPORT | InitFlags::NO_OPENDIR_SUPPORT, !self.needs_open());
        wanted.set(InitFlags::EXPORT_SUPPORT, self.settings.export_support());
        wanted.set(InitFlags::POSIX_LOCKS | InitFlags::FLOCK_LOCKS, vnops.contains(VnopMask::ADVLOCK));
        wanted.set(InitFlags::HAS_IOCTL_DIR, vnops.contains(VnopMask::IOCTL));
        // Set-id bits and capabilities are dropped by the framework (see `setid`), and an open
        // with O_TRUNC truncates there, saving the kernel a SETATTR.
        wanted.set(InitFlags::HANDLE_KILLPRIV_V2, Self::drops_privileges());
        // Setting an access ACL then says whether set-group-id goes (see `posix_acl`).
        wanted.set(InitFlags::SETXATTR_EXT, vnops.contains(VnopMask::SETEXTATTR));
        // Only when every open reaches the framework: the kernel leaves truncation to the OPEN
        // even once an `ENOSYS` has stopped it sending any.
        wanted.set(InitFlags::ATOMIC_O_TRUNC, self.needs_release() && vnops.contains(VnopMask::SETATTR));
        wanted.set(InitFlags::CACHE_SYMLINKS, options.cache_symlinks);
        wanted.set(InitFlags::AUTO_INVAL_DATA, options.data_cache == DataCache::Auto);
        wanted.set(InitFlags::EXPLICIT_INVAL_DATA, options.data_cache == DataCache::Explicit);
        wanted.set(InitFlags::DIRECT_IO_ALLOW_MMAP, options.direct_io_allow_mmap);
        wanted.set(InitFlags::WRITEBACK_CACHE, options.writeback_cache && vnops.contains(VnopMask::WRITE));
        // READDIRPLUS is answered from readdir and lookup (see `readdirplus`).
        let plus = vnops.contains(VnopMask::READDIR | VnopMask::LOOKUP);
        wanted.set(InitFlags::DO_READDIRPLUS, plus && options.readdirplus != ReaddirPlus::Never);
        wanted.set(InitFlags::READDIRPLUS_AUTO, plus && options.readdirplus == ReaddirPlus::Auto);
        if F::POSIX_ACL && !options.noacl {
            let needed = VnopMask::GETATTR
                | VnopMask::SETATTR
                | VnopMask::GETEXTATTR
                | VnopMask::SETEXTATTR
                | VnopMask::DELETEEXTATTR;
            if vnops.contains(needed) {
                wanted |= InitFlags::POSIX_ACL | InitFlags::DONT_MASK;
            } else {
                log::warn!("{fs_name}: POSIX_ACL needs the extended-attribute operations: ACLs are off");
            }
        }
        wanted
    }

    /// Whether opens must reach the framework: the file system implements open, close or
    /// inactive, each of which needs the open/release pairs.
    pub(super) fn needs_open(&self) -> bool {
        vnop_mask::<F>().intersects(VnopMask::OPEN | VnopMask::CLOSE | VnopMask::INACTIVE)
    }

    /// Whether every open must reach the framework, with its release: the file system
    /// implements close or inactive. Otherwise a `node_open` may answer `ENOSYS`, and the
    /// kernel stops sending opens.
    pub(super) fn needs_release(&self) -> bool {
        vnop_mask::<F>().intersects(VnopMask::CLOSE | VnopMask::INACTIVE)
    }
}
