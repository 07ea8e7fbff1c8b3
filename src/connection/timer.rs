//! The timer table of a connection: one deadline per timer, and the
//! earliest of them for `poll_timeout`.

use core::time::Duration;
use std::time::Instant;

use super::State;

/// The timers of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// The peer must complete the handshake or rotation in time.
    Handshake,
    /// The peer must send something now and then.
    Idle,
    /// v2: time to rotate keys (not an error).
    Rekey,
}

impl Timer {
    /// Every timer, in the order `handle_timeout` looks at them.
    pub(super) const ALL: [Timer; 3] = [Timer::Handshake, Timer::Idle, Timer::Rekey];

    /// The timer's name in a `TimedOut` error.
    pub(super) fn name(self, state: State) -> &'static str {
        match (self, state) {
            (Timer::Handshake, State::Rotating) => "rotation",
            (Timer::Handshake, _) => "handshake",
            (Timer::Idle, _) => "idle",
            (Timer::Rekey, _) => "rekey",
        }
    }

    fn index(self) -> usize {
        match self {
            Timer::Handshake => 0,
            Timer::Idle => 1,
            Timer::Rekey => 2,
        }
    }
}

/// The deadlines, one per timer.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Timers([Option<Instant>; 3]);

impl Timers {
    /// Starts `timer` to expire `after` `now` (never, if `after` is `None`
    /// or too far to represent).
    pub(super) fn arm(&mut self, timer: Timer, now: Instant, after: Option<Duration>) {
        self.0[timer.index()] = after.and_then(|d| now.checked_add(d));
    }

    pub(super) fn disarm(&mut self, timer: Timer) {
        self.0[timer.index()] = None;
    }

    pub(super) fn disarm_all(&mut self) {
        self.0 = [None; 3];
    }

    /// Whether `timer` has expired at `now`.
    pub(super) fn expired(&self, timer: Timer, now: Instant) -> bool {
        self.0[timer.index()].is_some_and(|deadline| deadline <= now)
    }

    /// The earliest deadline, if any.
    pub(super) fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }
}
