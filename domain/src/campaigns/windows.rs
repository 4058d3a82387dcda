//! When a campaign may call a lead: inside one of the campaign's weekly windows and inside the
//! law's hours ([`super::law`]), both in the lead's local time, on no blackout date, between the
//! campaign's start and end. A lead whose number spans several zones is called only when every
//! candidate zone allows it (the intersection); a lead with no zone known takes the campaign's
//! fallback zone. Daylight-saving changes come from the IANA database (`crate::zone`).

use crate::zone::Zone;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::law::CallingRule;
use crate::leads::timezones::LeadTimezone;

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub fn weekday(self) -> Weekday {
        match self {
            Self::Mon => Weekday::Mon,
            Self::Tue => Weekday::Tue,
            Self::Wed => Weekday::Wed,
            Self::Thu => Weekday::Thu,
            Self::Fri => Weekday::Fri,
            Self::Sat => Weekday::Sat,
            Self::Sun => Weekday::Sun,
        }
    }
}

/// `HH:MM` on the wire.
mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &NaiveTime, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_str(&time.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(input)?;
        NaiveTime::parse_from_str(&text, "%H:%M")
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a time like 09:30")))
    }
}

/// A weekly calling window in the lead's local time: `start` ≤ time < `end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Window {
    #[schema(min_items = 1, max_items = 7)]
    pub days: Vec<Day>,
    #[serde(with = "hhmm")]
    #[schema(value_type = String, example = "09:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub start: NaiveTime,
    #[serde(with = "hhmm")]
    #[schema(value_type = String, example = "17:30", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub end: NaiveTime,
}

impl Window {
    fn holds(&self, day: Weekday, time: NaiveTime) -> bool {
        self.days.iter().any(|d| d.weekday() == day) && self.start <= time && time < self.end
    }
}

/// When a campaign calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// No call before this moment (default: when started).
    pub start_at: Option<DateTime<Utc>>,
    /// No call from this moment on; the campaign then pauses with `endReached`.
    pub end_at: Option<DateTime<Utc>>,
    /// Weekly windows in the lead's local time.
    pub windows: Vec<Window>,
    /// The zone of leads whose number names none (IANA, `America/New_York`).
    pub timezone: String,
    /// Local dates with no call (holidays).
    #[serde(default)]
    pub blackout_dates: Vec<NaiveDate>,
}

/// Why a call was allowed, kept on the attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Permit {
    /// The index of the campaign window that allowed it (in the first zone).
    pub window: usize,
    /// The lead's local time at the dial, in each zone considered (`2026-03-09T09:00:00-04:00`).
    pub local_times: Vec<String>,
    /// The rule applied: `*` (federal floor) or a state.
    pub rule: String,
}

/// The zones a lead is called in: its own, its candidates, or the campaign's fallback.
pub fn zones_of(timezone: &LeadTimezone, fallback: &str) -> Vec<Zone> {
    let named: Vec<&str> = match timezone {
        LeadTimezone::Explicit { zone } | LeadTimezone::Number { zone } => vec![zone.as_str()],
        LeadTimezone::Ambiguous { candidates } => candidates.iter().map(String::as_str).collect(),
    };
    let zones: Vec<Zone> = named.iter().filter_map(|z| z.parse().ok()).collect();
    if zones.is_empty() {
        fallback.parse().map(|tz| vec![tz]).unwrap_or_default()
    } else {
        zones
    }
}

/// Whether `at` is inside the schedule and the law for a lead in `zones` under `rule`.
pub fn permit(
    schedule: &Schedule,
    zones: &[Zone],
    rule: &CallingRule,
    at: DateTime<Utc>,
) -> Option<Permit> {
    if zones.is_empty()
        || schedule.start_at.is_some_and(|start| at < start)
        || schedule.end_at.is_some_and(|end| at >= end)
    {
        return None;
    }
    let mut window = None;
    let mut local_times = Vec::with_capacity(zones.len());
    for zone in zones {
        let local = at.with_timezone(zone);
        let (day, time) = (local.weekday(), local.time());
        if schedule.blackout_dates.contains(&local.date_naive()) {
            return None;
        }
        let legal = rule.hours(day)?;
        if !(legal.start <= time && time < legal.end) {
            return None;
        }
        let index = schedule.windows.iter().position(|w| w.holds(day, time))?;
        window.get_or_insert(index);
        local_times.push(local.to_rfc3339());
    }
    Some(Permit {
        window: window.unwrap_or_default(),
        local_times,
        rule: rule.region.to_owned(),
    })
}

/// Days ahead the next opening is looked for (a week, and the day a window may span into).
const LOOK_AHEAD_DAYS: i64 = 8;

/// The first moment after `after` at which [`permit`] allows a call, within eight days.
pub fn next_opening(
    schedule: &Schedule,
    zones: &[Zone],
    rule: &CallingRule,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    // An allowed stretch begins where some zone's window, legal hours or day begins, or at the
    // campaign's start: those moments are the only candidates.
    let mut candidates: Vec<DateTime<Utc>> = schedule.start_at.into_iter().collect();
    for zone in zones {
        let today = after.with_timezone(zone).date_naive();
        for offset in 0..=LOOK_AHEAD_DAYS {
            let date = today + Duration::days(offset);
            let day = date.weekday();
            let starts = schedule
                .windows
                .iter()
                .map(|w| w.start)
                .chain(rule.hours(day).map(|h| h.start))
                .chain(std::iter::once(NaiveTime::MIN));
            for time in starts {
                if let Some(at) = zone.from_local_datetime(&date.and_time(time)).earliest() {
                    candidates.push(at.with_timezone(&Utc));
                }
            }
        }
    }
    candidates.sort();
    candidates
        .into_iter()
        .filter(|at| *at > after)
        .find(|at| permit(schedule, zones, rule, *at).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaigns::law;

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn weekdays(start: NaiveTime, end: NaiveTime) -> Schedule {
        Schedule {
            start_at: None,
            end_at: None,
            windows: vec![Window {
                days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
                start,
                end,
            }],
            timezone: "America/New_York".into(),
            blackout_dates: Vec::new(),
        }
    }

    fn zone(name: &str) -> Vec<Zone> {
        vec![name.parse().unwrap()]
    }

    #[test]
    fn a_window_is_in_local_time_across_a_dst_change() {
        // New York springs forward on 2026-03-08: 13:00 UTC is 08:00 EST before, 09:00 EDT after.
        let schedule = weekdays(hm(9, 0), hm(17, 0));
        let ny = zone("America/New_York");
        let rule = law::rule_for("+12125550100");
        assert!(permit(&schedule, &ny, rule, utc("2026-03-06T13:00:00Z")).is_none());
        let after = permit(&schedule, &ny, rule, utc("2026-03-09T13:00:00Z")).unwrap();
        assert_eq!(after.local_times, ["2026-03-09T09:00:00-04:00"]);
        assert_eq!(after.rule, "*");
        // Friday evening, after the change is still ahead: the next opening is Monday 09:00 EDT.
        assert_eq!(
            next_opening(&schedule, &ny, rule, utc("2026-03-06T23:00:00Z")),
            Some(utc("2026-03-09T13:00:00Z"))
        );
    }

    #[test]
    fn florida_at_half_past_eight_in_the_evening_is_not_called() {
        let schedule = weekdays(hm(8, 0), hm(21, 0));
        let miami = zone("America/New_York");
        // Tuesday 2026-11-24 20:30 EST = 01:30 UTC on the 25th.
        let at = utc("2026-11-25T01:30:00Z");
        assert!(permit(&schedule, &miami, law::rule_for("+13055550100"), at).is_none());
        // The same moment is fine for a New York number (federal floor ends at 21:00).
        assert!(permit(&schedule, &miami, law::rule_for("+12125550100"), at).is_some());
        // And no window reaches past the floor: 21:00 is closed everywhere.
        assert!(
            permit(
                &schedule,
                &miami,
                law::rule_for("+12125550100"),
                utc("2026-11-25T02:00:00Z")
            )
            .is_none()
        );
    }

    #[test]
    fn an_ambiguous_lead_is_called_in_the_intersection_of_its_zones() {
        let schedule = weekdays(hm(9, 0), hm(17, 0));
        let both: Vec<Zone> = ["America/New_York", "America/Chicago"]
            .iter()
            .map(|z| z.parse().unwrap())
            .collect();
        let rule = law::floor();
        // 14:30 UTC Monday = 09:30 Eastern, 08:30 Central: not yet.
        assert!(permit(&schedule, &both, rule, utc("2026-11-23T14:30:00Z")).is_none());
        // The opening is 10:00 Eastern = 09:00 Central.
        assert_eq!(
            next_opening(&schedule, &both, rule, utc("2026-11-23T14:30:00Z")),
            Some(utc("2026-11-23T15:00:00Z"))
        );
        // It closes at 17:00 Eastern.
        assert!(permit(&schedule, &both, rule, utc("2026-11-23T21:59:00Z")).is_some());
        assert!(permit(&schedule, &both, rule, utc("2026-11-23T22:00:00Z")).is_none());
        let fallback = zones_of(
            &LeadTimezone::Ambiguous {
                candidates: Vec::new(),
            },
            "Europe/London",
        );
        assert_eq!(fallback, zone("Europe/London"));
    }

    #[test]
    fn blackout_dates_sundays_and_the_campaigns_end_close_the_line() {
        let mut schedule = weekdays(hm(9, 0), hm(17, 0));
        schedule.windows[0].days.push(Day::Sun);
        schedule.blackout_dates = vec![NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()];
        let chicago = zone("America/Chicago");
        // Thanksgiving 2026-11-26, 12:00 Central.
        assert!(
            permit(
                &schedule,
                &chicago,
                law::floor(),
                utc("2026-11-26T18:00:00Z")
            )
            .is_none()
        );
        assert!(
            permit(
                &schedule,
                &chicago,
                law::floor(),
                utc("2026-11-27T18:00:00Z")
            )
            .is_some()
        );
        // Alabama calls nobody on Sunday, whatever the window says.
        let sunday = utc("2026-11-29T18:00:00Z");
        assert!(permit(&schedule, &chicago, law::rule_for("+12055550100"), sunday).is_none());
        assert!(permit(&schedule, &chicago, law::floor(), sunday).is_some());
        schedule.end_at = Some(utc("2026-11-27T00:00:00Z"));
        assert!(
            permit(
                &schedule,
                &chicago,
                law::floor(),
                utc("2026-11-27T18:00:00Z")
            )
            .is_none()
        );
        assert_eq!(
            next_opening(
                &schedule,
                &chicago,
                law::floor(),
                utc("2026-11-27T18:00:00Z")
            ),
            None
        );
    }
}
