//! The `campaigns` function: a tenant's campaigns — created (with `Idempotency-Key`), listed,
//! read, changed while a draft or paused, deleted while a draft, duplicated — and their
//! lifecycle: `start`, `pause`, `resume`, `cancel`. A started campaign holds its lead lists, so
//! they cannot be deleted under it; finishing or cancelling lets them go.

mod calls;
mod crud;
mod lifecycle;
pub mod model;
mod progress;
mod report;

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use gobi_domain::agents::store::AgentStore;
use gobi_domain::campaigns::dialer::Dialer;
use gobi_domain::campaigns::model::Campaign;
use gobi_domain::campaigns::store::{CampaignStore, campaign_not_found};
use gobi_domain::leads::store::LeadStore;
use gobi_domain::phone_numbers::store::PhoneNumberStore;
use gobi_domain::tenants::access::authorized_tenant;
use gobi_domain::tenants::model::Tenant;
use gobi_domain::tenants::store::TenantStore;
use gobi_shared::Config;
use gobi_shared::api_routes;
use gobi_shared::auth::{JwtVerifier, Principal, Role};
use gobi_shared::error::{ApiError, ApiResult, ErrorBody};
use gobi_shared::extract::{ApiJson, ApiPath, ApiQuery};
use gobi_shared::idempotency::{IdempotencyStore, honour_keys};
use gobi_shared::ids::TenantId;
use gobi_shared::response::DataResponse;
use gobi_shared::routing::ApiRouter;
use gobi_shared::time::Clock;

use crate::model::*;

/// Each field is also state of its own (`FromRef`): the `Principal` extractor takes the verifier.
#[derive(Clone, FromRef)]
pub struct CampaignsState {
    pub idempotency: IdempotencyStore,
    pub campaigns: CampaignStore,
    pub tenants: TenantStore,
    pub agents: AgentStore,
    pub leads: LeadStore,
    pub numbers: PhoneNumberStore,
    /// Enrols a started campaign's leads; `None` without a dialer queue (starts refused).
    pub dialer: Option<Dialer>,
    pub verifier: Arc<JwtVerifier>,
    pub clock: Clock,
}

impl CampaignsState {
    pub fn new(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        verifier: Arc<JwtVerifier>,
        clock: Clock,
    ) -> Self {
        let tables = &config.tables;
        Self {
            dialer: Dialer::from_config(config, dynamodb.clone(), sqs.clone()),
            idempotency: IdempotencyStore::new(dynamodb.clone(), &tables.idempotency),
            campaigns: CampaignStore::new(dynamodb.clone(), &tables.campaigns).with_events(
                gobi_domain::webhooks::EventSink::from_config(config, sqs.clone()),
            ),
            tenants: TenantStore::new(dynamodb.clone(), &tables.tenants),
            agents: AgentStore::new(dynamodb.clone(), &tables.agents),
            leads: LeadStore::new(dynamodb.clone(), &tables.leads),
            numbers: PhoneNumberStore::new(dynamodb, &tables.phone_numbers),
            verifier,
            clock,
        }
    }

    fn references(&self) -> References<'_> {
        References {
            agents: &self.agents,
            leads: &self.leads,
            numbers: &self.numbers,
        }
    }
}

fn routes() -> ApiRouter<CampaignsState> {
    ApiRouter::default()
        .merge(crud::routes())
        .merge(lifecycle::routes())
        .merge(progress::routes())
        .merge(report::routes())
        .merge(calls::routes())
}

pub fn router(state: CampaignsState) -> axum::Router {
    let keys = state.idempotency.clone();
    honour_keys(routes().with_state(state), keys)
}

/// The function's part of the OpenAPI document.
#[cfg(feature = "openapi")]
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().openapi()
}

/// A campaign of a tenant the caller may act on with `role`, with the tenant.
async fn authorized_campaign(
    state: &CampaignsState,
    principal: &Principal,
    tenant: TenantId,
    campaign: uuid::Uuid,
    role: Role,
) -> ApiResult<(Tenant, Campaign)> {
    let tenant = authorized_tenant(&state.tenants, principal, tenant, role).await?;
    let campaign = state
        .campaigns
        .get(tenant.id, campaign)
        .await?
        .ok_or_else(|| ApiError::from(campaign_not_found(campaign)))?;
    Ok((tenant, campaign))
}
