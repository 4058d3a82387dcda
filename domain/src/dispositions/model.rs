//! Dispositions as the API shows them (camelCase, the first seed's family).

use chrono::{DateTime, Utc};
use gobi_shared::ids::TenantId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Dispositions one tenant may define.
pub const MAX_DISPOSITIONS: usize = 200;

/// One of a tenant's dispositions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Disposition {
    pub tenant_id: TenantId,
    /// Lower-case letters, digits and `_`, 1 to 64 (`appointment_set`).
    #[schema(example = "appointment_set")]
    pub code: String,
    #[schema(example = "Appointment set")]
    pub label: String,
    /// The call achieved what it was for (the success rate counts these).
    pub success: bool,
    /// The lead needs no further attempt on its campaign.
    pub terminal: bool,
    /// The other party's number goes on the tenant's do-not-call list.
    pub suppress: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whether `code` is a disposition code: lower-case ASCII letters, digits and `_`, 1 to 64.
pub fn valid_code(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_short_lower_snake_case() {
        assert!(valid_code("appointment_set"));
        assert!(valid_code("dnc2"));
        assert!(!valid_code(""));
        assert!(!valid_code("Appointment"));
        assert!(!valid_code("no-answer"));
        assert!(!valid_code(&"a".repeat(65)));
    }
}
