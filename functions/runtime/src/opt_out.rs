//! An opt-out heard on a call: the other party's number goes on the tenant's do-not-call list at
//! once, so no campaign of the tenant dials it again.

use gobi_domain::calls::Direction;
use gobi_domain::leads::model::{Suppression, SuppressionReason};

use super::*;

/// `POST /internal/runtime/calls/{callId}/opt-out`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptOut {
    /// What was heard, for the record (never the whole transcript).
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// Record that the person on the call asked not to be called again.
#[utoipa::path(
    post,
    path = "/internal/runtime/calls/{callId}/opt-out",
    tag = "Runtime",
    params(("callId" = CallId, Path, description = "Call id")),
    request_body = OptOut,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The number is suppressed (or already was: the first entry stays)", body = DataResponse<Suppression>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "CALL_NOT_FOUND", body = ErrorBody),
    )
)]
pub(crate) async fn opt_out(
    principal: Principal,
    State(state): State<RuntimeState>,
    ApiPath(id): ApiPath<CallId>,
    ApiJson(body): ApiJson<OptOut>,
) -> ApiResult<Json<DataResponse<Suppression>>> {
    let call = reported_call(&state, &principal, id).await?;
    let mut p = Problems::default();
    p.check(
        "note",
        gobi_shared::text::optional(body.note.as_deref(), 500),
    );
    p.finish()?;
    let entry = suppress_other_party(&state, &call).await?;
    tracing::info!(tenant_id = %call.tenant_id, call_id = %call.id, "opt-out recorded");
    Ok(Json(DataResponse::with_message(entry, "Opt-out recorded")))
}

/// Puts the other party's number of `call` on the tenant's do-not-call list (an opt-out heard on
/// the call, or a disposition that suppresses): the entry as it stands (a first one stays).
pub(crate) async fn suppress_other_party(
    state: &RuntimeState,
    call: &Call,
) -> ApiResult<Suppression> {
    let other_party = match call.direction {
        Direction::Inbound => &call.from,
        Direction::Outbound => &call.to,
    };
    let number = E164::parse(other_party).map_err(|_| {
        ApiError::conflict(
            "NUMBER_NOT_DIALABLE",
            "The other party's number is not an E.164 number; nothing to suppress",
        )
    })?;
    Ok(state
        .leads
        .suppress(&Suppression {
            tenant_id: call.tenant_id,
            phone_number: number.as_str().to_owned(),
            reason: SuppressionReason::OptOut,
            source: format!("call:{}", call.id),
            created_at: state.clock.now(),
        })
        .await?)
}
