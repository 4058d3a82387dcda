//! The `lead-lists` function: a tenant's lead lists (with live counts), their leads (a page at a
//! time, by number), and the tenant's do-not-call list. Leads come in through imports (the
//! `lead-import` worker); a suppressed number is marked at import and checked again at dial time.

mod leads;
mod lists;
pub mod model;
mod suppressions;

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use gobi_domain::leads::model::LeadList;
use gobi_domain::leads::store::{LeadStore, list_not_found};
use gobi_domain::tenants::access::authorized_tenant;
use gobi_domain::tenants::store::TenantStore;
use gobi_shared::Config;
use gobi_shared::auth::{JwtVerifier, Principal, Role};
use gobi_shared::error::{ApiError, ApiResult, ErrorBody, Problems};
use gobi_shared::extract::{ApiJson, ApiPath, ApiQuery};
use gobi_shared::idempotency::{IdempotencyStore, honour_keys};
use gobi_shared::ids::TenantId;
use gobi_shared::response::DataResponse;
use gobi_shared::time::Clock;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::model::*;

/// Each field is also state of its own (`FromRef`): the `Principal` extractor takes the verifier.
#[derive(Clone, FromRef)]
pub struct LeadListsState {
    pub idempotency: IdempotencyStore,
    pub leads: LeadStore,
    pub tenants: TenantStore,
    pub verifier: Arc<JwtVerifier>,
    pub clock: Clock,
}

impl LeadListsState {
    pub fn new(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        verifier: Arc<JwtVerifier>,
        clock: Clock,
    ) -> Self {
        Self {
            idempotency: IdempotencyStore::new(dynamodb.clone(), &config.tables.idempotency),
            leads: LeadStore::new(dynamodb.clone(), &config.tables.leads),
            tenants: TenantStore::new(dynamodb, &config.tables.tenants),
            verifier,
            clock,
        }
    }
}

fn routes() -> OpenApiRouter<LeadListsState> {
    OpenApiRouter::default()
        .merge(lists::routes())
        .merge(leads::routes())
        .merge(suppressions::routes())
}

pub fn router(state: LeadListsState) -> axum::Router {
    let keys = state.idempotency.clone();
    honour_keys(routes().with_state(state).split_for_parts().0, keys)
}

pub fn openapi() -> OpenApi {
    routes().split_for_parts().1
}

/// A list of a tenant the caller may act on with `role`.
async fn authorized_list(
    state: &LeadListsState,
    principal: &Principal,
    tenant: TenantId,
    list: uuid::Uuid,
    role: Role,
) -> ApiResult<LeadList> {
    authorized_tenant(&state.tenants, principal, tenant, role).await?;
    state
        .leads
        .list(tenant, list)
        .await?
        .ok_or_else(|| list_not_found(list).into())
}
