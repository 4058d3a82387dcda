//! Campaign calls at Twilio's webhook: the answer of a call the dialer placed (recorded and
//! handed off like an inbound call), and the final status that ends its attempt.

use super::*;

/// A campaign's call answered: recorded (outbound, with its campaign and lead) and handed to
/// the runtime like an inbound call; a machine is hung up on when the campaign says so.
#[utoipa::path(
    post,
    path = "/twilio/webhook/outbound",
    tag = "Twilio",
    request_body(content = InboundForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "TwiML: Connect/Stream, Dial/Sip, or Hangup", content_type = "text/xml", body = String),
        (status = 400, description = "VALIDATION_ERROR: CallSid, To or From missing", body = gobi_shared::error::ErrorBody),
        (status = 403, description = "INVALID_TWILIO_SIGNATURE", body = gobi_shared::error::ErrorBody),
        (status = 503, description = "HANDOFF_UNAVAILABLE", body = gobi_shared::error::ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn outbound(
    State(state): State<WebhookState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let params = signed_form(&state, &uri, &headers, &body)?;
    let values = require(&params, &["CallSid", "To", "From"])?;
    let (call_sid, to, from) = (values[0], values[1], values[2]);
    let hang_up = || Ok(xml(StatusCode::OK, twiml::hang_up()));
    let (Some(attempt), Some(dialer)) = (CampaignAttempt::of(&uri), &state.dialer) else {
        return hang_up();
    };
    let Some(campaign) = dialer
        .campaigns
        .get(attempt.tenant, attempt.campaign)
        .await?
    else {
        return hang_up();
    };
    let tenant = match state.tenants.get(campaign.tenant_id).await? {
        Some(tenant) if tenant.is_active => tenant,
        _ => return hang_up(),
    };
    let machine = param(&params, "AnsweredBy").is_some_and(|a| a.starts_with("machine"));
    if machine && campaign.voicemail == gobi_domain::campaigns::model::VoicemailAction::Hangup {
        return hang_up();
    }
    // The caller id is one of the tenant's own numbers.
    let Ok(caller) = E164::parse(from) else {
        return hang_up();
    };
    let Some(route) = state.numbers.route(&caller).await? else {
        return hang_up();
    };
    let opened = Call::ringing(
        RingingCall {
            tenant_id: campaign.tenant_id,
            call_sid: call_sid.to_owned(),
            direction: Direction::Outbound,
            from: from.to_owned(),
            to: to.to_owned(),
            agent_id: Some(campaign.agent_id),
            agent_version_id: attempt.agent_version_id,
            phone_number_id: Some(route.phone_number_id),
            retention_days: tenant.retention_days,
            timezone: tenant.timezone.clone(),
            answered_by: param(&params, "AnsweredBy").map(str::to_owned),
            campaign: Some(CampaignCall {
                campaign_id: campaign.id,
                lead_id: attempt.lead.trim_start_matches('+').to_owned(),
                attempt: Some(attempt.attempt),
            }),
        },
        state.clock.now(),
    );
    let call = open_and_hand_off(&state, tenant.legal_hold.is_some(), &opened, Vec::new())
        .await?
        .map_err(|guard| {
            gobi_domain::error::StoreError::Dynamo(anyhow::anyhow!(
                "opening a campaign call failed guard {guard} it was not given"
            ))
        })?;
    Ok(xml(StatusCode::OK, answer(&state, &call)))
}

/// The campaign attempt a status callback URL names (the dialer puts it in the query, which
/// Twilio's signature covers).
pub(crate) struct CampaignAttempt {
    tenant: gobi_shared::ids::TenantId,
    campaign: uuid::Uuid,
    lead: String,
    attempt: u32,
    /// The version the call runs and the tenant's zone, as the dialer chose them.
    agent_version_id: Option<gobi_shared::ids::AgentVersionId>,
    timezone: Option<String>,
}

impl CampaignAttempt {
    pub(crate) fn of(uri: &Uri) -> Option<Self> {
        let query: Vec<(String, String)> = url::form_urlencoded::parse(uri.query()?.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let get = |name: &str| param(&query, name).map(str::to_owned);
        Some(Self {
            tenant: get("tenantId")?.parse().ok()?,
            campaign: get("campaignId")?.parse().ok()?,
            lead: get("lead")?,
            attempt: get("attempt")?.parse().ok()?,
            agent_version_id: get("agentVersionId").and_then(|v| v.parse().ok()),
            timezone: get("timezone"),
        })
    }
}

/// A campaign call's status: a final one ends its attempt (outcome, leases released, retry).
pub(crate) async fn campaign_call_status(
    state: &WebhookState,
    attempt: &CampaignAttempt,
    call_status: &str,
    params: &[(String, String)],
    unrecorded: bool,
) -> ApiResult<()> {
    let Some(dialer) = &state.dialer else {
        tracing::warn!("campaign call status without a dialer configured");
        return Ok(());
    };
    let answered_by = param(params, "AnsweredBy");
    // Not final yet (ringing, in progress): nothing ends.
    let Some(outcome) = Outcome::from_twilio(call_status, answered_by) else {
        return Ok(());
    };
    let ended = dialer
        .call_ended(
            &CampaignCallEnd {
                tenant: attempt.tenant,
                campaign_id: attempt.campaign,
                phone_number: &attempt.lead,
                attempt: attempt.attempt,
                answered_by,
                error_code: param(params, "ErrorCode").or_else(|| param(params, "SipResponseCode")),
                unrecorded: unrecorded.then(|| UnrecordedDial {
                    caller_id: param(params, "From").unwrap_or_default(),
                    agent_version_id: attempt.agent_version_id,
                    timezone: attempt.timezone.as_deref(),
                }),
            },
            outcome,
            state.clock.now(),
        )
        .await?;
    tracing::info!(tenant_id = %attempt.tenant, campaign_id = %attempt.campaign, attempt = attempt.attempt, call_status, ended, "campaign call status");
    Ok(())
}
