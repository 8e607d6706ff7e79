//! The one table of operations `#[puffs_fs]` knows: method of `FileSystem`, mask and flag.
//!
//! It mirrors `puffs/src/ops.rs` (the trait's methods and the `VnopMask` and `VfsopMask` flags);
//! the test at the bottom checks that it does.

/// The mask an operation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// A vnode operation, `node_*`, in `VnopMask`.
    Vnop,
    /// A file-system operation, `fs_*`, in `VfsopMask`.
    Vfsop,
}

impl Kind {
    /// Both kinds, in the order the masks are emitted.
    pub(crate) const ALL: [Kind; 2] = [Kind::Vnop, Kind::Vfsop];

    /// What the methods of this kind are named with: `node_`, `fs_`.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Kind::Vnop => "node_",
            Kind::Vfsop => "fs_",
        }
    }

    /// The word for one operation in messages: `vnop`, `vfsop`.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Kind::Vnop => "vnop",
            Kind::Vfsop => "vfsop",
        }
    }

    /// The attribute's list of this kind, which is also the plural noun: `vnops`, `vfsops`.
    pub(crate) fn list(self) -> &'static str {
        match self {
            Kind::Vnop => "vnops",
            Kind::Vfsop => "vfsops",
        }
    }

    /// The mask type in `puffs::__private`.
    pub(crate) fn mask_type(self) -> &'static str {
        match self {
            Kind::Vnop => "VnopMask",
            Kind::Vfsop => "VfsopMask",
        }
    }

    /// The mask constant of `DerivedOps`.
    pub(crate) fn mask_const(self) -> &'static str {
        match self {
            Kind::Vnop => "VNOPS",
            Kind::Vfsop => "VFSOPS",
        }
    }

    /// The operations of this kind.
    pub(crate) fn ops(self) -> impl Iterator<Item = &'static Op> {
        OPS.iter().filter(move |op| op.kind == self)
    }
}

/// One operation: a method of `FileSystem` and the flag it sets.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Op {
    pub(crate) kind: Kind,
    /// The method of `FileSystem`: `node_lookup`.
    pub(crate) method: &'static str,
    /// The flag of the kind's mask: `LOOKUP`.
    pub(crate) flag: &'static str,
}

impl Op {
    /// The name in the attribute's lists: the method without its prefix, `lookup`.
    pub(crate) fn name(&self) -> &'static str {
        &self.method[self.kind.prefix().len()..]
    }

    /// The operation implemented by the method `method`, if it is one.
    pub(crate) fn by_method(method: &str) -> Option<&'static Op> {
        OPS.iter().find(|op| op.method == method)
    }

    /// The operation of kind `kind` named `name` in the attribute's lists.
    pub(crate) fn by_name(kind: Kind, name: &str) -> Option<&'static Op> {
        kind.ops().find(|op| op.name() == name)
    }
}

const fn vnop(method: &'static str, flag: &'static str) -> Op {
    Op { kind: Kind::Vnop, method, flag }
}

const fn vfsop(method: &'static str, flag: &'static str) -> Op {
    Op { kind: Kind::Vfsop, method, flag }
}

/// Every operation, in the order of the flags' bits.
const OPS: &[Op] = &[
    vnop("node_lookup", "LOOKUP"),
    vnop("node_getattr", "GETATTR"),
    vnop("node_setattr", "SETATTR"),
    vnop("node_create", "CREATE"),
    vnop("node_mknod", "MKNOD"),
    vnop("node_open", "OPEN"),
    vnop("node_close", "CLOSE"),
    vnop("node_access", "ACCESS"),
    vnop("node_read", "READ"),
    vnop("node_write", "WRITE"),
    vnop("node_readdir", "READDIR"),
    vnop("node_readlink", "READLINK"),
    vnop("node_symlink", "SYMLINK"),
    vnop("node_mkdir", "MKDIR"),
    vnop("node_rmdir", "RMDIR"),
    vnop("node_remove", "REMOVE"),
    vnop("node_link", "LINK"),
    vnop("node_rename", "RENAME"),
    vnop("node_fsync", "FSYNC"),
    vnop("node_inactive", "INACTIVE"),
    vnop("node_reclaim", "RECLAIM"),
    vnop("node_getextattr", "GETEXTATTR"),
    vnop("node_setextattr", "SETEXTATTR"),
    vnop("node_listextattr", "LISTEXTATTR"),
    vnop("node_deleteextattr", "DELETEEXTATTR"),
    vfsop("fs_mounted", "MOUNTED"),
    vfsop("fs_statvfs", "STATVFS"),
    vfsop("fs_sync", "SYNC"),
    vfsop("fs_unmount", "UNMOUNT"),
    vfsop("fs_suspend", "SUSPEND"),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proc_macro2::TokenTree;

    use super::{Kind, Op, OPS};

    #[test]
    fn every_op_is_named_after_its_kind_once() {
        let mut methods = BTreeSet::new();
        for op in OPS {
            assert!(op.method.starts_with(op.kind.prefix()), "{op:?}");
            assert!(methods.insert(op.method), "{op:?} twice");
            assert_eq!(Op::by_method(op.method), Some(op));
            assert_eq!(Op::by_name(op.kind, op.name()), Some(op));
        }
    }

    /// The table against the source of `puffs`: the methods of `trait FileSystem`, and each flag
    /// of the masks with the method its doc comment names first.
    #[test]
    fn the_table_mirrors_puffs_ops_rs() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../puffs/src/ops.rs");
        let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let file = syn::parse_file(&source).unwrap();

        let trait_methods: BTreeSet<String> = file
            .items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Trait(t) if t.ident == "FileSystem" => Some(t),
                _ => None,
            })
            .flat_map(|t| &t.items)
            .filter_map(|item| match item {
                syn::TraitItem::Fn(f) => Some(f.sig.ident.to_string()),
                _ => None,
            })
            .collect();
        let table_methods: BTreeSet<String> = OPS.iter().map(|op| op.method.to_owned()).collect();
        assert_eq!(trait_methods, table_methods);

        // `bitflags! { ... pub struct VnopMask: u32 { /// `node_lookup` (...) const LOOKUP = ...; } }`
        let mut flags = BTreeSet::new();
        for item in &file.items {
            let syn::Item::Macro(mac) = item else {
                continue;
            };
            let tokens: Vec<TokenTree> = mac.mac.tokens.clone().into_iter().collect();
            let Some(kind) = Kind::ALL
                .into_iter()
                .find(|kind| tokens.iter().any(|t| matches!(t, TokenTree::Ident(i) if i == kind.mask_type())))
            else {
                continue;
            };
            let Some(TokenTree::Group(body)) = tokens.last() else { panic!("{}", kind.mask_type()) };
            let body: Vec<TokenTree> = body.stream().into_iter().collect();
            let mut doc = String::new();
            for pair in body.windows(2) {
                match pair {
                    [TokenTree::Punct(p), TokenTree::Group(attr)] if p.as_char() == '#' => doc = attr.to_string(),
                    [TokenTree::Ident(c), TokenTree::Ident(flag)] if c == "const" => {
                        let method = doc.split('`').nth(1).unwrap_or_else(|| panic!("{flag}: {doc}"));
                        flags.insert((kind, method.to_owned(), flag.to_string()));
                    }
                    _ => {}
                }
            }
        }
        let table_flags: BTreeSet<_> =
            OPS.iter().map(|op| (op.kind, op.method.to_owned(), op.flag.to_owned())).collect();
        assert_eq!(flags, table_flags);
    }
}
