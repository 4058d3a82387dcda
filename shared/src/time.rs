//! Timestamps are RFC 3339 UTC with millisecond precision. Time-dependent logic reads a
//! [`Clock`], so tests move time instead of sleeping.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, SubsecRound, Utc};

pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// Where "now" comes from.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// `None`: the system clock; `Some`: a time tests set and move.
    fixed: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl Clock {
    pub fn system() -> Self {
        Self { fixed: None }
    }

    /// A clock that stands still at `at` until [`Clock::advance`] moves it.
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self {
            fixed: Some(Arc::new(Mutex::new(at.trunc_subsecs(3)))),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.fixed {
            Some(at) => *at.lock().expect("clock lock"),
            None => now(),
        }
    }

    /// Moves a fixed clock forward; a system clock cannot be moved.
    pub fn advance(&self, by: Duration) {
        let at = self
            .fixed
            .as_ref()
            .expect("only a fixed clock can be advanced");
        let mut at = at.lock().expect("clock lock");
        *at += by;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_moves_only_when_told() {
        let start = now();
        let clock = Clock::fixed(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::seconds(91));
        assert_eq!(clock.now() - start, Duration::seconds(91));
        assert!(Clock::system().now() >= start);
    }
}
