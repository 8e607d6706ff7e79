//! dtfs's own permission checks, made only when the kernel makes none: mounted without
//! `default_permissions` and without ACLs (`-o noacl`), dtfs decides every access itself with
//! [`puffs::access`], under the same lock as the change it allows, and saves the kernel the
//! `GETATTR` its checks cost. Mounted with ACLs, as by default, these all allow.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::sync::atomic::Ordering;

use puffs::{access, AccessFlags, Context, Cookie, OFlag, RenameFlags, Result, SetVattr, Vattr, Vtype};

use super::tree::Tree;
use super::Dtfs;

impl Dtfs {
    /// Whether dtfs checks permissions itself: until mounted, and on a mount where the kernel
    /// does not ([`MountInfo::kernel_checks`](puffs::MountInfo::kernel_checks)).
    pub(super) fn checks(&self) -> bool {
        self.checks.load(Ordering::Relaxed)
    }

    /// `check`'s verdict where dtfs checks, else allowed.
    fn when_checking(&self, check: impl FnOnce() -> Result<()>) -> Result<()> {
        if self.checks() {
            check()
        } else {
            Ok(())
        }
    }

    /// May the caller access `node` as `wanted` asks? ([`access::access`])
    pub(super) fn allow(&self, node: &Vattr, wanted: AccessFlags, ctx: &Context<'_>) -> Result<()> {
        self.when_checking(|| access::access(node, wanted, ctx.cred()))
    }

    /// May the caller add an entry to directory `dir`: write and search it.
    pub(super) fn allow_entry(&self, dir: &Vattr, ctx: &Context<'_>) -> Result<()> {
        self.allow(dir, AccessFlags::W_OK | AccessFlags::X_OK, ctx)
    }

    /// May the caller remove (or rename away) `victim` from `dir`? ([`access::access_remove`])
    pub(super) fn allow_remove(&self, dir: &Vattr, victim: &Vattr, ctx: &Context<'_>) -> Result<()> {
        self.when_checking(|| access::access_remove(dir, victim, ctx.cred()))
    }

    /// May the caller open `node` with `flags`? ([`access::access_open`])
    pub(super) fn allow_open(&self, node: &Vattr, flags: OFlag, ctx: &Context<'_>) -> Result<()> {
        self.when_checking(|| access::access_open(node, flags, ctx.cred()))
    }

    /// The part of `changes` to `node` the caller may make: all, or an error
    /// ([`access::access_setattr`]; a mode may lose set-group-id).
    pub(super) fn allow_setattr<'c>(
        &self,
        node: &Vattr,
        changes: &'c SetVattr,
        ctx: &Context<'_>,
    ) -> Result<Cow<'c, SetVattr>> {
        if !self.checks() {
            return Ok(Cow::Borrowed(changes));
        }
        access::access_setattr(node, changes, ctx.cred()).map(Cow::Owned)
    }

    /// May the caller rename `source` in `dir` to a name in `new_dir` (where `target` is, if
    /// anything)? Both directories lose or gain an entry; a directory moving to another parent
    /// has its `..` rewritten, which takes the right to write it, as does one exchanged there.
    pub(super) fn allow_rename(
        &self,
        tree: &Tree,
        (dir, source): (u64, u64),
        (new_dir, target): (u64, Option<u64>),
        flags: RenameFlags,
        ctx: &Context<'_>,
    ) -> Result<()> {
        if !self.checks() {
            return Ok(());
        }
        let vattr = |ino: u64| tree.node(Cookie(ino)).map(|node| &node.vattr);
        self.allow_remove(vattr(dir)?, vattr(source)?, ctx)?;
        match target {
            Some(target) => self.allow_remove(vattr(new_dir)?, vattr(target)?, ctx)?,
            None => self.allow_entry(vattr(new_dir)?, ctx)?,
        }
        if dir != new_dir {
            let exchanged = target.filter(|_| flags.contains(RenameFlags::EXCHANGE));
            for moved in std::iter::once(source).chain(exchanged) {
                if vattr(moved)?.vtype == Vtype::Dir {
                    self.allow(vattr(moved)?, AccessFlags::W_OK, ctx)?;
                }
            }
        }
        Ok(())
    }

    /// May the caller read (`write` false) or write `node`'s extended attribute `name`?
    /// ([`access::access_extattr`])
    pub(super) fn allow_extattr(&self, node: &Vattr, name: &OsStr, write: bool, ctx: &Context<'_>) -> Result<()> {
        self.when_checking(|| access::access_extattr(node, name, write, ctx.cred()))
    }
}
