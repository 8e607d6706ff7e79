//! The typed model of the `impl FileSystem for T` block, borrowing the user's tokens.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::{Attribute, ImplItem, Item, ItemImpl, Meta, Path, Token};

use crate::vnop::Op;

/// What the attribute is for, named in the messages about the item it is on.
const WHERE: &str = "`#[puffs_fs]` goes on an `impl FileSystem for T` block";

/// An `impl FileSystem for T` block.
pub(crate) struct FsImpl<'a> {
    pub(crate) item: &'a ItemImpl,
    /// The items of the block that matter to the macro, in source order.
    pub(crate) members: Vec<Member<'a>>,
}

/// The name of `FileSystem`'s associated const.
pub(crate) const POSIX_ACL: &str = "POSIX_ACL";

/// An item of the block.
pub(crate) enum Member<'a> {
    Method(Method<'a>),
    /// `const POSIX_ACL: bool = …;`, the one associated item `FileSystem` has.
    PosixAcl(&'a syn::ImplItemConst),
    /// Any other associated const or type, which `FileSystem` does not have.
    Assoc(&'a Ident),
    /// A macro invocation, whose methods the attribute cannot see.
    Macro(&'a Path),
}

/// A method of the block.
pub(crate) struct Method<'a> {
    pub(crate) name: &'a Ident,
    /// The operation the method implements; `None` for a name outside the table, which rustc
    /// reports as not a member of the trait.
    pub(crate) op: Option<&'static Op>,
    pub(crate) asyncness: Option<&'a Token![async]>,
    /// The `#[cfg(...)]` attributes, carried onto the operation's flag.
    pub(crate) cfgs: Vec<&'a Meta>,
    /// The `#[cfg_attr(..., cfg(...))]` attributes, whose `cfg` the macro cannot carry.
    pub(crate) hidden_cfgs: Vec<&'a Attribute>,
}

impl<'a> FsImpl<'a> {
    /// The model of `item`, or the error that it is not an `impl FileSystem for T` block.
    pub(crate) fn from_item(item: &'a Item) -> syn::Result<FsImpl<'a>> {
        let Item::Impl(item) = item else {
            return Err(syn::Error::new(keyword_span(item), WHERE));
        };
        let Some((bang, path, _)) = &item.trait_ else {
            let message = format!("{WHERE}, not on an inherent impl");
            return Err(syn::Error::new(item.impl_token.span, message));
        };
        if path.segments.last().is_none_or(|segment| segment.ident != "FileSystem") {
            let message = format!("`#[puffs_fs]` implements `FileSystem`; this impl is of `{}`", path_name(path));
            return Err(syn::Error::new_spanned(path, message));
        }
        if let Some(bang) = bang {
            return Err(syn::Error::new(bang.span, format!("{WHERE}, not on a negative impl")));
        }

        let members = item
            .items
            .iter()
            .filter_map(|member| match member {
                ImplItem::Fn(method) => Some(Member::Method(Method {
                    name: &method.sig.ident,
                    op: Op::by_method(&method.sig.ident.to_string()),
                    asyncness: method.sig.asyncness.as_ref(),
                    cfgs: method
                        .attrs
                        .iter()
                        .filter(|attr| attr.path().is_ident("cfg"))
                        .map(|attr| &attr.meta)
                        .collect(),
                    hidden_cfgs: method.attrs.iter().filter(|attr| applies_cfg(attr)).collect(),
                })),
                ImplItem::Const(constant) if constant.ident == POSIX_ACL => Some(Member::PosixAcl(constant)),
                ImplItem::Const(constant) => Some(Member::Assoc(&constant.ident)),
                ImplItem::Type(ty) => Some(Member::Assoc(&ty.ident)),
                ImplItem::Macro(mac) => Some(Member::Macro(&mac.mac.path)),
                _ => None,
            })
            .collect();
        Ok(FsImpl { item, members })
    }

    /// The methods of the block.
    pub(crate) fn methods(&self) -> impl Iterator<Item = &Method<'a>> {
        self.members.iter().filter_map(|member| match member {
            Member::Method(method) => Some(method),
            Member::PosixAcl(_) | Member::Assoc(_) | Member::Macro(_) => None,
        })
    }

    /// The methods that implement an operation, with it.
    pub(crate) fn ops(&self) -> impl Iterator<Item = (&Method<'a>, &'static Op)> {
        self.methods().filter_map(|method| Some((method, method.op?)))
    }
}

/// The keyword of an item that is not an impl: `struct`, `fn`, ...
fn keyword_span(item: &Item) -> Span {
    match item {
        Item::Const(item) => item.const_token.span,
        Item::Enum(item) => item.enum_token.span,
        Item::ExternCrate(item) => item.extern_token.span,
        Item::Fn(item) => item.sig.fn_token.span,
        Item::ForeignMod(item) => item.abi.extern_token.span,
        Item::Macro(item) => item.mac.path.span(),
        Item::Mod(item) => item.mod_token.span,
        Item::Static(item) => item.static_token.span,
        Item::Struct(item) => item.struct_token.span,
        Item::Trait(item) => item.trait_token.span,
        Item::TraitAlias(item) => item.trait_token.span,
        Item::Type(item) => item.type_token.span,
        Item::Union(item) => item.union_token.span,
        Item::Use(item) => item.use_token.span,
        other => other.span(),
    }
}

/// `a::b::C` as written, without generic arguments.
fn path_name(path: &Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|segment| segment.ident.to_string()).collect();
    let leading = if path.leading_colon.is_some() { "::" } else { "" };
    format!("{leading}{}", segments.join("::"))
}

/// Whether `attr` is a `#[cfg_attr(predicate, ...)]` that applies a `cfg`, maybe through a nested
/// `cfg_attr`.
fn applies_cfg(attr: &Attribute) -> bool {
    match &attr.meta {
        Meta::List(list) if list.path.is_ident("cfg_attr") => cfg_attr_applies_cfg(list.tokens.clone()),
        _ => false,
    }
}

fn cfg_attr_applies_cfg(args: TokenStream) -> bool {
    let attrs: Vec<TokenTree> = args.into_iter().collect();
    let after_predicate = attrs.iter().position(|token| matches!(token, TokenTree::Punct(p) if p.as_char() == ','));
    attrs[after_predicate.unwrap_or(attrs.len())..].windows(2).any(|pair| match pair {
        [TokenTree::Ident(name), TokenTree::Group(_)] if name == "cfg" => true,
        [TokenTree::Ident(name), TokenTree::Group(args)] if name == "cfg_attr" => cfg_attr_applies_cfg(args.stream()),
        _ => false,
    })
}
