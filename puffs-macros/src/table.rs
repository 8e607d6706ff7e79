//! The items of `puffs` generated from the table of operations: the mask flags, the typed
//! request enum, and the answer to absent operations with the check that holds the trait to the
//! table. Only `puffs` itself invokes these hidden macros, each once; the items' own docs and
//! derives are written there and carried through.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Ident, Token, Type, Visibility};

use crate::vnop::{Absent, Kind, Op, Returns};

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

/// `#[attrs]`: the docs of `Op::absent`, to which the generated table of answers is added.
pub(crate) struct AbsentDecl {
    attrs: Vec<Attribute>,
}

impl Parse for AbsentDecl {
    fn parse(input: ParseStream<'_>) -> syn::Result<AbsentDecl> {
        Ok(AbsentDecl { attrs: input.call(Attribute::parse_outer)? })
    }
}

/// `Op::absent`, one arm per row answering the row's absent answer as an `Outcome`, and a
/// function that never runs but does not compile unless every method of `FileSystem` has the
/// row's arguments and answer.
pub(crate) fn absent(decl: AbsentDecl) -> syn::Result<TokenStream> {
    let AbsentDecl { attrs } = decl;
    let table = absent_table()?;
    let mut arms = Vec::new();
    let mut checks = Vec::new();
    for op in Op::all() {
        let variant = format_ident!("{}", op.variant);
        let method = format_ident!("{}", op.method);
        let answer = match (op.returns, op.absent) {
            (Returns::Nothing, _) => quote!(()),
            (Returns::Result(ty), Absent::Default) => {
                let ty: Type = syn::parse_str(ty)?;
                quote!(::core::result::Result::Ok::<#ty, Errno>(<#ty as ::core::default::Default>::default()))
            }
            (Returns::Result(ty), Absent::Enosys) => {
                let ty: Type = syn::parse_str(ty)?;
                quote!(::core::result::Result::Err::<#ty, Errno>(Errno::ENOSYS))
            }
        };
        arms.push(quote!(Op::#variant { .. } => ::core::convert::From::from(#answer)));
        let args = op.args.iter().map(|(_, ty)| syn::parse_str::<Type>(ty)).collect::<syn::Result<Vec<_>>>()?;
        let ctx = op.cred.then(|| quote!(&'a crate::Context<'a>));
        let returns = match op.returns {
            Returns::Nothing => quote!(()),
            Returns::Result(ty) => {
                let ty: Type = syn::parse_str(ty)?;
                quote!(crate::Result<#ty>)
            }
        };
        checks.push(quote! {
            let _: for<'a> fn(&'a F, #(#args,)* #ctx) -> #returns = <F as crate::FileSystem>::#method;
        });
    }
    Ok(quote! {
        impl Op<'_> {
            #(#attrs)*
            #[doc = #table]
            pub fn absent(self) -> Outcome {
                match self {
                    #(#arms,)*
                }
            }
        }

        /// Does not compile unless each method of `FileSystem` takes the arguments and gives
        /// the answer of its row in the table of operations. Never called.
        #[allow(dead_code)]
        fn methods_match_the_table<F: crate::FileSystem>() {
            #(#checks)*
        }
    })
}

/// The answer to each absent operation as a Markdown table, for the docs of `Op::absent` and of
/// `FileSystem`.
pub(crate) fn absent_table() -> syn::Result<String> {
    let mut table = String::from("\n\n| operation | answer when absent |\n|---|---|\n");
    for op in Op::all() {
        let text = match (op.returns, op.absent) {
            (Returns::Nothing, _) => "nothing to do".to_string(),
            (Returns::Result(ty), Absent::Default) => {
                let ty: Type = syn::parse_str(ty)?;
                if ty == syn::parse_quote!(()) {
                    "`Ok(())`".to_string()
                } else {
                    let ty = quote!(#ty).to_string().replace(' ', "");
                    format!("`Ok({}::default())`", ty.trim_start_matches("crate::"))
                }
            }
            (Returns::Result(_), Absent::Enosys) => "`ENOSYS`".to_string(),
        };
        table.push_str(&format!("| `{}` | {text} |\n", op.method));
    }
    Ok(table)
}
