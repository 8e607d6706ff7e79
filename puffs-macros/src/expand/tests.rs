//! `#[puffs_fs]` as the compiler calls it: what it derives, and what it reports where.

use proc_macro2::TokenStream;
use quote::quote;

use super::{fallback, puffs_fs};

/// The expansion of `#[puffs_fs(args)] item`, which must succeed.
fn expand(args: TokenStream, item: TokenStream) -> String {
    puffs_fs(args, item).unwrap_or_else(|error| panic!("unexpected error: {error}")).to_string()
}

/// The flags set in the derived mask of type `ty` (`VnopMask`, `VfsopMask`), in order.
fn flags(expansion: &str, ty: &str) -> Vec<String> {
    let path = format!(":: {ty} ::");
    expansion
        .split(&path)
        .skip(1)
        .map(|rest| rest.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect())
        .filter(|flag: &String| flag != "empty")
        .collect()
}

/// An error the macro reports: its message and the text of the source it points at.
#[derive(Debug, PartialEq)]
struct Reported {
    message: String,
    at: String,
    line: usize,
}

/// The errors of `#[puffs_fs(args)] item`, written as source text so that spans are known.
fn errors(args: &str, item: &str) -> Vec<Reported> {
    let Err(error) = puffs_fs(args.parse().unwrap(), item.parse().unwrap()) else {
        panic!("expected errors for `#[puffs_fs({args})] {item}`")
    };
    error
        .into_iter()
        .map(|error| Reported {
            message: error.to_string(),
            at: error.span().source_text().unwrap_or_default(),
            line: error.span().start().line,
        })
        .collect()
}

/// The one error of `#[puffs_fs(args)] item`: its message and the text it points at.
fn error(args: &str, item: &str) -> (String, String) {
    let mut errors = errors(args, item);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let error = errors.remove(0);
    (error.message, error.at)
}

fn reported(message: &str, at: &str) -> (String, String) {
    (message.to_owned(), at.to_owned())
}

// What it derives.

#[test]
fn the_masks_are_the_flags_of_the_methods_present() {
    let out = expand(
        quote!(),
        quote! {
            impl FileSystem for Fs {
                fn node_read(&self) {}
                fn helper(&self) {}
                fn fs_statvfs(&self) {}
                fn node_lookup(&self) {}
                fn fs_unmount(&self) {}
            }
        },
    );
    assert_eq!(flags(&out, "VnopMask"), ["READ", "LOOKUP"]);
    assert_eq!(flags(&out, "VfsopMask"), ["STATVFS", "UNMOUNT"]);
}

#[test]
fn every_operation_sets_its_flag() {
    let out = expand(
        quote!(),
        quote! {
            impl FileSystem for Fs {
                fn fs_mounted() {} fn fs_statvfs() {} fn fs_sync() {} fn fs_unmount() {} fn fs_suspend() {}
                fn node_lookup() {} fn node_getattr() {} fn node_setattr() {} fn node_create() {}
                fn node_mknod() {} fn node_open() {} fn node_close() {} fn node_access() {}
                fn node_read() {} fn node_write() {} fn node_readdir() {} fn node_readlink() {}
                fn node_symlink() {} fn node_mkdir() {} fn node_rmdir() {} fn node_remove() {}
                fn node_link() {} fn node_rename() {} fn node_fsync() {} fn node_inactive() {}
                fn node_reclaim() {} fn node_getextattr() {} fn node_setextattr() {}
                fn node_listextattr() {} fn node_deleteextattr() {}
            }
        },
    );
    let vnops = [
        "LOOKUP",
        "GETATTR",
        "SETATTR",
        "CREATE",
        "MKNOD",
        "OPEN",
        "CLOSE",
        "ACCESS",
        "READ",
        "WRITE",
        "READDIR",
        "READLINK",
        "SYMLINK",
        "MKDIR",
        "RMDIR",
        "REMOVE",
        "LINK",
        "RENAME",
        "FSYNC",
        "INACTIVE",
        "RECLAIM",
        "GETEXTATTR",
        "SETEXTATTR",
        "LISTEXTATTR",
        "DELETEEXTATTR",
    ];
    assert_eq!(flags(&out, "VnopMask"), vnops);
    assert_eq!(flags(&out, "VfsopMask"), ["MOUNTED", "STATVFS", "SYNC", "UNMOUNT", "SUSPEND"]);
}

#[test]
fn an_empty_impl_derives_empty_masks() {
    let out = expand(quote!(), quote!(impl FileSystem for Fs {}));
    assert!(flags(&out, "VnopMask").is_empty() && flags(&out, "VfsopMask").is_empty(), "{out}");
}

#[test]
fn the_expansion_is_the_impl_unchanged_then_the_derived_ops() {
    let item = quote! {
        impl<T: Clone> puffs::FileSystem for Fs<T>
        where
            T: Send + Sync + 'static,
        {
            /// Looks up.
            #[inline]
            fn node_lookup(&self) {}
        }
    };
    let expected = quote! {
        impl<T: Clone> puffs::FileSystem for Fs<T>
        where
            T: Send + Sync + 'static,
        {
            /// Looks up.
            #[inline]
            fn node_lookup(&self) {}
        }
        const _: () = {
            #[automatically_derived]
            impl<T: Clone> ::puffs::__private::Dispatch for Fs<T>
            where
                T: Send + Sync + 'static,
            {
                const VNOPS: ::puffs::__private::VnopMask = {
                    let mask = ::puffs::__private::VnopMask::empty();
                    let mask = mask.union(::puffs::__private::VnopMask::LOOKUP);
                    mask
                };
                const VFSOPS: ::puffs::__private::VfsopMask = {
                    let mask = ::puffs::__private::VfsopMask::empty();
                    mask
                };

                #[allow(unreachable_patterns, unused_variables)]
                fn dispatch(
                    &self,
                    op: ::puffs::__private::Op<'_>,
                    ctx: &::puffs::Context<'_>,
                ) -> ::puffs::__private::Outcome {
                    match op {
                        ::puffs::__private::Op::Lookup { dir, name } => ::core::convert::From::from(
                            <Self as ::puffs::FileSystem>::node_lookup(self, dir, name, ctx)
                        ),
                        absent => absent.absent(),
                    }
                }
            }
        };
    };
    assert_eq!(expand(quote!(), item), expected.to_string());
}

#[test]
fn any_path_ending_in_file_system_is_the_trait() {
    for item in [
        quote!(impl FileSystem for Fs { fn node_read() {} }),
        quote!(impl puffs::FileSystem for Fs { fn node_read() {} }),
        quote!(impl ::puffs::FileSystem for Fs { fn node_read() {} }),
    ] {
        assert_eq!(flags(&expand(quote!(), item), "VnopMask"), ["READ"]);
    }
}

#[test]
fn a_method_cfg_is_carried_onto_its_flag() {
    let out = expand(
        quote!(),
        quote! {
            impl FileSystem for Fs {
                #[cfg(feature = "write")]
                #[doc = "Writes."]
                #[cfg(unix)]
                fn node_write(&self) {}
                #[cfg_attr(docsrs, doc(cfg(feature = "x")))]
                fn fs_sync(&self) {}
            }
        },
    );
    let write = quote! {
        #[cfg(feature = "write")]
        #[cfg(unix)]
        let mask = mask.union(::puffs::__private::VnopMask::WRITE);
    };
    assert!(out.contains(&write.to_string()), "{out}");
    let sync = quote!({
        let mask = ::puffs::__private::VfsopMask::empty();
        let mask = mask.union(::puffs::__private::VfsopMask::SYNC);
        mask
    });
    assert!(out.contains(&sync.to_string()), "{out}");
}

#[test]
fn one_operation_under_exclusive_cfgs_is_no_duplicate() {
    let out = expand(
        quote!(),
        quote! {
            impl FileSystem for Fs {
                #[cfg(unix)]
                fn node_read(&self) {}
                #[cfg(not(unix))]
                fn node_read(&self) {}
            }
        },
    );
    assert_eq!(flags(&out, "VnopMask"), ["READ", "READ"]);
}

#[test]
fn an_unknown_method_is_left_to_rustc() {
    let out = expand(quote!(), quote!(impl FileSystem for Fs { fn node_lokup(&self) {} fn fs_foo(&self) {} }));
    assert!(flags(&out, "VnopMask").is_empty() && flags(&out, "VfsopMask").is_empty(), "{out}");
}

#[test]
fn a_declared_mask_that_agrees_passes_in_any_order() {
    let item = quote! {
        impl FileSystem for Fs {
            fn node_getattr(&self) {}
            fn fs_statvfs(&self) {}
            fn node_lookup(&self) {}
        }
    };
    expand(quote!(vnops(lookup, getattr)), item.clone());
    expand(quote!(vfsops(statvfs,), vnops(getattr, lookup,),), item.clone());
    expand(quote!(vfsops(statvfs)), item);
    expand(quote!(vnops(), vfsops()), quote!(impl FileSystem for Fs {}));
}

// Where it goes.

#[test]
fn on_a_struct_it_points_at_the_keyword() {
    let message = "`#[puffs_fs]` goes on an `impl FileSystem for T` block";
    assert_eq!(error("", "#[derive(Debug)] pub struct NotAnImpl;"), reported(message, "struct"));
    assert_eq!(error("", "fn main() {}"), reported(message, "fn"));
    assert_eq!(error("", "pub(crate) trait FileSystem {}"), reported(message, "trait"));
}

#[test]
fn on_an_inherent_impl_it_points_at_impl() {
    let message = "`#[puffs_fs]` goes on an `impl FileSystem for T` block, not on an inherent impl";
    assert_eq!(error("", "impl Fs { fn node_read(&self) {} }"), reported(message, "impl"));
}

#[test]
fn on_another_trait_it_points_at_the_trait() {
    let (message, at) = error("", "impl Clone for Fs { fn clone(&self) -> Fs { Fs } }");
    assert_eq!(
        (message.as_str(), at.as_str()),
        ("`#[puffs_fs]` implements `FileSystem`; this impl is of `Clone`", "Clone")
    );
    let (message, at) = error("", "impl ::std::clone::Clone for Fs {}");
    assert_eq!(message, "`#[puffs_fs]` implements `FileSystem`; this impl is of `::std::clone::Clone`");
    assert_eq!(at, "::std::clone::Clone");
}

#[test]
fn on_a_negative_impl_it_points_at_the_bang() {
    let message = "`#[puffs_fs]` goes on an `impl FileSystem for T` block, not on a negative impl";
    assert_eq!(error("", "impl !FileSystem for Fs {}"), reported(message, "!"));
}

// What it rejects in the block.

#[test]
fn an_async_operation_points_at_async() {
    let item = "impl FileSystem for Fs { async fn node_getattr(&self) {} }";
    assert_eq!(error("", item), reported("puffs operations are synchronous; remove `async`", "async"));
}

#[test]
fn a_hand_written_mask_points_at_its_name() {
    let item = "impl FileSystem for Fs { const VNOPS: VnopMask = VnopMask::all(); }";
    let message = "the vnop mask is derived by `#[puffs_fs]` from the methods; remove `VNOPS`";
    assert_eq!(error("", item), reported(message, "VNOPS"));
    let item = "impl FileSystem for Fs { const VFSOPS: VfsopMask = VfsopMask::all(); }";
    let message = "the vfsop mask is derived by `#[puffs_fs]` from the methods; remove `VFSOPS`";
    assert_eq!(error("", item), reported(message, "VFSOPS"));
    let item = "impl FileSystem for Fs { type Node = u64; }";
    let message = "`FileSystem` has no associated consts or types besides `POSIX_ACL`, only operations; remove `Node`";
    assert_eq!(error("", item), reported(message, "Node"));
}

#[test]
fn posix_acl_is_kept_and_needs_the_operations_that_store_acls() {
    let item = "impl FileSystem for Fs { const POSIX_ACL: bool = true; fn node_getattr(&self) {} \
                fn node_setattr(&self) {} fn node_getextattr(&self) {} }";
    let message = "`POSIX_ACL = true` needs the operations that store ACLs; implement `node_setextattr`, \
                   `node_deleteextattr`";
    assert_eq!(error("", item), reported(message, "POSIX_ACL"));
    // Off, or computed: nothing to check here.
    for value in ["false", "cfg!(feature = \"acl\")"] {
        let item = format!("impl FileSystem for Fs {{ const POSIX_ACL: bool = {value}; }}");
        let expanded = expand(TokenStream::new(), item.parse().unwrap());
        assert!(expanded.contains("const POSIX_ACL : bool"), "{expanded}");
    }
}

#[test]
fn a_macro_in_the_block_points_at_its_path() {
    let item = "impl FileSystem for Fs { fn node_read(&self) {} ops::define!(write); }";
    let message = "`#[puffs_fs]` cannot see the operations a macro defines; write the methods in the block";
    assert_eq!(error("", item), reported(message, "ops::define"));
}

#[test]
fn a_duplicate_operation_is_left_to_rustc() {
    // rustc reports "duplicate definitions with name `node_read`" (E0201) at the second.
    let out = expand(quote!(), quote!(impl FileSystem for Fs { fn node_read(&self) {} fn node_read(&self) {} }));
    assert_eq!(flags(&out, "VnopMask"), ["READ", "READ"]);
}

#[test]
fn a_cfg_through_cfg_attr_points_at_the_attribute() {
    let item = "impl FileSystem for Fs { #[cfg_attr(feature = \"x\", inline, cfg(unix))] fn node_read(&self) {} }";
    let message = "`#[puffs_fs]` cannot carry a `cfg` applied by `cfg_attr` onto the vnop mask; \
                   write it as `#[cfg(...)]` on the method";
    assert_eq!(error("", item), reported(message, "#[cfg_attr(feature = \"x\", inline, cfg(unix))]"));
    let nested = "impl FileSystem for Fs { #[cfg_attr(a, cfg_attr(b, cfg(c)))] fn node_read(&self) {} }";
    assert_eq!(error("", nested).0, message);
}

// The declared masks.

const LOOKUP_GETATTR: &str = "impl FileSystem for Fs { fn node_lookup(&self) {} fn node_getattr(&self) {} }";

#[test]
fn a_declared_operation_without_its_method_points_at_the_name() {
    let message = "`read` is declared in `vnops(...)` but the impl has no `node_read` method";
    assert_eq!(error("vnops(lookup, getattr, read)", LOOKUP_GETATTR), reported(message, "read"));
    let message = "`statvfs` is declared in `vfsops(...)` but the impl has no `fs_statvfs` method";
    assert_eq!(error("vfsops(statvfs)", LOOKUP_GETATTR), reported(message, "statvfs"));
}

#[test]
fn an_undeclared_method_points_at_the_method() {
    let message = "`node_getattr` is implemented but missing from the declared `vnops(...)`";
    assert_eq!(error("vnops(lookup)", LOOKUP_GETATTR), reported(message, "node_getattr"));
    let message = "`node_lookup` is implemented but missing from the declared `vnops(...)`";
    assert_eq!(error("vfsops(), vnops(getattr)", LOOKUP_GETATTR), reported(message, "node_lookup"));
}

#[test]
fn an_unknown_declared_name_suggests_the_closest() {
    let unknown = |args: &str| error(args, LOOKUP_GETATTR);
    assert_eq!(unknown("vnops(lokup, getattr)"), reported("unknown vnop `lokup`; did you mean `lookup`?", "lokup"));
    assert_eq!(unknown("vnops(lookup, getatr)").0, "unknown vnop `getatr`; did you mean `getattr`?");
    assert_eq!(unknown("vnops(lookup, getattr, raed)").0, "unknown vnop `raed`; did you mean `read`?");
    assert_eq!(unknown("vnops(lookup, getattr, node_read)").0, "unknown vnop `node_read`; did you mean `read`?");
    assert_eq!(unknown("vfsops(statfs)").0, "unknown vfsop `statfs`; did you mean `statvfs`?");
    assert_eq!(
        unknown("vnops(lookup, getattr, statvfs)").0,
        "`statvfs` is a vfsop, not a vnop; name it in `vfsops(...)`"
    );
    assert_eq!(unknown("vfsops(node_read)").0, "`read` is a vnop, not a vfsop; name it in `vnops(...)`");
    assert_eq!(
        unknown("vfsops(everything)").0,
        "unknown vfsop `everything`; the vfsops are `mounted`, `statvfs`, `sync`, `unmount`, `suspend`"
    );
}

#[test]
fn a_misspelled_name_accounts_for_the_method_it_suggests() {
    // No "`node_lookup` is implemented but missing" besides the suggestion.
    assert_eq!(error("vnops(lokup, getattr)", LOOKUP_GETATTR).1, "lokup");
    // A name beyond guessing leaves the methods unchecked against the list.
    assert_eq!(error("vnops(zzz)", LOOKUP_GETATTR).1, "zzz");
    // A vfsop among the vnops accounts for no vnop.
    let at: Vec<String> = errors("vnops(statvfs, lookup)", LOOKUP_GETATTR).into_iter().map(|e| e.at).collect();
    assert_eq!(at, ["statvfs", "node_getattr"]);
}

#[test]
fn a_name_declared_twice_points_at_the_second() {
    let errors = errors("vnops(lookup,\n getattr,\n lookup)", LOOKUP_GETATTR);
    let message = "duplicate vnop `lookup` in `vnops(...)`".to_owned();
    assert_eq!(errors, [Reported { message, at: "lookup".to_owned(), line: 3 }]);
}

#[test]
fn arguments_of_another_form_say_the_accepted_form() {
    let form = "`#[puffs_fs]` takes no arguments, or the lists `vnops(...)` and `vfsops(...)` and `lower = field`, \
                like `#[puffs_fs(vnops(lookup, getattr, read), vfsops(statvfs))]` or `#[puffs_fs(lower = null)]`";
    let item = LOOKUP_GETATTR;
    assert_eq!(error("mask = \"everything\"", item), reported(&format!("unknown argument `mask`; {form}"), "mask"));
    assert_eq!(error("\"lookup\"", item), reported(form, "\"lookup\""));
    assert_eq!(
        error("vnops = [lookup]", item),
        reported(&format!("expected a list of vnops after `vnops`; {form}"), "vnops")
    );
    assert_eq!(
        error("vnops(lookup, getattr) vfsops()", item),
        reported(&format!("expected `,` between the lists; {form}"), "vfsops")
    );
    assert_eq!(
        error("vnops(lookup, getattr), vnops()", item),
        reported("duplicate `vnops(...)`; name every vnop in one `vnops(...)`", "vnops")
    );
    assert_eq!(error("vnops(lookup, 1)", item), reported("expected a vnop name, like `lookup`", "1"));
    assert_eq!(error("vfsops(\"sync\")", item), reported("expected a vfsop name, like `mounted`", "\"sync\""));
    assert_eq!(error("vnops(lookup = 1)", item), reported("expected `,` between vnop names", "="));
    assert_eq!(error("lower", item), reported(&format!("expected `= field` after `lower`; {form}"), "lower"));
    let field = "expected the name or index of a field after `lower =`, like `lower = null`";
    assert_eq!(error("lower = \"null\"", item), reported(field, "\"null\""));
    assert_eq!(
        error("lower = a, lower = b", item),
        reported("duplicate `lower = ...`; a block has one lower layer", "lower")
    );
    assert_eq!(
        error("lower = a vnops()", item),
        reported(&format!("expected `,` between the arguments; {form}"), "vnops")
    );
}

// Everything at once.

#[test]
fn independent_errors_are_all_reported_in_source_order() {
    let args = "vnops(getattr, raed)";
    let item = "impl FileSystem for Fs {
        const VNOPS: VnopMask = VnopMask::all();
        async fn node_getattr(&self) {}
        fn node_read(&self) {}
        fn node_write(&self) {}
    }";
    let errors: Vec<(String, String)> = errors(args, item).into_iter().map(|e| (e.message, e.at)).collect();
    assert_eq!(
        errors,
        [
            reported("unknown vnop `raed`; did you mean `read`?", "raed"),
            reported("the vnop mask is derived by `#[puffs_fs]` from the methods; remove `VNOPS`", "VNOPS"),
            reported("puffs operations are synchronous; remove `async`", "async"),
            reported("`node_write` is implemented but missing from the declared `vnops(...)`", "node_write"),
        ]
    );
}

#[test]
fn bad_arguments_do_not_hide_errors_in_the_item() {
    let at = |args: &str, item: &str| -> Vec<String> { errors(args, item).into_iter().map(|e| e.at).collect() };
    assert_eq!(at("mask", "struct Fs;"), ["mask", "struct"]);
    let at = at("vnops(lookup lookup)", "impl FileSystem for Fs { async fn fs_sync() {} }");
    assert_eq!(at, ["lookup", "async"]);
}

// What it emits on errors.

#[test]
fn on_errors_the_item_is_kept_beside_the_errors() {
    let item = quote!(impl FileSystem for Fs { async fn node_read(&self) {} fn node_lookup(&self) {} });
    let error = puffs_fs(quote!(), item.clone()).unwrap_err();
    let out = fallback(item.clone(), error).to_string();
    // The item as written, less only the `async` the macro rejected: rustc would repeat that error.
    let kept = quote!(impl FileSystem for Fs { fn node_read(&self) {} fn node_lookup(&self) {} });
    assert!(out.starts_with(&kept.to_string()), "{out}");
    assert!(out.contains("compile_error"), "{out}");
    // The derived ops are still there: no "needs `#[puffs_fs]`" error follows from the macro's.
    assert_eq!(flags(&out, "VnopMask"), ["READ", "LOOKUP"]);

    // Rejected members go, so that only the macro's error is reported; the methods stay as
    // written, a duplicate included, which is rustc's to report.
    let item = quote!(impl FileSystem for Fs {
        const VNOPS: VnopMask = VnopMask::all();
        type Extra = ();
        fn node_read(&self) {}
        #[cfg(unix)] fn node_write(&self) {}
        #[cfg(not(unix))] fn node_write(&self) {}
        fn node_read(&self) {}
    });
    let error = puffs_fs(quote!(), item.clone()).unwrap_err();
    let out = fallback(item, error).to_string();
    let kept = quote!(impl FileSystem for Fs {
        fn node_read(&self) {}
        #[cfg(unix)] fn node_write(&self) {}
        #[cfg(not(unix))] fn node_write(&self) {}
        fn node_read(&self) {}
    });
    assert!(out.starts_with(&kept.to_string()), "{out}");

    let item = quote!(
        struct Fs;
    );
    let error = puffs_fs(quote!(), item.clone()).unwrap_err();
    let out = fallback(item.clone(), error).to_string();
    assert!(out.starts_with(&item.to_string()) && out.contains("compile_error"), "{out}");
    assert!(!out.contains("Dispatch"), "{out}");
}
