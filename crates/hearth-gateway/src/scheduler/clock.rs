//! The scheduler's clock: the wall-clock time and sleeping until a wall-clock time,
//! behind a trait so tests can run calendar and DST cases (and a clock that jumps)
//! without waiting. [`SystemClock`] is the real one; [`ManualClock`] is moved by hand.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use jiff::Timestamp;
use tokio::sync::watch;

/// A future a clock returns from [`Clock::sleep_until`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Where the scheduler reads the time and how it waits for one.
pub trait Clock: Send + Sync + 'static {
    /// The wall-clock time now.
    fn now(&self) -> Timestamp;
    /// Completes at (or after) the wall-clock time `at`. It may complete early when
    /// the clock jumps; the scheduler checks the time again on waking.
    fn sleep_until(&self, at: Timestamp) -> Sleep;
}

/// The system clock. A sleep is measured on tokio's monotonic clock from the wall
/// time when it starts; the scheduler's once-a-second change check also compares the
/// two clocks, so a wall clock that jumps is noticed within about a second.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn sleep_until(&self, at: Timestamp) -> Sleep {
        let wait = at
            .duration_since(Timestamp::now())
            .try_into()
            .unwrap_or(std::time::Duration::ZERO);
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that stands still until [`set`](Self::set): for tests of calendar and DST
/// cases and of clock jumps, through the real scheduler.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
    changed: watch::Sender<Timestamp>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: Mutex::new(start),
            changed: watch::channel(start).0,
        }
    }

    /// Moves the clock to `now` (forward or back) and wakes every sleeper that is due.
    pub fn set(&self, now: Timestamp) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = now;
        self.changed.send_replace(now);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sleep_until(&self, at: Timestamp) -> Sleep {
        let mut changed = self.changed.subscribe();
        Box::pin(async move {
            loop {
                if *changed.borrow_and_update() >= at {
                    return;
                }
                if changed.changed().await.is_err() {
                    // The clock is gone: never wake.
                    std::future::pending::<()>().await;
                }
            }
        })
    }
}

/// A time as the store keeps it: UTC with milliseconds (`2026-12-05T08:00:00.000Z`),
/// so stored times sort as text.
pub fn store_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Reads a time the store keeps (any RFC 3339 time).
pub fn parse_store_time(text: &str) -> Option<Timestamp> {
    text.parse().ok()
}
