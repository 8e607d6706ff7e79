//! Example programs started by a test, killed and their mounts detached when it ends.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use super::real::{detach_fuse, wait_mounted};

/// A program the test started: one that must end by itself, or one serving a mount in the
/// foreground. Dropping it kills the program and detaches its mount, so a failing test leaves
/// nothing behind.
pub struct Program {
    child: Option<Child>,
    dir: Option<PathBuf>,
}

/// Starts `command`, again for a moment while its program is busy (`ETXTBSY`): another test
/// thread may have just written a copy of it, and a child forked meanwhile by yet another
/// test holds the written descriptor until its own exec closes it.
fn spawn(command: &mut Command) -> io::Result<Child> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match command.spawn() {
            Err(e) if e.kind() == io::ErrorKind::ExecutableFileBusy && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            started => return started,
        }
    }
}

impl Program {
    /// Starts `command` with its output piped.
    pub fn spawn(command: &mut Command) -> Program {
        let child = spawn(command.stdout(Stdio::piped()).stderr(Stdio::piped())).expect("start the program");
        Program { child: Some(child), dir: None }
    }

    /// Starts `program` with `args` to serve a mount on `dir`, and waits until it is mounted.
    pub fn serve(program: &str, args: &[&str], dir: &Path) -> Program {
        Program::serve_command(Command::new(program).args(args).arg(dir), dir)
    }

    /// Starts `command`, which serves a mount on `dir`, and waits until it is mounted.
    pub fn serve_command(command: &mut Command, dir: &Path) -> Program {
        let child = spawn(command.stderr(Stdio::piped())).expect("start it");
        let mut serving = Program { child: Some(child), dir: Some(dir.to_path_buf()) };
        if !wait_mounted(dir, true) {
            let _ = serving.child().kill();
            let _ = serving.child().wait();
            panic!("{command:?} did not mount {}: {}", dir.display(), serving.stderr());
        }
        serving
    }

    /// The names of the program's threads (`/proc/PID/task/*/comm`).
    pub fn thread_names(&mut self) -> Vec<String> {
        let pid = self.child().id();
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).map(|dir| dir.flatten().collect::<Vec<_>>());
        tasks
            .unwrap_or_default()
            .iter()
            .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
            .map(|name| name.trim().to_string())
            .collect()
    }

    /// Detaches and removes `dir` when dropped: for a mount served by a program that is not
    /// this test's child (a daemon).
    pub fn unmount_on_drop(dir: &Path) -> Program {
        Program { child: None, dir: Some(dir.to_path_buf()) }
    }

    fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("a program was started")
    }

    pub fn signal(&mut self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child().id() as i32);
        nix::sys::signal::kill(pid, signal).expect("signal the program");
    }

    /// Waits for the program to exit, for at most `bound`.
    pub fn wait(&mut self, bound: Duration) -> ExitStatus {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child().try_wait().expect("wait for the program") {
                return status;
            }
            assert!(Instant::now() < deadline, "the program did not exit within {bound:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (for at most `bound`) for the program to exit and gives its status and output.
    /// The pipes are drained meanwhile, so a program that writes more than a pipe holds does
    /// not stall.
    pub fn output(mut self, bound: Duration) -> Output {
        fn drain(pipe: Option<impl io::Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut bytes);
                }
                bytes
            })
        }
        let stdout = drain(self.child().stdout.take());
        let stderr = drain(self.child().stderr.take());
        let status = self.wait(bound);
        Output { status, stdout: stdout.join().unwrap_or_default(), stderr: stderr.join().unwrap_or_default() }
    }

    /// What the program wrote on standard error, once it has exited.
    pub fn stderr(&mut self) -> String {
        let mut text = String::new();
        io::Read::read_to_string(self.child().stderr.as_mut().expect("stderr is piped"), &mut text).unwrap();
        text
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = &self.dir {
            detach_fuse(dir, None);
            let _ = std::fs::remove_dir(dir);
        }
    }
}
