//! An agent's timeline, paged by cursor.

use super::*;

impl AgentStore {
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
