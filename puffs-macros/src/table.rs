//! The items of `puffs` generated from the table of operations: the mask flags and the typed
//! request enum. Only `puffs` itself invokes these hidden macros, each once; the items' own docs
//! and derives are written there and carried through.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Ident, Token, Type, Visibility};

use crate::vnop::{Kind, Op};

/// `kind => #[attrs] pub struct Name: u32;`: a mask of the operations of `kind`.
pub(crate) struct FlagsDecl {
    kind: Kind,
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    bits: Type,
}

impl Parse for FlagsDecl {
    fn parse(input: ParseStream<'_>) -> syn::Result<FlagsDecl> {
        let kind: Ident = input.parse()?;
        let kind = Kind::ALL
            .into_iter()
            .find(|k| kind == k.noun())
            .ok_or_else(|| syn::Error::new(kind.span(), "expected `vnop` or `vfsop`"))?;
        input.parse::<Token![=>]>()?;
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        input.parse::<Token![struct]>()?;
        let name = input.parse()?;
        input.parse::<Token![:]>()?;
        let bits = input.parse()?;
        input.parse::<Token![;]>()?;
        Ok(FlagsDecl { kind, attrs, vis, name, bits })
    }
}

/// The `bitflags!` type of the declaration: one flag per operation of its kind, documented with
/// its method and the FUSE requests it answers.
pub(crate) fn flags(decl: FlagsDecl) -> TokenStream {
    let FlagsDecl { kind, attrs, vis, name, bits } = decl;
    let flags = kind.ops().map(|op| {
        let doc = format!("`{}` (FUSE {}).", op.method, op.fuse);
        let flag = format_ident!("{}", op.flag);
        let bit = op.bit();
        quote!(#[doc = #doc] const #flag = 1 << #bit;)
    });
    quote! {
        ::bitflags::bitflags! {
            #(#attrs)*
            #vis struct #name: #bits {
                #(#flags)*
            }
        }
    }
}

/// `#[attrs] pub enum Name<'a>;`: the request enum.
pub(crate) struct RequestsDecl {
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    generics: syn::Generics,
}

impl Parse for RequestsDecl {
    fn parse(input: ParseStream<'_>) -> syn::Result<RequestsDecl> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        input.parse::<Token![enum]>()?;
        let name = input.parse()?;
        let generics = input.parse()?;
        input.parse::<Token![;]>()?;
        Ok(RequestsDecl { attrs, vis, name, generics })
    }
}

/// The enum of the declaration: a variant per operation, whose fields are the method's
/// arguments between `&self` and the credentials.
pub(crate) fn requests(decl: RequestsDecl) -> syn::Result<TokenStream> {
    let RequestsDecl { attrs, vis, name, generics } = decl;
    let variants = Op::all()
        .iter()
        .map(|op| {
            let variant = format_ident!("{}", op.variant);
            let doc = format!("`{}` (FUSE {}).", op.method, op.fuse);
            let fields = op
                .args
                .iter()
                .map(|(field, ty)| {
                    let field = format_ident!("{}", field);
                    let ty: Type = syn::parse_str(ty)?;
                    Ok(quote!(#[allow(missing_docs)] #field: #ty))
                })
                .collect::<syn::Result<Vec<_>>>()?;
            Ok(quote!(#[doc = #doc] #variant { #(#fields),* }))
        })
        .collect::<syn::Result<Vec<_>>>()?;
    Ok(quote! {
        #(#attrs)*
        #vis enum #name #generics {
            #(#variants),*
        }
    })
}
