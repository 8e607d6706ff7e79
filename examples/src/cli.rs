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

/// The help text of program `name`, described by `about`.
pub fn usage(name: &str, about: &str) -> String {
    format!(
        "{name}: {about}\n\n\
         usage: {name} [OPTIONS] MOUNTPOINT\n\n\
         options:\n  \
         -o OPTIONS   mount options, comma-separated: ro, allow_other, auto_unmount,\n               \
         default_permissions, fsname=NAME, attr_timeout=SECONDS, entry_timeout=SECONDS,\n               \
         nosuid, nodev, noexec, noatime, sync, dirsync\n  \
         -f           stay in the foreground (default: detach once mounted)\n  \
         -d           dump every request and reply to stderr; implies -f\n  \
         -t N         serve requests with N worker threads (default 1)\n  \
         --mkdir      create MOUNTPOINT if it does not exist\n  \
         -V, --version  print the version\n  \
         -h, --help   print this help\n\n\
         Unmount with `umount MOUNTPOINT` (`fusermount3 -u MOUNTPOINT` as a user who is not\n\
         root), or Ctrl-C when in the foreground. A user who is not root mounts through the\n\
         helper fusermount3 (package fuse3).\n"
    )
}

/// Parses the arguments after the program name; `defaults` are mount options applied before
/// any `-o`. A default `allow_other` applies only where this user may ask for it
/// ([`MountOptions::allow_other_permitted`]); given with `-o`, it is asked for anyway.
pub fn parse(args: impl IntoIterator<Item = OsString>, defaults: &str) -> Result<Command, UsageError> {
    let permitted = MountOptions::allow_other_permitted();
    let mut option_list =
        defaults.split(',').filter(|o| permitted || o.trim() != "allow_other").collect::<Vec<_>>().join(",");
    let mut foreground = false;
    let mut debug = false;
    let mut threads = 1;
    let mut mkdir = false;
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
    Ok(Command::Mount(MountCommand { mount_point, options, foreground: foreground || debug, debug, threads, mkdir }))
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
            Error::new(
                format!("create mount point {}", command.mount_point.display()),
                puffs::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            )
        })?;
    }
    let usermount = Usermount::init(fs, name)
        .root_info(root_vtype)
        .threads(command.threads)
        .opdump(command.debug)
        .daemonize(!command.foreground)
        .mount_options(command.options.clone());
    let mounted = usermount.mount(&command.mount_point, MountFlags::empty(), root).map_err(|(error, _)| error)?;
    mounted.mainloop()
}

/// The whole `main` of an example program: parse the command line, build the file system with
/// `make_fs`, mount it and serve it.
pub fn main<F: FileSystem>(
    name: &str,
    about: &str,
    default_options: &str,
    root: Cookie,
    root_vtype: Vtype,
    make_fs: impl FnOnce() -> F,
) -> ExitCode {
    match parse(std::env::args_os().skip(1), default_options) {
        Ok(Command::Help) => {
            print!("{}", usage(name, about));
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("{name} {} (puffs-rs)", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Command::Mount(command)) => match mount_and_serve(name, make_fs(), root, root_vtype, &command) {
            Ok(_) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("{name}: {error}");
                ExitCode::FAILURE
            }
        },
        Err(error) => {
            eprintln!("{name}: {error}\ntry `{name} --help`");
            ExitCode::from(2)
        }
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
        let Command::Mount(c) =
            parse(args(&["-o", "ro,fsname=x", "-oallow_other", "-d", "-t", "4", "--mkdir", "/mnt"]), "nosuid").unwrap()
        else {
            panic!("not a mount command");
        };
        assert_eq!(c.mount_point, PathBuf::from("/mnt"));
        assert!(c.options.allow_other && c.options.flags.contains(MountFlags::RDONLY | MountFlags::NOSUID));
        assert_eq!(c.options.fs_name.as_deref(), Some("x"));
        assert!(c.debug && c.foreground && c.mkdir);
        assert_eq!(c.threads, 4);
    }

    #[test]
    fn help_wins_and_mistakes_are_usage_errors() {
        assert_eq!(parse(args(&["/mnt", "--help"]), ""), Ok(Command::Help));
        for bad in [&["-x", "/mnt"][..], &["-o"], &["-t", "0", "/m"], &["-o", "bogus", "/m"], &[], &["/a", "/b"]] {
            assert!(parse(args(bad), "").is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            parse(args(&["-t", "x", "/m"]), "").unwrap_err().0,
            "-t needs a thread count from 1 to 1024, not `x`"
        );
    }
}
