//! The `twilio-webhook` function (a Lambda Function URL): Twilio calls it when a tenant's number
//! rings and as the call's status changes. It answers with TwiML, records the call, and hands it
//! to the voice runtime through SQS exactly once per CallSid.

mod campaign_calls;
mod inbound;
pub mod signature;
pub mod twiml;

use campaign_calls::{CampaignAttempt, campaign_call_status};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use gobi_domain::agents::store::AgentStore;
use gobi_domain::calls::{
    Call, CallStatus, CallStore, CampaignCall, Direction, HandoffError, Opening, RingingCall,
};
use gobi_domain::campaigns::dialer::{CampaignCallEnd, UnrecordedDial};
use gobi_domain::campaigns::dialing::Outcome;
use gobi_domain::campaigns::store::CampaignStore;
use gobi_domain::phone_numbers::store::PhoneNumberStore;
use gobi_domain::tenants::store::TenantStore;
use gobi_domain::webhooks::EventType;
use gobi_shared::Config;
use gobi_shared::api_routes;
use gobi_shared::config::SipAuth;
use gobi_shared::error::{ApiError, ApiResult};
use gobi_shared::events::Publisher;
use gobi_shared::ids::E164;
use gobi_shared::routing::ApiRouter;
use gobi_shared::time::Clock;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;
use utoipa::ToSchema;

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
    /// The agent's active version, and an inbound campaign's pin or split: the version a call
    /// runs is chosen when it opens.
    pub agents: AgentStore,
    pub campaigns: CampaignStore,
    /// The tenant's webhooks: calls started, answered, ended.
    pub events: gobi_domain::webhooks::EventSink,
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
            agents: AgentStore::new(dynamodb.clone(), &config.tables.agents),
            campaigns: CampaignStore::new(dynamodb.clone(), &config.tables.campaigns),
            events: gobi_domain::webhooks::EventSink::from_config(config, sqs.clone()),
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

fn routes() -> ApiRouter<WebhookState> {
    ApiRouter::default()
        .routes(api_routes!(inbound::inbound))
        .routes(api_routes!(campaign_calls::outbound))
        .routes(api_routes!(status_callback))
}

pub fn router(state: WebhookState) -> axum::Router {
    routes().with_state(state)
}

/// The function's part of the OpenAPI document.
#[cfg(feature = "openapi")]
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().openapi()
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

/// Records the call (once per CallSid) with `guards` in its transaction and hands it to the
/// runtime through SQS; a redelivery whose handoff is still due queues it again (the worker is
/// idempotent). The call the answer connects, or the guard that failed.
async fn open_and_hand_off(
    state: &WebhookState,
    tenant_held: bool,
    opened: &Call,
    guards: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
) -> ApiResult<Result<Call, usize>> {
    let now = state.clock.now();
    let opening = gobi_domain::calls::open_and_hand_off(
        &state.calls,
        state.publisher.as_ref(),
        &state.events,
        opened,
        tenant_held,
        guards,
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
    })?;
    Ok(match opening {
        Opening::New(call) => Ok(*call),
        // Twilio's retry: the same call under the id its first delivery gave it.
        Opening::Existing {
            tenant_id, call_id, ..
        } => Ok(Call {
            id: call_id,
            tenant_id,
            ..opened.clone()
        }),
        Opening::Stale(guard) => Err(guard),
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
    // A campaign call's status ends its attempt. Only an answered one can have a call record
    // (the answer webhook opened it), so one never answered has nothing more to read; one
    // without a record counts in the metrics with its attempt's end.
    let attempt = CampaignAttempt::of(&uri);
    let never_answered = matches!(
        status,
        CallStatus::Busy | CallStatus::NoAnswer | CallStatus::Failed | CallStatus::Canceled
    );
    let call = match attempt {
        Some(_) if never_answered => None,
        _ => state.calls.by_sid(values[0]).await?,
    };
    if let Some(attempt) = &attempt {
        campaign_call_status(&state, attempt, values[1], &params, call.is_none()).await?;
        if call.is_none() {
            return Ok(xml(StatusCode::OK, twiml::empty()));
        }
    }
    match call {
        Some(call) => {
            let moved = state.calls.advance(&call, status, duration, at).await?;
            if let Some(now) = &moved {
                let events = [
                    (call.answered_at.is_none() && now.answered_at.is_some())
                        .then_some(EventType::CallAnswered),
                    (!call.status.is_final() && now.status.is_final())
                        .then_some(EventType::CallEnded),
                ];
                let data = now.event_data();
                let events = events
                    .into_iter()
                    .flatten()
                    .map(|kind| (kind, data.clone()));
                state.events.emit_all(call.tenant_id, events, at).await;
            }
            tracing::info!(tenant_id = %call.tenant_id, call_id = %call.id, ?status, applied = moved.is_some(), "call status");
        }
        None => tracing::info!("status callback for an unknown call ignored"),
    }
    Ok(xml(StatusCode::OK, twiml::empty()))
}
