//! The timer table of a connection: one deadline per slot, the replies the
//! peer owes, and the earliest deadline for `poll_timeout`.
//!
//! What each slot means (all but `Idle` and `Rekey` are reply deadlines of
//! `handshake_timeout`):
//!
//! * `Handshake`: from the connection's creation until the first keys are
//!   in use (v2: until the peer's FINISHED verified);
//! * `Rotation`: from our rotation's start (`REKEY`, or a v1 client's new
//!   `ALGORITHMS`) until its answer;
//! * `Reply`: from a client's `OPEN` (and, in v2, `CLOSE`) until the
//!   server's answer; several may be owed, answered in order;
//! * `Idle`: re-armed by every complete frame sent or received;
//! * `Rekey`: v2, or a v1 client, when to start a rotation (not an error);
//! * `Deferred`: when a rotation the peer asked for too early is answered
//!   (`Config::min_rotation_interval`; not an error).

use alloc::collections::VecDeque;
use core::time::Duration;
use std::time::Instant;

use crate::config::Version;
use crate::error::Timer;

/// The deadlines a connection keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    Handshake,
    Rotation,
    Reply,
    Idle,
    Rekey,
    Deferred,
}

/// How many slots there are.
const SLOTS: usize = 6;

impl Slot {
    /// Every slot, in the order `handle_timeout` looks at them.
    pub(super) const ALL: [Slot; SLOTS] = [
        Slot::Handshake,
        Slot::Rotation,
        Slot::Reply,
        Slot::Idle,
        Slot::Rekey,
        Slot::Deferred,
    ];

    fn index(self) -> usize {
        match self {
            Slot::Handshake => 0,
            Slot::Rotation => 1,
            Slot::Reply => 2,
            Slot::Idle => 3,
            Slot::Rekey => 4,
            Slot::Deferred => 5,
        }
    }
}

/// The deadlines, one per slot, and the replies owed by the peer.
#[derive(Debug, Clone, Default)]
pub(super) struct Timers {
    deadlines: [Option<Instant>; SLOTS],
    /// Answers the peer owes to our application messages, oldest first
    /// (`OpenReply`, `CloseReply`); the `Reply` slot is the oldest's.
    owed: VecDeque<Timer>,
}

impl Timers {
    /// Starts `slot` to expire `after` `now` (never, if `after` is `None`
    /// or too far to represent).
    pub(super) fn arm(&mut self, slot: Slot, now: Instant, after: Option<Duration>) {
        self.deadlines[slot.index()] = after.and_then(|d| now.checked_add(d));
    }

    /// Starts `slot` to expire at `deadline`.
    pub(super) fn arm_at(&mut self, slot: Slot, deadline: Instant) {
        self.deadlines[slot.index()] = Some(deadline);
    }

    pub(super) fn disarm(&mut self, slot: Slot) {
        self.deadlines[slot.index()] = None;
    }

    pub(super) fn disarm_all(&mut self) {
        self.deadlines = [None; SLOTS];
        self.owed.clear();
    }

    /// Whether `slot` has expired at `now`.
    pub(super) fn expired(&self, slot: Slot, now: Instant) -> bool {
        self.deadlines[slot.index()].is_some_and(|deadline| deadline <= now)
    }

    /// The earliest deadline, if any.
    pub(super) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// The peer now owes `answer`; its deadline starts now unless an older
    /// answer is still owed (then it starts when that one arrives).
    pub(super) fn owe(&mut self, answer: Timer, now: Instant, after: Option<Duration>) {
        if self.owed.is_empty() {
            self.arm(Slot::Reply, now, after);
        }
        self.owed.push_back(answer);
    }

    /// The peer answered the oldest owed message; the next one's deadline,
    /// if another is owed, starts now.
    pub(super) fn answered(&mut self, now: Instant, after: Option<Duration>) {
        self.owed.pop_front();
        if self.owed.is_empty() {
            self.disarm(Slot::Reply);
        } else {
            self.arm(Slot::Reply, now, after);
        }
    }

    /// The public name of an expired slot (`Rekey` and `Deferred` are not
    /// errors and have none); `version` tells the two rotations apart.
    pub(super) fn public(&self, slot: Slot, version: Option<Version>) -> Option<Timer> {
        match slot {
            Slot::Handshake => Some(Timer::Handshake),
            Slot::Rotation if version == Some(Version::V1) => Some(Timer::RotationExchange),
            Slot::Rotation => Some(Timer::RekeyAck),
            Slot::Reply => Some(self.owed.front().copied().unwrap_or(Timer::OpenReply)),
            Slot::Idle => Some(Timer::Idle),
            Slot::Rekey | Slot::Deferred => None,
        }
    }
}
