//! The `#[puffs_fs]` attribute of puffs-rs, which derives from an `impl FileSystem` block the
//! masks of the operations the file system implements and the dispatch to them.
//!
//! Use it through the `puffs` crate, which re-exports it as `puffs::puffs_fs`; this crate is an
//! implementation detail and its version is pinned by `puffs`.
//!
//! # Example
//!
//! ```
//! use std::ffi::OsStr;
//! use puffs::{puffs_fs, Cookie, Context, Errno, FileSystem, NewNode, Result, Vattr, Vtype};
//!
//! struct Fs;
//!
//! #[puffs_fs]
//! impl FileSystem for Fs {
//!     fn node_lookup(&self, _dir: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
//!         Err(Errno::ENOENT)
//!     }
//!
//!     fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
//!         Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
//!     }
//! }
//!
//! assert_eq!(puffs::vnop_mask::<Fs>(), puffs::VnopMask::LOOKUP | puffs::VnopMask::GETATTR);
//! assert_eq!(puffs::vfsop_mask::<Fs>(), puffs::VfsopMask::empty());
//! ```
//!
//! See [`macro@puffs_fs`] for what it generates, its arguments and its errors.

#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

mod ast;
mod attr;
mod check;
mod expand;
mod table;
mod vnop;

use proc_macro::TokenStream;

/// Derives the vnop and vfsop masks of a file system, and the dispatch of requests to its
/// methods, from the methods of its `impl FileSystem for T` block.
///
/// A file system implements only what it supports. The attribute records which operations the
/// block defines: `node_lookup` sets `VnopMask::LOOKUP`, `fs_statvfs` sets `VfsopMask::STATVFS`,
/// and so on. It generates the dispatch as one `match` on the typed request, with an arm per
/// method present: an operation the block does not define has no arm, so it can never reach the
/// file system, and the framework answers it (the one place that decides those answers is
/// `Op::absent` in `puffs`: `ENOSYS` for most, "nothing to do" for notices such as
/// `node_reclaim`).
///
/// The block is emitted unchanged, so rustc checks it as written: a misspelled operation such as
/// `node_lokup` gets rustc's "not a member of trait `FileSystem`" error with the similar name,
/// a wrong signature gets E0053, and an operation defined twice E0201. A method under `#[cfg(...)]` sets its flag under the same
/// `#[cfg(...)]`. Generics and `where` clauses of the block carry over.
///
/// # Example
///
/// ```
/// use std::ffi::OsStr;
/// use puffs::{puffs_fs, vnop_mask, Cookie, Context, Errno, FileSystem, NewNode, Result, Vattr, VnopMask, Vtype};
///
/// struct Fs;
///
/// #[puffs_fs]
/// impl FileSystem for Fs {
///     fn node_lookup(&self, _dir: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
///         Err(Errno::ENOENT)
///     }
///
///     #[cfg(any())] // compiled out, and so is its bit
///     fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
///         Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
///     }
/// }
///
/// assert_eq!(vnop_mask::<Fs>(), VnopMask::LOOKUP);
/// ```
///
/// # The equivalent code without the macro
///
/// The block above, unchanged, followed by the impl of a hidden supertrait of `FileSystem`: the
/// masks, and the dispatch with one arm per method (`node_getattr`'s arm is compiled out with
/// it). The request's fields are the method's arguments; methods are called through the trait,
/// so that an inherent method of the same name is never taken for the operation.
///
/// ```
/// # use std::ffi::OsStr;
/// # use puffs::{vnop_mask, Cookie, Context, Errno, FileSystem, NewNode, Result, Vattr, VnopMask, Vtype};
/// # struct Fs;
/// # impl FileSystem for Fs {
/// #     fn node_lookup(&self, _dir: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
/// #         Err(Errno::ENOENT)
/// #     }
/// #     #[cfg(any())]
/// #     fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
/// #         Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
/// #     }
/// # }
/// const _: () = {
///     #[automatically_derived]
///     impl ::puffs::__private::Dispatch for Fs {
///         const VNOPS: ::puffs::__private::VnopMask = {
///             let mask = ::puffs::__private::VnopMask::empty();
///             let mask = mask.union(::puffs::__private::VnopMask::LOOKUP);
///             #[cfg(any())]
///             let mask = mask.union(::puffs::__private::VnopMask::GETATTR);
///             mask
///         };
///         const VFSOPS: ::puffs::__private::VfsopMask = {
///             let mask = ::puffs::__private::VfsopMask::empty();
///             mask
///         };
///
///         #[allow(unreachable_patterns, unused_variables)]
///         fn dispatch(&self, op: ::puffs::__private::Op<'_>, ctx: &::puffs::Context<'_>) -> ::puffs::__private::Outcome {
///             match op {
///                 ::puffs::__private::Op::Lookup { dir, name } => ::core::convert::From::from(
///                     <Self as ::puffs::FileSystem>::node_lookup(self, dir, name, ctx),
///                 ),
///                 #[cfg(any())]
///                 ::puffs::__private::Op::Getattr { node } => ::core::convert::From::from(
///                     <Self as ::puffs::FileSystem>::node_getattr(self, node, ctx),
///                 ),
///                 absent => absent.absent(),
///             }
///         }
///     }
/// };
/// # assert_eq!(vnop_mask::<Fs>(), VnopMask::LOOKUP);
/// ```
///
/// `Dispatch` is not public API: write the attribute rather than this impl. Without either,
/// `impl FileSystem for Fs` does not compile, since a file system's masks must be known.
///
/// # Declaring the masks
///
/// The attribute may state the masks the block is meant to have, as lists of operation names
/// without their `node_` or `fs_` prefix:
///
/// ```
/// # use std::ffi::OsStr;
/// # use puffs::{puffs_fs, Cookie, Context, Errno, FileSystem, NewNode, Result, StatVfs, Vattr, Vtype};
/// # struct Fs;
/// #[puffs_fs(vnops(lookup, getattr), vfsops(statvfs))]
/// impl FileSystem for Fs {
///     fn node_lookup(&self, _dir: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
///         Err(Errno::ENOENT)
///     }
///     fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
///         Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
///     }
///     fn fs_statvfs(&self, _ctx: &Context<'_>) -> Result<StatVfs> {
///         Ok(StatVfs::default())
///     }
/// }
/// ```
///
/// A list given must name exactly the operations the block defines, in any order: a declared
/// operation without its method, or a method missing from the list, is an error. A list left out
/// is not checked; `vnops()` declares that the block defines no vnop.
///
/// # A lower layer
///
/// `lower = field` makes the block a layer over the file system in `field` (a field name, or a
/// tuple index): the block defines the operations it changes, and every other request goes to
/// the lower file system, whose operations join the masks. This is how an overlay overrides
/// one or two operations of a pass-through file system (libpuffs's `puffs_null_setops`
/// followed by assignments to some of the `pops`), and layers stack.
///
/// ```
/// # use std::ffi::OsStr;
/// # use puffs::{puffs_fs, vnop_mask, Cookie, Context, Errno, FileSystem, NewNode, Result, Vattr, VnopMask, Vtype};
/// struct Lower;
///
/// #[puffs_fs]
/// impl FileSystem for Lower {
///     fn node_lookup(&self, _dir: Cookie, _name: &OsStr, _ctx: &Context<'_>) -> Result<NewNode> {
///         Err(Errno::ENOENT)
///     }
///     fn node_getattr(&self, node: Cookie, _ctx: &Context<'_>) -> Result<Vattr> {
///         Ok(Vattr::new(Vtype::Dir, 0o755, node.0))
///     }
/// }
///
/// /// `Lower`, with names that start with a dot hidden.
/// struct NoDots {
///     lower: Lower,
/// }
///
/// #[puffs_fs(lower = lower)]
/// impl FileSystem for NoDots {
///     fn node_lookup(&self, dir: Cookie, name: &OsStr, ctx: &Context<'_>) -> Result<NewNode> {
///         if name.as_encoded_bytes().starts_with(b".") {
///             return Err(Errno::ENOENT);
///         }
///         self.lower.node_lookup(dir, name, ctx)
///     }
/// }
///
/// assert_eq!(vnop_mask::<NoDots>(), VnopMask::LOOKUP | VnopMask::GETATTR);
/// ```
///
/// The generated dispatch ends in `lower => lower_dispatch(&self.lower, lower, ctx)` instead of
/// the framework's answer, and each mask is the union of the block's and the lower layer's. A
/// declared list (`vnops(...)`) still names the block's own methods only.
///
/// # Errors
///
/// All in one compile, each at the token at fault:
///
/// - the attribute on anything but an `impl FileSystem for T` block;
/// - arguments other than `vnops(...)`, `vfsops(...)` and `lower = field`, an unknown or
///   repeated name in them, and a declared list that disagrees with the methods;
/// - a `lower` field the type does not have (rustc's error, with the similar name), or whose
///   type is not a file system with `#[puffs_fs]`;
/// - an `async fn`: puffs operations are synchronous;
/// - an associated `const` or `type` in the block, such as a hand-written `VNOPS`;
/// - a macro invocation in the block, whose methods the attribute cannot see;
/// - a `cfg` applied to an operation through `cfg_attr`, which the macro cannot carry onto the
///   mask: write `#[cfg(...)]` instead.
///
/// With errors, the block is still emitted unchanged, so that rustc and the IDE see it as written.
#[proc_macro_attribute]
pub fn puffs_fs(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    expand::puffs_fs(args.into(), item.clone()).unwrap_or_else(|error| expand::fallback(item, error)).into()
}

/// The mask flags of `puffs`, from the table of operations: `vnop => #[attrs] pub struct
/// VnopMask: u32;`. Not public API: only `puffs` invokes it.
#[doc(hidden)]
#[proc_macro]
pub fn __operation_flags(input: TokenStream) -> TokenStream {
    match syn::parse::<table::FlagsDecl>(input) {
        Ok(decl) => table::flags(decl).into(),
        Err(error) => error.into_compile_error().into(),
    }
}

/// The request enum of `puffs`, from the table of operations: `#[attrs] pub enum Op<'a>;`.
/// Not public API: only `puffs` invokes it.
#[doc(hidden)]
#[proc_macro]
pub fn __operation_requests(input: TokenStream) -> TokenStream {
    match syn::parse::<table::RequestsDecl>(input).and_then(table::requests) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.into_compile_error().into(),
    }
}

/// `Op::absent` of `puffs`, from the table of operations, and the check that every method of
/// `FileSystem` matches its row. Not public API: only `puffs` invokes it.
#[doc(hidden)]
#[proc_macro]
pub fn __operation_absent(input: TokenStream) -> TokenStream {
    match syn::parse::<table::AbsentDecl>(input).and_then(table::absent) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.into_compile_error().into(),
    }
}

/// The answer to each absent operation, as a Markdown table in a string literal, for
/// `#[doc = …]` in `puffs`. Not public API: only `puffs` invokes it.
#[doc(hidden)]
#[proc_macro]
pub fn __operation_absent_table(_input: TokenStream) -> TokenStream {
    match table::absent_table() {
        Ok(table) => quote::quote!(#table).into(),
        Err(error) => error.into_compile_error().into(),
    }
}
