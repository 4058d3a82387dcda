//! Opening a call and handing it to the voice runtime: the call record (once per CallSid), then
//! the handoff event on the queue. Shared by the Twilio webhook (inbound and answered campaign
//! calls) and the dialer (calls placed through LiveKit). Nothing is written after the send: the
//! CallSid marker says the handoff is due until the handoff worker creates the call's dispatch,
//! so a redelivery queues it again only while it may have been lost, and the worker makes one
//! dispatch per call however often it is queued.

use chrono::{DateTime, Utc};
use gobi_shared::events::{Envelope, HANDOFF_REQUESTED, HandoffRequested, Publisher};

use super::{Call, CallStore, Opening};
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

/// Opens `opened` with `guards` in its transaction ([`CallStore::open_guarded`]) and queues its
/// handoff when it is new, or when an earlier delivery opened it and its handoff is still due.
/// `call.started` goes to the tenant's webhooks from the handoff worker once the dispatch
/// exists, or from here when there is no handoff queue.
pub async fn open_and_hand_off(
    calls: &CallStore,
    handoffs: Option<&Publisher>,
    events: &EventSink,
    opened: &Call,
    tenant_held: bool,
    guards: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    now: DateTime<Utc>,
) -> Result<Opening, HandoffError> {
    let opening = calls.open_guarded(opened, tenant_held, guards).await?;
    let (tenant_id, call_id) = match &opening {
        Opening::New(call) => (call.tenant_id, call.id),
        Opening::Existing {
            tenant_id,
            call_id,
            handoff_due: true,
        } => (*tenant_id, *call_id),
        Opening::Existing { .. } | Opening::Stale(_) => return Ok(opening),
    };
    tracing::info!(%tenant_id, %call_id, direction = ?opened.direction, created = matches!(opening, Opening::New(_)), "call opened, handoff due");
    let Some(publisher) = handoffs else {
        if let Opening::New(call) = &opening {
            events
                .emit(tenant_id, EventType::CallStarted, call.event_data(), now)
                .await;
        }
        return Ok(opening);
    };
    let envelope = Envelope::new(
        HANDOFF_REQUESTED,
        now,
        tenant_id,
        Some(call_id),
        HandoffRequested {
            call_sid: opened.call_sid.clone(),
            from: opened.from.clone(),
            to: opened.to.clone(),
            agent_id: opened.agent_id,
            phone_number_id: opened.phone_number_id,
        },
    );
    publisher
        .send(&envelope)
        .await
        .map_err(HandoffError::NotQueued)?;
    Ok(opening)
}
