//! The command line the example programs share, and the code that mounts a file system from it.
//!
//! ```text
//! NAME [OPTIONS] MOUNTPOINT
//!   -o OPTIONS     mount options, comma-separated (ro, allow_other, auto_unmount,
//!                  default_permissions, fsname=NAME, attr_timeout=SECONDS, nosuid, ...)
//!   -f             stay in the foreground (default: detach once mounted)
//!   -d             debug: dump every request and reply to stderr (puffs OPDUMP); implies -f
//!   -t N           serve requests with N worker threads (default 1)
//!   --mkdir        create MOUNTPOINT if it does not exist
//!   -V, --version  print the version
//!   -h, --help     print this help
//!   (and the program's own options, such as dtfs's `--capacity SIZE`)
//! ```
//!
//! A usage error exits with status 2; a mount failure with 1; a clean unmount (by `umount`,
//! SIGINT or SIGTERM) with 0.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use puffs::{Cookie, Error, FileSystem, MountFlags, MountOptions, Usermount, Vtype};

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `-h` or `--help`: print [`usage`] and exit.
    Help,
    /// `-V` or `--version`: print the version and exit.
    Version,
    /// Mount and serve.
    Mount(MountCommand),
}

/// A parsed mount command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountCommand {
    /// Where to mount.
    pub mount_point: PathBuf,
    /// Mount options from every `-o`, on top of the program's defaults.
    pub options: MountOptions,
    /// `-f`: do not detach.
    pub foreground: bool,
    /// `-d`: dump requests and replies.
    pub debug: bool,
    /// `-t N`: worker threads.
    pub threads: usize,
    /// `--mkdir`: create the mount point first.
    pub mkdir: bool,
    /// The values of the program's own options.
    pub own: OwnArgs,
}

/// An option only one program has (`--capacity SIZE` of dtfs): its name, what its value is
/// called, and its help line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnOption {
    /// The option as written, with its dashes: `--capacity`.
    pub name: &'static str,
    /// What the value is called in the help: `SIZE`.
    pub value: &'static str,
    /// One line of help.
    pub help: &'static str,
}

/// The values given for a program's own options, by option name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnArgs(Vec<(&'static str, String)>);

impl OwnArgs {
    /// The value given for option `name` (the last one, if given several times).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// A size as people write it: bytes, or with a binary unit `K`, `M`, `G`, `T` (also `KiB` …):
/// `1048576`, `512M`, `2GiB`. `None` if it is not one, or too large.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let shift = match unit.trim_end_matches("iB").trim_end_matches('B') {
        "" => 0,
        "K" | "k" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// A command line that cannot be understood; its text says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The help text of program `name`, described by `about`, with its own options `own`.
pub fn usage(name: &str, about: &str, own: &[OwnOption]) -> String {
    let own: String = own
        .iter()
        .map(|o| {
            let flag = format!("{} {}", o.name, o.value);
            format!("  {flag}{}{}\n", " ".repeat(13usize.saturating_sub(flag.len()).max(2)), o.help)
        })
        .collect();
    format!(
        "{name}: {about}\n\n\
         usage: {name} [OPTIONS] MOUNTPOINT\n\n\
         options:\n  \
         -o OPTIONS   mount options, comma-separated: ro, allow_other, auto_unmount,\n               \
         default_permissions, noacl, fsname=NAME, attr_timeout=SECONDS, entry_timeout=SECONDS,\n               \
         negative_timeout=SECONDS, cache_symlinks, auto_inval_data, explicit_inval_data,\n               \
         kernel_cache, writeback_cache, direct_io_allow_mmap, io_uring, passthrough, nostatx,\n               \
         nosuid, nodev, noexec, noatime, sync, dirsync; nodefault_permissions, noio_uring and\n               \
         nopassthrough undo a default\n  \
         -f           stay in the foreground (default: detach once mounted)\n  \
         -d           dump every request and reply to stderr; implies -f\n  \
         -t N         serve requests with N worker threads (default 1)\n  \
         --mkdir      create MOUNTPOINT if it does not exist\n  \
         -V, --version  print the version\n  \
         -h, --help   print this help\n\
         {own}\n\
         Unmount with `umount MOUNTPOINT` (`fusermount3 -u MOUNTPOINT` as a user who is not\n\
         root), or Ctrl-C when in the foreground. A user who is not root mounts through the\n\
         helper fusermount3 (package fuse3).\n"
    )
}

/// Parses the arguments after the program name; `defaults` are mount options applied before
/// any `-o`, `own` the program's own options. A default `allow_other` applies only where this
/// user may ask for it ([`MountOptions::allow_other_permitted`]); given with `-o`, it is asked
/// for anyway.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    defaults: &str,
    own: &[OwnOption],
) -> Result<Command, UsageError> {
    let permitted = MountOptions::allow_other_permitted();
    let mut option_list =
        defaults.split(',').filter(|o| permitted || o.trim() != "allow_other").collect::<Vec<_>>().join(",");
    let mut foreground = false;
    let mut debug = false;
    let mut threads = 1;
    let mut mkdir = false;
    let mut own_args = OwnArgs::default();
    let mut mount_point = None;
    let mut args = args.into_iter();
    let text = |arg: OsString| arg.into_string().map_err(|a| UsageError(format!("argument {a:?} is not UTF-8")));
    while let Some(arg) = args.next() {
        let arg_text = arg.to_str().unwrap_or("");
        match arg_text {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "-f" => foreground = true,
            "-d" => debug = true,
            "--mkdir" => mkdir = true,
            "-o" | "-t" => {
                let flag = arg_text.to_string();
                let value = text(args.next().ok_or_else(|| UsageError(format!("{flag} needs a value")))?)?;
                if flag == "-o" {
                    option_list.push(',');
                    option_list.push_str(&value);
                } else {
                    threads =
                        value.parse::<usize>().ok().filter(|t| (1..=1024).contains(t)).ok_or_else(|| {
                            UsageError(format!("-t needs a thread count from 1 to 1024, not `{value}`"))
                        })?;
                }
            }
            _ if own.iter().any(|o| o.name == arg_text) => {
                let option = own.iter().find(|o| o.name == arg_text).expect("just found");
                let value =
                    args.next().ok_or_else(|| UsageError(format!("{} needs a {}", option.name, option.value)))?;
                own_args.0.push((option.name, text(value)?));
            }
            _ if arg_text.starts_with("-o") && arg_text.len() > 2 => {
                option_list.push(',');
                option_list.push_str(&arg_text[2..]);
            }
            _ if arg_text.starts_with('-') && arg_text.len() > 1 => {
                return Err(UsageError(format!("unknown option `{arg_text}`")));
            }
            _ if mount_point.is_some() => {
                return Err(UsageError(format!("one mount point only; unexpected `{}`", arg.to_string_lossy())));
            }
            _ => mount_point = Some(PathBuf::from(arg)),
        }
    }
    let options = MountOptions::parse(&option_list).map_err(|e| UsageError(format!("bad {}", e.context())))?;
    let mount_point = mount_point.ok_or_else(|| UsageError("a MOUNTPOINT is needed".to_string()))?;
    Ok(Command::Mount(MountCommand {
        mount_point,
        options,
        foreground: foreground || debug,
        debug,
        threads,
        mkdir,
        own: own_args,
    }))
}

/// Mounts `fs` as `name` the way `command` says, with root `root` of type `root_vtype`, and
/// serves it until it is unmounted. Returns the file system afterwards.
pub fn mount_and_serve<F: FileSystem>(
    name: &str,
    fs: F,
    root: Cookie,
    root_vtype: Vtype,
    command: &MountCommand,
) -> Result<F, Error> {
    // Only a mount point that is not there is made: one that exists but cannot be looked at (a
    // dead FUSE mount) is left for `mount` to explain.
    let missing =
        matches!(std::fs::symlink_metadata(&command.mount_point), Err(e) if e.kind() == std::io::ErrorKind::NotFound);
    if command.mkdir && missing {
        std::fs::create_dir_all(&command.mount_point).map_err(|e| {
            Error::new(format!("create mount point {}", command.mount_point.display()), puffs::io_errno(&e))
        })?;
    }
    let usermount = Usermount::init(fs, name)
        .handle_signals(true)
        .root_info(root_vtype)
        .threads(command.threads)
        .opdump(command.debug)
        .daemonize(!command.foreground)
        .mount_options(command.options.clone());
    let mounted = usermount.mount(&command.mount_point, MountFlags::empty(), root)?;
    mounted.mainloop()
}

/// What an example program is, for its command line.
#[derive(Debug, Clone, Copy)]
pub struct Program<'a> {
    /// The program's name: `dtfs`.
    pub name: &'a str,
    /// What it is, in a line.
    pub about: &'a str,
    /// Mount options applied before any `-o`.
    pub default_options: &'a str,
    /// Its own options.
    pub own_options: &'a [OwnOption],
}

/// The whole `main` of an example program: parse the command line, build the file system with
/// `make_fs` from the program's own options (an `Err` is a usage error), mount it and serve it.
pub fn main<F: FileSystem>(
    program: &Program<'_>,
    root: Cookie,
    root_vtype: Vtype,
    make_fs: impl FnOnce(&OwnArgs) -> Result<F, String>,
) -> ExitCode {
    let name = program.name;
    let usage_error = |error: &dyn std::fmt::Display| {
        eprintln!("{name}: {error}\ntry `{name} --help`");
        ExitCode::from(2)
    };
    match parse(std::env::args_os().skip(1), program.default_options, program.own_options) {
        Ok(Command::Help) => {
            print!("{}", usage(name, program.about, program.own_options));
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("{name} {} (puffs-rs)", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Command::Mount(command)) => {
            let fs = match make_fs(&command.own) {
                Ok(fs) => fs,
                Err(error) => return usage_error(&error),
            };
            match mount_and_serve(name, fs, root, root_vtype, &command) {
                Ok(_) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("{name}: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(error) => usage_error(&error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_full_command_line_parses() {
        let Command::Mount(c) = parse(
            args(&["-o", "ro,fsname=x", "-oallow_other", "-d", "-t", "4", "--mkdir", "--size", "9", "/mnt"]),
            "nosuid",
            OWN,
        )
        .unwrap() else {
            panic!("not a mount command");
        };
        assert_eq!(c.mount_point, PathBuf::from("/mnt"));
        assert!(c.options.allow_other && c.options.flags.contains(MountFlags::RDONLY | MountFlags::NOSUID));
        assert_eq!(c.options.fs_name.as_deref(), Some("x"));
        assert!(c.debug && c.foreground && c.mkdir);
        assert_eq!(c.threads, 4);
        assert_eq!(c.own.get("--size"), Some("9"));
    }

    const OWN: &[OwnOption] = &[OwnOption { name: "--size", value: "SIZE", help: "how big" }];

    #[test]
    fn own_options_are_parsed_and_helped() {
        assert!(usage("x", "about", OWN).contains("  --size SIZE  how big\n"), "{}", usage("x", "about", OWN));
        assert!(parse(args(&["--size"]), "", OWN).is_err());
        assert!(parse(args(&["--size", "1", "/m"]), "", &[]).is_err(), "not this program's option");
        for (text, bytes) in
            [("1024", 1024), ("64K", 64 << 10), ("512M", 512 << 20), ("2GiB", 2 << 30), ("1T", 1 << 40)]
        {
            assert_eq!(parse_size(text), Some(bytes), "{text}");
        }
        for bad in ["", "M", "1.5G", "-1", "12X", "99999999999T"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn help_wins_and_mistakes_are_usage_errors() {
        assert_eq!(parse(args(&["/mnt", "--help"]), "", &[]), Ok(Command::Help));
        for bad in [&["-x", "/mnt"][..], &["-o"], &["-t", "0", "/m"], &["-o", "bogus", "/m"], &[], &["/a", "/b"]] {
            assert!(parse(args(bad), "", &[]).is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            parse(args(&["-t", "x", "/m"]), "", &[]).unwrap_err().0,
            "-t needs a thread count from 1 to 1024, not `x`"
        );
    }
}
