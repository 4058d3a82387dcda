//! A tenant's daily call figures, kept by atomic counters as calls change.

use super::*;

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
    /// Calls whose disposition counts as a success.
    #[serde(default)]
    pub successes: u64,
    /// Calls by disposition code (the `disp_<code>` counters).
    #[serde(skip)]
    pub dispositions: std::collections::BTreeMap<String, u64>,
}

/// The counters' day for a moment (UTC).
pub fn kpi_day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

impl CallStore {
    /// An update that adds to one day's counters.
    pub(crate) fn count(
        &self,
        tenant: TenantId,
        day: &str,
        adds: &[(&str, i64)],
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

    /// Counts a tool execution on the day it ran.
    pub async fn count_execution(
        &self,
        tenant: TenantId,
        at: DateTime<Utc>,
        succeeded: bool,
    ) -> StoreResult<()> {
        let adds: Vec<(&str, i64)> = if succeeded {
            vec![("tool_executions", 1), ("tool_succeeded", 1)]
        } else {
            vec![("tool_executions", 1)]
        };
        let item = self.count(tenant, &kpi_day(at), &adds)?;
        dynamo::transact(&self.client, vec![item], Backoff::default())
            .await
            .map_err(|e| StoreError::Dynamo(anyhow::Error::new(e).context("counting an execution")))
    }

    /// The counters of every day from `from` to `to` (inclusive) that has any: one Query.
    pub async fn daily_counters(
        &self,
        tenant: TenantId,
        from: &str,
        to: &str,
    ) -> StoreResult<Vec<DailyCounters>> {
        let items = dynamo::query_between(
            &self.client,
            &self.table,
            keys::tenant(tenant),
            format!("KPI#{from}"),
            format!("KPI#{to}"),
            "reading daily counters",
        )
        .await?;
        let mut days = Vec::new();
        for item in items {
            let dispositions = item
                .iter()
                .filter_map(|(name, value)| {
                    let code = name.strip_prefix(DISPOSITION_COUNTER_PREFIX)?;
                    let count = value.as_n().ok()?.parse::<i64>().ok()?;
                    Some((code.to_owned(), u64::try_from(count).unwrap_or(0)))
                })
                .filter(|(_, count)| *count > 0)
                .collect();
            let mut day = dynamo::from_item::<DailyCounters>(item)?;
            day.dispositions = dispositions;
            days.push(day);
        }
        Ok(days)
    }
}
