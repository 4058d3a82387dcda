//! A campaign's life: `start` (draft → scheduled or running, holding its lead lists), `pause`,
//! `resume`, `cancel` (calls in flight finish; the lists are let go). Each move is a conditional
//! write on the state it leaves, so a repeated or concurrent request moves it once. An inbound
//! campaign holds its numbers while it runs (taken before it runs, let go when it stops).

use gobi_domain::campaigns::inbound::{assign_numbers, release_numbers};
use gobi_domain::campaigns::model::{CampaignState, Direction, PauseReason};

use super::*;

pub(crate) fn routes() -> ApiRouter<CampaignsState> {
    ApiRouter::default()
        .routes(api_routes!(start_campaign))
        .routes(api_routes!(pause_campaign))
        .routes(api_routes!(resume_campaign))
        .routes(api_routes!(cancel_campaign))
}

fn wrong_state(action: &str, campaign: &Campaign) -> ApiError {
    ApiError::conflict(
        "CAMPAIGN_STATE_CONFLICT",
        format!("A {:?} campaign cannot {action}", campaign.state),
    )
}

/// Moves the campaign, then answers it as it now is.
async fn moved(
    state: &CampaignsState,
    campaign: &Campaign,
    from: &[CampaignState],
    to: CampaignState,
    reason: Option<PauseReason>,
    action: &str,
) -> ApiResult<Campaign> {
    let now = state.clock.now();
    if !state
        .campaigns
        .transition(campaign.tenant_id, campaign.id, from, to, reason, now)
        .await?
    {
        return Err(wrong_state(action, campaign));
    }
    tracing::info!(tenant_id = %campaign.tenant_id, campaign_id = %campaign.id, to = ?to, "campaign {action}");
    state
        .campaigns
        .get(campaign.tenant_id, campaign.id)
        .await?
        .ok_or_else(|| campaign_not_found(campaign.id).into())
}

/// Lets go of the campaign's lists (a list already deleted has nothing to let go).
async fn release_lists(state: &CampaignsState, campaign: &Campaign) -> ApiResult<()> {
    for list in &campaign.lead_list_ids {
        state
            .leads
            .release_list(campaign.tenant_id, *list, campaign.id)
            .await?;
    }
    Ok(())
}

/// After a move that assigned an inbound campaign's numbers first: if the move lost (another
/// request moved the campaign meanwhile) and the campaign is not running now, its numbers are
/// let go again.
async fn unless_running_release_numbers(
    state: &CampaignsState,
    campaign: &Campaign,
    moved: ApiResult<Campaign>,
) -> ApiResult<Campaign> {
    if moved.is_err() {
        let now = state.campaigns.get(campaign.tenant_id, campaign.id).await?;
        if now.is_none_or(|c| c.state != CampaignState::Running) {
            release_numbers(&state.numbers, campaign).await?;
        }
    }
    moved
}

/// Start a draft: it runs now, or is scheduled for its `startAt`. Its agent, lists and caller
/// ids are checked again, and its lists are held (not deletable) until it finishes.
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/campaigns/{campaignId}/start",
    tag = "Campaigns",
    params(("id" = TenantId, Path, description = "Tenant id"), ("campaignId" = uuid::Uuid, Path, description = "Campaign id"), StartQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Running or scheduled", body = DataResponse<Campaign>),
        (status = 400, description = "VALIDATION_ERROR: what it names is no longer the tenant's", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND, CAMPAIGN_NOT_FOUND or LEAD_LIST_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CAMPAIGN_STATE_CONFLICT: not a draft; NUMBER_IN_CAMPAIGN: an inbound campaign's number is held by another running campaign", body = ErrorBody),
        (status = 503, description = "DIALER_NOT_CONFIGURED: an outbound campaign needs the dialer queue", body = ErrorBody),
    )
)]
async fn start_campaign(
    principal: Principal,
    State(state): State<CampaignsState>,
    ApiPath((id, campaign_id)): ApiPath<(TenantId, uuid::Uuid)>,
    ApiQuery(options): ApiQuery<StartQuery>,
) -> ApiResult<Json<DataResponse<Campaign>>> {
    let (tenant, mut campaign) =
        authorized_campaign(&state, &principal, id, campaign_id, Role::Operator).await?;
    if campaign.state != CampaignState::Draft {
        return Err(wrong_state("start", &campaign));
    }
    let inbound = campaign.direction == Direction::Inbound;
    let dialer = match &state.dialer {
        Some(dialer) => Some(dialer),
        None if inbound => None,
        None => {
            return Err(ApiError::Unavailable {
                code: "DIALER_NOT_CONFIGURED",
                message: "Starting an outbound campaign needs DIALER_QUEUE_URL".into(),
            });
        }
    };
    check_references(state.references(), &tenant, &campaign).await?;
    if options.skip_without_consent != campaign.skip_without_consent {
        let read_at = campaign.updated_at;
        campaign.skip_without_consent = options.skip_without_consent;
        campaign.updated_at = state
            .clock
            .now()
            .max(read_at + chrono::Duration::milliseconds(1));
        state.campaigns.save(&campaign, read_at).await?;
    }
    for (held, list) in campaign.lead_list_ids.iter().enumerate() {
        if let Err(e) = state.leads.hold_list(id, *list, campaign.id).await {
            for earlier in &campaign.lead_list_ids[..held] {
                state.leads.release_list(id, *earlier, campaign.id).await?;
            }
            return Err(e.into());
        }
    }
    let now = state.clock.now();
    let to = if campaign.schedule.start_at.is_some_and(|at| at > now) {
        CampaignState::Scheduled
    } else {
        CampaignState::Running
    };
    if to == CampaignState::Running
        && let Err(refused) = assign_numbers(&state.numbers, &campaign).await
    {
        release_lists(&state, &campaign).await?;
        return Err(refused.into());
    }
    // A concurrent start holds the same lists (a hold is a set member): nothing to undo.
    let started = moved(
        &state,
        &campaign,
        &[CampaignState::Draft],
        to,
        None,
        "start",
    )
    .await;
    let started = unless_running_release_numbers(&state, &campaign, started).await?;
    // An outbound campaign's leads are loaded in the background (the scheduler queues this
    // again if it is lost).
    if let (Some(dialer), false) = (dialer, inbound) {
        dialer
            .start(&started, now)
            .await
            .map_err(ApiError::Internal)?;
    }
    Ok(Json(DataResponse::with_message(
        started,
        "Campaign started",
    )))
}

/// Pause a running or scheduled campaign: no new calls; calls in flight finish.
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/campaigns/{campaignId}/pause",
    tag = "Campaigns",
    params(("id" = TenantId, Path, description = "Tenant id"), ("campaignId" = uuid::Uuid, Path, description = "Campaign id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Paused (`pauseReason: manual`)", body = DataResponse<Campaign>),
        (status = 404, description = "TENANT_NOT_FOUND or CAMPAIGN_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CAMPAIGN_STATE_CONFLICT", body = ErrorBody),
    )
)]
async fn pause_campaign(
    principal: Principal,
    State(state): State<CampaignsState>,
    ApiPath((id, campaign_id)): ApiPath<(TenantId, uuid::Uuid)>,
) -> ApiResult<Json<DataResponse<Campaign>>> {
    let (_, campaign) =
        authorized_campaign(&state, &principal, id, campaign_id, Role::Operator).await?;
    let paused = moved(
        &state,
        &campaign,
        &[CampaignState::Running, CampaignState::Scheduled],
        CampaignState::Paused,
        Some(PauseReason::Manual),
        "pause",
    )
    .await?;
    release_numbers(&state.numbers, &paused).await?;
    Ok(Json(DataResponse::with_message(paused, "Campaign paused")))
}

/// Resume a paused campaign.
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/campaigns/{campaignId}/resume",
    tag = "Campaigns",
    params(("id" = TenantId, Path, description = "Tenant id"), ("campaignId" = uuid::Uuid, Path, description = "Campaign id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Running again", body = DataResponse<Campaign>),
        (status = 400, description = "VALIDATION_ERROR: what it names is no longer the tenant's", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND or CAMPAIGN_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CAMPAIGN_STATE_CONFLICT: not paused; NUMBER_IN_CAMPAIGN: an inbound campaign's number is held by another running campaign", body = ErrorBody),
    )
)]
async fn resume_campaign(
    principal: Principal,
    State(state): State<CampaignsState>,
    ApiPath((id, campaign_id)): ApiPath<(TenantId, uuid::Uuid)>,
) -> ApiResult<Json<DataResponse<Campaign>>> {
    let (tenant, campaign) =
        authorized_campaign(&state, &principal, id, campaign_id, Role::Operator).await?;
    if campaign.state != CampaignState::Paused {
        return Err(wrong_state("resume", &campaign));
    }
    check_references(state.references(), &tenant, &campaign).await?;
    assign_numbers(&state.numbers, &campaign).await?;
    let resumed = moved(
        &state,
        &campaign,
        &[CampaignState::Paused],
        CampaignState::Running,
        None,
        "resume",
    )
    .await;
    let resumed = unless_running_release_numbers(&state, &campaign, resumed).await?;
    Ok(Json(DataResponse::with_message(
        resumed,
        "Campaign resumed",
    )))
}

/// Cancel a campaign: no new calls, calls in flight finish, its lists are let go.
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/campaigns/{campaignId}/cancel",
    tag = "Campaigns",
    params(("id" = TenantId, Path, description = "Tenant id"), ("campaignId" = uuid::Uuid, Path, description = "Campaign id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Cancelled", body = DataResponse<Campaign>),
        (status = 404, description = "TENANT_NOT_FOUND or CAMPAIGN_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CAMPAIGN_STATE_CONFLICT: already completed or cancelled", body = ErrorBody),
    )
)]
async fn cancel_campaign(
    principal: Principal,
    State(state): State<CampaignsState>,
    ApiPath((id, campaign_id)): ApiPath<(TenantId, uuid::Uuid)>,
) -> ApiResult<Json<DataResponse<Campaign>>> {
    let (_, campaign) =
        authorized_campaign(&state, &principal, id, campaign_id, Role::Operator).await?;
    let cancelled = moved(
        &state,
        &campaign,
        &[
            CampaignState::Draft,
            CampaignState::Scheduled,
            CampaignState::Running,
            CampaignState::Paused,
        ],
        CampaignState::Cancelled,
        None,
        "cancel",
    )
    .await?;
    release_lists(&state, &cancelled).await?;
    release_numbers(&state.numbers, &cancelled).await?;
    Ok(Json(DataResponse::with_message(
        cancelled,
        "Campaign cancelled",
    )))
}
