use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::jwt::{Claims, JwtVerifier};
use crate::error::ApiError;
use crate::ids::{PLATFORM_ACCOUNT, TenantId};

/// What a principal may do, weakest first. Both seeds' role names map here:
/// `internal_admin`/`admin`, `internal_operator`/`tenant-manager`, `client_viewer`/`user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    fn parse(name: &str) -> Option<Self> {
        match name.trim() {
            "internal_admin" | "admin" => Some(Self::Admin),
            "internal_operator" | "tenant-manager" => Some(Self::Operator),
            "client_viewer" | "user" => Some(Self::Viewer),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Operator => "tenant-manager",
            Self::Viewer => "user",
        }
    }
}

/// The verified caller.
///
/// The authority rule: a token acts across tenants only when it carries `acct` = the platform
/// account; any other token acts for its own `tenant_id` alone, whatever its role or
/// `is_internal`. Internal roles operate inside that tenant, `client_viewer` reads it.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: String,
    pub email: Option<String>,
    /// The strongest role the token names; `Viewer` when it names none.
    pub role: Role,
    /// The tenant the token is bound to (always a UUID: other values are refused).
    pub tenant_id: Option<TenantId>,
    /// The platform account (`acct` = `00000000-0000-0000-0000-000000000000`): may act on
    /// every tenant and manage tenants.
    pub platform: bool,
    pub permissions: Vec<String>,
}

impl Principal {
    /// Reads verified claims. A `tenant_id` that is present but not a UUID is refused
    /// (`INVALID_TOKEN`), never read as "no tenant".
    pub fn from_claims(claims: Claims) -> Result<Self, ApiError> {
        let names = claims.role.iter().chain(claims.roles.iter());
        let role = names
            .filter_map(|n| Role::parse(n))
            .max()
            .unwrap_or(Role::Viewer);
        let platform = claims
            .acct
            .as_deref()
            .and_then(|a| a.trim().parse::<uuid::Uuid>().ok())
            .is_some_and(|a| a == PLATFORM_ACCOUNT);
        let tenant_id = match claims.tenant_id.as_deref() {
            None => None,
            Some(raw) => Some(raw.trim().parse().map_err(|_| ApiError::InvalidToken)?),
        };
        Ok(Self {
            subject: claims.sub.unwrap_or_default(),
            email: claims.email,
            role,
            tenant_id,
            platform,
            permissions: claims.permissions,
        })
    }

    /// Whether the caller may act on `tenant` at all: the platform account on any, everyone
    /// else on the tenant their token is bound to.
    pub fn reaches(&self, tenant: TenantId) -> bool {
        self.platform || self.tenant_id == Some(tenant)
    }

    /// Tenant management, legal holds and call deletion are for the platform account only.
    pub fn require_platform(&self) -> Result<(), ApiError> {
        if self.platform {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                code: "ACCOUNT_NOT_AUTHORIZED",
                message: "This operation requires a platform account token".into(),
            })
        }
    }

    /// The platform account with at least `role`.
    pub fn require_platform_role(&self, role: Role) -> Result<(), ApiError> {
        self.require_platform()?;
        self.require_role(role)
    }

    pub fn require_role(&self, required: Role) -> Result<(), ApiError> {
        if self.role >= required {
            Ok(())
        } else {
            Err(ApiError::InsufficientPermissions {
                required: required.name(),
            })
        }
    }

    /// `/internal/*` routes are for internal roles (`internal_admin`, `internal_operator`);
    /// `client_viewer` gets 403 there, whatever the tenant.
    pub fn require_internal(&self) -> Result<(), ApiError> {
        self.require_role(Role::Operator)
    }

    /// Reading a tenant's objects. Refusals look like absence, so the caller passes the error
    /// its route answers for a missing object.
    pub fn require_tenant(
        &self,
        tenant_id: TenantId,
        not_found: impl FnOnce() -> ApiError,
    ) -> Result<(), ApiError> {
        if self.reaches(tenant_id) {
            Ok(())
        } else {
            Err(not_found())
        }
    }

    /// Writing, or an internal route, on one tenant's objects: an internal role (else 403), and
    /// the tenant reachable (else `not_found`).
    pub fn require_runtime(
        &self,
        tenant_id: TenantId,
        not_found: impl FnOnce() -> ApiError,
    ) -> Result<(), ApiError> {
        self.require_internal()?;
        self.require_tenant(tenant_id, not_found)
    }
}

impl<S> FromRequestParts<S> for Principal
where
    Arc<JwtVerifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::MissingToken)?;
        let value = header.to_str().map_err(|_| ApiError::InvalidToken)?.trim();
        if value.is_empty() {
            return Err(ApiError::MissingToken);
        }
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(ApiError::InvalidToken),
        };
        if token.is_empty() {
            return Err(ApiError::MissingToken);
        }
        let verifier = Arc::<JwtVerifier>::from_ref(state);
        let claims = verifier.verify(token)?;
        Self::from_claims(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: serde_json::Value) -> Claims {
        let mut value = json;
        value["exp"] = 0.into();
        serde_json::from_value(value).unwrap()
    }

    fn principal(json: serde_json::Value) -> Principal {
        Principal::from_claims(claims(json)).unwrap()
    }

    const OWN: &str = "0191f5e2-3f6b-7c41-9a0e-3a3b3c3d3e3f";

    #[test]
    fn first_seed_claims_with_the_platform_account_reach_every_tenant() {
        let p = principal(serde_json::json!({
            "sub": "u1", "roles": ["tenant-manager", "admin"], "acct": "00000000-0000-0000-0000-000000000000"
        }));
        assert!(p.platform);
        assert_eq!(p.role, Role::Admin);
        assert!(p.reaches(TenantId::new()));
    }

    #[test]
    fn internal_roles_without_the_platform_account_are_bound_to_their_tenant() {
        for role in ["internal_operator", "internal_admin"] {
            let p = principal(serde_json::json!({
                "sub": "u1", "role": role, "is_internal": "true", "tenant_id": OWN
            }));
            assert!(!p.platform, "{role} without acct is not the platform");
            assert!(p.reaches(OWN.parse().unwrap()));
            assert!(
                !p.reaches(TenantId::new()),
                "{role} reaches its tenant only"
            );
            assert!(p.require_internal().is_ok());
        }
        let outsider = principal(serde_json::json!({
            "sub": "u3", "role": "internal_admin", "is_internal": true,
            "acct": "11111111-1111-1111-1111-111111111111"
        }));
        assert!(!outsider.platform);
        assert!(
            !outsider.reaches(TenantId::new()),
            "no tenant, no platform: nothing"
        );
    }

    #[test]
    fn a_tenant_id_that_is_not_a_uuid_is_an_invalid_token() {
        let refused = Principal::from_claims(claims(serde_json::json!({
            "sub": "u1", "role": "internal_admin", "is_internal": true, "tenant_id": "tenant-1"
        })))
        .unwrap_err();
        assert_eq!(refused.code(), "INVALID_TOKEN");
    }

    #[test]
    fn tenant_access_is_own_tenant_or_platform_and_refusals_look_like_absence() {
        let own: TenantId = OWN.parse().unwrap();
        let other = TenantId::new();
        let viewer = principal(serde_json::json!({
            "sub": "u", "role": "client_viewer", "tenant_id": own.to_string()
        }));
        let missing = || ApiError::not_found("X_NOT_FOUND", "not found");
        assert!(viewer.require_tenant(own, missing).is_ok());
        assert_eq!(
            viewer.require_tenant(other, missing).unwrap_err().code(),
            "X_NOT_FOUND"
        );
        assert_eq!(
            viewer.require_runtime(own, missing).unwrap_err().code(),
            "INSUFFICIENT_PERMISSIONS"
        );
        assert_eq!(
            viewer.require_internal().unwrap_err().code(),
            "INSUFFICIENT_PERMISSIONS"
        );
        let platform = principal(serde_json::json!({
            "sub": "s", "role": "internal_operator", "acct": PLATFORM_ACCOUNT.to_string()
        }));
        assert!(platform.require_runtime(other, missing).is_ok());
    }

    #[test]
    fn no_role_means_read_only() {
        let p = principal(serde_json::json!({"sub": "u1"}));
        assert_eq!(p.role, Role::Viewer);
        assert!(p.require_role(Role::Operator).is_err());
        assert!(p.require_role(Role::Viewer).is_ok());
    }
}
