//! A call's timeline, transcript and recording.

use super::*;

/// One entry of a call's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallEvent {
    pub id: uuid::Uuid,
    pub call_id: CallId,
    /// e.g. `tool_execution_started`, `tool_execution_finished`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Agent,
    Caller,
    System,
}

/// One piece of a call's transcript; `sequence` orders them and makes re-sends harmless.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TranscriptSegment {
    pub sequence: u32,
    pub speaker: Speaker,
    pub text: String,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// Where a call's recording is and what it is (never the audio).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Recording {
    #[schema(example = "s3://gobi-recordings/tenant/call.wav")]
    pub storage_uri: String,
    #[schema(example = "wav")]
    pub format: String,
    pub duration_seconds: u32,
    pub size_bytes: u64,
    pub recorded_at: DateTime<Utc>,
}

/// What a runtime event changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuntimeEventApplied {
    /// Not seen before (a re-send is not).
    pub new: bool,
    /// It answered the call (the first answer, whoever reported it).
    pub answered: bool,
}

impl CallStore {
    /// A runtime-reported event, once per event id; `answered` and `ended` also update the call.
    /// A call counts as answered once, whichever comes first: this event or Twilio's
    /// `in-progress` callback ([`Self::advance`]); both take the answer only while `answered_at`
    /// is absent, in the same transaction as the day's counter. Durations are counted from
    /// Twilio's final callback alone, so they count once too.
    #[tracing::instrument(skip_all, fields(tenant_id = %call.tenant_id, call_id = %event.call_id))]
    pub async fn add_runtime_event(
        &self,
        call: &Call,
        event: &CallEvent,
        end_reason: Option<&str>,
    ) -> StoreResult<RuntimeEventApplied> {
        let tenant = call.tenant_id;
        let sk = format!("CALLEVT#{}#{}", event.call_id, event.id);
        // A transfer counts with its event, in one write.
        let counts = if event.kind == "transferred" {
            self.count(&call.metric_scope(), &[("transfers", 1)])?
        } else {
            Vec::new()
        };
        let new = self
            .put_once(tenant, event.call_id, sk, event, counts)
            .await?;
        if !new {
            return Ok(RuntimeEventApplied::default());
        }
        let mut answered = false;
        let key = dynamo::key(keys::tenant(tenant), keys::call(event.call_id));
        if event.kind == "answered" {
            let answer = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression("SET answered_at = :at")
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(answered_at)")
                .expression_attribute_values(":at", time(event.at)?)
                .build()
                .map_err(anyhow::Error::new)?;
            let mut items = vec![TransactWriteItem::builder().update(answer).build()];
            items.extend(self.count(&call.metric_scope(), &[("answered", 1)])?);
            // Lost on the guard: the call was answered already (and counted then).
            answered =
                dynamo::transact_guarded(&self.client, items, 0, "applying an answered event")
                    .await?;
        } else if event.kind == "ended" {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .condition_expression("attribute_exists(pk)")
                .update_expression(
                    "SET ended_at = if_not_exists(ended_at, :at), end_reason = :reason",
                )
                .expression_attribute_values(":at", time(event.at)?)
                .expression_attribute_values(":reason", s(end_reason.unwrap_or("unspecified")))
                .send()
                .await
                .map_err(|e| anyhow::Error::new(e).context("applying a call event"))?;
        }
        Ok(RuntimeEventApplied {
            new: true,
            answered,
        })
    }

    /// A transcript segment, once per sequence number.
    pub async fn add_segment(
        &self,
        tenant: TenantId,
        call: CallId,
        segment: &TranscriptSegment,
    ) -> StoreResult<bool> {
        self.put_once(
            tenant,
            call,
            format!("TRANSCRIPT#{call}#{:010}", segment.sequence),
            segment,
            Vec::new(),
        )
        .await
    }

    /// The call's recording metadata; a re-send replaces it.
    pub async fn put_recording(
        &self,
        tenant: TenantId,
        call: CallId,
        recording: &Recording,
    ) -> StoreResult<()> {
        let expires_at = self
            .call_item(tenant, call)
            .await?
            .ok_or_else(|| call_not_found(call))?
            .expires_at;
        let item = SubItem {
            pk: keys::tenant(tenant),
            sk: format!("RECORDING#{call}"),
            expires_at,
            value: recording,
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&item)?))
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("recording metadata"))?;
        Ok(())
    }

    /// The transcript in sequence order, whatever order it arrived in.
    pub async fn transcript(
        &self,
        tenant: TenantId,
        call: CallId,
    ) -> StoreResult<Vec<TranscriptSegment>> {
        let items = self
            .query_prefix(tenant, format!("TRANSCRIPT#{call}#"))
            .await?;
        Ok(items
            .into_iter()
            .map(|i| dynamo::from_item::<SubItem<TranscriptSegment>>(i).map(|i| i.value))
            .collect::<anyhow::Result<_>>()?)
    }

    pub async fn recording(
        &self,
        tenant: TenantId,
        call: CallId,
    ) -> StoreResult<Option<Recording>> {
        Ok(self
            .get_item::<SubItem<Recording>>(keys::tenant(tenant), format!("RECORDING#{call}"))
            .await?
            .map(|i| i.value))
    }

    /// The write of an event on the timeline of `call` (read already), for a transaction:
    /// `CALLEVT#<call>#<event>`, time-ordered by the v7 id, expiring with the call.
    pub fn event_put(
        &self,
        call: &StoredCall,
        event: &CallEvent,
    ) -> anyhow::Result<TransactWriteItem> {
        self.sub_item_put(
            call.call.tenant_id,
            format!("CALLEVT#{}#{}", event.call_id, event.id),
            call.expires_at,
            event,
        )
    }

    /// Adds an entry to the timeline of `call` (read already): one write.
    pub async fn record_event_of(&self, call: &StoredCall, event: &CallEvent) -> StoreResult<()> {
        dynamo::transact_guarded(
            &self.client,
            vec![self.event_put(call, event)?],
            0,
            "recording a call event",
        )
        .await?;
        Ok(())
    }

    /// A call's timeline, oldest first.
    pub async fn events(&self, tenant: TenantId, call: CallId) -> StoreResult<Vec<CallEvent>> {
        let items = self
            .query_prefix(tenant, format!("CALLEVT#{call}#"))
            .await?;
        Ok(items
            .into_iter()
            .map(|i| dynamo::from_item::<SubItem<CallEvent>>(i).map(|i| i.value))
            .collect::<anyhow::Result<_>>()?)
    }
}
