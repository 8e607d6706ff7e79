//! The expansion: the user's impl unchanged, then the `DerivedOps` impl holding the masks.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Item;

use crate::ast::FsImpl;
use crate::attr::Attr;
use crate::check::{self, Errors};
use crate::vnop::Kind;

/// `#[puffs_fs(args)] item`: parses, checks and expands, or gives every error found.
pub(crate) fn puffs_fs(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let attr = errors.ok(syn::parse2::<Attr>(args)).unwrap_or_default();
    let parsed = errors.ok(syn::parse2::<Item>(item.clone()));
    let fs = parsed.as_ref().and_then(|parsed| errors.ok(FsImpl::from_item(parsed)));
    if let Some(fs) = &fs {
        check::check(&attr, fs, &mut errors);
    }
    let derived = errors.finish(fs)?.map(|fs| derived_ops(&fs));
    Ok(quote!(#item #derived))
}

/// The output for `item` when [`puffs_fs`] failed: the item unchanged and the errors, with the
/// `DerivedOps` impl when the item is an `impl FileSystem for T`, so that rustc reports nothing
/// that follows from the macro's errors (such as a missing `DerivedOps` supertrait impl).
pub(crate) fn fallback(item: TokenStream, error: syn::Error) -> TokenStream {
    let parsed = syn::parse2::<Item>(item.clone()).ok();
    let derived = parsed.as_ref().and_then(|parsed| FsImpl::from_item(parsed).ok()).map(|fs| derived_ops(&fs));
    let error = error.into_compile_error();
    quote!(#item #derived #error)
}

/// The `DerivedOps` impl of the block's self type, under the block's generics.
fn derived_ops(fs: &FsImpl<'_>) -> TokenStream {
    let (impl_generics, _, where_clause) = fs.item.generics.split_for_impl();
    let self_ty = &fs.item.self_ty;
    let vnops = mask(fs, Kind::Vnop);
    let vfsops = mask(fs, Kind::Vfsop);
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics ::puffs::__private::DerivedOps for #self_ty #where_clause {
                const VNOPS: ::puffs::__private::VnopMask = #vnops;
                const VFSOPS: ::puffs::__private::VfsopMask = #vfsops;
            }
        };
    }
}

/// The union of the flags of the block's operations of `kind`, each under its method's `cfg`s.
fn mask(fs: &FsImpl<'_>, kind: Kind) -> TokenStream {
    let ty = format_ident!("{}", kind.mask_type());
    let bits = fs.ops().filter(|(_, op)| op.kind == kind).map(|(method, op)| {
        let cfgs = &method.cfgs;
        let flag = format_ident!("{}", op.flag);
        quote!(#(#[#cfgs])* let mask = mask.union(::puffs::__private::#ty::#flag);)
    });
    quote!({
        let mask = ::puffs::__private::#ty::empty();
        #(#bits)*
        mask
    })
}

#[cfg(test)]
mod tests;
