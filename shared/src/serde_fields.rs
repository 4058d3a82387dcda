//! Field helpers for request bodies.

use serde::{Deserialize, Deserializer};

/// Tells a field sent as `null` (`Some(None)`) from a field left out (`None`), for partial updates.
/// Use with `#[serde(default, deserialize_with = "nullable")]`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A whole number that JSON may write as `272` or `272.0` (JSON Schema counts both as an
/// integer). Use with `#[serde(deserialize_with = "whole")]` on `u32` fields.
pub fn whole<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    whole_from(&number).map_err(serde::de::Error::custom)
}

/// [`whole`] for an optional field; use with `#[serde(default, deserialize_with = "whole_opt")]`.
pub fn whole_opt<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    match Option::<serde_json::Number>::deserialize(deserializer)? {
        None => Ok(None),
        Some(number) => whole_from(&number)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// A JSON number as a `u32`, when it is whole (`3` or `3.0`).
pub fn whole_from(number: &serde_json::Number) -> Result<u32, String> {
    let value = number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u64)
    });
    value.and_then(|v| u32::try_from(v).ok()).ok_or_else(|| {
        format!(
            "expected a whole number from 0 to {}, got {number}",
            u32::MAX
        )
    })
}

/// [`whole`] for `u64` fields (sizes, offsets).
pub fn whole_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    number
        .as_u64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19)
                .map(|f| f as u64)
        })
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expected a whole number of at least 0, got {number}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(deserialize_with = "whole")]
        count: u32,
        #[serde(default, deserialize_with = "whole_opt")]
        limit: Option<u32>,
    }

    #[test]
    fn whole_numbers_may_be_written_as_floats() {
        let body: Body = serde_json::from_str(r#"{"count": 272.0, "limit": 3}"#).unwrap();
        assert_eq!((body.count, body.limit), (272, Some(3)));
        let body: Body = serde_json::from_str(r#"{"count": 1}"#).unwrap();
        assert_eq!(body.limit, None);
        assert!(serde_json::from_str::<Body>(r#"{"count": 2.5}"#).is_err());
        assert!(serde_json::from_str::<Body>(r#"{"count": -1}"#).is_err());
    }
}
