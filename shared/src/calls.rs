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

use crate::dynamo::{self, Backoff};
use crate::error::{ApiError, ApiResult};
use crate::ids::{AgentId, AgentVersionId, CallId, DispatchId, PhoneNumberId, TenantId};

/// Key formats of the calls table.
mod keys {
    use crate::ids::{CallId, DispatchId, TenantId};

    pub const PENDING: &str = "PENDING_DISPATCH";
    pub const BY_ID_INDEX: &str = "gsi1";
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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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

#[derive(Serialize, Deserialize)]
struct EventItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    event: CallEvent,
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

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn time(at: DateTime<Utc>) -> anyhow::Result<AttributeValue> {
    Ok(serde_dynamo::to_attribute_value(at)?)
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
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("reading the calls table"))?;
        Ok(output.item.map(dynamo::from_item).transpose()?)
    }

    /// The tenant of a call or dispatch known by id alone (keys-only index).
    async fn tenant_of(&self, id_key: String) -> ApiResult<Option<TenantId>> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::BY_ID_INDEX)
            .key_condition_expression("gsi1pk = :id")
            .expression_attribute_values(":id", s(id_key))
            .limit(1)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("finding by id"))?;
        Ok(output
            .items
            .unwrap_or_default()
            .first()
            .and_then(|i| i.get("pk").and_then(|v| v.as_s().ok()))
            .and_then(|pk| pk.strip_prefix("TENANT#"))
            .and_then(|t| t.parse().ok()))
    }

    /// Opens the call for `call.call_sid`, or finds the one an earlier delivery opened:
    /// `(call, true)` when it is new.
    #[tracing::instrument(skip_all, fields(tenant_id = %call.tenant_id, call_id = %call.id))]
    pub async fn open(&self, call: &Call) -> ApiResult<(Call, bool)> {
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
            call: call.clone(),
        };
        let items = vec![
            self.put(dynamo::to_item(&marker)?, "attribute_not_exists(pk)")?,
            self.put(dynamo::to_item(&item)?, "attribute_not_exists(pk)")?,
        ];
        match dynamo::transact(&self.client, items, Backoff::default()).await {
            Ok(()) => Ok((call.clone(), true)),
            Err(e)
                if dynamo::cancellation_reasons(&e)
                    .is_some_and(|r| dynamo::item_condition_failed(&r, 0)) =>
            {
                let existing = self
                    .by_sid(&call.call_sid)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("CallSid marker without a call"))?;
                Ok((existing, false))
            }
            Err(e) => Err(ApiError::Internal(
                anyhow::Error::new(e).context("opening a call"),
            )),
        }
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
    /// (late or repeated callbacks change nothing).
    #[tracing::instrument(skip_all, fields(tenant_id = %call.tenant_id, call_id = %call.id))]
    pub async fn advance(
        &self,
        call: &Call,
        status: CallStatus,
        duration: Option<u32>,
        at: DateTime<Utc>,
    ) -> ApiResult<Option<Call>> {
        let mut set = vec![
            "#status = :status",
            "status_rank = :rank",
            "updated_at = :at",
        ];
        if status == CallStatus::InProgress
            || (status.is_final() && duration.is_some_and(|d| d > 0))
        {
            set.push("answered_at = if_not_exists(answered_at, :at)");
        }
        if status.is_final() {
            set.push("ended_at = :at");
        }
        if duration.is_some() {
            set.push("duration_seconds = :duration");
        }
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(call.tenant_id),
                keys::call(call.id),
            )))
            .update_expression(format!("SET {}", set.join(", ")))
            .condition_expression("attribute_exists(pk) AND status_rank < :rank")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(
                ":status",
                serde_dynamo::to_attribute_value(status).map_err(anyhow::Error::new)?,
            )
            .expression_attribute_values(":rank", AttributeValue::N(status.rank().to_string()))
            .expression_attribute_values(":at", time(at)?)
            .return_values(ReturnValue::AllNew);
        if let Some(duration) = duration {
            update = update
                .expression_attribute_values(":duration", AttributeValue::N(duration.to_string()));
        }
        match update.send().await {
            Ok(output) => Ok(Some(
                dynamo::from_item::<CallItem>(output.attributes.unwrap_or_default())?.call,
            )),
            Err(e) if dynamo::is_condition_failed(&e) => Ok(None),
            Err(e) => Err(ApiError::Internal(
                anyhow::Error::new(e).context("updating a call's status"),
            )),
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
        match dynamo::transact(&self.client, items, Backoff::default()).await {
            Ok(()) => Ok((dispatch.clone(), true)),
            Err(e)
                if dynamo::cancellation_reasons(&e)
                    .is_some_and(|r| dynamo::item_condition_failed(&r, 0)) =>
            {
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
            Err(e) => Err(ApiError::Internal(
                anyhow::Error::new(e).context("creating a dispatch"),
            )),
        }
    }

    /// Adds an entry to a call's timeline (`CALLEVT#<call>#<event>`, time-ordered by the v7 id).
    pub async fn record_event(&self, tenant: TenantId, event: &CallEvent) -> ApiResult<()> {
        let item = EventItem {
            pk: keys::tenant(tenant),
            sk: format!("CALLEVT#{}#{}", event.call_id, event.id),
            event: event.clone(),
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&item)?))
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("recording a call event"))?;
        Ok(())
    }

    /// A call's timeline, oldest first.
    pub async fn events(&self, tenant: TenantId, call: CallId) -> ApiResult<Vec<CallEvent>> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::tenant(tenant)))
            .expression_attribute_values(":prefix", s(format!("CALLEVT#{call}#")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("reading a call's timeline"))?;
        Ok(output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|i| dynamo::from_item::<EventItem>(i).map(|i| i.event))
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
