//! Campaigns: create, list, read, change (draft or paused), delete (draft), duplicate.

use gobi_domain::campaigns::model::{CampaignState, Direction};
use gobi_shared::error::Problems;
use gobi_shared::response::count_up_to;

use super::*;

pub(crate) fn routes() -> ApiRouter<CampaignsState> {
    ApiRouter::default()
        .routes(api_routes!(list_campaigns, create_campaign))
        .routes(api_routes!(get_campaign, update_campaign, delete_campaign))
        .routes(api_routes!(duplicate_campaign))
}

/// Create a campaign (a draft): an agent, its lead lists and caller ids, when it calls and how.
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/campaigns",
    tag = "Campaigns",
    params(("id" = TenantId, Path, description = "Tenant id")),
    request_body = CampaignFields,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Created, as a draft", body = DataResponse<Campaign>),
        (status = 400, description = "VALIDATION_ERROR (incl. an agent, list or caller id the tenant does not have)", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "IDEMPOTENCY_KEY_REUSED", body = ErrorBody),
    )
)]
async fn create_campaign(
    principal: Principal,
    State(state): State<CampaignsState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(body): ApiJson<CampaignFields>,
) -> ApiResult<(StatusCode, Json<DataResponse<Campaign>>)> {
    let tenant = authorized_tenant(&state.tenants, &principal, id, Role::Operator).await?;
    let mut p = Problems::default();
    if body.name.is_none() {
        p.push("name", "is required");
    }
    // An inbound campaign dials nobody: its calling windows are optional.
    if body.schedule.is_none() && body.direction != Some(Direction::Inbound) {
        p.push("schedule", "is required");
    }
    let agent = p.check("agentId", body.agent_id.ok_or("is required"));
    p.finish()?;
    let agent = agent.ok_or_else(|| ApiError::validation("agentId", "is required"))?;
    let now = state.clock.now();
    let campaign = body.apply(blank(&tenant, agent, uuid::Uuid::now_v7(), now))?;
    check_references(state.references(), &tenant, &campaign).await?;
    state.campaigns.create(&campaign).await?;
    tracing::info!(tenant_id = %id, campaign_id = %campaign.id, "campaign created");
    Ok((
        StatusCode::CREATED,
        Json(DataResponse::with_message(campaign, "Campaign created")),
    ))
}

/// A tenant's campaigns, oldest first, cursor-paged; `state` keeps those in that state.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/campaigns",
    tag = "Campaigns",
    params(("id" = TenantId, Path, description = "Tenant id"), CampaignsQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "A page of campaigns", body = CampaignsPage),
        (status = 400, description = "VALIDATION_ERROR (limit, cursor)", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn list_campaigns(
    principal: Principal,
    State(state): State<CampaignsState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiQuery(query): ApiQuery<CampaignsQuery>,
) -> ApiResult<Json<CampaignsPage>> {
    let mut p = Problems::default();
    let limit = p.check("limit", count_up_to(100, query.limit, 50));
    p.finish()?;
    authorized_tenant(&state.tenants, &principal, id, Role::Viewer).await?;
    let (data, next_cursor) = state
        .campaigns
        .page(
            id,
            query.state,
            limit.unwrap_or(50),
            query.cursor.as_deref(),
        )
        .await?;
    Ok(Json(CampaignsPage { data, next_cursor }))
}

/// One campaign.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/campaigns/{campaignId}",
    tag = "Campaigns",
    params(("id" = TenantId, Path, description = "Tenant id"), ("campaignId" = uuid::Uuid, Path, description = "Campaign id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The campaign", body = DataResponse<Campaign>),
        (status = 404, description = "TENANT_NOT_FOUND or CAMPAIGN_NOT_FOUND", body = ErrorBody),
    )
)]
async fn get_campaign(
    principal: Principal,
    State(state): State<CampaignsState>,
    ApiPath((id, campaign_id)): ApiPath<(TenantId, uuid::Uuid)>,
) -> ApiResult<Json<DataResponse<Campaign>>> {
    let (_, campaign) =
        authorized_campaign(&state, &principal, id, campaign_id, Role::Viewer).await?;
    Ok(Json(DataResponse::new(campaign)))
}

fn not_editable(campaign: &Campaign) -> ApiError {
    ApiError::conflict(
        "CAMPAIGN_NOT_EDITABLE",
        format!(
            "A campaign changes only as a draft or paused; this one is {:?}",
            campaign.state
        ),
    )
}

/// Change a draft or paused campaign: only the fields sent change.
#[utoipa::path(
    put,
    path = "/api/tenants/{id}/campaigns/{campaignId}",
    tag = "Campaigns",
    params(("id" = TenantId, Path, description = "Tenant id"), ("campaignId" = uuid::Uuid, Path, description = "Campaign id")),
    request_body = CampaignFields,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Changed", body = DataResponse<Campaign>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND or CAMPAIGN_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CAMPAIGN_NOT_EDITABLE or CONCURRENT_MODIFICATION", body = ErrorBody),
    )
)]
async fn update_campaign(
    principal: Principal,
    State(state): State<CampaignsState>,
    ApiPath((id, campaign_id)): ApiPath<(TenantId, uuid::Uuid)>,
    ApiJson(body): ApiJson<CampaignFields>,
) -> ApiResult<Json<DataResponse<Campaign>>> {
    let (tenant, current) =
        authorized_campaign(&state, &principal, id, campaign_id, Role::Operator).await?;
    if !current.state.editable() {
        return Err(not_editable(&current));
    }
    let mut next = body.apply(current.clone())?;
    if next == current {
        return Ok(Json(DataResponse::new(current)));
    }
    check_references(state.references(), &tenant, &next).await?;
    next.updated_at = state
        .clock
        .now()
        .max(current.updated_at + chrono::Duration::milliseconds(1));
    state.campaigns.save(&next, current.updated_at).await?;
    Ok(Json(DataResponse::with_message(next, "Campaign updated")))
}

/// Delete a draft campaign.
#[utoipa::path(
    delete,
    path = "/api/tenants/{id}/campaigns/{campaignId}",
    tag = "Campaigns",
    params(("id" = TenantId, Path, description = "Tenant id"), ("campaignId" = uuid::Uuid, Path, description = "Campaign id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Deleted", body = DataResponse<Campaign>),
        (status = 404, description = "TENANT_NOT_FOUND or CAMPAIGN_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CAMPAIGN_NOT_DRAFT: started campaigns are cancelled, not deleted", body = ErrorBody),
    )
)]
async fn delete_campaign(
    principal: Principal,
    State(state): State<CampaignsState>,
    ApiPath((id, campaign_id)): ApiPath<(TenantId, uuid::Uuid)>,
) -> ApiResult<Json<DataResponse<Campaign>>> {
    let (_, campaign) =
        authorized_campaign(&state, &principal, id, campaign_id, Role::Operator).await?;
    if !state.campaigns.delete_draft(id, campaign.id).await? {
        return Err(ApiError::conflict(
            "CAMPAIGN_NOT_DRAFT",
            "Only a draft is deleted; cancel a started campaign instead",
        ));
    }
    tracing::info!(tenant_id = %id, campaign_id = %campaign.id, "campaign deleted");
    Ok(Json(DataResponse::with_message(
        campaign,
        "Campaign deleted",
    )))
}

/// A new draft with this campaign's settings.
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/campaigns/{campaignId}/duplicate",
    tag = "Campaigns",
    params(("id" = TenantId, Path, description = "Tenant id"), ("campaignId" = uuid::Uuid, Path, description = "Campaign id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "The copy, a draft", body = DataResponse<Campaign>),
        (status = 404, description = "TENANT_NOT_FOUND or CAMPAIGN_NOT_FOUND", body = ErrorBody),
    )
)]
async fn duplicate_campaign(
    principal: Principal,
    State(state): State<CampaignsState>,
    ApiPath((id, campaign_id)): ApiPath<(TenantId, uuid::Uuid)>,
) -> ApiResult<(StatusCode, Json<DataResponse<Campaign>>)> {
    let (_, original) =
        authorized_campaign(&state, &principal, id, campaign_id, Role::Operator).await?;
    let now = state.clock.now();
    let mut name = format!("{} (copy)", original.name);
    if name.chars().count() > 200 {
        name = name.chars().take(200).collect();
    }
    let copy = Campaign {
        id: uuid::Uuid::now_v7(),
        name,
        state: CampaignState::Draft,
        pause_reason: None,
        dialing_state: None,
        counts: Default::default(),
        outcomes: Default::default(),
        live_calls: 0,
        enrollment: Default::default(),
        recent_outcomes: Vec::new(),
        single_call: false,
        skip_without_consent: false,
        created_at: now,
        updated_at: now,
        started_at: None,
        finished_at: None,
        ..original
    };
    state.campaigns.create(&copy).await?;
    Ok((
        StatusCode::CREATED,
        Json(DataResponse::with_message(copy, "Campaign duplicated")),
    ))
}
