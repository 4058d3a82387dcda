//! The automation side of the tools table: n8n integrations (`INTEGRATION#<id>`), per-call rate
//! windows (`RATE#<call>#<minute>`, expiring) and tool executions (`EXEC#<call>#<execution>`).

use crate::error::{StoreError, StoreResult};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use gobi_shared::dynamo;
use gobi_shared::ids::{CallId, TenantId};
use serde::{Deserialize, Serialize};

use super::model::{Execution, Integration};

fn tenant(id: TenantId) -> String {
    format!("TENANT#{id}")
}

#[derive(Serialize, Deserialize)]
struct IntegrationItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    /// KMS ciphertext (base64) of the secret; never the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_ciphertext: Option<String>,
    #[serde(flatten)]
    integration: Integration,
}

#[derive(Serialize, Deserialize)]
struct ExecutionItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    execution: Execution,
}

pub fn integration_not_found(id: uuid::Uuid) -> StoreError {
    StoreError::not_found(
        "INTEGRATION_NOT_FOUND",
        format!("Integration {id} not found"),
    )
}

#[derive(Clone, Debug)]
pub struct AutomationStore {
    client: Client,
    table: String,
}

impl AutomationStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub async fn put_integration(
        &self,
        integration: &Integration,
        secret_ciphertext: Option<String>,
    ) -> StoreResult<()> {
        let item = IntegrationItem {
            pk: tenant(integration.tenant_id),
            sk: format!("INTEGRATION#{}", integration.id),
            gsi1pk: format!("INTEGRATION#{}", integration.id),
            gsi1sk: "INTEGRATION".into(),
            secret_ciphertext,
            integration: integration.clone(),
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("storing an integration"))?;
        Ok(())
    }

    /// The integration and its secret's ciphertext.
    pub async fn integration(
        &self,
        tenant_id: TenantId,
        id: uuid::Uuid,
    ) -> StoreResult<Option<(Integration, Option<String>)>> {
        let output = dynamo::read_item(
            &self.client,
            &self.table,
            tenant(tenant_id),
            format!("INTEGRATION#{id}"),
            "reading an integration",
        )
        .await?;
        Ok(output
            .map(dynamo::from_item::<IntegrationItem>)
            .transpose()?
            .map(|i| (i.integration, i.secret_ciphertext)))
    }

    /// The tenant of an integration known by id alone (keys-only index).
    pub async fn integration_tenant(&self, id: uuid::Uuid) -> StoreResult<Option<TenantId>> {
        Ok(
            dynamo::tenant_by_id(&self.client, &self.table, format!("INTEGRATION#{id}"))
                .await
                .map_err(|e| e.context("finding an integration"))?,
        )
    }

    pub async fn integrations(&self, tenant_id: TenantId) -> StoreResult<Vec<Integration>> {
        let items = dynamo::query_prefix(
            &self.client,
            &self.table,
            tenant(tenant_id),
            "INTEGRATION#".into(),
            "listing integrations",
        )
        .await?;
        Ok(items
            .into_iter()
            .map(|i| dynamo::from_item::<IntegrationItem>(i).map(|i| i.integration))
            .collect::<anyhow::Result<_>>()?)
    }

    /// Takes one execution from the call's allowance for the current minute, atomically: under
    /// concurrent requests exactly `limit` succeed. `Err` carries the seconds until the next minute.
    pub async fn take_execution_slot(
        &self,
        tenant_id: TenantId,
        call: CallId,
        limit: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Result<(), u64>> {
        let minute = now.timestamp().div_euclid(60);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                tenant(tenant_id),
                format!("RATE#{call}#{minute}"),
            )))
            .update_expression("ADD executions :one SET expiresAt = :expires")
            .condition_expression("attribute_not_exists(executions) OR executions < :limit")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":limit", AttributeValue::N(limit.to_string()))
            .expression_attribute_values(
                ":expires",
                AttributeValue::N(((minute + 2) * 60).to_string()),
            )
            .return_values(ReturnValue::None)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(e) if dynamo::is_condition_failed(&e) => {
                Ok(Err(u64::try_from((minute + 1) * 60 - now.timestamp())
                    .unwrap_or(1)
                    .max(1)))
            }
            Err(e) => Err(StoreError::Dynamo(
                anyhow::Error::new(e).context("counting an execution"),
            )),
        }
    }

    /// The write of `execution`'s record, for a transaction.
    pub fn execution_put(
        &self,
        execution: &Execution,
    ) -> anyhow::Result<aws_sdk_dynamodb::types::TransactWriteItem> {
        let item = ExecutionItem {
            pk: tenant(execution.tenant_id),
            sk: format!("EXEC#{}#{}", execution.call_id, execution.id),
            execution: execution.clone(),
        };
        Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .put(
                aws_sdk_dynamodb::types::Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(dynamo::to_item(&item)?))
                    .build()?,
            )
            .build())
    }

    /// Records a finished execution of `call` (read already) in one transaction: its record,
    /// the call's counters and the `finished` event on the call's timeline.
    pub async fn record_finished(
        &self,
        calls: &crate::calls::CallStore,
        call: &crate::calls::StoredCall,
        execution: &Execution,
        finished: &crate::calls::CallEvent,
    ) -> StoreResult<()> {
        let mut items = vec![
            self.execution_put(execution)?,
            calls.event_put(call, finished)?,
        ];
        items.extend(calls.execution_counts(
            &call.call,
            execution.status == super::model::ExecutionStatus::Succeeded,
        )?);
        dynamo::transact(&self.client, items, dynamo::Backoff::default())
            .await
            .map_err(|e| anyhow::Error::new(e).context("recording a finished execution"))?;
        Ok(())
    }

    /// A call's executions, oldest first.
    pub async fn executions(
        &self,
        tenant_id: TenantId,
        call: CallId,
    ) -> StoreResult<Vec<Execution>> {
        let items = dynamo::query_prefix(
            &self.client,
            &self.table,
            tenant(tenant_id),
            format!("EXEC#{call}#"),
            "listing executions",
        )
        .await?;
        Ok(items
            .into_iter()
            .map(|i| dynamo::from_item::<ExecutionItem>(i).map(|i| i.execution))
            .collect::<anyhow::Result<_>>()?)
    }

    /// The raw stored integration item, for checks that nothing but ciphertext is kept.
    pub async fn raw_integration(
        &self,
        tenant_id: TenantId,
        id: uuid::Uuid,
    ) -> StoreResult<Option<std::collections::HashMap<String, AttributeValue>>> {
        let output = dynamo::read_item(
            &self.client,
            &self.table,
            tenant(tenant_id),
            format!("INTEGRATION#{id}"),
            "reading an integration",
        )
        .await?;
        Ok(output)
    }
}
