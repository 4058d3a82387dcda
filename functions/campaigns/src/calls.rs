//! One outbound call now (`POST /api/tenants/{id}/calls`): a campaign of one lead, placed at
//! once through the dialer's own dial — the same guards as a campaign's calls (the do-not-call
//! list, the lead's hours under the law, the tenant's cap on live calls) and the same record of
//! the attempt. A call that cannot be placed now is refused, not queued.

use chrono::NaiveTime;
use gobi_domain::campaigns::dialer::Dialed;
use gobi_domain::campaigns::dialing::{CampaignLead, LeadStatus};
use gobi_domain::campaigns::model::{CampaignState, Enrollment, OutcomeRetry, Pacing, RetryPolicy};
use gobi_domain::campaigns::windows::{Day, Window};
use gobi_shared::error::Problems;
use gobi_shared::ids::E164;

use super::*;

pub(crate) fn routes() -> ApiRouter<CampaignsState> {
    ApiRouter::default().routes(api_routes!(place_call))
}

/// Every day, all day: only the law's hours limit a single call.
fn any_time() -> Vec<Window> {
    vec![Window {
        days: vec![
            Day::Mon,
            Day::Tue,
            Day::Wed,
            Day::Thu,
            Day::Fri,
            Day::Sat,
            Day::Sun,
        ],
        start: NaiveTime::MIN,
        end: NaiveTime::from_hms_opt(23, 59, 0).unwrap_or(NaiveTime::MIN),
    }]
}

/// Place one outbound call now with an agent, a caller id and variables.
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/calls",
    tag = "Campaigns",
    params(("id" = TenantId, Path, description = "Tenant id")),
    request_body = PlaceCall,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Placed", body = DataResponse<CallPlaced>),
        (status = 400, description = "VALIDATION_ERROR (incl. an agent or caller id the tenant does not have)", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "NUMBER_SUPPRESSED, or OUTSIDE_CALLING_HOURS (the message names the next opening)", body = ErrorBody),
        (status = 429, description = "AT_CAPACITY: the tenant's live calls are at maxConcurrentCalls", body = ErrorBody),
        (status = 502, description = "CALL_NOT_PLACED: Twilio refused it", body = ErrorBody),
        (status = 503, description = "DIALER_NOT_CONFIGURED", body = ErrorBody),
    )
)]
async fn place_call(
    principal: Principal,
    State(state): State<CampaignsState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(body): ApiJson<PlaceCall>,
) -> ApiResult<(StatusCode, Json<DataResponse<CallPlaced>>)> {
    let tenant = authorized_tenant(&state.tenants, &principal, id, Role::Operator).await?;
    let dialer = state.dialer.as_ref().ok_or_else(|| ApiError::Unavailable {
        code: "DIALER_NOT_CONFIGURED",
        message: "Placing calls needs DIALER_QUEUE_URL".into(),
    })?;
    let mut p = Problems::default();
    let to = p.check("to", E164::parse_dialable(&body.to).map_err(|e| e.0));
    p.finish()?;
    let to = to.ok_or_else(|| ApiError::validation("to", "is required"))?;
    let now = state.clock.now();
    let fields = CampaignFields {
        name: Some(format!("Call to {}", to.as_str())),
        agent_id: Some(body.agent_id),
        agent_version_id: body.agent_version_id,
        caller_ids: Some(vec![body.caller_id.clone()]),
        variables: body.variables,
        ..CampaignFields::default()
    };
    let mut campaign = fields.apply(blank(&tenant, body.agent_id, uuid::Uuid::now_v7(), now))?;
    campaign.single_call = true;
    campaign.schedule.windows = any_time();
    campaign.pacing = Pacing {
        max_concurrency: 1,
        max_calls_per_second: 1,
    };
    let once = OutcomeRetry {
        retry: false,
        delay_minutes: 1,
    };
    campaign.retry = RetryPolicy {
        max_attempts: 1,
        no_answer: once,
        busy: once,
        voicemail: once,
        failed: once,
    };
    check_references(state.references(), &tenant, &campaign).await?;
    state.campaigns.create(&campaign).await?;
    let lead = CampaignLead {
        campaign_id: campaign.id,
        list_id: uuid::Uuid::nil(),
        lead_id: to.as_str().trim_start_matches('+').to_owned(),
        phone_number: to.as_str().to_owned(),
        status: LeadStatus::Queued,
        skip_reason: None,
        attempts: 0,
        last_outcome: None,
        next_attempt_at: Some(now),
        lease_expires_at: None,
        recent_dials: Vec::new(),
        timezone: None,
        closed: false,
        updated_at: now,
    };
    let enrolled = Enrollment {
        round: 1,
        done: true,
        ..Enrollment::default()
    };
    state
        .campaigns
        .enroll_page(&campaign, &Enrollment::default(), vec![lead], &enrolled)
        .await?;
    state
        .campaigns
        .transition(
            id,
            campaign.id,
            &[CampaignState::Draft],
            CampaignState::Running,
            None,
            now,
        )
        .await?;
    let dialed = dialer.dial(id, campaign.id, to.as_str(), 1, now).await?;
    let refused = |e: ApiError| async {
        // Nothing will dial it later: the one-lead campaign ends here.
        state
            .campaigns
            .transition(
                id,
                campaign.id,
                &[CampaignState::Running],
                CampaignState::Cancelled,
                None,
                now,
            )
            .await?;
        Err::<(StatusCode, Json<DataResponse<CallPlaced>>), ApiError>(e)
    };
    match dialed {
        Dialed::Placed { call_sid } => {
            tracing::info!(tenant_id = %id, campaign_id = %campaign.id, "single call placed");
            Ok((
                StatusCode::CREATED,
                Json(DataResponse::with_message(
                    CallPlaced {
                        campaign_id: campaign.id,
                        call_sid,
                        to: to.as_str().to_owned(),
                        caller_id: body.caller_id,
                    },
                    "Call placed",
                )),
            ))
        }
        Dialed::Suppressed => {
            refused(ApiError::conflict(
                "NUMBER_SUPPRESSED",
                "The number is on the tenant's do-not-call list",
            ))
            .await
        }
        Dialed::NotNow { due } => {
            refused(ApiError::conflict(
                "OUTSIDE_CALLING_HOURS",
                format!(
                    "It is outside the legal calling hours of {}; the next opening is {}",
                    to.as_str(),
                    due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            ))
            .await
        }
        Dialed::AtCapacity => {
            refused(ApiError::TooManyRequests {
                code: "AT_CAPACITY",
                message: "The tenant's live calls are at maxConcurrentCalls".into(),
                retry_after_seconds: 30,
            })
            .await
        }
        Dialed::Failed { reason } => Err(ApiError::Dependency {
            status: StatusCode::BAD_GATEWAY,
            code: "CALL_NOT_PLACED",
            message: format!("The call could not be placed: {reason}"),
            details: None,
            twilio_code: None,
        }),
        Dialed::Moot => {
            refused(ApiError::conflict(
                "CALL_NOT_PLACED",
                "The call was not placed",
            ))
            .await
        }
    }
}
