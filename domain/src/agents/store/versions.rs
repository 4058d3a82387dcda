//! An agent's versions: snapshots, publishing one, and its tool allowlist.

use super::*;

impl AgentStore {
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

    pub(crate) fn flag_version(
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
}
