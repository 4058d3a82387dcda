//! Heartbeats, the workers an agent has, and the sweep that marks silent agents offline.

use super::*;

/// An agent the online index shows with an expired heartbeat, and the heartbeat it showed.
#[derive(Debug, Clone)]
pub struct ExpiredHeartbeat {
    pub tenant: TenantId,
    pub agent: AgentId,
    seen: AttributeValue,
}

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Agents whose heartbeat had expired per the index.
    pub examined: u32,
    /// Persisted as offline now (each once).
    pub marked_offline: u32,
    /// A heartbeat landed meanwhile: left online.
    pub kept_online: u32,
    /// The agents persisted as offline, by tenant.
    #[serde(skip)]
    pub went_offline: Vec<(TenantId, AgentId)>,
}

impl AgentStore {
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
                report.went_offline.push((expired.tenant, expired.agent));
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
            None,
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
}
