//! Newtypes for ids and values, parsed at the edge so domain structs hold only valid values.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A UUID-backed id. `new()` makes a v7 id, so ids sort by creation time.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A tenant's id.
    TenantId
);
uuid_id!(
    /// An AI voice agent's id.
    AgentId
);
uuid_id!(
    /// A phone number's id (GOBI's, not Twilio's SID).
    PhoneNumberId
);
uuid_id!(
    /// An immutable version of an agent's configuration.
    AgentVersionId
);
uuid_id!(
    /// A tool an agent may call through the automation gateway.
    ToolId
);
uuid_id!(
    /// A call (GOBI's id; Twilio's is the CallSid).
    CallId
);
uuid_id!(
    /// A runtime dispatch: one call handed to the voice runtime.
    DispatchId
);

/// The platform account (`acct`) whose tokens may manage tenants.
pub const PLATFORM_ACCOUNT: Uuid = Uuid::nil();

/// Why a value was refused; the message is shown to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// A lower-case DNS name with at least two labels, e.g. `example.com`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "example.com", max_length = 253, pattern = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")]
pub struct Domain(String);

impl Domain {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let domain = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        let invalid = |why: &str| {
            Err(InvalidValue(format!(
                "must be a domain name like example.com: {why}"
            )))
        };
        if domain.is_empty() {
            return invalid("it is empty");
        }
        if domain.len() > 253 {
            return invalid("it is longer than 253 characters");
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return invalid("it needs a dot");
        }
        for label in &labels {
            if label.is_empty() || label.len() > 63 {
                return invalid("each label has 1 to 63 characters");
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return invalid("only letters, digits and hyphens are allowed");
            }
            if label.starts_with('-') || label.ends_with('-') {
                return invalid("a label may not start or end with a hyphen");
            }
        }
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return invalid("the last label may not be numeric");
        }
        Ok(Self(domain))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Domain {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address, as given (trimmed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, format = Email, example = "admin@example.com")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let email = raw.trim();
        if email.len() > 254 || !email_address::EmailAddress::is_valid(email) {
            return Err(InvalidValue(
                "must be an e-mail address like admin@example.com".into(),
            ));
        }
        Ok(Self(email.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A phone number in E.164 (`+15551234567`). Spaces, dots, dashes and parentheses are dropped
/// on the way in (`+1 (415) 555-2671` → `+14155552671`); the numbering plan is not checked,
/// so fictional numbers such as the seed's `+15551234567` are storable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "+15551234567", pattern = r"^\+[1-9][0-9]{6,14}$")]
pub struct E164(String);

impl E164 {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let compact: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let valid = compact.strip_prefix('+').is_some_and(|d| {
            (7..=15).contains(&d.len())
                && !d.starts_with('0')
                && d.bytes().all(|b| b.is_ascii_digit())
        });
        if !valid {
            return Err(InvalidValue(
                "must be a phone number in E.164 form like +15551234567".into(),
            ));
        }
        Ok(Self(compact))
    }

    /// Stricter than [`E164::parse`], for numbers GOBI buys and routes: libphonenumber must
    /// recognise the country calling code and the length must fit it. The numbering plan is not
    /// checked, so fictional numbers like the seed's `+15551234567` still pass.
    pub fn parse_dialable(raw: &str) -> Result<Self, InvalidValue> {
        let invalid = |why: &str| {
            InvalidValue(format!(
                "must be a dialable phone number in E.164 form like +15551234567: {why}"
            ))
        };
        let e164 = Self::parse(raw).map_err(|_| invalid("not E.164"))?;
        let number =
            phonenumber::parse(None, e164.as_str()).map_err(|e| invalid(&e.to_string()))?;
        if number.format().mode(phonenumber::Mode::E164).to_string() != e164.as_str() {
            return Err(invalid("not a number libphonenumber recognises"));
        }
        Ok(e164)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The international form the first seed shows: `+1 555 123 4567`.
    pub fn display(&self) -> String {
        match phonenumber::parse(None, &self.0) {
            Ok(number) => number
                .format()
                .mode(phonenumber::Mode::International)
                .to_string()
                .replace(['-', '(', ')'], " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            Err(_) => self.0.clone(),
        }
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for E164 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalised_and_checked() {
        assert_eq!(
            Domain::parse(" Example.COM. ").unwrap().as_str(),
            "example.com"
        );
        assert_eq!(
            Domain::parse("a-b.example.co.uk").unwrap().as_str(),
            "a-b.example.co.uk"
        );
        for bad in [
            "",
            "localhost",
            "-a.com",
            "a-.com",
            "a..com",
            "exa mple.com",
            "1.2.3.4",
            "a_b.com",
        ] {
            assert!(Domain::parse(bad).is_err(), "{bad} should be refused");
        }
        assert!(Domain::parse(&format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn phone_numbers_become_e164() {
        assert_eq!(
            E164::parse("+1 (415) 555-2671").unwrap().as_str(),
            "+14155552671"
        );
        assert_eq!(
            E164::parse("+15551234567").unwrap().as_str(),
            "+15551234567"
        );
        assert!(E164::parse("5551234567").is_err());
        assert!(E164::parse("+1 555").is_err());
        assert!(E164::parse("+1 555 abc").is_err());
    }

    #[test]
    fn dialable_numbers_need_a_known_country_code() {
        assert_eq!(
            E164::parse_dialable("+1 555 123 4567").unwrap().as_str(),
            "+15551234567"
        );
        assert_eq!(
            E164::parse_dialable("+44 20 7946 0958").unwrap().as_str(),
            "+442079460958"
        );
        assert!(E164::parse_dialable("+80536282365").is_err());
        assert!(E164::parse_dialable("5551234567").is_err());
        assert!(E164::parse_dialable("+940022319*").is_err());
    }

    #[test]
    fn numbers_display_as_the_seed_shows_them() {
        assert_eq!(
            E164::parse("+15551234567").unwrap().display(),
            "+1 555 123 4567"
        );
        assert_eq!(
            E164::parse("+442079460958").unwrap().display(),
            "+44 20 7946 0958"
        );
    }

    #[test]
    fn emails_are_checked() {
        assert_eq!(
            Email::parse(" a@example.com ").unwrap().as_str(),
            "a@example.com"
        );
        assert!(Email::parse("not-an-email").is_err());
    }

    #[test]
    fn tenant_ids_round_trip() {
        let id = TenantId::new();
        assert_eq!(id.to_string().parse::<TenantId>().unwrap(), id);
        assert!("tenant-1".parse::<TenantId>().is_err());
    }
}
