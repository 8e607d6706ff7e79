//! `hello`: mounts a read-only file system holding one file. `hello --help` says how.

use std::process::ExitCode;

use puffs::Vtype;
use puffs_examples::hello::Hello;

fn main() -> ExitCode {
    puffs_examples::cli::main(
        "hello",
        "a read-only file system holding one file",
        "ro",
        Hello::ROOT,
        Vtype::Dir,
        || Hello,
    )
}
