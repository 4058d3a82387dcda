//! The agents table. Under the tenant's partition: the agent (`AGENT#<id>`), its versions
//! (`AGENTVER#<agent>#<version>`) and its timeline (`AGENTEVT#<agent>#<event>`); ids are v7, so
//! both sort by time. `gsi1` finds an agent by id alone; the sparse `gsi2` holds only agents
//! persisted as online, keyed by when their heartbeat expires, so the sweeper never scans.

use std::collections::HashMap;
use std::time::Duration;

use crate::error::{StoreError, StoreResult};
use crate::tools::ToolStore;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use gobi_shared::dynamo::{self, Backoff, n, s, time};
use gobi_shared::ids::{AgentId, AgentVersionId, TenantId, ToolId};
use serde::{Deserialize, Serialize};

use super::model::{Agent, AgentConfig, AgentEvent, AgentStatus, AgentVersion, Heartbeat, Worker};

/// Key formats of the agents table.
mod keys {
    use gobi_shared::ids::{AgentId, AgentVersionId, TenantId};

    pub const AGENT_PREFIX: &str = "AGENT#";
    pub const ONLINE_INDEX: &str = "gsi2";
    /// The only partition of the sparse online index.
    pub const ONLINE: &str = "ONLINE";

    pub fn tenant(id: TenantId) -> String {
        format!("TENANT#{id}")
    }

    pub fn agent(id: AgentId) -> String {
        format!("{AGENT_PREFIX}{id}")
    }

    pub fn versions(agent: AgentId) -> String {
        format!("AGENTVER#{agent}#")
    }

    pub fn version(agent: AgentId, version: AgentVersionId) -> String {
        format!("{}{version}", versions(agent))
    }

    pub fn events(agent: AgentId) -> String {
        format!("AGENTEVT#{agent}#")
    }

    pub fn event(agent: AgentId, event: uuid::Uuid) -> String {
        format!("{}{event}", events(agent))
    }
}

const ONLINE: &str = "online";
const OFFLINE: &str = "offline";
/// Workers one agent item keeps (each a small map entry); more answer 409 `TOO_MANY_WORKERS`.
pub const MAX_WORKERS: usize = 100;

#[derive(Serialize, Deserialize)]
struct AgentItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    /// Bumped by configuration, version and publish writes, which are conditional on it.
    revision: u64,
    /// What the sweeper last persisted; reads compute the exact status themselves.
    #[serde(default)]
    persisted_status: Option<String>,
    #[serde(flatten)]
    agent: Agent,
}

#[derive(Serialize, Deserialize)]
struct VersionItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    version: AgentVersion,
}

#[derive(Serialize, Deserialize)]
struct EventItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    event: AgentEvent,
}

/// Free-form settings are stored as JSON text: DynamoDB refuses empty map keys and numbers
/// beyond its range, both of which JSON allows. `config` is the item's configuration map.
fn settings_to_text(config: &mut AttributeValue) -> anyhow::Result<()> {
    if let AttributeValue::M(fields) = config
        && let Some(settings) = fields.get("settings").cloned()
        && !matches!(settings, AttributeValue::S(_))
    {
        let value: serde_json::Value = serde_dynamo::from_attribute_value(settings)?;
        fields.insert(
            "settings".into(),
            AttributeValue::S(serde_json::to_string(&value)?),
        );
    }
    Ok(())
}

fn settings_from_text(config: &mut AttributeValue) -> anyhow::Result<()> {
    if let AttributeValue::M(fields) = config
        && let Some(AttributeValue::S(text)) = fields.get("settings")
    {
        let value: serde_json::Value = serde_json::from_str(text)?;
        fields.insert("settings".into(), serde_dynamo::to_attribute_value(value)?);
    }
    Ok(())
}

/// An item with its configuration's settings as text.
fn encode<T: Serialize>(value: &T) -> anyhow::Result<HashMap<String, AttributeValue>> {
    let mut item = dynamo::to_item(value)?;
    if let Some(config) = item.get_mut("config") {
        settings_to_text(config)?;
    }
    Ok(item)
}

fn decode<T: serde::de::DeserializeOwned>(
    mut item: HashMap<String, AttributeValue>,
) -> anyhow::Result<T> {
    if let Some(config) = item.get_mut("config") {
        settings_from_text(config)?;
    }
    dynamo::from_item(item)
}

pub fn agent_not_found(id: AgentId) -> StoreError {
    StoreError::not_found("AGENT_NOT_FOUND", format!("Agent {id} not found"))
}

pub fn version_not_found(id: AgentVersionId) -> StoreError {
    StoreError::not_found(
        "AGENT_VERSION_NOT_FOUND",
        format!("Agent version {id} not found"),
    )
}

/// An agent the online index shows with an expired heartbeat, and the heartbeat it showed.
#[derive(Debug, Clone)]
pub struct ExpiredHeartbeat {
    pub tenant: TenantId,
    pub agent: AgentId,
    seen: AttributeValue,
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Agents whose heartbeat had expired per the index.
    pub examined: u32,
    /// Persisted as offline now (each once).
    pub marked_offline: u32,
    /// A heartbeat landed meanwhile: left online.
    pub kept_online: u32,
}

#[derive(Clone, Debug)]
pub struct AgentStore {
    client: Client,
    table: String,
}

impl AgentStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn event_item(
        &self,
        tenant: TenantId,
        event: &AgentEvent,
    ) -> anyhow::Result<TransactWriteItem> {
        let item = EventItem {
            pk: keys::tenant(tenant),
            sk: keys::event(event.agent_id, event.id),
            event: event.clone(),
        };
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(dynamo::to_item(&item)?))
                    .build()?,
            )
            .build())
    }

    fn status_event(
        agent: AgentId,
        from: AgentStatus,
        to: AgentStatus,
        at: DateTime<Utc>,
        detail: String,
    ) -> AgentEvent {
        AgentEvent {
            id: uuid::Uuid::now_v7(),
            agent_id: agent,
            kind: "status_changed".into(),
            from: Some(from),
            to: Some(to),
            detail: Some(detail),
            at,
        }
    }

    #[tracing::instrument(skip_all, fields(tenant_id = %agent.tenant_id))]
    pub async fn create(&self, agent: &Agent) -> StoreResult<()> {
        let item = AgentItem {
            pk: keys::tenant(agent.tenant_id),
            sk: keys::agent(agent.id),
            gsi1pk: keys::agent(agent.id),
            gsi1sk: "PROFILE".into(),
            revision: 1,
            persisted_status: Some(OFFLINE.into()),
            agent: agent.clone(),
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("creating an agent"))?;
        Ok(())
    }

    async fn get_item(&self, tenant: TenantId, id: AgentId) -> StoreResult<Option<AgentItem>> {
        let output = dynamo::read_item(
            &self.client,
            &self.table,
            keys::tenant(tenant),
            keys::agent(id),
            "reading an agent",
        )
        .await?;
        Ok(output.map(decode).transpose()?)
    }

    #[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
    pub async fn get(&self, tenant: TenantId, id: AgentId) -> StoreResult<Option<Agent>> {
        Ok(self.get_item(tenant, id).await?.map(|i| i.agent))
    }

    /// The tenant of an agent known only by id (the internal routes), from the keys-only index.
    pub async fn tenant_of(&self, id: AgentId) -> StoreResult<Option<TenantId>> {
        Ok(
            dynamo::tenant_by_id(&self.client, &self.table, keys::agent(id))
                .await
                .map_err(|e| e.context("finding an agent"))?,
        )
    }

    async fn query_all(
        &self,
        pk: String,
        prefix: String,
    ) -> StoreResult<Vec<HashMap<String, AttributeValue>>> {
        Ok(dynamo::query_prefix(&self.client, &self.table, pk, prefix, "querying agents").await?)
    }

    /// Every agent of a tenant (few per tenant; the caller pages in memory).
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
    pub async fn list(&self, tenant: TenantId) -> StoreResult<Vec<Agent>> {
        let items = self
            .query_all(keys::tenant(tenant), keys::AGENT_PREFIX.into())
            .await?;
        Ok(items
            .into_iter()
            .map(|i| decode::<AgentItem>(i).map(|i| i.agent))
            .collect::<anyhow::Result<_>>()?)
    }

    /// Replaces the configuration, conditional on the revision read (retried on a lost race).
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
    pub async fn update_config<E: From<StoreError>>(
        &self,
        tenant: TenantId,
        id: AgentId,
        change: impl Fn(&AgentConfig) -> Result<AgentConfig, E>,
        now: DateTime<Utc>,
    ) -> Result<Agent, E> {
        let mut backoff = Backoff::default();
        loop {
            let current = self
                .get_item(tenant, id)
                .await?
                .ok_or_else(|| agent_not_found(id))?;
            let config = change(&current.agent.config)?;
            if config == current.agent.config {
                return Ok(current.agent);
            }
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(dynamo::key(keys::tenant(tenant), keys::agent(id))))
                .update_expression(
                    "SET config = :config, updated_at = :now, revision = revision + :one",
                )
                .condition_expression("revision = :revision")
                .expression_attribute_values(":config", {
                    let mut value = serde_dynamo::to_attribute_value(&config)
                        .map_err(|e| StoreError::Dynamo(e.into()))?;
                    settings_to_text(&mut value).map_err(StoreError::from)?;
                    value
                })
                .expression_attribute_values(":now", time(now).map_err(StoreError::from)?)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":revision", n(current.revision))
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match result {
                Ok(output) => {
                    return Ok(decode::<AgentItem>(output.attributes.unwrap_or_default())
                        .map_err(StoreError::from)?
                        .agent);
                }
                Err(e) if dynamo::is_condition_failed(&e) && backoff.wait().await => continue,
                Err(e) => {
                    return Err(StoreError::Dynamo(
                        anyhow::Error::new(e).context("updating an agent"),
                    )
                    .into());
                }
            }
        }
    }

    /// Removes the agent, then its versions and timeline.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
    pub async fn delete(&self, tenant: TenantId, id: AgentId) -> StoreResult<Agent> {
        let removed = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(tenant), keys::agent(id))))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let agent = match removed {
            Ok(output) => decode::<AgentItem>(output.attributes.unwrap_or_default())?.agent,
            Err(e) if dynamo::is_condition_failed(&e) => return Err(agent_not_found(id)),
            Err(e) => {
                return Err(StoreError::Dynamo(
                    anyhow::Error::new(e).context("deleting an agent"),
                ));
            }
        };
        for prefix in [keys::versions(id), keys::events(id)] {
            for item in self.query_all(keys::tenant(tenant), prefix).await? {
                let (Some(pk), Some(sk)) = (item.get("pk").cloned(), item.get("sk").cloned())
                else {
                    continue;
                };
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .key("pk", pk)
                    .key("sk", sk)
                    .send()
                    .await
                    .map_err(|e| anyhow::Error::new(e).context("deleting an agent's history"))?;
            }
        }
        Ok(agent)
    }

    /// Snapshots the current configuration as version `version_count + 1`; the count and the
    /// version are written together, so concurrent snapshots get distinct numbers.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
    pub async fn create_version(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
        notes: Option<String>,
        created_by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<AgentVersion> {
        let mut backoff = Backoff::new(8, Duration::from_millis(15));
        loop {
            let current = self
                .get_item(tenant, agent_id)
                .await?
                .ok_or_else(|| agent_not_found(agent_id))?;
            let version = AgentVersion {
                id: AgentVersionId::new(),
                agent_id,
                tenant_id: tenant,
                number: current.agent.version_count + 1,
                notes: notes.clone(),
                config: current.agent.config.clone(),
                is_active: false,
                tool_ids: Vec::new(),
                created_by: created_by.to_owned(),
                created_at: now,
            };
            let count = Update::builder()
                .table_name(&self.table)
                .set_key(Some(dynamo::key(
                    keys::tenant(tenant),
                    keys::agent(agent_id),
                )))
                .update_expression("SET version_count = :next, revision = revision + :one")
                .condition_expression("revision = :revision")
                .expression_attribute_values(":next", n(version.number))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":revision", n(current.revision))
                .build()
                .map_err(anyhow::Error::new)?;
            let item = VersionItem {
                pk: keys::tenant(tenant),
                sk: keys::version(agent_id, version.id),
                version: version.clone(),
            };
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(encode(&item)?))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(anyhow::Error::new)?;
            let items = vec![
                TransactWriteItem::builder().update(count).build(),
                TransactWriteItem::builder().put(put).build(),
            ];
            match dynamo::transact(&self.client, items, Backoff::default()).await {
                Ok(()) => return Ok(version),
                Err(e)
                    if (dynamo::cancellation_reasons(&e).is_some()
                        || dynamo::is_transaction_conflict(&e))
                        && backoff.wait().await =>
                {
                    continue;
                }
                Err(e) => {
                    return Err(StoreError::Dynamo(
                        anyhow::Error::new(e).context("creating a version"),
                    ));
                }
            }
        }
    }

    /// An agent's versions, oldest first.
    pub async fn versions(
        &self,
        tenant: TenantId,
        agent: AgentId,
    ) -> StoreResult<Vec<AgentVersion>> {
        let items = self
            .query_all(keys::tenant(tenant), keys::versions(agent))
            .await?;
        let mut versions: Vec<AgentVersion> = items
            .into_iter()
            .map(|i| decode::<VersionItem>(i).map(|i| i.version))
            .collect::<anyhow::Result<_>>()?;
        versions.sort_by_key(|v| v.number);
        Ok(versions)
    }

    pub async fn version(
        &self,
        tenant: TenantId,
        agent: AgentId,
        id: AgentVersionId,
    ) -> StoreResult<Option<AgentVersion>> {
        let output = dynamo::read_item(
            &self.client,
            &self.table,
            keys::tenant(tenant),
            keys::version(agent, id),
            "reading a version",
        )
        .await?;
        Ok(output
            .map(decode::<VersionItem>)
            .transpose()?
            .map(|i| i.version))
    }

    fn flag_version(
        &self,
        tenant: TenantId,
        agent: AgentId,
        id: AgentVersionId,
        active: bool,
    ) -> anyhow::Result<TransactWriteItem> {
        Ok(TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(dynamo::key(
                        keys::tenant(tenant),
                        keys::version(agent, id),
                    )))
                    .update_expression("SET is_active = :active")
                    .condition_expression("attribute_exists(pk)")
                    .expression_attribute_values(":active", AttributeValue::Bool(active))
                    .build()?,
            )
            .build())
    }

    /// Makes `version` the active one: the agent's pointer moves only from the value read, and
    /// the old and new versions' flags change in the same transaction, so concurrent publishes
    /// leave exactly one active version. Publishing an older version is a rollback.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
    pub async fn publish(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
        version: &AgentVersion,
        now: DateTime<Utc>,
    ) -> StoreResult<Agent> {
        let mut backoff = Backoff::new(10, Duration::from_millis(15));
        loop {
            let current = self
                .get_item(tenant, agent_id)
                .await?
                .ok_or_else(|| agent_not_found(agent_id))?;
            let old = current.agent.active_version_id;
            if old == Some(version.id) {
                return Ok(current.agent);
            }
            let mut pointer = Update::builder()
                .table_name(&self.table)
                .set_key(Some(dynamo::key(keys::tenant(tenant), keys::agent(agent_id))))
                .update_expression(
                    "SET active_version_id = :new, active_version_number = :number, updated_at = :now, revision = revision + :one",
                )
                .expression_attribute_values(":new", s(version.id.to_string()))
                .expression_attribute_values(":number", n(version.number))
                .expression_attribute_values(":now", time(now)?)
                .expression_attribute_values(":one", n(1));
            pointer = match old {
                Some(old) => pointer
                    .condition_expression("active_version_id = :old")
                    .expression_attribute_values(":old", s(old.to_string())),
                None => pointer.condition_expression(
                    "attribute_exists(pk) AND attribute_not_exists(active_version_id)",
                ),
            };
            let mut items = vec![
                TransactWriteItem::builder()
                    .update(pointer.build().map_err(anyhow::Error::new)?)
                    .build(),
                self.flag_version(tenant, agent_id, version.id, true)?,
            ];
            if let Some(old) = old {
                items.push(self.flag_version(tenant, agent_id, old, false)?);
            }
            match dynamo::transact(&self.client, items, Backoff::default()).await {
                Ok(()) => {
                    let mut agent = current.agent;
                    agent.active_version_id = Some(version.id);
                    agent.active_version_number = Some(version.number);
                    agent.updated_at = now;
                    return Ok(agent);
                }
                Err(e) => {
                    let reasons = dynamo::cancellation_reasons(&e).unwrap_or_default();
                    if dynamo::item_condition_failed(&reasons, 1) {
                        return Err(version_not_found(version.id));
                    }
                    let lost = dynamo::item_condition_failed(&reasons, 0)
                        || dynamo::is_transaction_conflict(&e);
                    if lost && backoff.wait().await {
                        continue;
                    }
                    return Err(StoreError::Dynamo(
                        anyhow::Error::new(e).context("publishing a version"),
                    ));
                }
            }
        }
    }

    /// Replaces a version's tool allowlist; every tool must be the tenant's, checked in the same
    /// transaction, or nothing is written. Answers the index of a missing tool.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
    pub async fn set_tools(
        &self,
        tools: &ToolStore,
        tenant: TenantId,
        agent: AgentId,
        version: AgentVersionId,
        tool_ids: &[ToolId],
    ) -> StoreResult<()> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(tenant),
                keys::version(agent, version),
            )))
            .update_expression("SET tool_ids = :tools")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(
                ":tools",
                serde_dynamo::to_attribute_value(tool_ids).map_err(anyhow::Error::new)?,
            )
            .build()
            .map_err(anyhow::Error::new)?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        for tool in tool_ids {
            items.push(tools.exists_check(tenant, *tool)?);
        }
        match dynamo::transact(&self.client, items, Backoff::default()).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let reasons = dynamo::cancellation_reasons(&e).unwrap_or_default();
                if dynamo::item_condition_failed(&reasons, 0) {
                    return Err(version_not_found(version));
                }
                let missing: Vec<String> = tool_ids
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| dynamo::item_condition_failed(&reasons, i + 1))
                    .map(|(_, t)| t.to_string())
                    .collect();
                if !missing.is_empty() {
                    return Err(StoreError::NotFound {
                        code: "TOOL_NOT_FOUND",
                        message: "Some tools are not the tenant's".into(),
                        details: Some(serde_json::json!({ "missing_tool_ids": missing })),
                    });
                }
                Err(StoreError::Dynamo(
                    anyhow::Error::new(e).context("setting a tool allowlist"),
                ))
            }
        }
    }

    /// Records a heartbeat in one write; the write says whether the agent was offline, and only
    /// then is a status change added to the timeline. The workers map is bounded
    /// ([`MAX_WORKERS`]), so the agent item stays far below DynamoDB's item size.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
    pub async fn heartbeat(
        &self,
        tenant: TenantId,
        beat: &Heartbeat,
        now: DateTime<Utc>,
        timeout: chrono::Duration,
    ) -> StoreResult<()> {
        let worker = Worker {
            worker_id: beat.worker_id.clone(),
            status: beat.status,
            active_calls: beat.active_calls,
            capacity: beat.capacity,
            last_seen_at: now,
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(tenant), keys::agent(beat.agent_id))))
            .update_expression(
                "SET last_heartbeat_at = :now, persisted_status = :online, gsi2pk = :index, gsi2sk = :expiry, workers.#worker = :worker",
            )
            // A known worker always reports; a new one only while the map has room.
            .condition_expression(
                "attribute_exists(pk) AND (attribute_exists(workers.#worker) OR size(workers) < :max_workers)",
            )
            .expression_attribute_values(":max_workers", dynamo::n(MAX_WORKERS))
            .expression_attribute_names("#worker", &beat.worker_id)
            .expression_attribute_values(":now", time(now)?)
            .expression_attribute_values(":online", s(ONLINE))
            .expression_attribute_values(":index", s(keys::ONLINE))
            .expression_attribute_values(":expiry", s(dynamo::due_key(now + timeout, beat.agent_id)))
            .expression_attribute_values(":worker", serde_dynamo::to_attribute_value(&worker).map_err(anyhow::Error::new)?)
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await;
        let old = match result {
            Ok(output) => output.attributes.unwrap_or_default(),
            Err(e) if dynamo::is_condition_failed(&e) => {
                return Err(match self.get(tenant, beat.agent_id).await? {
                    Some(_) => StoreError::conflict(
                        "TOO_MANY_WORKERS",
                        format!(
                            "An agent reports at most {MAX_WORKERS} workers; they are cleared when it goes offline"
                        ),
                    ),
                    None => agent_not_found(beat.agent_id),
                });
            }
            Err(e) => {
                return Err(StoreError::Dynamo(
                    anyhow::Error::new(e).context("recording a heartbeat"),
                ));
            }
        };
        let was_online = old
            .get("persisted_status")
            .and_then(|v| v.as_s().ok())
            .is_some_and(|v| v == ONLINE);
        if !was_online {
            let event = Self::status_event(
                beat.agent_id,
                AgentStatus::Offline,
                AgentStatus::Online,
                now,
                format!("heartbeat from {}", beat.worker_id),
            );
            let item = EventItem {
                pk: keys::tenant(tenant),
                sk: keys::event(beat.agent_id, event.id),
                event,
            };
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(dynamo::to_item(&item)?))
                .send()
                .await
                .map_err(|e| anyhow::Error::new(e).context("recording a status change"))?;
        }
        Ok(())
    }

    /// Persists online → offline for every agent whose heartbeat expired before `now`, found
    /// through the sparse index. Each transition is written once, conditional on the heartbeat
    /// the index showed, so a heartbeat that lands meanwhile wins.
    #[tracing::instrument(skip_all)]
    pub async fn sweep(&self, now: DateTime<Utc>) -> StoreResult<SweepReport> {
        let mut report = SweepReport::default();
        for expired in self.expired(now).await? {
            report.examined += 1;
            if self.mark_offline(&expired, now).await? {
                report.marked_offline += 1;
            } else {
                report.kept_online += 1;
            }
        }
        Ok(report)
    }

    /// Agents persisted as online whose heartbeat, as the index shows it, expired before `now`.
    pub async fn expired(&self, now: DateTime<Utc>) -> StoreResult<Vec<ExpiredHeartbeat>> {
        let items = dynamo::due_before(
            &self.client,
            &self.table,
            keys::ONLINE_INDEX,
            keys::ONLINE,
            now,
        )
        .await
        .map_err(|e| e.context("finding expired heartbeats"))?;
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
                let tenant = text("pk")?
                    .strip_prefix("TENANT#")?
                    .parse::<TenantId>()
                    .ok()?;
                let agent = text("sk")?
                    .strip_prefix(keys::AGENT_PREFIX)?
                    .parse::<AgentId>()
                    .ok()?;
                let seen = item.get("last_heartbeat_at")?.clone();
                Some(ExpiredHeartbeat {
                    tenant,
                    agent,
                    seen,
                })
            })
            .collect())
    }

    /// Marks one agent offline unless its heartbeat moved since the index showed it; `false`
    /// when a newer heartbeat won.
    pub async fn mark_offline(
        &self,
        expired: &ExpiredHeartbeat,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let last_seen: Option<DateTime<Utc>> =
            serde_dynamo::from_attribute_value(expired.seen.clone()).ok();
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(expired.tenant),
                keys::agent(expired.agent),
            )))
            .update_expression(
                "SET persisted_status = :offline, workers = :none REMOVE gsi2pk, gsi2sk",
            )
            .condition_expression("last_heartbeat_at = :seen AND gsi2pk = :index")
            .expression_attribute_values(":offline", s(OFFLINE))
            .expression_attribute_values(":none", AttributeValue::M(HashMap::new()))
            .expression_attribute_values(":seen", expired.seen.clone())
            .expression_attribute_values(":index", s(keys::ONLINE))
            .build()
            .map_err(anyhow::Error::new)?;
        let detail = match last_seen {
            Some(at) => format!(
                "no heartbeat since {}",
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ),
            None => "no heartbeat".to_owned(),
        };
        let event = Self::status_event(
            expired.agent,
            AgentStatus::Online,
            AgentStatus::Offline,
            now,
            detail,
        );
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            self.event_item(expired.tenant, &event)?,
        ];
        let marked =
            dynamo::transact_guarded(&self.client, items, 0, "marking an agent offline").await?;
        if marked {
            tracing::info!(tenant_id = %expired.tenant, agent_id = %expired.agent, "agent went offline");
        }
        Ok(marked)
    }

    /// An agent's timeline, newest first, cursor-paged.
    pub async fn events(
        &self,
        tenant: TenantId,
        agent: AgentId,
        limit: u32,
        cursor: Option<&str>,
    ) -> StoreResult<(Vec<AgentEvent>, Option<String>)> {
        let start = cursor
            .map(|c| {
                dynamo::cursor_sort_key(c, &keys::events(agent), 100)
                    .ok_or_else(StoreError::invalid_cursor)
            })
            .transpose()?;
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::tenant(tenant)))
            .expression_attribute_values(":prefix", s(keys::events(agent)))
            .set_exclusive_start_key(start.map(|sk| dynamo::key(keys::tenant(tenant), sk)))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(100))
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("reading a timeline"))?;
        let events = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|i| dynamo::from_item::<EventItem>(i).map(|i| i.event))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok((
            events,
            dynamo::next_cursor(output.last_evaluated_key.as_ref()),
        ))
    }
}
