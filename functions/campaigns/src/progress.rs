//! A campaign's progress: its leads (by status) and each lead's attempts, with why each dial
//! was allowed.

use gobi_domain::campaigns::dialing::Attempt;
use gobi_shared::error::Problems;
use gobi_shared::response::count_up_to;

use super::*;

pub(crate) fn routes() -> ApiRouter<CampaignsState> {
    ApiRouter::default()
        .routes(api_routes!(campaign_leads))
        .routes(api_routes!(lead_attempts))
}

/// A campaign's leads in number order, cursor-paged; with `status`, those in that status (the
/// page is read on until full, 2,000 leads examined at most).
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/campaigns/{campaignId}/leads",
    tag = "Campaigns",
    params(("id" = TenantId, Path, description = "Tenant id"), ("campaignId" = uuid::Uuid, Path, description = "Campaign id"), CampaignLeadsQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "A page of the campaign's leads", body = CampaignLeadsPage),
        (status = 400, description = "VALIDATION_ERROR (limit, cursor)", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND or CAMPAIGN_NOT_FOUND", body = ErrorBody),
    )
)]
async fn campaign_leads(
    principal: Principal,
    State(state): State<CampaignsState>,
    ApiPath((id, campaign_id)): ApiPath<(TenantId, uuid::Uuid)>,
    ApiQuery(query): ApiQuery<CampaignLeadsQuery>,
) -> ApiResult<Json<CampaignLeadsPage>> {
    let mut p = Problems::default();
    let limit = p.check("limit", count_up_to(100, query.limit, 50));
    p.finish()?;
    let (_, campaign) =
        authorized_campaign(&state, &principal, id, campaign_id, Role::Viewer).await?;
    let (data, next_cursor) = state
        .campaigns
        .leads_page(
            campaign.id,
            query.status,
            limit.unwrap_or(50),
            query.cursor.as_deref(),
        )
        .await?;
    Ok(Json(CampaignLeadsPage { data, next_cursor }))
}

/// One lead's attempts in order: caller id, CallSid, outcome, codes, and the window, rule and
/// local time that allowed each dial.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/campaigns/{campaignId}/leads/{leadId}/attempts",
    tag = "Campaigns",
    params(("id" = TenantId, Path, description = "Tenant id"), ("campaignId" = uuid::Uuid, Path, description = "Campaign id"), ("leadId" = String, Path, description = "The lead's number in E.164 without +")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The attempts", body = DataResponse<Vec<Attempt>>),
        (status = 404, description = "TENANT_NOT_FOUND or CAMPAIGN_NOT_FOUND", body = ErrorBody),
    )
)]
async fn lead_attempts(
    principal: Principal,
    State(state): State<CampaignsState>,
    ApiPath((id, campaign_id, lead_id)): ApiPath<(TenantId, uuid::Uuid, String)>,
) -> ApiResult<Json<DataResponse<Vec<Attempt>>>> {
    let (_, campaign) =
        authorized_campaign(&state, &principal, id, campaign_id, Role::Viewer).await?;
    if lead_id.is_empty() || lead_id.len() > 15 || !lead_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::validation(
            "leadId",
            "must be the digits of an E.164 number",
        ));
    }
    let attempts = state.campaigns.attempts(campaign.id, &lead_id).await?;
    Ok(Json(DataResponse::new(attempts)))
}
