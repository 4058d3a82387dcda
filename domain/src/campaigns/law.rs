//! The law on when a number may be called, as data: the federal floor and the stricter state
//! rules of `legal_hours.tsv` (sources cited in its header), and the US state of a number from
//! its area code (`us_area_codes.tsv`, libphonenumber's geocoding data, written by
//! `generate_us_area_codes.py` beside it). A number outside the US gets the federal floor, the
//! strictest rule GOBI knows for every number.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{NaiveTime, Weekday};

const HOURS: &str = include_str!("legal_hours.tsv");
const AREA_CODES: &str = include_str!("us_area_codes.tsv");

/// The hours calls are allowed on one day, in the called party's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// When a region may be called, and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallingRule {
    /// `*` for the federal floor, else a USPS state code.
    pub region: &'static str,
    pub weekdays: Option<Hours>,
    pub saturday: Option<Hours>,
    pub sunday: Option<Hours>,
    /// Calls to one number within 24 hours, at most (per campaign).
    pub max_calls_per_day: Option<u32>,
}

impl CallingRule {
    /// The hours of `day`, or `None` when no call is allowed that day.
    pub fn hours(&self, day: Weekday) -> Option<Hours> {
        match day {
            Weekday::Sat => self.saturday,
            Weekday::Sun => self.sunday,
            _ => self.weekdays,
        }
    }
}

fn parse_hours(cell: &str) -> Option<Hours> {
    let (start, end) = cell.split_once('-')?;
    Some(Hours {
        start: NaiveTime::parse_from_str(start, "%H:%M").ok()?,
        end: NaiveTime::parse_from_str(end, "%H:%M").ok()?,
    })
}

static RULES: LazyLock<HashMap<&'static str, CallingRule>> = LazyLock::new(|| {
    HOURS
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let cells: Vec<&'static str> = line.split('\t').collect();
            let [region, weekdays, saturday, sunday, cap] = cells.as_slice() else {
                return None;
            };
            Some((
                *region,
                CallingRule {
                    region,
                    weekdays: parse_hours(weekdays),
                    saturday: parse_hours(saturday),
                    sunday: parse_hours(sunday),
                    max_calls_per_day: cap.parse().ok(),
                },
            ))
        })
        .collect()
});

static STATES: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| {
    AREA_CODES
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('\t'))
        .collect()
});

/// The US state (USPS code) of a North American number, when its area code is a US one.
pub fn us_state(e164: &str) -> Option<&'static str> {
    let digits = e164.strip_prefix("+1")?;
    let code = digits.get(..3)?;
    STATES.get(code).copied()
}

/// The rule for calling `e164`: its state's when the table has one, else the federal floor.
pub fn rule_for(e164: &str) -> &'static CallingRule {
    us_state(e164)
        .and_then(|state| RULES.get(state))
        .unwrap_or_else(|| floor())
}

/// The federal floor (TCPA): 08:00–21:00 local time, every day (the table's `*` row).
pub fn floor() -> &'static CallingRule {
    &FLOOR
}

static FLOOR: LazyLock<CallingRule> = LazyLock::new(|| {
    RULES.get("*").cloned().unwrap_or_else(|| {
        let hours = parse_hours("08:00-21:00");
        CallingRule {
            region: "*",
            weekdays: hours,
            saturday: hours,
            sunday: hours,
            max_calls_per_day: None,
        }
    })
});

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn the_tables_read_whole() {
        assert_eq!(RULES.len(), 14);
        assert!(STATES.len() > 300);
        let floor = floor();
        assert_eq!(
            floor.hours(Weekday::Sun),
            Some(Hours {
                start: at(8, 0),
                end: at(21, 0)
            })
        );
        assert_eq!(floor.max_calls_per_day, None);
    }

    #[test]
    fn a_number_gets_its_states_rule_or_the_floor() {
        assert_eq!(us_state("+13055550100"), Some("FL"));
        assert_eq!(us_state("+12125550100"), Some("NY"));
        assert_eq!(us_state("+14165550100"), None, "Toronto");
        assert_eq!(us_state("+442079460018"), None);
        let florida = rule_for("+13055550100");
        assert_eq!(florida.region, "FL");
        assert_eq!(florida.hours(Weekday::Mon).unwrap().end, at(20, 0));
        assert_eq!(florida.max_calls_per_day, Some(3));
        assert_eq!(rule_for("+12125550100").region, "*");
        assert_eq!(rule_for("+442079460018").region, "*");
        let alabama = rule_for("+12055550100");
        assert_eq!(alabama.hours(Weekday::Sun), None, "no calls on Sunday");
        assert_eq!(
            rule_for("+14055550100").max_calls_per_day,
            Some(3),
            "Oklahoma"
        );
        assert_eq!(
            rule_for("+14105550100").max_calls_per_day,
            Some(3),
            "Maryland"
        );
    }
}
