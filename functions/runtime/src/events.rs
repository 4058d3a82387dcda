//! What happened on a call, as the runtime reports it (answered, agent joined, transferred,
//! ended, custom): each event once, the call moved and counted, the tenant's webhooks told, and
//! a campaign call placed through LiveKit ended with its attempt.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeEventKind {
    Answered,
    AgentJoined,
    Transferred,
    Ended,
    Custom,
}

/// One event the runtime saw; `event_id` makes re-sends harmless.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuntimeEvent {
    pub event_id: uuid::Uuid,
    pub kind: RuntimeEventKind,
    /// For `custom`: what happened.
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// For `ended`: why (e.g. `caller_hung_up`, `agent_ended`, `transferred`). For a campaign
    /// call placed through LiveKit, `busy`, `no_answer`, `voicemail` or `failed` are its
    /// attempt's outcome; any other reason counts it answered if it was, else `noAnswer`.
    #[schema(max_length = 200)]
    pub reason: Option<String>,
    /// When it happened (default: now).
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `POST /internal/runtime/calls/{callId}/events`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// 1 to 100 events.
    #[schema(min_items = 1, max_items = 100)]
    pub events: Vec<RuntimeEvent>,
}

/// Report what happened on a call (answered, agent joined, transferred, ended with a reason, custom).
#[utoipa::path(
    post,
    path = "/internal/runtime/calls/{callId}/events",
    tag = "Runtime",
    params(("callId" = CallId, Path, description = "Call id")),
    request_body = EventBatch,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Recorded; re-sent events change nothing", body = DataResponse<Ingested>),
        (status = 404, description = "CALL_NOT_FOUND", body = ErrorBody),
    )
)]
pub(crate) async fn report_events(
    principal: Principal,
    State(state): State<RuntimeState>,
    ApiPath(id): ApiPath<CallId>,
    ApiJson(batch): ApiJson<EventBatch>,
) -> ApiResult<Json<DataResponse<Ingested>>> {
    let call = reported_call(&state, &principal, id).await?;
    let mut p = Problems::default();
    p.check_batch("events", batch.events.len(), MAX_EVENTS);
    for (i, e) in batch.events.iter().enumerate() {
        if e.kind == RuntimeEventKind::Custom
            && e.name
                .as_deref()
                .is_none_or(|n| n.trim().is_empty() || n.len() > 100)
        {
            p.push(
                format!("events[{i}].name"),
                "a custom event needs a name of at most 100 characters",
            );
        }
        if e.reason.as_ref().is_some_and(|r| r.len() > 200)
            || e.name.as_ref().is_some_and(|n| n.len() > 100)
        {
            p.push(
                format!("events[{i}]"),
                "name at most 100, reason at most 200 characters",
            );
        }
        if e.data.as_ref().is_some_and(|d| {
            serde_json::to_vec(d).map(|v| v.len()).unwrap_or(usize::MAX) > 8 * 1024
        }) {
            p.push(format!("events[{i}].data"), "at most 8 KiB");
        }
    }
    p.finish()?;
    let now = state.clock.now();
    let (mut accepted, mut duplicates) = (0, 0);
    // What the batch did that the tenant's webhooks are told.
    let mut told = Vec::new();
    for e in &batch.events {
        let kind = match e.kind {
            RuntimeEventKind::Custom => {
                format!("custom:{}", e.name.as_deref().unwrap_or_default().trim())
            }
            other => serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        };
        let mut detail = serde_json::Map::new();
        if let Some(reason) = &e.reason {
            detail.insert("reason".into(), reason.clone().into());
        }
        if let Some(data) = &e.data {
            detail.insert("data".into(), serde_json::Value::Object(data.clone()));
        }
        let event = CallEvent {
            id: e.event_id,
            call_id: call.id,
            kind,
            detail: serde_json::Value::Object(detail),
            at: e.at.unwrap_or(now),
        };
        let applied = state
            .calls
            .add_runtime_event(&call, &event, e.reason.as_deref())
            .await?;
        if applied.new {
            accepted += 1;
        } else {
            duplicates += 1;
        }
        if applied.answered {
            told.push(EventType::CallAnswered);
        }
        // Twilio's final status ends the others.
        if applied.new && e.kind == RuntimeEventKind::Ended && call.placed_through_livekit() {
            told.push(EventType::CallEnded);
        }
    }
    // The call as the batch left it, read once, for the tenant's webhooks.
    if !told.is_empty() {
        let now_call = state.calls.get(call.tenant_id, call.id).await?;
        let data = now_call.as_ref().unwrap_or(&call).event_data();
        let events = told.into_iter().map(|kind| (kind, data.clone()));
        state.events.emit_all(call.tenant_id, events, now).await;
    }
    end_livekit_attempt(&state, &call, &batch.events).await?;
    Ok(Json(DataResponse::new(Ingested {
        accepted,
        duplicates,
    })))
}

/// A campaign call placed through LiveKit ends its attempt when the runtime reports it ended
/// (Twilio's status callback does it for calls Twilio placed). Repeated reports end it once.
async fn end_livekit_attempt(
    state: &RuntimeState,
    call: &Call,
    events: &[RuntimeEvent],
) -> ApiResult<()> {
    let Some(ended) = events.iter().find(|e| e.kind == RuntimeEventKind::Ended) else {
        return Ok(());
    };
    let (Some(campaign_id), Some(attempt), true) = (
        call.campaign_id,
        call.campaign_attempt,
        call.placed_through_livekit(),
    ) else {
        return Ok(());
    };
    let answered =
        call.answered_at.is_some() || events.iter().any(|e| e.kind == RuntimeEventKind::Answered);
    let outcome = Outcome::from_runtime(ended.reason.as_deref(), answered);
    let done = call_ended(
        &state.campaigns,
        &state.calls,
        &CampaignCallEnd {
            tenant: call.tenant_id,
            campaign_id,
            phone_number: &call.to,
            attempt,
            answered_by: None,
            error_code: None,
            // Placed through LiveKit: recorded before it was dialed.
            unrecorded: None,
        },
        outcome,
        state.clock.now(),
    )
    .await?;
    tracing::info!(tenant_id = %call.tenant_id, call_id = %call.id, campaign_id = %campaign_id, attempt, ?outcome, done, "campaign call ended by the runtime");
    Ok(())
}
