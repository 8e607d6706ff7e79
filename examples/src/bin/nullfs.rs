//! `nullfs`: mounts a pass-through of a host directory (`puffs::null`). `nullfs --help` says how.

use std::process::ExitCode;

use puffs::null::Null;
use puffs::Vtype;
use puffs_examples::cli::{self, OwnOption, Program};

const SOURCE: OwnOption = OwnOption { name: "--source", value: "DIR", help: "the host directory to mirror (needed)" };

fn main() -> ExitCode {
    let program = Program {
        name: "nullfs",
        about: "a pass-through of a host directory (puffs_null)",
        // Every user may use the tree (where the user who mounts may allow that: always as
        // root), and the kernel checks permissions from the host's modes. As root, reads and
        // writes of open files go to the host file in the kernel (FUSE passthrough).
        default_options: "allow_other,default_permissions,passthrough",
        own_options: &[SOURCE],
    };
    cli::main(&program, Null::ROOT, Vtype::Dir, |own| {
        let source = own.get(SOURCE.name).ok_or("--source DIR names the directory to mirror")?;
        Null::new(source).map_err(|e| format!("--source {source}: {e}"))
    })
}
