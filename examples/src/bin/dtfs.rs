//! `dtfs`: mounts an in-memory read-write file system. `dtfs --help` says how.

use std::process::ExitCode;

use puffs::Vtype;
use puffs_examples::dtfs::Dtfs;

fn main() -> ExitCode {
    // The kernel checks permissions (dtfs leaves them to it), and every user may use the tree
    // (where the user who mounts may allow that: always as root).
    puffs_examples::cli::main(
        "dtfs",
        "an in-memory read-write file system",
        "default_permissions,allow_other",
        Dtfs::ROOT,
        Vtype::Dir,
        Dtfs::new,
    )
}
