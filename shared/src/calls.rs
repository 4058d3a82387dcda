//! The calls table: every call under its tenant (`CALL#<id>`), a CallSid marker that makes
//! Twilio's retries land on the same call and finds it in one GetItem, and the runtime dispatch
//! of each call (`DISPATCH#<id>`). `gsi1` finds calls and dispatches by id alone; the sparse
//! `gsi2` holds only pending dispatches, by expiry, for the scheduler.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::dynamo::{self, Backoff, s, time};
use crate::error::{ApiError, ApiResult};
use crate::ids::{AgentId, AgentVersionId, CallId, DispatchId, PhoneNumberId, TenantId};

/// Key formats of the calls table.
mod keys {
    use crate::ids::{CallId, DispatchId, TenantId};

    pub const PENDING: &str = "PENDING_DISPATCH";
    pub const PENDING_INDEX: &str = "gsi2";

    pub fn tenant(id: TenantId) -> String {
        format!("TENANT#{id}")
    }

    pub fn call(id: CallId) -> String {
        format!("CALL#{id}")
    }

    pub fn call_sid(sid: &str) -> String {
        format!("CALLSID#{sid}")
    }

    pub fn dispatch(id: DispatchId) -> String {
        format!("DISPATCH#{id}")
    }
}

/// Twilio's call statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    Queued,
    Initiated,
    Ringing,
    InProgress,
    Completed,
    Busy,
    Failed,
    NoAnswer,
    Canceled,
}

impl CallStatus {
    /// Twilio's own spelling, as its callbacks send it.
    pub fn parse(raw: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(raw.to_owned())).ok()
    }

    /// A call only moves forward through these; callbacks that arrive late change nothing.
    pub fn rank(self) -> u8 {
        match self {
            Self::Queued | Self::Initiated => 0,
            Self::Ringing => 1,
            Self::InProgress => 2,
            Self::Completed | Self::Busy | Self::Failed | Self::NoAnswer | Self::Canceled => 3,
        }
    }

    pub fn is_final(self) -> bool {
        self.rank() == 3
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Call {
    pub id: CallId,
    pub tenant_id: TenantId,
    pub call_sid: String,
    pub direction: Direction,
    pub from: String,
    pub to: String,
    pub agent_id: Option<AgentId>,
    pub phone_number_id: Option<PhoneNumberId>,
    pub status: CallStatus,
    pub started_at: DateTime<Utc>,
    /// Absent until answered (so `if_not_exists` keeps the first answer time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u32>,
    /// The handoff event reached the queue.
    pub handoff_sent: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch_id: Option<DispatchId>,
    /// How `end` happened, as the runtime reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    /// The tenant's retention when the call began: its data expires this many days after `started_at`.
    #[serde(default = "default_retention")]
    pub retention_days: u32,
    /// A legal hold on this call: its data does not expire and cannot be deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_hold: Option<LegalHold>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const DEFAULT_RETENTION_DAYS: u32 = 365;

fn default_retention() -> u32 {
    DEFAULT_RETENTION_DAYS
}

/// The most call items one page of `/client/calls` reads, however few match its filter.
pub const MAX_CALLS_READ: usize = 1000;

/// Who placed a legal hold, when and why. A tenant's `client_viewer` sees only that a hold is
/// in place and since when: the reason and who placed it are the platform's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LegalHold {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placed_by: Option<String>,
    pub placed_at: DateTime<Utc>,
}

impl LegalHold {
    /// What `principal` is shown: internal roles the whole hold, a `client_viewer` only that a
    /// hold is in place and since when.
    pub fn shown_to(self, principal: &crate::auth::Principal) -> Self {
        if principal.may(crate::auth::Access::INTERNAL) {
            return self;
        }
        Self {
            reason: None,
            placed_by: None,
            placed_at: self.placed_at,
        }
    }
}

impl Call {
    /// When the call's data expires (epoch seconds), unless a hold keeps it.
    pub fn expiry(&self, tenant_held: bool) -> Option<i64> {
        if tenant_held || self.legal_hold.is_some() {
            return None;
        }
        Some((self.started_at + chrono::Duration::days(i64::from(self.retention_days))).timestamp())
    }
}

/// One day of a tenant's call figures, kept by atomic counters as calls change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DailyCounters {
    pub day: String,
    #[serde(default)]
    pub calls: u64,
    #[serde(default)]
    pub answered: u64,
    #[serde(default)]
    pub duration_seconds: u64,
    #[serde(default)]
    pub tool_executions: u64,
    #[serde(default)]
    pub tool_succeeded: u64,
}

/// The counters' day for a moment (UTC).
pub fn kpi_day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DispatchStatus {
    Pending,
    Claimed,
    Expired,
}

/// One call handed to the voice runtime. The join token is stored only until it is claimed or
/// the dispatch expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dispatch {
    pub id: DispatchId,
    pub tenant_id: TenantId,
    pub call_id: CallId,
    pub agent_id: Option<AgentId>,
    pub agent_version_id: Option<AgentVersionId>,
    pub room_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_token: Option<String>,
    pub status: DispatchStatus,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub claimed_by: Option<String>,
    /// LiveKit's id of the agent dispatch, when LiveKit was asked.
    pub livekit_dispatch_id: Option<String>,
}

/// A dispatch as the runtime may read it: never the token.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DispatchView {
    pub id: DispatchId,
    pub tenant_id: TenantId,
    pub call_id: CallId,
    pub agent_id: Option<AgentId>,
    pub agent_version_id: Option<AgentVersionId>,
    pub room_name: String,
    pub status: DispatchStatus,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub livekit_dispatch_id: Option<String>,
}

impl Dispatch {
    pub fn view(&self) -> DispatchView {
        DispatchView {
            id: self.id,
            tenant_id: self.tenant_id,
            call_id: self.call_id,
            agent_id: self.agent_id,
            agent_version_id: self.agent_version_id,
            room_name: self.room_name.clone(),
            status: self.status,
            expires_at: self.expires_at,
            created_at: self.created_at,
            claimed_at: self.claimed_at,
            livekit_dispatch_id: self.livekit_dispatch_id.clone(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct CallItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    status_rank: u8,
    /// DynamoDB TTL (epoch seconds); absent while a legal hold applies.
    #[serde(rename = "expiresAt", default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    #[serde(flatten)]
    call: Call,
}

#[derive(Serialize, Deserialize)]
struct SidMarker {
    pk: String,
    sk: String,
    tenant_id: TenantId,
    call_id: CallId,
}

#[derive(Serialize, Deserialize)]
struct DispatchItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    /// `expires_at` in epoch milliseconds, for conditions (text timestamps do not compare).
    expires_ms: i64,
    #[serde(flatten)]
    dispatch: Dispatch,
}

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

/// The filters of a call list.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub status: Option<CallStatus>,
    pub direction: Option<Direction>,
    pub agent_id: Option<AgentId>,
    /// The called number (E.164).
    pub number: Option<String>,
}

/// The smallest and largest v7 ids of a millisecond: calls' sort keys bound a time range.
fn v7_bound(at: DateTime<Utc>, upper: bool) -> String {
    let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    let (hi, mid) = (ms >> 16, ms & 0xFFFF);
    if upper {
        format!("{hi:08x}-{mid:04x}-7fff-bfff-ffffffffffff")
    } else {
        format!("{hi:08x}-{mid:04x}-7000-8000-000000000000")
    }
}

#[derive(Serialize, Deserialize)]
struct SubItem<T> {
    pk: String,
    sk: String,
    #[serde(rename = "expiresAt", default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    #[serde(flatten)]
    value: T,
}

pub fn legal_hold_active() -> ApiError {
    ApiError::conflict(
        "LEGAL_HOLD_ACTIVE",
        "A legal hold is in place; nothing may be deleted",
    )
}

pub fn call_being_deleted() -> ApiError {
    ApiError::conflict(
        "CALL_BEING_DELETED",
        "The call is being deleted; its deletion was checked against holds when it began",
    )
}

pub fn call_not_found(id: CallId) -> ApiError {
    ApiError::not_found("CALL_NOT_FOUND", format!("Call {id} not found"))
}

pub fn dispatch_not_found(id: DispatchId) -> ApiError {
    ApiError::not_found("DISPATCH_NOT_FOUND", format!("Dispatch {id} not found"))
}

/// How a claim ended.
pub enum Claim {
    /// Claimed now: the only time the token is handed out.
    Won(Box<Dispatch>),
    AlreadyClaimed,
    Expired,
}

#[derive(Clone, Debug)]
pub struct CallStore {
    client: Client,
    table: String,
}

impl CallStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn put(
        &self,
        item: HashMap<String, AttributeValue>,
        condition: &str,
    ) -> anyhow::Result<TransactWriteItem> {
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression(condition)
                    .build()?,
            )
            .build())
    }

    async fn get_item<T: serde::de::DeserializeOwned>(
        &self,
        pk: String,
        sk: String,
    ) -> ApiResult<Option<T>> {
        let output =
            dynamo::read_item(&self.client, &self.table, pk, sk, "reading the calls table").await?;
        Ok(output.map(dynamo::from_item).transpose()?)
    }

    /// The tenant of a call or dispatch known by id alone (keys-only index).
    async fn tenant_of(&self, id_key: String) -> ApiResult<Option<TenantId>> {
        Ok(dynamo::tenant_by_id(&self.client, &self.table, id_key)
            .await
            .map_err(|e| e.context("finding by id"))?)
    }

    /// An update that adds to one day's counters.
    fn count(
        &self,
        tenant: TenantId,
        day: &str,
        adds: &[(&str, u64)],
    ) -> anyhow::Result<TransactWriteItem> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(tenant),
                format!("KPI#{day}"),
            )))
            .update_expression(format!(
                "SET #day = :day ADD {}",
                adds.iter()
                    .map(|(name, _)| format!("{name} :{name}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .expression_attribute_names("#day", "day")
            .expression_attribute_values(":day", s(day));
        for (name, value) in adds {
            update = update.expression_attribute_values(
                format!(":{name}"),
                AttributeValue::N(value.to_string()),
            );
        }
        Ok(TransactWriteItem::builder().update(update.build()?).build())
    }

    /// Opens the call for `call.call_sid` and counts it, or finds the one an earlier delivery
    /// opened: `(call, true)` when it is new. `tenant_held`: the tenant is under legal hold.
    #[tracing::instrument(skip_all, fields(tenant_id = %call.tenant_id, call_id = %call.id))]
    pub async fn open(&self, call: &Call, tenant_held: bool) -> ApiResult<(Call, bool)> {
        let marker = SidMarker {
            pk: keys::call_sid(&call.call_sid),
            sk: "CALLSID".into(),
            tenant_id: call.tenant_id,
            call_id: call.id,
        };
        let item = CallItem {
            pk: keys::tenant(call.tenant_id),
            sk: keys::call(call.id),
            gsi1pk: keys::call(call.id),
            gsi1sk: "CALL".into(),
            status_rank: call.status.rank(),
            expires_at: call.expiry(tenant_held),
            call: call.clone(),
        };
        let items = vec![
            self.put(dynamo::to_item(&marker)?, "attribute_not_exists(pk)")?,
            self.put(dynamo::to_item(&item)?, "attribute_not_exists(pk)")?,
            self.count(call.tenant_id, &kpi_day(call.started_at), &[("calls", 1)])?,
        ];
        if dynamo::transact_guarded(&self.client, items, 0, "opening a call").await? {
            return Ok((call.clone(), true));
        }
        let existing = self
            .by_sid(&call.call_sid)
            .await?
            .ok_or_else(|| anyhow::anyhow!("CallSid marker without a call"))?;
        Ok((existing, false))
    }

    /// The call Twilio knows by this CallSid: the marker, then the call.
    pub async fn by_sid(&self, call_sid: &str) -> ApiResult<Option<Call>> {
        let Some(marker) = self
            .get_item::<SidMarker>(keys::call_sid(call_sid), "CALLSID".into())
            .await?
        else {
            return Ok(None);
        };
        self.get(marker.tenant_id, marker.call_id).await
    }

    pub async fn get(&self, tenant: TenantId, id: CallId) -> ApiResult<Option<Call>> {
        Ok(self
            .get_item::<CallItem>(keys::tenant(tenant), keys::call(id))
            .await?
            .map(|i| i.call))
    }

    pub async fn find(&self, id: CallId) -> ApiResult<Option<Call>> {
        match self.tenant_of(keys::call(id)).await? {
            Some(tenant) => self.get(tenant, id).await,
            None => Ok(None),
        }
    }

    pub async fn mark_handoff_sent(&self, call: &Call) -> ApiResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(call.tenant_id),
                keys::call(call.id),
            )))
            .update_expression("SET handoff_sent = :yes")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("marking a handoff sent"))?;
        Ok(())
    }

    /// Applies a status callback, only if it moves the call forward; `None` when it did not
    /// (late or repeated callbacks change nothing). The day's counters move in the same write:
    /// `answered` the first time the call is answered, the duration when it ends.
    #[tracing::instrument(skip_all, fields(tenant_id = %call.tenant_id, call_id = %call.id))]
    pub async fn advance(
        &self,
        call: &Call,
        status: CallStatus,
        duration: Option<u32>,
        at: DateTime<Utc>,
    ) -> ApiResult<Option<Call>> {
        let answers = status == CallStatus::InProgress
            || (status.is_final() && duration.is_some_and(|d| d > 0));
        if answers
            && self
                .advance_once(call, status, duration, at, Some(true))
                .await?
        {
            return self.get(call.tenant_id, call.id).await;
        }
        let moved = self
            .advance_once(call, status, duration, at, answers.then_some(false))
            .await?;
        if moved {
            self.get(call.tenant_id, call.id).await
        } else {
            Ok(None)
        }
    }

    /// One conditional attempt. `first_answer`: `Some(true)` only while the call was never
    /// answered (and counts it), `Some(false)` only once it was, `None` either way.
    async fn advance_once(
        &self,
        call: &Call,
        status: CallStatus,
        duration: Option<u32>,
        at: DateTime<Utc>,
        first_answer: Option<bool>,
    ) -> ApiResult<bool> {
        let mut set = vec![
            "#status = :status",
            "status_rank = :rank",
            "updated_at = :at",
        ];
        let mut condition = "attribute_exists(pk) AND status_rank < :rank".to_owned();
        match first_answer {
            Some(true) => {
                set.push("answered_at = :at");
                condition.push_str(" AND attribute_not_exists(answered_at)");
            }
            Some(false) => condition.push_str(" AND attribute_exists(answered_at)"),
            None => {}
        }
        if status.is_final() {
            set.push("ended_at = :at");
        }
        if duration.is_some() {
            set.push("duration_seconds = :duration");
        }
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(call.tenant_id),
                keys::call(call.id),
            )))
            .update_expression(format!("SET {}", set.join(", ")))
            .condition_expression(condition)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(
                ":status",
                serde_dynamo::to_attribute_value(status).map_err(anyhow::Error::new)?,
            )
            .expression_attribute_values(":rank", AttributeValue::N(status.rank().to_string()))
            .expression_attribute_values(":at", time(at)?);
        if let Some(duration) = duration {
            update = update
                .expression_attribute_values(":duration", AttributeValue::N(duration.to_string()));
        }
        let mut adds = Vec::new();
        if first_answer == Some(true) {
            adds.push(("answered", 1));
        }
        if status.is_final()
            && let Some(duration) = duration.filter(|d| *d > 0)
        {
            adds.push(("duration_seconds", u64::from(duration)));
        }
        let mut items = vec![
            TransactWriteItem::builder()
                .update(update.build().map_err(anyhow::Error::new)?)
                .build(),
        ];
        if !adds.is_empty() {
            items.push(self.count(call.tenant_id, &kpi_day(call.started_at), &adds)?);
        }
        dynamo::transact_guarded(&self.client, items, 0, "updating a call's status").await
    }

    /// Counts a tool execution on the day it ran.
    pub async fn count_execution(
        &self,
        tenant: TenantId,
        at: DateTime<Utc>,
        succeeded: bool,
    ) -> ApiResult<()> {
        let adds: Vec<(&str, u64)> = if succeeded {
            vec![("tool_executions", 1), ("tool_succeeded", 1)]
        } else {
            vec![("tool_executions", 1)]
        };
        let item = self.count(tenant, &kpi_day(at), &adds)?;
        dynamo::transact(&self.client, vec![item], Backoff::default())
            .await
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("counting an execution")))
    }

    /// The counters of every day from `from` to `to` (inclusive) that has any: one Query.
    pub async fn daily_counters(
        &self,
        tenant: TenantId,
        from: &str,
        to: &str,
    ) -> ApiResult<Vec<DailyCounters>> {
        let mut days = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(keys::tenant(tenant)))
                .expression_attribute_values(":from", s(format!("KPI#{from}")))
                .expression_attribute_values(":to", s(format!("KPI#{to}")))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| anyhow::Error::new(e).context("reading daily counters"))?;
            for item in output.items.unwrap_or_default() {
                days.push(dynamo::from_item::<DailyCounters>(item)?);
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(days),
            }
        }
    }

    /// Creates the call's one dispatch, or returns the one that exists: `(dispatch, true)` when new.
    #[tracing::instrument(skip_all, fields(tenant_id = %dispatch.tenant_id, call_id = %dispatch.call_id))]
    pub async fn create_dispatch(&self, dispatch: &Dispatch) -> ApiResult<(Dispatch, bool)> {
        let link = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(dispatch.tenant_id),
                keys::call(dispatch.call_id),
            )))
            .update_expression("SET dispatch_id = :dispatch")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(dispatch_id)")
            .expression_attribute_values(":dispatch", s(dispatch.id.to_string()))
            .build()
            .map_err(anyhow::Error::new)?;
        let item = DispatchItem {
            pk: keys::tenant(dispatch.tenant_id),
            sk: keys::dispatch(dispatch.id),
            gsi1pk: keys::dispatch(dispatch.id),
            gsi1sk: "DISPATCH".into(),
            gsi2pk: Some(keys::PENDING.into()),
            gsi2sk: Some(dynamo::due_key(dispatch.expires_at, dispatch.id)),
            expires_ms: dispatch.expires_at.timestamp_millis(),
            dispatch: dispatch.clone(),
        };
        let items = vec![
            TransactWriteItem::builder().update(link).build(),
            self.put(dynamo::to_item(&item)?, "attribute_not_exists(pk)")?,
        ];
        if dynamo::transact_guarded(&self.client, items, 0, "creating a dispatch").await? {
            return Ok((dispatch.clone(), true));
        }
        let call = self
            .get(dispatch.tenant_id, dispatch.call_id)
            .await?
            .ok_or_else(|| call_not_found(dispatch.call_id))?;
        let existing = match call.dispatch_id {
            Some(id) => self.dispatch(dispatch.tenant_id, id).await?,
            None => None,
        };
        existing.map(|d| (d, false)).ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!("call has no dispatch after a lost race"))
        })
    }

    async fn call_item(&self, tenant: TenantId, id: CallId) -> ApiResult<Option<CallItem>> {
        self.get_item::<CallItem>(keys::tenant(tenant), keys::call(id))
            .await
    }

    /// Writes a sub-item of a call once (`attribute_not_exists`): `true` when it is new. It
    /// expires with the call.
    async fn put_once<T: Serialize>(
        &self,
        tenant: TenantId,
        call: CallId,
        sk: String,
        value: &T,
    ) -> ApiResult<bool> {
        let expires_at = self
            .call_item(tenant, call)
            .await?
            .ok_or_else(|| call_not_found(call))?
            .expires_at;
        let item = SubItem {
            pk: keys::tenant(tenant),
            sk,
            expires_at,
            value,
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if dynamo::is_condition_failed(&e) => Ok(false),
            Err(e) => Err(ApiError::Internal(
                anyhow::Error::new(e).context("recording call data"),
            )),
        }
    }

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
    ) -> ApiResult<bool> {
        let tenant = call.tenant_id;
        let sk = format!("CALLEVT#{}#{}", event.call_id, event.id);
        let new = self.put_once(tenant, event.call_id, sk, event).await?;
        if !new {
            return Ok(false);
        }
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
            let items = vec![
                TransactWriteItem::builder().update(answer).build(),
                self.count(tenant, &kpi_day(call.started_at), &[("answered", 1)])?,
            ];
            // Lost on the guard: the call was answered already (and counted then).
            dynamo::transact_guarded(&self.client, items, 0, "applying an answered event").await?;
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
        Ok(true)
    }

    /// A transcript segment, once per sequence number.
    pub async fn add_segment(
        &self,
        tenant: TenantId,
        call: CallId,
        segment: &TranscriptSegment,
    ) -> ApiResult<bool> {
        self.put_once(
            tenant,
            call,
            format!("TRANSCRIPT#{call}#{:010}", segment.sequence),
            segment,
        )
        .await
    }

    /// The call's recording metadata; a re-send replaces it.
    pub async fn put_recording(
        &self,
        tenant: TenantId,
        call: CallId,
        recording: &Recording,
    ) -> ApiResult<()> {
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

    async fn query_prefix(
        &self,
        tenant: TenantId,
        prefix: String,
    ) -> ApiResult<Vec<HashMap<String, AttributeValue>>> {
        dynamo::query_prefix(
            &self.client,
            &self.table,
            keys::tenant(tenant),
            prefix,
            "reading call data",
        )
        .await
    }

    /// The transcript in sequence order, whatever order it arrived in.
    pub async fn transcript(
        &self,
        tenant: TenantId,
        call: CallId,
    ) -> ApiResult<Vec<TranscriptSegment>> {
        let items = self
            .query_prefix(tenant, format!("TRANSCRIPT#{call}#"))
            .await?;
        Ok(items
            .into_iter()
            .map(|i| dynamo::from_item::<SubItem<TranscriptSegment>>(i).map(|i| i.value))
            .collect::<anyhow::Result<_>>()?)
    }

    pub async fn recording(&self, tenant: TenantId, call: CallId) -> ApiResult<Option<Recording>> {
        Ok(self
            .get_item::<SubItem<Recording>>(keys::tenant(tenant), format!("RECORDING#{call}"))
            .await?
            .map(|i| i.value))
    }

    /// One page of a tenant's calls, newest first: a key-range Query (call ids are v7, so the
    /// time range bounds the sort key), filters applied as it reads; never a Scan. One request
    /// reads at most [`MAX_CALLS_READ`] call items: a filter that matches few calls answers with
    /// what it found so far and a cursor to continue from, never a walk of the whole range.
    pub async fn page(
        &self,
        tenant: TenantId,
        filter: &CallFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> ApiResult<(Vec<Call>, Option<String>)> {
        let low = format!(
            "CALL#{}",
            filter
                .from
                .map(|f| v7_bound(f, false))
                .unwrap_or_else(|| "0".into())
        );
        let high = format!(
            "CALL#{}",
            filter
                .to
                .map(|t| v7_bound(t, true))
                .unwrap_or_else(|| "g".into())
        );
        let mut start = cursor
            .map(|c| dynamo::cursor_sort_key(c, "CALL#", 64))
            .transpose()?
            .map(|sk| dynamo::key(keys::tenant(tenant), sk));
        let mut conditions = Vec::new();
        let mut values: Vec<(&str, AttributeValue)> = Vec::new();
        if let Some(status) = filter.status {
            conditions.push("#status = :status");
            values.push((
                ":status",
                serde_dynamo::to_attribute_value(status).map_err(anyhow::Error::new)?,
            ));
        }
        if let Some(direction) = filter.direction {
            conditions.push("direction = :direction");
            values.push((
                ":direction",
                serde_dynamo::to_attribute_value(direction).map_err(anyhow::Error::new)?,
            ));
        }
        if let Some(agent) = filter.agent_id {
            conditions.push("agent_id = :agent");
            values.push((":agent", s(agent.to_string())));
        }
        if let Some(number) = &filter.number {
            conditions.push("#to = :number");
            values.push((":number", s(number.clone())));
        }
        let mut calls = Vec::new();
        let mut budget = MAX_CALLS_READ;
        loop {
            // DynamoDB's Limit counts items read, matching or not.
            let read = (limit * 2).clamp(10, 200).min(budget);
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
                .expression_attribute_values(":pk", s(keys::tenant(tenant)))
                .expression_attribute_values(":low", s(low.clone()))
                .expression_attribute_values(":high", s(high.clone()))
                .scan_index_forward(false)
                .limit(i32::try_from(read).unwrap_or(200))
                .set_exclusive_start_key(start.take());
            if !conditions.is_empty() {
                query = query.filter_expression(conditions.join(" AND "));
                if filter.status.is_some() {
                    query = query.expression_attribute_names("#status", "status");
                }
                if filter.number.is_some() {
                    query = query.expression_attribute_names("#to", "to");
                }
                for (name, value) in &values {
                    query = query.expression_attribute_values(*name, value.clone());
                }
            }
            let output = query
                .send()
                .await
                .map_err(|e| anyhow::Error::new(e).context("listing calls"))?;
            for item in output.items.unwrap_or_default() {
                calls.push(dynamo::from_item::<CallItem>(item)?.call);
                if calls.len() == limit {
                    let last = format!("CALL#{}", calls[limit - 1].id);
                    // More may follow unless this was the very end.
                    return Ok((calls, Some(dynamo::cursor_of(&last))));
                }
            }
            budget = budget.saturating_sub(usize::try_from(output.scanned_count).unwrap_or(read));
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() && budget == 0 => {
                    return Ok((calls, dynamo::next_cursor(Some(&key))));
                }
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok((calls, None)),
            }
        }
    }

    /// Every key of a call's data: the call, its transcript, recording and timeline.
    async fn call_data_keys(
        &self,
        tenant: TenantId,
        call: CallId,
    ) -> ApiResult<Vec<HashMap<String, AttributeValue>>> {
        let mut keys_found = vec![dynamo::key(keys::tenant(tenant), keys::call(call))];
        for prefix in [
            format!("TRANSCRIPT#{call}#"),
            format!("RECORDING#{call}"),
            format!("CALLEVT#{call}#"),
        ] {
            for item in self.query_prefix(tenant, prefix).await? {
                if let (Some(pk), Some(sk)) = (item.get("pk"), item.get("sk")) {
                    keys_found.push(HashMap::from([
                        ("pk".to_owned(), pk.clone()),
                        ("sk".to_owned(), sk.clone()),
                    ]));
                }
            }
        }
        Ok(keys_found)
    }

    /// Sets (or lifts) a call's own hold and brings the expiry of all its data in line:
    /// none while the call or its tenant is held, `started_at + retention` otherwise.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, call_id = %call))]
    pub async fn set_call_hold(
        &self,
        tenant: TenantId,
        call: CallId,
        hold: Option<&LegalHold>,
        tenant_held: bool,
    ) -> ApiResult<Call> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(tenant), keys::call(call))))
            // A call being deleted was checked for holds when its deletion began.
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleting)")
            .return_values(ReturnValue::AllNew);
        update = match hold {
            Some(hold) => update
                .update_expression("SET legal_hold = :hold")
                .expression_attribute_values(
                    ":hold",
                    serde_dynamo::to_attribute_value(hold).map_err(anyhow::Error::new)?,
                ),
            None => update.update_expression("REMOVE legal_hold"),
        };
        let updated = match update.send().await {
            Ok(output) => {
                dynamo::from_item::<CallItem>(output.attributes.unwrap_or_default())?.call
            }
            Err(e) if dynamo::is_condition_failed(&e) => {
                return Err(match self.get(tenant, call).await? {
                    Some(_) => call_being_deleted(),
                    None => call_not_found(call),
                });
            }
            Err(e) => {
                return Err(ApiError::Internal(
                    anyhow::Error::new(e).context("setting a legal hold"),
                ));
            }
        };
        self.apply_expiry(tenant, &updated, tenant_held).await?;
        Ok(updated)
    }

    /// Writes the call's current expiry (or its absence) on every item of its data.
    pub async fn apply_expiry(
        &self,
        tenant: TenantId,
        call: &Call,
        tenant_held: bool,
    ) -> ApiResult<()> {
        let expiry = call.expiry(tenant_held);
        for key in self.call_data_keys(tenant, call.id).await? {
            let update = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key));
            let update = match expiry {
                Some(at) => update
                    .update_expression("SET expiresAt = :at")
                    .expression_attribute_values(":at", AttributeValue::N(at.to_string())),
                None => update.update_expression("REMOVE expiresAt"),
            };
            match update
                .condition_expression("attribute_exists(pk)")
                .send()
                .await
            {
                Ok(_) => {}
                // Removed since it was listed (a segment or event of a call being deleted).
                Err(e) if dynamo::is_condition_failed(&e) => {}
                Err(e) => {
                    return Err(ApiError::Internal(
                        anyhow::Error::new(e).context("writing a call item's expiry"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Marks a call as being deleted, in one transaction with `tenant_guard` (the tenant is not
    /// held): refused while the call or its tenant is held. From then on no hold can be placed
    /// on it, so a deletion that has begun removes the whole call or, retried, finishes.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, call_id = %call))]
    pub async fn mark_deleting(
        &self,
        tenant: TenantId,
        call: CallId,
        tenant_guard: TransactWriteItem,
        now: DateTime<Utc>,
    ) -> ApiResult<Call> {
        let current = self
            .get(tenant, call)
            .await?
            .ok_or_else(|| call_not_found(call))?;
        let mark = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(tenant), keys::call(call))))
            .update_expression("SET deleting = if_not_exists(deleting, :now)")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(legal_hold)")
            .expression_attribute_values(":now", time(now)?)
            .build()
            .map_err(anyhow::Error::new)?;
        let items = vec![
            TransactWriteItem::builder().update(mark).build(),
            tenant_guard,
        ];
        if let Err(e) = dynamo::transact(&self.client, items, Backoff::default()).await {
            let reasons = dynamo::cancellation_reasons(&e).unwrap_or_default();
            if dynamo::item_condition_failed(&reasons, 1) {
                return Err(legal_hold_active());
            }
            if dynamo::item_condition_failed(&reasons, 0) {
                return Err(match self.get(tenant, call).await? {
                    Some(_) => legal_hold_active(),
                    None => call_not_found(call),
                });
            }
            return Err(ApiError::Internal(
                anyhow::Error::new(e).context("marking a call deleted"),
            ));
        }
        Ok(current)
    }

    /// Deletes a call and all its data: marked first ([`Self::mark_deleting`], which checks the
    /// holds), then its transcript, recording and timeline, the call item, and its CallSid marker.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, call_id = %call))]
    pub async fn delete_call(
        &self,
        tenant: TenantId,
        call: CallId,
        tenant_guard: TransactWriteItem,
        now: DateTime<Utc>,
    ) -> ApiResult<Call> {
        let current = self.mark_deleting(tenant, call, tenant_guard, now).await?;
        // The call item last, so a retry after a failure finds the call and finishes.
        for key in self.call_data_keys(tenant, call).await?.into_iter().rev() {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .send()
                .await
                .map_err(|e| anyhow::Error::new(e).context("deleting a call"))?;
        }
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::call_sid(&current.call_sid),
                "CALLSID",
            )))
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("deleting a CallSid marker"))?;
        Ok(current)
    }

    /// Adds an entry to a call's timeline (`CALLEVT#<call>#<event>`, time-ordered by the v7 id);
    /// it expires with the call.
    pub async fn record_event(&self, tenant: TenantId, event: &CallEvent) -> ApiResult<()> {
        self.put_once(
            tenant,
            event.call_id,
            format!("CALLEVT#{}#{}", event.call_id, event.id),
            event,
        )
        .await
        .map(|_| ())
    }

    /// A call's timeline, oldest first.
    pub async fn events(&self, tenant: TenantId, call: CallId) -> ApiResult<Vec<CallEvent>> {
        let items = self
            .query_prefix(tenant, format!("CALLEVT#{call}#"))
            .await?;
        Ok(items
            .into_iter()
            .map(|i| dynamo::from_item::<SubItem<CallEvent>>(i).map(|i| i.value))
            .collect::<anyhow::Result<_>>()?)
    }

    /// Records LiveKit's id of the agent dispatch.
    pub async fn set_livekit_dispatch(
        &self,
        dispatch: &Dispatch,
        livekit_id: &str,
    ) -> ApiResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(dispatch.tenant_id),
                keys::dispatch(dispatch.id),
            )))
            .update_expression("SET livekit_dispatch_id = :id")
            .expression_attribute_values(":id", s(livekit_id))
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("recording the LiveKit dispatch"))?;
        Ok(())
    }

    pub async fn dispatch(&self, tenant: TenantId, id: DispatchId) -> ApiResult<Option<Dispatch>> {
        Ok(self
            .get_item::<DispatchItem>(keys::tenant(tenant), keys::dispatch(id))
            .await?
            .map(|i| i.dispatch))
    }

    pub async fn dispatch_tenant(&self, id: DispatchId) -> ApiResult<Option<TenantId>> {
        self.tenant_of(keys::dispatch(id)).await
    }

    /// Moves a pending, unexpired dispatch to claimed and takes its token out, in one write; the
    /// token comes back from that write, so it is handed out exactly once.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
    pub async fn claim(
        &self,
        tenant: TenantId,
        id: DispatchId,
        by: &str,
        now: DateTime<Utc>,
    ) -> ApiResult<Claim> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(tenant), keys::dispatch(id))))
            .update_expression("SET #status = :claimed, claimed_at = :now, claimed_by = :by REMOVE join_token, gsi2pk, gsi2sk")
            .condition_expression("#status = :pending AND expires_ms > :now_ms")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", time(now)?)
            .expression_attribute_values(":by", s(by))
            .expression_attribute_values(":now_ms", AttributeValue::N(now.timestamp_millis().to_string()))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let mut dispatch =
                    dynamo::from_item::<DispatchItem>(output.attributes.unwrap_or_default())?
                        .dispatch;
                dispatch.status = DispatchStatus::Claimed;
                dispatch.claimed_at = Some(now);
                dispatch.claimed_by = Some(by.to_owned());
                Ok(Claim::Won(Box::new(dispatch)))
            }
            Err(e) if dynamo::is_condition_failed(&e) => {
                let old = e.as_service_error().and_then(|e| match e {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
                    _ => None,
                });
                let Some(old) = old.filter(|o| !o.is_empty()) else {
                    return Err(dispatch_not_found(id));
                };
                let status = old
                    .get("status")
                    .and_then(|v| v.as_s().ok())
                    .map(String::as_str);
                Ok(if status == Some("claimed") {
                    Claim::AlreadyClaimed
                } else {
                    Claim::Expired
                })
            }
            Err(e) => Err(ApiError::Internal(
                anyhow::Error::new(e).context("claiming a dispatch"),
            )),
        }
    }

    /// Pending dispatches whose time ran out before `now`, from the sparse index.
    pub async fn expired_dispatches(
        &self,
        now: DateTime<Utc>,
    ) -> ApiResult<Vec<(TenantId, DispatchId)>> {
        let items = dynamo::due_before(
            &self.client,
            &self.table,
            keys::PENDING_INDEX,
            keys::PENDING,
            now,
        )
        .await
        .map_err(|e| e.context("finding expired dispatches"))?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
                let tenant = text("pk")?.strip_prefix("TENANT#")?.parse().ok()?;
                let id = text("sk")?.strip_prefix("DISPATCH#")?.parse().ok()?;
                Some((tenant, id))
            })
            .collect())
    }

    /// Expires a dispatch that is still pending and scrubs its token; `false` when it was
    /// claimed (or expired) meanwhile.
    pub async fn expire(
        &self,
        tenant: TenantId,
        id: DispatchId,
        now: DateTime<Utc>,
    ) -> ApiResult<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(tenant), keys::dispatch(id))))
            .update_expression(
                "SET #status = :expired, expired_at = :now REMOVE join_token, gsi2pk, gsi2sk",
            )
            .condition_expression("#status = :pending AND expires_ms <= :now_ms")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":expired", s("expired"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", time(now)?)
            .expression_attribute_values(
                ":now_ms",
                AttributeValue::N(now.timestamp_millis().to_string()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if dynamo::is_condition_failed(&e) => Ok(false),
            Err(e) => Err(ApiError::Internal(
                anyhow::Error::new(e).context("expiring a dispatch"),
            )),
        }
    }
}
