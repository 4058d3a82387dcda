//! The `lead-lists` function: a tenant's lead lists (with live counts), their leads (a page at a
//! time, by number), and the tenant's do-not-call list. Leads come in through imports (the
//! `lead-import` worker); a suppressed number is marked at import and checked again at dial time.

mod imports;
mod leads;
mod lists;
pub mod model;
mod suppression_imports;
mod suppressions;

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use gobi_domain::leads::files::ImportFiles;
use gobi_domain::leads::model::LeadList;
use gobi_domain::leads::store::{LeadStore, list_not_found};
use gobi_domain::tenants::access::authorized_tenant;
use gobi_domain::tenants::store::TenantStore;
use gobi_shared::Config;
use gobi_shared::api_routes;
use gobi_shared::auth::{JwtVerifier, Principal, Role};
use gobi_shared::error::{ApiError, ApiResult, ErrorBody, Problems};
use gobi_shared::events::Publisher;
use gobi_shared::extract::{ApiJson, ApiPath, ApiQuery};
use gobi_shared::idempotency::{IdempotencyStore, honour_keys};
use gobi_shared::ids::TenantId;
use gobi_shared::response::DataResponse;
use gobi_shared::routing::ApiRouter;
use gobi_shared::time::Clock;

use crate::model::*;

/// The AWS clients the function uses.
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
}

/// Each field is also state of its own (`FromRef`): the `Principal` extractor takes the verifier.
#[derive(Clone, FromRef)]
pub struct LeadListsState {
    pub idempotency: IdempotencyStore,
    pub leads: LeadStore,
    pub tenants: TenantStore,
    /// The imports bucket, when configured.
    pub files: Option<ImportFiles>,
    /// The `lead-import` worker's queue, when configured.
    pub import_jobs: Option<Publisher>,
    pub verifier: Arc<JwtVerifier>,
    pub clock: Clock,
}

impl LeadListsState {
    pub fn new(
        config: &Config,
        clients: Clients,
        verifier: Arc<JwtVerifier>,
        clock: Clock,
    ) -> Self {
        let Clients { dynamodb, sqs, s3 } = clients;
        Self {
            idempotency: IdempotencyStore::new(dynamodb.clone(), &config.tables.idempotency),
            leads: LeadStore::new(dynamodb.clone(), &config.tables.leads),
            tenants: TenantStore::new(dynamodb, &config.tables.tenants),
            files: config
                .imports_bucket
                .as_ref()
                .map(|bucket| ImportFiles::new(s3, bucket)),
            import_jobs: config
                .lead_import_queue_url
                .as_ref()
                .map(|url| Publisher::new(sqs, url)),
            verifier,
            clock,
        }
    }
}

fn routes() -> ApiRouter<LeadListsState> {
    ApiRouter::default()
        .merge(lists::routes())
        .merge(leads::routes())
        .merge(suppressions::routes())
        .merge(imports::routes())
        .merge(suppression_imports::routes())
}

pub fn router(state: LeadListsState) -> axum::Router {
    let keys = state.idempotency.clone();
    honour_keys(routes().with_state(state), keys)
}

/// The function's part of the OpenAPI document.
#[cfg(feature = "openapi")]
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().openapi()
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
