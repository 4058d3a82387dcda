//! Opening a call and handing it to the voice runtime: the call record (once per CallSid), then
//! the handoff event on the queue, then the record marked as handed off. Shared by the Twilio
//! webhook (inbound and answered campaign calls) and the dialer (calls placed through LiveKit).

use chrono::{DateTime, Utc};
use gobi_shared::events::{Envelope, HANDOFF_REQUESTED, HandoffRequested, Publisher};

use super::{Call, CallStore};
use crate::error::StoreError;
use crate::webhooks::{EventSink, EventType};

/// Why a call was not handed off.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The call is recorded, but its handoff did not reach the queue.
    #[error("the handoff was not queued: {0:#}")]
    NotQueued(anyhow::Error),
}

/// Opens `opened` (or finds the call its CallSid opened before) and, unless done already, queues
/// its handoff; a new call sends `call.started` to the tenant's webhooks. The call as stored.
pub async fn open_and_hand_off(
    calls: &CallStore,
    handoffs: Option<&Publisher>,
    events: &EventSink,
    opened: &Call,
    tenant_held: bool,
    now: DateTime<Utc>,
) -> Result<Call, HandoffError> {
    let (call, created) = calls.open(opened, tenant_held).await?;
    tracing::info!(tenant_id = %call.tenant_id, call_id = %call.id, direction = ?call.direction, created, "call opened");
    if created {
        events
            .emit(
                call.tenant_id,
                EventType::CallStarted,
                call.event_data(),
                now,
            )
            .await;
    }
    if call.handoff_sent {
        return Ok(call);
    }
    let Some(publisher) = handoffs else {
        return Ok(call);
    };
    let envelope = Envelope::new(
        HANDOFF_REQUESTED,
        now,
        call.tenant_id,
        Some(call.id),
        HandoffRequested {
            call_sid: call.call_sid.clone(),
            from: call.from.clone(),
            to: call.to.clone(),
            agent_id: call.agent_id,
            phone_number_id: call.phone_number_id,
        },
    );
    publisher
        .send(&envelope)
        .await
        .map_err(HandoffError::NotQueued)?;
    calls.mark_handoff_sent(&call).await?;
    Ok(call)
}
