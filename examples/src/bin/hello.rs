//! `hello`: mounts a read-only file system holding one file. `hello --help` says how.

use std::process::ExitCode;

use puffs::Vtype;
use puffs_examples::cli::{self, Program};
use puffs_examples::hello::Hello;

fn main() -> ExitCode {
    let program = Program {
        name: "hello",
        about: "a read-only file system holding one file",
        default_options: "ro",
        own_options: &[],
    };
    cli::main(&program, Hello::ROOT, Vtype::Dir, |_| Ok(Hello))
}
