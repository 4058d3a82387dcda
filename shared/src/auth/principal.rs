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
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: String,
    pub email: Option<String>,
    /// The strongest role the token names; `Viewer` when it names none.
    pub role: Role,
    /// The caller's own tenant, when the token names one that is a UUID.
    pub tenant_id: Option<TenantId>,
    /// Platform staff: the platform account (`acct`), or `is_internal` with an internal role.
    pub platform: bool,
    pub permissions: Vec<String>,
}

impl Principal {
    pub fn from_claims(claims: Claims) -> Self {
        let names = claims.role.iter().chain(claims.roles.iter());
        let role = names
            .filter_map(|n| Role::parse(n))
            .max()
            .unwrap_or(Role::Viewer);
        let internal_role = claims
            .role
            .iter()
            .chain(claims.roles.iter())
            .any(|n| matches!(n.trim(), "internal_admin" | "internal_operator"));
        let platform_account = claims
            .acct
            .as_deref()
            .and_then(|a| a.parse::<uuid::Uuid>().ok())
            .is_some_and(|a| a == PLATFORM_ACCOUNT);
        let platform = platform_account || (claims.is_internal == Some(true) && internal_role);
        Self {
            subject: claims.sub.unwrap_or_default(),
            email: claims.email,
            role,
            tenant_id: claims.tenant_id.as_deref().and_then(|t| t.parse().ok()),
            platform,
            permissions: claims.permissions,
        }
    }

    /// Tenant management is for platform staff only.
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

    pub fn require_role(&self, required: Role) -> Result<(), ApiError> {
        if self.role >= required {
            Ok(())
        } else {
            Err(ApiError::InsufficientPermissions {
                required: required.name(),
            })
        }
    }

    /// For runtime endpoints (the second seed's "internal role with tenant isolation"): an
    /// internal role is needed, and a token that names a tenant acts on that tenant only.
    pub fn require_runtime(
        &self,
        tenant_id: TenantId,
        not_found: impl FnOnce() -> ApiError,
    ) -> Result<(), ApiError> {
        self.require_platform()?;
        self.require_role(Role::Operator)?;
        match self.tenant_id {
            Some(own) if own != tenant_id => Err(not_found()),
            _ => Ok(()),
        }
    }

    /// Staff may act on any tenant, others only on their own. Refusals look like absence, so
    /// the caller passes the error its route answers for a missing object.
    pub fn require_tenant(
        &self,
        tenant_id: TenantId,
        not_found: impl FnOnce() -> ApiError,
    ) -> Result<(), ApiError> {
        if self.platform || self.tenant_id == Some(tenant_id) {
            Ok(())
        } else {
            Err(not_found())
        }
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
        Ok(Self::from_claims(claims))
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

    #[test]
    fn first_seed_claims_map_to_platform_roles() {
        let p = Principal::from_claims(claims(serde_json::json!({
            "sub": "u1", "roles": ["tenant-manager", "admin"], "acct": "00000000-0000-0000-0000-000000000000"
        })));
        assert!(p.platform);
        assert_eq!(p.role, Role::Admin);
    }

    #[test]
    fn second_seed_claims_need_an_internal_role_to_be_staff() {
        let staff = Principal::from_claims(claims(serde_json::json!({
            "sub": "u1", "role": "internal_operator", "is_internal": "true", "tenant_id": "t"
        })));
        assert!(staff.platform);
        assert_eq!(staff.role, Role::Operator);
        let viewer = Principal::from_claims(claims(serde_json::json!({
            "sub": "u2", "role": "client_viewer", "is_internal": true,
            "tenant_id": "0191f5e2-3f6b-7c41-9a0e-3a3b3c3d3e3f"
        })));
        assert!(!viewer.platform);
        assert!(viewer.tenant_id.is_some());
        let outsider = Principal::from_claims(claims(serde_json::json!({
            "sub": "u3", "role": "internal_admin", "is_internal": false,
            "acct": "11111111-1111-1111-1111-111111111111"
        })));
        assert!(!outsider.platform);
    }

    #[test]
    fn tenant_access_is_own_tenant_or_staff() {
        let own: TenantId = "0191f5e2-3f6b-7c41-9a0e-3a3b3c3d3e3f".parse().unwrap();
        let other = TenantId::new();
        let viewer = Principal::from_claims(claims(serde_json::json!({
            "sub": "u", "role": "client_viewer", "tenant_id": own.to_string()
        })));
        let missing = || ApiError::not_found("X_NOT_FOUND", "not found");
        assert!(viewer.require_tenant(own, missing).is_ok());
        let refused = viewer.require_tenant(other, missing).unwrap_err();
        assert_eq!(refused.code(), "X_NOT_FOUND", "refusal looks like absence");
        let staff = Principal::from_claims(claims(serde_json::json!({
            "sub": "s", "role": "internal_operator", "is_internal": true
        })));
        assert!(staff.require_tenant(other, missing).is_ok());
    }

    #[test]
    fn no_role_means_read_only() {
        let p = Principal::from_claims(claims(serde_json::json!({"sub": "u1"})));
        assert_eq!(p.role, Role::Viewer);
        assert!(p.require_role(Role::Operator).is_err());
        assert!(p.require_role(Role::Viewer).is_ok());
    }
}
