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
