//! `dtfs`: mounts an in-memory read-write file system. `dtfs --help` says how.

use std::process::ExitCode;

use puffs::Vtype;
use puffs_examples::cli::{self, OwnOption, Program};
use puffs_examples::dtfs::Dtfs;

const CAPACITY: OwnOption = OwnOption {
    name: "--capacity",
    value: "SIZE",
    help: "how much it may hold: 512M, 2G ... (default: half the memory)",
};

fn main() -> ExitCode {
    let program = Program {
        name: "dtfs",
        about: "an in-memory read-write file system",
        // Every user may use the tree (where the user who mounts may allow that: always as
        // root). The kernel checks permissions, as dtfs keeps ACLs; with `-o noacl` dtfs checks
        // them itself.
        default_options: "allow_other",
        own_options: &[CAPACITY],
    };
    cli::main(&program, Dtfs::ROOT, Vtype::Dir, |own| match own.get(CAPACITY.name) {
        None => Ok(Dtfs::new()),
        Some(text) => cli::parse_size(text)
            .filter(|&bytes| bytes > 0)
            .map(Dtfs::with_capacity)
            .ok_or_else(|| format!("--capacity needs a size such as 512M or 2G, not `{text}`")),
    })
}
