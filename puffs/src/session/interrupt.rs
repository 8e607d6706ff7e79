//! Interrupts (FUSE `INTERRUPT`): which requests are in flight, so that an interrupt reaches
//! the operation running its target, and the interrupts whose target is not known yet.
//!
//! The protocol (the kernel's `Documentation/filesystems/fuse.rst`): an interrupt names the
//! unique id of an earlier request and needs no reply. When its target is not (yet) known, the
//! server may answer it `EAGAIN` after some new requests arrived, and the kernel sends it
//! again. Here an unknown target's interrupt waits; each request that starts takes its own
//! interrupt if one waits, else answers the oldest waiting one `EAGAIN`, as libfuse does.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use rustc_hash::FxHashMap;

use crate::fs::context::Interrupt;

/// How many interrupts of unknown targets wait at most: beyond, they are answered `EAGAIN` at
/// once, so that a flood of them cannot grow memory.
const WAITING_MAX: usize = 256;

#[derive(Debug, Default)]
struct State {
    /// The interruption of every request being handled, by unique id.
    in_flight: FxHashMap<u64, Arc<Interrupt>>,
    /// Interrupts whose target is not in flight: (the interrupt's unique id, its target's).
    waiting: VecDeque<(u64, u64)>,
    /// The interruptions of answered requests, for new ones to reuse: starting a request
    /// allocates nothing once the session is warm.
    spare: Vec<Arc<Interrupt>>,
}

/// How many answered requests' interruptions are kept for reuse at most.
const SPARE_MAX: usize = 64;

/// The interrupts of one session.
#[derive(Debug, Default)]
pub(crate) struct Interrupts {
    state: Mutex<State>,
}

/// What starting a request found.
#[derive(Debug)]
pub(crate) struct Started {
    /// The request's interruption, already set if its interrupt came first.
    pub(crate) interrupt: Arc<Interrupt>,
    /// An interrupt of an unknown target, to answer `EAGAIN`.
    pub(crate) retry: Option<u64>,
}

impl Interrupts {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Request `unique` starts.
    pub(crate) fn start(&self, unique: u64) -> Started {
        let mut state = self.lock();
        // A spare one still held elsewhere (its request's handling is not over) is not reused.
        let interrupt = match state.spare.pop() {
            Some(spare) if Arc::strong_count(&spare) == 1 => {
                spare.reset();
                spare
            }
            _ => Arc::new(Interrupt::default()),
        };
        let retry = match state.waiting.iter().position(|&(_, target)| target == unique) {
            Some(at) => {
                state.waiting.remove(at);
                interrupt.set();
                None
            }
            None => state.waiting.pop_front().map(|(interrupt, _)| interrupt),
        };
        state.in_flight.insert(unique, interrupt.clone());
        Started { interrupt, retry }
    }

    /// Request `unique` was answered.
    pub(crate) fn end(&self, unique: u64) {
        let mut state = self.lock();
        if let Some(interrupt) = state.in_flight.remove(&unique) {
            if state.spare.len() < SPARE_MAX {
                state.spare.push(interrupt);
            }
        }
    }

    /// Interrupt `unique` names `target`: interrupts it if it is in flight. Answers the
    /// interrupt to answer `EAGAIN` now, if any (this one, when too many wait).
    pub(crate) fn interrupt(&self, unique: u64, target: u64) -> Option<u64> {
        let mut state = self.lock();
        if let Some(interrupt) = state.in_flight.get(&target) {
            interrupt.set();
            return None;
        }
        if state.waiting.len() >= WAITING_MAX {
            return Some(unique);
        }
        state.waiting.push_back((unique, target));
        None
    }
}

#[cfg(test)]
mod tests {
    use super::Interrupts;

    #[test]
    fn an_interrupt_reaches_its_request_in_flight() {
        let interrupts = Interrupts::default();
        let started = interrupts.start(7);
        assert!(!started.interrupt.is_set());
        assert_eq!(interrupts.interrupt(100, 7), None);
        assert!(started.interrupt.is_set());
        interrupts.end(7);
        drop(started);
        let again = interrupts.start(8);
        assert!(!again.interrupt.is_set(), "a reused interruption starts unset");
    }

    #[test]
    fn an_early_interrupt_waits_for_its_request_and_others_get_eagain() {
        let interrupts = Interrupts::default();
        assert_eq!(interrupts.interrupt(100, 9), None);
        assert_eq!(interrupts.interrupt(101, 42), None);
        // Request 9 arrives: its interrupt was waiting.
        let nine = interrupts.start(9);
        assert!(nine.interrupt.is_set());
        assert_eq!(nine.retry, None);
        // Another request: the interrupt of the unknown 42 is answered EAGAIN, once.
        let ten = interrupts.start(10);
        assert!(!ten.interrupt.is_set());
        assert_eq!(ten.retry, Some(101));
        assert_eq!(interrupts.start(11).retry, None);
    }

    #[test]
    fn a_flood_of_unknown_interrupts_is_bounded() {
        let interrupts = Interrupts::default();
        for unique in 0..super::WAITING_MAX as u64 {
            assert_eq!(interrupts.interrupt(1000 + unique, 5000 + unique), None);
        }
        assert_eq!(interrupts.interrupt(1, 2), Some(1), "beyond the bound: EAGAIN at once");
    }
}
