//! The checks of the impl and of the declared masks: every misuse the macro reports, collected.

use proc_macro2::Ident;

use crate::ast::{FsImpl, Member};
use crate::attr::{Attr, Declared};
use crate::vnop::{Kind, Op};

/// The errors found so far, combined into one so that a compile reports them all.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// The value of `result`, or `None` with its error kept.
    pub(crate) fn ok<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|error| self.push(error)).ok()
    }

    /// `value` if no error was found.
    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        self.0.map_or(Ok(value), Err)
    }
}

/// Checks the impl and the declared masks against each other, pushing every error.
pub(crate) fn check(attr: &Attr, fs: &FsImpl<'_>, errors: &mut Errors) {
    let declared: Vec<(Kind, Option<Vec<&Op>>)> =
        attr.declared().map(|declared| (declared.kind, check_declared(declared, fs, errors))).collect();

    for member in &fs.members {
        let method = match member {
            Member::Method(method) => method,
            Member::PosixAcl(constant) => {
                check_posix_acl(constant, fs, errors);
                continue;
            }
            Member::Assoc(name) => {
                errors.push(syn::Error::new(name.span(), assoc_message(name)));
                continue;
            }
            Member::Macro(path) => {
                let message = "`#[puffs_fs]` cannot see the operations a macro defines; \
                               write the methods in the block";
                errors.push(syn::Error::new_spanned(path, message));
                continue;
            }
        };
        if let Some(asyncness) = method.asyncness {
            errors.push(syn::Error::new(asyncness.span, "puffs operations are synchronous; remove `async`"));
        }
        // Other names are rustc's to report: "method `node_lokup` is not a member of trait".
        let Some(op) = method.op else { continue };
        for attr in &method.hidden_cfgs {
            let message = format!(
                "`#[puffs_fs]` cannot carry a `cfg` applied by `cfg_attr` onto the {} mask; \
                 write it as `#[cfg(...)]` on the method",
                op.kind.noun()
            );
            errors.push(syn::Error::new_spanned(attr, message));
        }
        // A method defined twice is rustc's to report ("duplicate definitions", E0201).
        let undeclared = declared
            .iter()
            .any(|(kind, named)| *kind == op.kind && named.as_ref().is_some_and(|named| !named.contains(&op)));
        if undeclared {
            let list = op.kind.list();
            let message = format!("`{}` is implemented but missing from the declared `{list}(...)`", method.name);
            errors.push(syn::Error::new(method.name.span(), message));
        }
    }
}

/// Checks a declared list: known names, each once, each with its method. Answers the operations
/// the list accounts for, taking a misspelled name for the operation it suggests, or `None` if a
/// name is beyond guessing: methods missing from the list are then not reported, since the
/// user's intent is unknown.
fn check_declared(declared: &Declared, fs: &FsImpl<'_>, errors: &mut Errors) -> Option<Vec<&'static Op>> {
    let kind = declared.kind;
    let mut named = Vec::new();
    let mut beyond_guessing = false;
    let mut seen: Vec<&Op> = Vec::new();
    for name in &declared.names {
        let Some(op) = Op::by_name(kind, &name.to_string()) else {
            let guess = Guess::of(kind, &name.to_string());
            errors.push(syn::Error::new(name.span(), guess.message(kind, name)));
            match guess {
                Guess::This(op) => named.push(op),
                Guess::Other(_) => {}
                Guess::Nothing => beyond_guessing = true,
            }
            continue;
        };
        named.push(op);
        if seen.contains(&op) {
            let message = format!("duplicate {} `{name}` in `{}(...)`", kind.noun(), kind.list());
            errors.push(syn::Error::new(name.span(), message));
            continue;
        }
        seen.push(op);
        if !fs.ops().any(|(_, defined)| defined == op) {
            let message =
                format!("`{name}` is declared in `{}(...)` but the impl has no `{}` method", kind.list(), op.method);
            errors.push(syn::Error::new(name.span(), message));
        }
    }
    (!beyond_guessing).then_some(named)
}

fn assoc_message(name: &Ident) -> String {
    match Kind::ALL.into_iter().find(|kind| name == kind.mask_const()) {
        Some(kind) => format!("the {} mask is derived by `#[puffs_fs]` from the methods; remove `{name}`", kind.noun()),
        None => format!(
            "`FileSystem` has no associated consts or types besides `POSIX_ACL`, only operations; remove `{name}`"
        ),
    }
}

/// The operations the framework needs of a file system that says `POSIX_ACL = true`: it stores
/// the ACLs as extended attributes and sets the mode they imply.
const POSIX_ACL_METHODS: [&str; 5] =
    ["node_getattr", "node_setattr", "node_getextattr", "node_setextattr", "node_deleteextattr"];

/// `const POSIX_ACL: bool = true;` needs the operations that store ACLs: the missing ones are
/// named at the const. A value that is not a literal is the compiler's to evaluate, and the
/// framework's to refuse at run time.
fn check_posix_acl(constant: &syn::ImplItemConst, fs: &FsImpl<'_>, errors: &mut Errors) {
    let syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Bool(value), .. }) = &constant.expr else { return };
    if !value.value {
        return;
    }
    let missing: Vec<&str> =
        POSIX_ACL_METHODS.into_iter().filter(|wanted| !fs.methods().any(|m| m.name == wanted)).collect();
    if !missing.is_empty() {
        let list = missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ");
        let message = format!("`POSIX_ACL = true` needs the operations that store ACLs; implement {list}");
        errors.push(syn::Error::new_spanned(&constant.ident, message));
    }
}

/// What a name of no operation in a declared list of `kind` was probably meant to be.
enum Guess {
    /// An operation of the list's kind: `lokup` or `node_lookup` for `lookup`.
    This(&'static Op),
    /// An operation of the other kind: `statvfs` in `vnops(...)`.
    Other(&'static Op),
    Nothing,
}

impl Guess {
    fn of(kind: Kind, name: &str) -> Guess {
        if let Some(op) = name.strip_prefix(kind.prefix()).and_then(|short| Op::by_name(kind, short)) {
            return Guess::This(op);
        }
        for other in Kind::ALL.into_iter().filter(|&other| other != kind) {
            let short = name.strip_prefix(other.prefix()).unwrap_or(name);
            if let Some(op) = Op::by_name(other, short) {
                return Guess::Other(op);
            }
        }
        // The closest name, if it is close enough (rustc's rule for suggestions).
        let closest = kind.ops().map(|op| (edit_distance(name, op.name()), op)).min_by_key(|&(distance, _)| distance);
        match closest {
            Some((distance, op)) if distance <= name.chars().count().max(3) / 3 => Guess::This(op),
            _ => Guess::Nothing,
        }
    }

    /// The message for `name`: the intended name if it is clear, otherwise the accepted names.
    fn message(&self, kind: Kind, name: &Ident) -> String {
        let noun = kind.noun();
        match self {
            Guess::This(op) => format!("unknown {noun} `{name}`; did you mean `{}`?", op.name()),
            Guess::Other(op) => {
                let other = op.kind;
                format!("`{}` is a {}, not a {noun}; name it in `{}(...)`", op.name(), other.noun(), other.list())
            }
            Guess::Nothing => {
                let names: Vec<String> = kind.ops().map(|op| format!("`{}`", op.name())).collect();
                format!("unknown {noun} `{name}`; the {} are {}", kind.list(), names.join(", "))
            }
        }
    }
}

/// The edit distance between `a` and `b` in characters: insertions, deletions, substitutions and
/// swaps of neighbours (optimal string alignment, as rustc's suggestions count).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // d[i][j]: the distance between the first i characters of a and the first j of b.
    let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let substitution = d[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = substitution.min(d[i - 1][j] + 1).min(d[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::edit_distance;

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("lookup", "lookup"), 0);
        assert_eq!(edit_distance("lokup", "lookup"), 1);
        assert_eq!(edit_distance("raed", "read"), 1);
        assert_eq!(edit_distance("", "sync"), 4);
        assert_eq!(edit_distance("getatr", "setattr"), 2);
    }
}
