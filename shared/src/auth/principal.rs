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

    /// The one tenant this token reaches, unless it is the platform's (which reaches every
    /// tenant): a route that finds an object by id alone can read it under this tenant's key
    /// directly, where another tenant's object is absent, instead of looking its tenant up.
    pub fn only_tenant(&self) -> Option<TenantId> {
        self.tenant_id.filter(|_| !self.platform)
    }

    /// The one authorisation check: `Ok` when the caller may do what `access` describes.
    pub fn authorize(&self, access: Access) -> Result<(), ApiError> {
        match access {
            Access::Tenant {
                tenant,
                role,
                absent,
            } => {
                self.reach(tenant, absent)?;
                self.at_least(role)
            }
            Access::Role(role) => self.at_least(role),
            Access::Platform(role) => {
                if !self.platform {
                    return Err(ApiError::Forbidden {
                        code: "ACCOUNT_NOT_AUTHORIZED",
                        message: "This operation requires a platform account token".into(),
                    });
                }
                self.at_least(role)
            }
        }
    }

    /// Whether [`Principal::authorize`] allows `access`, for answers shaped by who asks.
    pub fn may(&self, access: Access) -> bool {
        self.authorize(access).is_ok()
    }

    fn reach(&self, tenant: TenantId, absent: ApiError) -> Result<(), ApiError> {
        if self.reaches(tenant) {
            Ok(())
        } else {
            Err(absent)
        }
    }

    fn at_least(&self, required: Role) -> Result<(), ApiError> {
        if self.role >= required {
            Ok(())
        } else {
            Err(ApiError::InsufficientPermissions {
                required: required.name(),
            })
        }
    }
}

/// What an operation needs of its caller.
#[derive(Debug)]
pub enum Access {
    /// At least `role`, on one tenant's objects. A tenant out of reach is refused first, as
    /// `absent` (the error the route answers for a missing object), so a refusal looks like
    /// absence; a role too weak on a tenant in reach is a 403.
    Tenant {
        tenant: TenantId,
        role: Role,
        absent: ApiError,
    },
    /// At least `role`, before the tenant is known (the route then checks the tenant it finds).
    Role(Role),
    /// The platform account with at least this role: tenant management, legal holds, call
    /// deletion.
    Platform(Role),
}

impl Access {
    /// `/internal/*` routes: an internal role (`internal_admin`, `internal_operator`).
    pub const INTERNAL: Self = Self::Role(Role::Operator);

    /// Reading a tenant's objects: any role.
    pub fn read(tenant: TenantId, absent: impl Into<ApiError>) -> Self {
        Self::Tenant {
            tenant,
            role: Role::Viewer,
            absent: absent.into(),
        }
    }

    /// Writing a tenant's objects, or an internal route on them: an internal role.
    pub fn write(tenant: TenantId, absent: impl Into<ApiError>) -> Self {
        Self::Tenant {
            tenant,
            role: Role::Operator,
            absent: absent.into(),
        }
    }

    /// What only a tenant's admins may do (releasing a number back to Twilio).
    pub fn admin(tenant: TenantId, absent: impl Into<ApiError>) -> Self {
        Self::Tenant {
            tenant,
            role: Role::Admin,
            absent: absent.into(),
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
            assert!(p.authorize(Access::INTERNAL).is_ok());
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
        assert!(viewer.authorize(Access::read(own, missing())).is_ok());
        assert_eq!(
            viewer
                .authorize(Access::read(other, missing()))
                .unwrap_err()
                .code(),
            "X_NOT_FOUND"
        );
        assert_eq!(
            viewer
                .authorize(Access::write(own, missing()))
                .unwrap_err()
                .code(),
            "INSUFFICIENT_PERMISSIONS"
        );
        assert_eq!(
            viewer.authorize(Access::INTERNAL).unwrap_err().code(),
            "INSUFFICIENT_PERMISSIONS"
        );
        let platform = principal(serde_json::json!({
            "sub": "s", "role": "internal_operator", "acct": PLATFORM_ACCOUNT.to_string()
        }));
        assert!(platform.authorize(Access::write(other, missing())).is_ok());
    }

    #[test]
    fn no_role_means_read_only() {
        let p = principal(serde_json::json!({"sub": "u1"}));
        assert_eq!(p.role, Role::Viewer);
        assert!(!p.may(Access::INTERNAL));
        assert!(p.may(Access::Role(Role::Viewer)));
    }
}
