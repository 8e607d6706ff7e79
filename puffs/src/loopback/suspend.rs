//! Suspension (puffs `puffs_suspendctl`): new calls wait, the calls in flight drain, and the
//! file system is told each phase.

use std::time::Instant;

use nix::errno::Errno;

use crate::fs::flags::SuspendPhase;
use crate::fuse::abi::ROOT_ID;
use crate::fuse::request::Operation;

use super::client::{empty_of, Client};
use super::kernel::{Flavor, Status, Suspension};

impl Client {
    /// Tells the file system a suspension phase.
    pub(super) fn tell_suspend(&self, phase: SuspendPhase) -> Result<(), Errno> {
        empty_of(&self.call(ROOT_ID, &Operation::PuffsSuspend { phase }, Flavor::Kernel)?)
    }
}

impl Client {
    /// Suspends the file system (puffs `puffs_suspendctl(SUSPEND_SUSPEND)`): new calls wait,
    /// the file system is told [`SuspendPhase::Start`], the calls in flight drain, and it is told
    /// [`SuspendPhase::Suspended`]. If they do not drain within the timeout it is told
    /// [`SuspendPhase::Error`], the mount goes back to normal and the answer is `ETIMEDOUT`.
    /// `EBUSY` if a suspension is under way or in place already.
    pub fn suspend(&self) -> Result<(), Errno> {
        self.wait_started()?;
        {
            let mut state = self.shared.lock();
            if state.suspension != Suspension::Normal {
                return Err(Errno::EBUSY);
            }
            state.suspension = Suspension::Suspending;
        }
        let started = self.tell_suspend(SuspendPhase::Start);
        let drained = started.and_then(|()| {
            let deadline = Instant::now() + self.shared.args.timeout;
            let mut state = self.shared.lock();
            loop {
                let in_flight = state.pending.values().any(|p| p.client);
                if state.active == 0 && !in_flight {
                    state.suspension = Suspension::Suspended;
                    return Ok(());
                }
                if matches!(state.status, Status::Dying | Status::Finished) {
                    return Err(Errno::ENXIO);
                }
                let (guard, in_time) = self.shared.wait_until(state, deadline);
                state = guard;
                if !in_time {
                    return Err(Errno::ETIMEDOUT);
                }
            }
        });
        match drained {
            Ok(()) => self.tell_suspend(SuspendPhase::Suspended),
            Err(e) => {
                let _ = self.tell_suspend(SuspendPhase::Error);
                self.shared.lock().suspension = Suspension::Normal;
                self.shared.changed.notify_all();
                Err(e)
            }
        }
    }

    /// Resumes normal operation (puffs `puffs_suspendctl(SUSPEND_RESUME)`): the file system is
    /// told [`SuspendPhase::Resume`], then the waiting calls go on, so that none reaches it
    /// before it heard of the resumption. Like puffs, resuming a mount that is not suspended
    /// only tells the file system.
    pub fn resume(&self) -> Result<(), Errno> {
        let told = self.tell_suspend(SuspendPhase::Resume);
        self.shared.lock().suspension = Suspension::Normal;
        self.shared.changed.notify_all();
        told
    }
}
