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

mod events;
mod presence;
mod versions;

pub use presence::{ExpiredHeartbeat, SweepReport};

/// Key formats of the agents table.
pub(crate) mod keys {
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

pub(crate) const ONLINE: &str = "online";
pub(crate) const OFFLINE: &str = "offline";
/// Workers one agent item keeps (each a small map entry); more answer 409 `TOO_MANY_WORKERS`.
pub const MAX_WORKERS: usize = 100;

#[derive(Serialize, Deserialize)]
pub(crate) struct AgentItem {
    pub(crate) pk: String,
    pub(crate) sk: String,
    pub(crate) gsi1pk: String,
    pub(crate) gsi1sk: String,
    /// Bumped by configuration, version and publish writes, which are conditional on it.
    pub(crate) revision: u64,
    /// What the sweeper last persisted; reads compute the exact status themselves.
    #[serde(default)]
    pub(crate) persisted_status: Option<String>,
    #[serde(flatten)]
    pub(crate) agent: Agent,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct VersionItem {
    pub(crate) pk: String,
    pub(crate) sk: String,
    #[serde(flatten)]
    pub(crate) version: AgentVersion,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct EventItem {
    pub(crate) pk: String,
    pub(crate) sk: String,
    #[serde(flatten)]
    pub(crate) event: AgentEvent,
}

/// Free-form settings are stored as JSON text: DynamoDB refuses empty map keys and numbers
/// beyond its range, both of which JSON allows. `config` is the item's configuration map.
pub(crate) fn settings_to_text(config: &mut AttributeValue) -> anyhow::Result<()> {
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

pub(crate) fn settings_from_text(config: &mut AttributeValue) -> anyhow::Result<()> {
    if let AttributeValue::M(fields) = config
        && let Some(AttributeValue::S(text)) = fields.get("settings")
    {
        let value: serde_json::Value = serde_json::from_str(text)?;
        fields.insert("settings".into(), serde_dynamo::to_attribute_value(value)?);
    }
    Ok(())
}

/// An item with its configuration's settings as text.
pub(crate) fn encode<T: Serialize>(value: &T) -> anyhow::Result<HashMap<String, AttributeValue>> {
    let mut item = dynamo::to_item(value)?;
    if let Some(config) = item.get_mut("config") {
        settings_to_text(config)?;
    }
    Ok(item)
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(
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

#[derive(Clone, Debug)]
pub struct AgentStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

impl AgentStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub(crate) fn event_item(
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

    pub(crate) fn status_event(
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

    pub(crate) async fn get_item(
        &self,
        tenant: TenantId,
        id: AgentId,
    ) -> StoreResult<Option<AgentItem>> {
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

    /// A transaction item that holds while the agent's active version is `version` (none: no
    /// active version, or no agent).
    pub fn active_version_check(
        &self,
        tenant: TenantId,
        agent: AgentId,
        version: Option<AgentVersionId>,
    ) -> anyhow::Result<TransactWriteItem> {
        let key = dynamo::key(keys::tenant(tenant), keys::agent(agent));
        match version {
            Some(version) => dynamo::condition_check(
                &self.table,
                key,
                "active_version_id = :version",
                &[(":version", s(version.to_string()))],
            ),
            None => dynamo::condition_check(
                &self.table,
                key,
                "attribute_not_exists(active_version_id)",
                &[],
            ),
        }
    }

    /// The tenant of an agent known only by id (the internal routes), from the keys-only index.
    pub async fn tenant_of(&self, id: AgentId) -> StoreResult<Option<TenantId>> {
        Ok(
            dynamo::tenant_by_id(&self.client, &self.table, keys::agent(id))
                .await
                .map_err(|e| e.context("finding an agent"))?,
        )
    }

    pub(crate) async fn query_all(
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
}
