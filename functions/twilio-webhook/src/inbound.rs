//! A call to one of GOBI's numbers. The answer waits on three AWS round trips: the route
//! partition (the route, a running inbound campaign, and the context a call opens with), the
//! transaction that opens the call (checking that context is current), and the handoff's send.
//! A Twilio retry of the same CallSid takes two: the transaction's marker condition names the
//! call its first delivery opened, and the handoff is queued again only while still due.

use gobi_domain::phone_numbers::context::{ContextSources, RouteContext, agent_of};

use super::*;

/// Reads of a stale context before the call is given up on (each is one read and one try).
const MAX_CONTEXT_READS: usize = 3;

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
pub(crate) async fn inbound(
    State(state): State<WebhookState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let params = signed_form(&state, &uri, &headers, &body)?;
    let values = require(&params, &["CallSid", "To", "From"])?;
    let (call_sid, to, from) = (values[0], values[1], values[2]);
    let reject = || Ok(xml(StatusCode::OK, twiml::reject()));

    let Ok(to_e164) = E164::parse(to) else {
        return reject();
    };
    let mut route = match state.numbers.route(&to_e164).await? {
        Some(route) if route.active => route,
        _ => {
            tracing::info!("call to an unknown or inactive number rejected");
            return reject();
        }
    };
    let sources = ContextSources {
        tenants: &state.tenants,
        agents: &state.agents,
        campaigns: &state.campaigns,
    };
    let lead_id = from.trim_start_matches('+').to_owned();
    let mut kept = route.context.take();
    for _ in 0..MAX_CONTEXT_READS {
        // The context kept beside the route, else (none yet, or it went stale) one read afresh,
        // written with the call.
        let (context, write) = match kept.take() {
            Some(context) => (context, false),
            None => match RouteContext::read(sources, &route).await? {
                Some(context) => (context, true),
                None => {
                    tracing::info!(tenant_id = %route.tenant_id, "call to an inactive tenant rejected");
                    return reject();
                }
            },
        };
        let mut guards = context
            .guards(sources)
            .map_err(gobi_domain::error::StoreError::from)?;
        if write {
            guards.push(
                state
                    .numbers
                    .context_put(&to_e164, &context)
                    .map_err(gobi_domain::error::StoreError::from)?,
            );
        }
        let opened = Call::ringing(
            RingingCall {
                tenant_id: route.tenant_id,
                call_sid: call_sid.to_owned(),
                direction: Direction::Inbound,
                from: from.to_owned(),
                to: to_e164.as_str().to_owned(),
                // A running inbound campaign's number: its agent, and the call carries it.
                agent_id: agent_of(&route),
                agent_version_id: context.version_for(&lead_id),
                phone_number_id: Some(route.phone_number_id),
                retention_days: context.retention_days,
                timezone: context.timezone.clone(),
                answered_by: None,
                campaign: route.campaign.as_ref().map(|c| CampaignCall {
                    campaign_id: c.campaign_id,
                    lead_id: lead_id.clone(),
                    attempt: None,
                }),
            },
            state.clock.now(),
        );
        match open_and_hand_off(&state, context.tenant_held, &opened, guards).await? {
            Ok(call) => return Ok(xml(StatusCode::OK, answer(&state, &call))),
            Err(guard) => {
                tracing::info!(tenant_id = %route.tenant_id, guard, "the route's context changed; reading it again");
            }
        }
    }
    Err(ApiError::Unavailable {
        code: "HANDOFF_UNAVAILABLE",
        message: "The number's tenant, agent or campaign kept changing; try again".into(),
    })
}
