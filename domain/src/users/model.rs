//! Users as the API shows them, and their memberships.

use chrono::{DateTime, Utc};
use gobi_shared::ids::{Email, TenantId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user's role in one tenant (the second seed's roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MembershipRole {
    InternalAdmin,
    InternalOperator,
    ClientViewer,
}

impl MembershipRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InternalAdmin => "internal_admin",
            Self::InternalOperator => "internal_operator",
            Self::ClientViewer => "client_viewer",
        }
    }

    pub fn is_internal(self) -> bool {
        !matches!(self, Self::ClientViewer)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Membership {
    pub tenant_id: TenantId,
    pub role: MembershipRole,
    pub created_at: DateTime<Utc>,
}

/// A user as answers show it (never the password hash).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: uuid::Uuid,
    pub email: Email,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
}
