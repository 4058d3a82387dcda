//! Timestamps are RFC 3339 UTC with millisecond precision.

use chrono::{DateTime, SubsecRound, Utc};

pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}
