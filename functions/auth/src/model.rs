//! Bodies and answers of the auth routes (snake_case, as the second seed writes them).

use gobi_shared::ids::{Email, TenantId};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use gobi_domain::users::model::{Membership, MembershipRole, UserView};

use crate::password;

/// `POST /auth/register-first-admin`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterFirstAdmin {
    #[schema(value_type = Email)]
    pub email: String,
    /// At least 12 characters.
    #[schema(value_type = String, min_length = 12, max_length = 256)]
    pub password: SecretString,
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// The platform operator's own tenant, created with the admin.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "Acme Voice Ops"
    )]
    pub tenant_name: String,
    #[schema(value_type = gobi_shared::ids::Domain)]
    pub tenant_domain: String,
}

/// `POST /auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    #[schema(min_length = 1, max_length = 254, pattern = r"\S")]
    pub email: String,
    #[schema(value_type = String, min_length = 1, max_length = 256)]
    pub password: SecretString,
    /// Scope the token to this tenant; the user must be a member.
    pub tenant_id: Option<TenantId>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMembership {
    pub tenant_id: TenantId,
    pub role: MembershipRole,
}

/// `POST /auth/bootstrap/user`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BootstrapUser {
    #[schema(value_type = Email)]
    pub email: String,
    #[schema(value_type = String, min_length = 12, max_length = 256)]
    pub password: SecretString,
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// 1 to 20 tenants, each once.
    #[schema(min_items = 1, max_items = 20)]
    pub memberships: Vec<NewMembership>,
}

/// `POST /internal/dev/token`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevToken {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S", example = "user-1")]
    pub user_id: String,
    /// The tenant the token is bound to. Tokens act for this tenant alone unless `acct` is the
    /// platform account.
    pub tenant_id: Option<TenantId>,
    pub role: MembershipRole,
    #[serde(default)]
    pub is_internal: bool,
    /// The account claim; `00000000-0000-0000-0000-000000000000` (the platform account) makes a
    /// token that acts across tenants.
    #[schema(format = Uuid, example = "00000000-0000-0000-0000-000000000000")]
    pub acct: Option<String>,
    /// `30m`, `1h`, `7d` or seconds; at most 30 days (default `1h`).
    #[schema(
        example = "1h",
        pattern = r"^(([1-9]|[12][0-9]|30)d|([1-9][0-9]?|[1-6][0-9]{2}|7[01][0-9]|720)h|([1-9][0-9]{0,3}|[1-3][0-9]{4}|4[0-2][0-9]{3}|43200)m|([1-9][0-9]{0,5}|1[0-9]{6}|2[0-4][0-9]{5}|25[0-8][0-9]{4}|259[01][0-9]{3}|2592000)s?)$"
    )]
    pub expires_in: Option<String>,
}

// Its `Debug` (below) leaves the token out.
/// A token and who it is for.
#[derive(Serialize, ToSchema)]
pub struct TokenGrant {
    pub token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: i64,
    pub user: Option<UserView>,
    /// The tenant the token is scoped to.
    pub tenant_id: Option<String>,
    pub role: MembershipRole,
    /// The platform account, on tokens that act across tenants (members of the platform tenant).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acct: Option<String>,
    pub memberships: Vec<Membership>,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("token", &"[REDACTED]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("user", &self.user)
            .field("tenant_id", &self.tenant_id)
            .field("role", &self.role)
            .field("acct", &self.acct)
            .field("memberships", &self.memberships)
            .finish()
    }
}

/// `POST /auth/bootstrap/user` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    pub user: UserView,
    pub memberships: Vec<Membership>,
}

pub fn display_name(raw: Option<&str>) -> Result<Option<String>, String> {
    gobi_shared::text::optional(raw, 200)
}

pub fn new_password(raw: &SecretString) -> Result<(), String> {
    password::check_strength(raw.expose_secret())
}

/// `30m`, `1h`, `7d`, `3600`: seconds, at most 30 days.
pub fn parse_expires_in(raw: &str) -> Result<i64, String> {
    let raw = raw.trim();
    let (digits, unit) = match raw.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&raw[..i], c),
        _ => (raw, 's'),
    };
    let count: i64 = digits
        .parse()
        .map_err(|_| "must look like 30m, 1h, 7d or a number of seconds".to_owned())?;
    let seconds = match unit {
        's' => count,
        'm' => count * 60,
        'h' => count * 3600,
        'd' => count * 86_400,
        _ => return Err("the unit must be s, m, h or d".into()),
    };
    if !(1..=30 * 86_400).contains(&seconds) {
        return Err("must be between 1 second and 30 days".into());
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_spans_parse() {
        assert_eq!(parse_expires_in("1h"), Ok(3600));
        assert_eq!(parse_expires_in("30m"), Ok(1800));
        assert_eq!(parse_expires_in("7d"), Ok(604_800));
        assert_eq!(parse_expires_in("90"), Ok(90));
        assert!(parse_expires_in("31d").is_err());
        assert!(parse_expires_in("0").is_err());
        assert!(parse_expires_in("1y").is_err());
        assert!(parse_expires_in("h").is_err());
    }
}
