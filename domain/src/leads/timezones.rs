//! A lead's time zone: the one its file names, else the one its number implies.
//!
//! The number's zones come from `timezone_prefixes.tsv` (libphonenumber's time-zone metadata,
//! written by `generate_timezone_prefixes.py` beside it): the longest listed prefix of the
//! number's digits gives its candidate zones. One candidate is the lead's zone; several leave it
//! `ambiguous` with the candidates, for the dialer to intersect their calling windows.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const TABLE: &str = include_str!("timezone_prefixes.tsv");
/// The longest prefix the table lists.
const MAX_PREFIX: usize = 9;

static PREFIXES: LazyLock<HashMap<&'static str, Vec<&'static str>>> = LazyLock::new(|| {
    TABLE
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('\t'))
        .map(|(prefix, zones)| (prefix, zones.split(',').collect()))
        .collect()
});

/// How a lead's time zone was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", tag = "source")]
pub enum LeadTimezone {
    /// The file (or the API) named it.
    Explicit { zone: String },
    /// The number's prefix has one zone.
    Number { zone: String },
    /// The number's prefix spans several zones (or none is known): the candidates.
    Ambiguous { candidates: Vec<String> },
}

impl LeadTimezone {
    /// The zone, when one is known.
    pub fn zone(&self) -> Option<&str> {
        match self {
            Self::Explicit { zone } | Self::Number { zone } => Some(zone),
            Self::Ambiguous { .. } => None,
        }
    }
}

/// A time zone name as the IANA database spells it (`America/New_York`), or `None`.
pub fn iana(name: &str) -> Option<String> {
    crate::zone::Zone::named(name.trim()).map(|zone| zone.name().to_owned())
}

/// The zones a number in E.164 (`+14155550100`) may be in, from its longest listed prefix.
pub fn candidates(e164: &str) -> Vec<&'static str> {
    let digits = e164.trim_start_matches('+');
    (1..=MAX_PREFIX.min(digits.len()))
        .rev()
        .find_map(|len| PREFIXES.get(&digits[..len]))
        .cloned()
        .unwrap_or_default()
}

/// The lead's time zone from the number alone.
pub fn from_number(e164: &str) -> LeadTimezone {
    match candidates(e164).as_slice() {
        [one] => LeadTimezone::Number {
            zone: (*one).to_owned(),
        },
        many => LeadTimezone::Ambiguous {
            candidates: many.iter().map(|z| (*z).to_owned()).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn north_american_area_codes_give_their_zone() {
        assert_eq!(
            from_number("+12125550100"),
            LeadTimezone::Number {
                zone: "America/New_York".into()
            }
        );
        assert_eq!(
            from_number("+14155550100").zone(),
            Some("America/Los_Angeles")
        );
        assert_eq!(from_number("+13055550100").zone(), Some("America/New_York"));
    }

    #[test]
    fn a_prefix_spanning_zones_is_ambiguous_with_its_candidates() {
        let LeadTimezone::Ambiguous { candidates } = from_number("+19075550100") else {
            panic!("907 spans Alaska's zones");
        };
        assert!(
            candidates.contains(&"America/Anchorage".to_owned()),
            "{candidates:?}"
        );
        assert!(candidates.len() >= 2);
    }

    #[test]
    fn a_country_with_one_zone_gives_it() {
        assert_eq!(from_number("+4915123456789").zone(), Some("Europe/Berlin"));
        assert_eq!(from_number("+33612345678").zone(), Some("Europe/Paris"));
    }

    #[test]
    fn names_are_checked_against_the_iana_database() {
        assert_eq!(iana(" America/Chicago "), Some("America/Chicago".into()));
        assert_eq!(iana("Mars/Olympus_Mons"), None);
        assert_eq!(iana("EST5EDT"), Some("EST5EDT".into()));
    }
}
