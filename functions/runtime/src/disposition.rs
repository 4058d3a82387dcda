//! The runtime reports how a call ended for the business: one of the tenant's dispositions,
//! with free-form data. A second report replaces the first (the timeline says so); the same
//! report again changes nothing. A `suppress` disposition puts the other party's number on the
//! do-not-call list; a `terminal` one on an outbound campaign call ends the lead's campaign.

use gobi_domain::calls::{CallDisposition, Direction, DispositionSet};
use gobi_domain::campaigns::dialer::close_lead;
use gobi_domain::dispositions::model::valid_code;
use gobi_domain::dispositions::store::disposition_not_found;

use super::*;

/// Free-form data at most this large (serialized).
const MAX_DATA_BYTES: usize = 8 * 1024;

/// `POST /internal/runtime/calls/{callId}/disposition`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispositionReport {
    /// One of the tenant's disposition codes.
    #[schema(example = "appointment_set", max_length = 64)]
    pub code: String,
    /// Free-form (at most 8 KiB).
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What the report did.
#[derive(Debug, Serialize, ToSchema)]
pub struct DispositionRecorded {
    pub call_id: CallId,
    pub disposition: CallDisposition,
    /// The code it replaced, if the call had another.
    pub replaced: Option<String>,
    /// The call had exactly this already: nothing changed.
    pub unchanged: bool,
    /// The other party's number is on the do-not-call list now.
    pub suppressed: bool,
    /// A terminal disposition on an outbound campaign call: the lead gets no further attempt.
    pub lead_closed: bool,
}

/// Report the call's disposition.
#[utoipa::path(
    post,
    path = "/internal/runtime/calls/{callId}/disposition",
    tag = "Runtime",
    params(("callId" = CallId, Path, description = "Call id")),
    request_body = DispositionReport,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Recorded (or unchanged when repeated)", body = DataResponse<DispositionRecorded>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "CALL_NOT_FOUND or DISPOSITION_NOT_FOUND", body = ErrorBody),
    )
)]
pub(crate) async fn report_disposition(
    principal: Principal,
    State(state): State<RuntimeState>,
    ApiPath(id): ApiPath<CallId>,
    ApiJson(body): ApiJson<DispositionReport>,
) -> ApiResult<Json<DataResponse<DispositionRecorded>>> {
    let call = reported_call(&state, &principal, id).await?;
    let mut p = Problems::default();
    if !valid_code(&body.code) {
        p.push(
            "code",
            "lower-case letters, digits and _, 1 to 64 characters",
        );
    }
    let data = body.data.unwrap_or_default();
    if serde_json::to_vec(&data).map_or(usize::MAX, |v| v.len()) > MAX_DATA_BYTES {
        p.push("data", "at most 8 KiB");
    }
    p.finish()?;
    let defined = state
        .dispositions
        .get(call.tenant_id, &body.code)
        .await?
        .ok_or_else(|| disposition_not_found(&body.code))?;
    let disposition = CallDisposition {
        code: defined.code.clone(),
        label: defined.label.clone(),
        success: defined.success,
        terminal: defined.terminal,
        data,
        at: state.clock.now(),
    };
    let set = state.calls.set_disposition(&call, &disposition).await?;
    let suppressed = defined.suppress && {
        opt_out::suppress_other_party(&state, &call).await?;
        true
    };
    // An outbound campaign call's attempt shows it too (also on a repeat, which heals an
    // earlier report whose write here failed).
    if let (Some(campaign), Some(attempt), Some(lead)) = (
        call.campaign_id,
        call.campaign_attempt,
        call.lead_id.as_deref(),
    ) {
        state
            .campaigns
            .set_attempt_disposition(campaign, lead, attempt, &disposition.code)
            .await?;
    }
    let lead_closed = match (defined.terminal, call.direction, call.campaign_id) {
        (true, Direction::Outbound, Some(campaign)) => {
            close_lead(
                &state.campaigns,
                call.tenant_id,
                campaign,
                &call.to,
                state.clock.now(),
            )
            .await?
        }
        _ => false,
    };
    tracing::info!(tenant_id = %call.tenant_id, call_id = %call.id, code = %disposition.code, ?set, suppressed, lead_closed, "disposition");
    let (replaced, unchanged) = match set {
        DispositionSet::First => (None, false),
        DispositionSet::Replaced { previous } => (Some(previous.code), false),
        DispositionSet::Unchanged => (None, true),
    };
    Ok(Json(DataResponse::new(DispositionRecorded {
        call_id: call.id,
        disposition,
        replaced,
        unchanged,
        suppressed,
        lead_closed,
    })))
}
