//! A tenant an HTTP route acts on, once its caller may: one check for every function.

use gobi_shared::auth::{Access, Principal, Role};
use gobi_shared::error::ApiResult;
use gobi_shared::ids::TenantId;

use super::model::Tenant;
use super::store::{TenantStore, tenant_not_found};

/// The tenant `id`, when `principal` holds at least `role` and reaches it. A tenant out of reach
/// and a tenant that does not exist answer alike (`TENANT_NOT_FOUND`); a role too weak on a
/// tenant in reach is a 403.
pub async fn authorized_tenant(
    store: &TenantStore,
    principal: &Principal,
    id: TenantId,
    role: Role,
) -> ApiResult<Tenant> {
    principal.authorize(Access::Tenant {
        tenant: id,
        role,
        absent: tenant_not_found(id).into(),
    })?;
    store
        .get(id)
        .await?
        .ok_or_else(|| tenant_not_found(id).into())
}
