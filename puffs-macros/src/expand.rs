//! The expansion: the user's impl unchanged, then the `Dispatch` impl holding the masks and the
//! dispatch to the methods present.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{ImplItem, Item};

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
    let derived = errors.finish(fs)?.map(|fs| derived_ops(&fs, attr.lower.as_ref()));
    Ok(quote!(#item #derived))
}

/// The output for `item` when [`puffs_fs`] failed: the item and the errors, with the
/// `Dispatch` impl when the item is an `impl FileSystem for T`, so that rustc reports nothing
/// that follows from the macro's errors (such as a missing `Dispatch` supertrait impl).
///
/// The impl is emitted as written but for what the macro already rejected: associated consts and
/// types, and `async`. rustc would only repeat those errors in its own words.
pub(crate) fn fallback(item: TokenStream, error: syn::Error) -> TokenStream {
    let parsed = syn::parse2::<Item>(item.clone()).ok();
    let derived = parsed.as_ref().and_then(|parsed| FsImpl::from_item(parsed).ok()).map(|fs| derived_ops(&fs, None));
    let item = match (parsed, &derived) {
        (Some(Item::Impl(block)), Some(_)) => without_rejected(block).into_token_stream(),
        _ => item,
    };
    let error = error.into_compile_error();
    quote!(#item #derived #error)
}

/// `block` without the members the macro reports as errors.
fn without_rejected(mut block: syn::ItemImpl) -> syn::ItemImpl {
    block.items.retain_mut(|member| match member {
        ImplItem::Const(constant) => constant.ident == crate::ast::POSIX_ACL,
        ImplItem::Type(_) => false,
        ImplItem::Fn(method) => {
            method.sig.asyncness = None;
            true
        }
        _ => true,
    });
    block
}

/// The `Dispatch` impl of the block's self type, under the block's generics: the masks, and the
/// dispatch with one arm per operation the block defines. With a `lower` field, the masks add
/// the lower file system's, and what the block does not define goes to it.
fn derived_ops(fs: &FsImpl<'_>, lower: Option<&syn::Member>) -> TokenStream {
    let (impl_generics, _, where_clause) = fs.item.generics.split_for_impl();
    let self_ty = &fs.item.self_ty;
    let mut vnops = mask(fs, Kind::Vnop);
    let mut vfsops = mask(fs, Kind::Vfsop);
    let mut rest = quote!(absent => absent.absent(),);
    if let Some(lower) = lower {
        let span = lower.span();
        let masks = quote_spanned!(span=> ::puffs::__private::lower_masks(|fs: &Self| &fs.#lower));
        vnops = quote!(#vnops.union(#masks.0));
        vfsops = quote!(#vfsops.union(#masks.1));
        rest = quote_spanned!(span=> lower => ::puffs::__private::lower_dispatch(&self.#lower, lower, ctx),);
    }
    let arms = fs.ops().map(|(method, op)| {
        let cfgs = &method.cfgs;
        let variant = format_ident!("{}", op.variant);
        let name = format_ident!("{}", op.method);
        let fields: Vec<_> = op.args.iter().map(|(field, _)| format_ident!("{}", field)).collect();
        let ctx = op.cred.then(|| quote!(ctx));
        quote! {
            #(#[#cfgs])*
            ::puffs::__private::Op::#variant { #(#fields),* } => ::core::convert::From::from(
                <Self as ::puffs::FileSystem>::#name(self, #(#fields,)* #ctx)
            ),
        }
    });
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics ::puffs::__private::Dispatch for #self_ty #where_clause {
                const VNOPS: ::puffs::__private::VnopMask = #vnops;
                const VFSOPS: ::puffs::__private::VfsopMask = #vfsops;

                #[allow(unreachable_patterns, unused_variables)]
                fn dispatch(
                    &self,
                    op: ::puffs::__private::Op<'_>,
                    ctx: &::puffs::Context<'_>,
                ) -> ::puffs::__private::Outcome {
                    match op {
                        #(#arms)*
                        #rest
                    }
                }
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
