//! The `twilio-webhook` function (a Lambda Function URL): Twilio calls it when a tenant's number
//! rings and as the call's status changes. It answers with TwiML, records the call, and hands it
//! to the voice runtime through SQS exactly once per CallSid.

pub mod signature;
pub mod twiml;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use gobi_domain::calls::{
    Call, CallStatus, CallStore, CampaignCall, Direction, HandoffError, RingingCall,
};
use gobi_domain::campaigns::dialer::CampaignCallEnd;
use gobi_domain::campaigns::dialing::Outcome;
use gobi_domain::phone_numbers::store::PhoneNumberStore;
use gobi_domain::tenants::store::TenantStore;
use gobi_shared::Config;
use gobi_shared::config::SipAuth;
use gobi_shared::error::{ApiError, ApiResult};
use gobi_shared::events::Publisher;
use gobi_shared::ids::E164;
use gobi_shared::time::Clock;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;
use utoipa::ToSchema;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub const INBOUND_PATH: &str = "/twilio/webhook/inbound";
pub const STATUS_PATH: &str = "/twilio/webhook/status";
/// A campaign's call answered (the dialer's answer URL).
pub const OUTBOUND_PATH: &str = "/twilio/webhook/outbound";

/// How an answered call reaches the voice runtime.
#[derive(Clone, Debug)]
pub enum Answer {
    /// `<Connect><Stream>` to a media stream worker.
    Stream {
        url: Url,
        token: Option<SecretString>,
    },
    /// `<Dial><Sip>` to LiveKit's SIP endpoint, with the trunk's credentials when configured.
    Sip { uri: String, auth: Option<SipAuth> },
    /// Neither is configured: say so and hang up.
    Unavailable,
}

#[derive(Clone)]
pub struct WebhookState {
    pub calls: CallStore,
    pub numbers: PhoneNumberStore,
    pub tenants: TenantStore,
    /// `None` when no queue is configured: calls are recorded but not handed off.
    pub publisher: Option<Publisher>,
    /// Set when signatures are checked: the auth token and the public base URL.
    pub signing: Option<(SecretString, String)>,
    pub answer: Answer,
    /// Ends campaign attempts on their final status; `None` without a dialer queue.
    pub dialer: Option<gobi_domain::campaigns::dialer::Dialer>,
    pub clock: Clock,
}

impl WebhookState {
    pub fn new(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        // Fail closed: with checks on (the default) and nothing to check against, refuse to start
        // rather than accept unsigned posts.
        let signing = match (&config.twilio.auth_token, &config.twilio.webhook_base_url) {
            _ if !config.twilio.validate_signature => None,
            (Some(token), Some(base)) => Some((
                token.clone(),
                base.as_str().trim_end_matches('/').to_owned(),
            )),
            _ => anyhow::bail!(
                "configuration: TWILIO_VALIDATE_SIGNATURE: is true (the default) but \
                 TWILIO_AUTH_TOKEN and TWILIO_WEBHOOK_BASE_URL are not both set; set them, or \
                 TWILIO_VALIDATE_SIGNATURE=false outside production"
            ),
        };
        let answer = match (&config.twilio.media_stream_url, &config.livekit.sip_uri) {
            (Some(url), _) => Answer::Stream {
                url: url.clone(),
                token: config.twilio.media_stream_token.clone(),
            },
            (None, Some(uri)) if config.livekit.url.is_some() => Answer::Sip {
                uri: uri.clone(),
                auth: config.livekit.sip_auth.clone(),
            },
            _ => Answer::Unavailable,
        };
        Ok(Self {
            calls: CallStore::new(dynamodb.clone(), &config.tables.calls),
            numbers: PhoneNumberStore::new(dynamodb.clone(), &config.tables.phone_numbers),
            tenants: TenantStore::new(dynamodb.clone(), &config.tables.tenants),
            dialer: gobi_domain::campaigns::dialer::Dialer::from_config(
                config,
                dynamodb,
                sqs.clone(),
            ),
            publisher: config
                .handoff_queue_url
                .as_ref()
                .map(|url| Publisher::new(sqs, url)),
            signing,
            answer,
            clock,
        })
    }
}

fn routes() -> OpenApiRouter<WebhookState> {
    OpenApiRouter::default()
        .routes(routes!(inbound))
        .routes(routes!(outbound))
        .routes(routes!(status_callback))
}

pub fn router(state: WebhookState) -> axum::Router {
    routes().with_state(state).split_for_parts().0
}

pub fn openapi() -> OpenApi {
    routes().split_for_parts().1
}

/// The parameters of an inbound call, as Twilio posts them (more are accepted and signed).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct InboundForm {
    #[schema(
        example = "CA1234567890ABCDE1234567890ABCDEF",
        min_length = 1,
        max_length = 64
    )]
    call_sid: String,
    #[schema(example = "+15551234567", min_length = 1)]
    to: String,
    #[schema(example = "+14158675309", min_length = 1)]
    from: String,
    account_sid: Option<String>,
    call_status: Option<String>,
    direction: Option<String>,
}

/// The parameters of a status callback.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct StatusForm {
    #[schema(min_length = 1, max_length = 64)]
    call_sid: String,
    /// queued, ringing, in-progress, completed, busy, failed, no-answer, canceled.
    #[schema(
        example = "completed",
        pattern = "^(queued|initiated|ringing|in-progress|completed|busy|failed|no-answer|canceled)$"
    )]
    call_status: String,
    /// Seconds, on the final callback.
    call_duration: Option<String>,
    /// RFC 2822.
    timestamp: Option<String>,
}

fn xml(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Decoded form parameters, every one (repeated keys too): all are signed.
fn parameters(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// The form's parameters, once Twilio's signature over them is checked (when signing is on).
fn signed_form(
    state: &WebhookState,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Vec<(String, String)>> {
    let params = parameters(body);
    verify(state, uri, headers, &params)?;
    Ok(params)
}

/// With signing on, the request must carry Twilio's signature over the public URL.
fn verify(
    state: &WebhookState,
    uri: &Uri,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> ApiResult<()> {
    let Some((token, base)) = &state.signing else {
        return Ok(());
    };
    let url = format!(
        "{base}{}",
        uri.path_and_query()
            .map(|p| p.as_str())
            .unwrap_or(uri.path())
    );
    let given = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if given.is_empty() || !signature::is_valid(token.expose_secret(), &url, params, given) {
        tracing::warn!(path = uri.path(), "Twilio signature missing or wrong");
        return Err(ApiError::Forbidden {
            code: "INVALID_TWILIO_SIGNATURE",
            message: "Missing or wrong X-Twilio-Signature".into(),
        });
    }
    Ok(())
}

fn require<'a>(params: &'a [(String, String)], names: &[&str]) -> ApiResult<Vec<&'a str>> {
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        match param(params, name) {
            Some(v) if *name == "CallSid" && v.len() > 64 => {
                missing.push(gobi_shared::error::FieldError::new(*name, "is too long"))
            }
            Some(v) => values.push(v),
            None => missing.push(gobi_shared::error::FieldError::new(*name, "is required")),
        }
    }
    if missing.is_empty() {
        Ok(values)
    } else {
        Err(ApiError::Validation(missing))
    }
}

/// A call to one of GOBI's numbers: known and active → recorded, handed off, answered with
/// TwiML; otherwise rejected with nothing written.
#[utoipa::path(
    post,
    path = "/twilio/webhook/inbound",
    tag = "Twilio",
    request_body(content = InboundForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "TwiML: Connect/Stream, Dial/Sip, Say+Hangup, or Reject", content_type = "text/xml", body = String),
        (status = 400, description = "VALIDATION_ERROR: CallSid, To or From missing", body = gobi_shared::error::ErrorBody),
        (status = 403, description = "INVALID_TWILIO_SIGNATURE", body = gobi_shared::error::ErrorBody),
        (status = 503, description = "HANDOFF_UNAVAILABLE: the call could not be handed off; Twilio's retry will try again", body = gobi_shared::error::ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
async fn inbound(
    State(state): State<WebhookState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let params = signed_form(&state, &uri, &headers, &body)?;
    let values = require(&params, &["CallSid", "To", "From"])?;
    let (call_sid, to, from) = (values[0], values[1], values[2]);

    let Ok(to_e164) = E164::parse(to) else {
        return Ok(xml(StatusCode::OK, twiml::reject()));
    };
    let route = match state.numbers.route(&to_e164).await? {
        Some(route) if route.active => route,
        _ => {
            tracing::info!("call to an unknown or inactive number rejected");
            return Ok(xml(StatusCode::OK, twiml::reject()));
        }
    };
    let tenant = match state.tenants.get(route.tenant_id).await? {
        Some(tenant) if tenant.is_active => tenant,
        _ => {
            tracing::info!(tenant_id = %route.tenant_id, "call to an inactive tenant rejected");
            return Ok(xml(StatusCode::OK, twiml::reject()));
        }
    };

    let opened = Call::ringing(
        RingingCall {
            tenant_id: route.tenant_id,
            call_sid: call_sid.to_owned(),
            direction: Direction::Inbound,
            from: from.to_owned(),
            to: to_e164.as_str().to_owned(),
            // A running inbound campaign's number: its agent, and the call carries it.
            agent_id: route
                .campaign
                .as_ref()
                .map(|c| c.agent_id)
                .or(route.agent_id),
            phone_number_id: Some(route.phone_number_id),
            retention_days: tenant.retention_days,
            campaign: route.campaign.as_ref().map(|c| CampaignCall {
                campaign_id: c.campaign_id,
                lead_id: from.trim_start_matches('+').to_owned(),
                attempt: None,
            }),
        },
        state.clock.now(),
    );
    let call = open_and_hand_off(&state, &tenant, &opened).await?;
    Ok(xml(StatusCode::OK, answer(&state, &call)))
}

/// Records the call (once per CallSid) and hands it to the runtime through SQS; a redelivery
/// whose first attempt failed to hand off tries again (the worker is idempotent).
async fn open_and_hand_off(
    state: &WebhookState,
    tenant: &gobi_domain::tenants::model::Tenant,
    opened: &Call,
) -> ApiResult<Call> {
    let now = state.clock.now();
    gobi_domain::calls::open_and_hand_off(
        &state.calls,
        state.publisher.as_ref(),
        opened,
        tenant.legal_hold.is_some(),
        now,
    )
    .await
    .map_err(|e| match e {
        HandoffError::Store(e) => e.into(),
        HandoffError::NotQueued(e) => {
            tracing::error!(error = format!("{e:#}"), call_id = %opened.id, "handoff not queued");
            ApiError::Unavailable {
                code: "HANDOFF_UNAVAILABLE",
                message: "The call could not be handed off".into(),
            }
        }
    })
}

/// The TwiML that connects an answered call to the voice runtime.
fn answer(state: &WebhookState, call: &Call) -> String {
    let call_id = call.id.to_string();
    match &state.answer {
        Answer::Stream { url, token } => {
            let tenant = call.tenant_id.to_string();
            let mut parameters = vec![
                ("call_id", call_id.as_str()),
                ("tenant_id", tenant.as_str()),
            ];
            if let Some(token) = token {
                parameters.push(("token", token.expose_secret()));
            }
            twiml::stream(url.as_str(), &parameters)
        }
        Answer::Sip { uri, auth } => {
            let host = uri.trim_start_matches("sip:");
            let user = match call.direction {
                Direction::Inbound => &call.to,
                Direction::Outbound => &call.from,
            };
            twiml::dial_sip(
                &format!("sip:{user}@{host}"),
                auth.as_ref()
                    .map(|a| (a.username.as_str(), a.password.expose_secret())),
            )
        }
        Answer::Unavailable => {
            twiml::say_and_hang_up("Sorry, no one can take your call right now. Goodbye.")
        }
    }
}

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
async fn outbound(
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
            phone_number_id: Some(route.phone_number_id),
            retention_days: tenant.retention_days,
            campaign: Some(CampaignCall {
                campaign_id: campaign.id,
                lead_id: attempt.lead.trim_start_matches('+').to_owned(),
                attempt: Some(attempt.attempt),
            }),
        },
        state.clock.now(),
    );
    let call = open_and_hand_off(&state, &tenant, &opened).await?;
    Ok(xml(StatusCode::OK, answer(&state, &call)))
}

/// Twilio's call status callbacks: a call only ever moves forward.
#[utoipa::path(
    post,
    path = "/twilio/webhook/status",
    tag = "Twilio",
    request_body(content = StatusForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Recorded (or ignored when late, repeated or for an unknown call)", content_type = "text/xml", body = String),
        (status = 400, description = "VALIDATION_ERROR", body = gobi_shared::error::ErrorBody),
        (status = 403, description = "INVALID_TWILIO_SIGNATURE", body = gobi_shared::error::ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
async fn status_callback(
    State(state): State<WebhookState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let params = signed_form(&state, &uri, &headers, &body)?;
    let values = require(&params, &["CallSid", "CallStatus"])?;
    let status = CallStatus::parse(values[1])
        .ok_or_else(|| ApiError::validation("CallStatus", "is not a Twilio call status"))?;
    let duration = param(&params, "CallDuration").and_then(|d| d.parse::<u32>().ok());
    let at = param(&params, "Timestamp")
        .and_then(|t| chrono::DateTime::parse_from_rfc2822(t).ok())
        .map(|t| t.to_utc())
        .unwrap_or_else(|| state.clock.now());
    // A campaign call's status ends its attempt; only an answered one has a call record (the
    // answer webhook opened it), so one that was never answered has nothing more to read.
    if let Some(attempt) = CampaignAttempt::of(&uri) {
        campaign_call_status(&state, &attempt, values[1], &params).await?;
        if matches!(
            status,
            CallStatus::Busy | CallStatus::NoAnswer | CallStatus::Failed | CallStatus::Canceled
        ) {
            return Ok(xml(StatusCode::OK, twiml::empty()));
        }
    }
    match state.calls.by_sid(values[0]).await? {
        Some(call) => {
            let moved = state.calls.advance(&call, status, duration, at).await?;
            tracing::info!(tenant_id = %call.tenant_id, call_id = %call.id, ?status, applied = moved.is_some(), "call status");
        }
        None => tracing::info!("status callback for an unknown call ignored"),
    }
    Ok(xml(StatusCode::OK, twiml::empty()))
}

/// The campaign attempt a status callback URL names (the dialer puts it in the query, which
/// Twilio's signature covers).
struct CampaignAttempt {
    tenant: gobi_shared::ids::TenantId,
    campaign: uuid::Uuid,
    lead: String,
    attempt: u32,
}

impl CampaignAttempt {
    fn of(uri: &Uri) -> Option<Self> {
        let query: Vec<(String, String)> = url::form_urlencoded::parse(uri.query()?.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let get = |name: &str| param(&query, name).map(str::to_owned);
        Some(Self {
            tenant: get("tenantId")?.parse().ok()?,
            campaign: get("campaignId")?.parse().ok()?,
            lead: get("lead")?,
            attempt: get("attempt")?.parse().ok()?,
        })
    }
}

/// A campaign call's status: a final one ends its attempt (outcome, leases released, retry).
async fn campaign_call_status(
    state: &WebhookState,
    attempt: &CampaignAttempt,
    call_status: &str,
    params: &[(String, String)],
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
            },
            outcome,
            state.clock.now(),
        )
        .await?;
    tracing::info!(tenant_id = %attempt.tenant, campaign_id = %attempt.campaign, attempt = attempt.attempt, call_status, ended, "campaign call status");
    Ok(())
}
