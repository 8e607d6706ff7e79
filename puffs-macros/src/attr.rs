//! The arguments of `#[puffs_fs(...)]`: the masks the user declares, if any, and the field
//! holding the file system that answers what the block does not define.

use proc_macro2::Ident;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{token, Token};

use crate::vnop::Kind;

/// The accepted form of the arguments, for messages.
const FORM: &str = "`#[puffs_fs]` takes no arguments, or the lists `vnops(...)` and `vfsops(...)` and \
                    `lower = field`, like `#[puffs_fs(vnops(lookup, getattr, read), vfsops(statvfs))]` \
                    or `#[puffs_fs(lower = null)]`";

/// The parsed arguments: one optional declared list per kind.
#[derive(Default)]
pub(crate) struct Attr {
    pub(crate) vnops: Option<Declared>,
    pub(crate) vfsops: Option<Declared>,
    /// `lower = field`: the field (a name, or a tuple index) holding the file system every
    /// operation the block does not define goes to.
    pub(crate) lower: Option<syn::Member>,
}

/// A declared list, `vnops(lookup, read)`: the names as written, not yet checked.
pub(crate) struct Declared {
    pub(crate) kind: Kind,
    pub(crate) names: Vec<Ident>,
}

impl Attr {
    /// The lists given, vnops first.
    pub(crate) fn declared(&self) -> impl Iterator<Item = &Declared> {
        self.vnops.iter().chain(&self.vfsops)
    }

    fn slot(&mut self, kind: Kind) -> &mut Option<Declared> {
        match kind {
            Kind::Vnop => &mut self.vnops,
            Kind::Vfsop => &mut self.vfsops,
        }
    }
}

impl Parse for Attr {
    fn parse(input: ParseStream<'_>) -> syn::Result<Attr> {
        let mut attr = Attr::default();
        while !input.is_empty() {
            if !input.peek(Ident::peek_any) {
                return Err(input.error(FORM));
            }
            let key = input.call(Ident::parse_any)?;
            if key == "lower" {
                if attr.lower.is_some() {
                    return Err(syn::Error::new(key.span(), "duplicate `lower = ...`; a block has one lower layer"));
                }
                if !input.peek(Token![=]) {
                    return Err(syn::Error::new(key.span(), format!("expected `= field` after `lower`; {FORM}")));
                }
                input.parse::<Token![=]>()?;
                attr.lower = Some(input.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "expected the name or index of a field after `lower =`, like `lower = null`",
                    )
                })?);
                if !input.is_empty() && !input.peek(Token![,]) {
                    return Err(input.error(format!("expected `,` between the arguments; {FORM}")));
                }
                input.parse::<Option<Token![,]>>()?;
                continue;
            }
            let Some(kind) = Kind::ALL.into_iter().find(|kind| key == kind.list()) else {
                return Err(syn::Error::new(key.span(), format!("unknown argument `{key}`; {FORM}")));
            };
            if !input.peek(token::Paren) {
                let message = format!("expected a list of {} after `{key}`; {FORM}", kind.list());
                return Err(syn::Error::new(key.span(), message));
            }
            if attr.slot(kind).is_some() {
                let message = format!("duplicate `{key}(...)`; name every {} in one `{key}(...)`", kind.noun());
                return Err(syn::Error::new(key.span(), message));
            }
            let content;
            syn::parenthesized!(content in input);
            let names = parse_names(&content, kind)?;
            *attr.slot(kind) = Some(Declared { kind, names });

            if !input.is_empty() && !input.peek(Token![,]) {
                return Err(input.error(format!("expected `,` between the lists; {FORM}")));
            }
            input.parse::<Option<Token![,]>>()?;
        }
        Ok(attr)
    }
}

/// The inside of `vnops(...)`: names separated by commas, a trailing comma allowed.
fn parse_names(input: ParseStream<'_>, kind: Kind) -> syn::Result<Vec<Ident>> {
    let mut names = Vec::new();
    while !input.is_empty() {
        if !input.peek(Ident::peek_any) {
            let example = kind.ops().next().map_or("", |op| op.name());
            return Err(input.error(format!("expected a {} name, like `{example}`", kind.noun())));
        }
        names.push(input.call(Ident::parse_any)?);
        if !input.is_empty() && !input.peek(Token![,]) {
            return Err(input.error(format!("expected `,` between {} names", kind.noun())));
        }
        input.parse::<Option<Token![,]>>()?;
    }
    Ok(names)
}
