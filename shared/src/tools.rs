//! The tools table: a tenant's tools, one name marker each (names are unique per tenant,
//! case-insensitively). Agents' allowlists refer to these ids; the automation gateway serves them.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dynamo::{self, Backoff};
use crate::error::{ApiError, ApiResult};
use crate::ids::{TenantId, ToolId};

/// Key formats of the tools table.
pub mod keys {
    use crate::ids::{TenantId, ToolId};

    pub fn tenant(id: TenantId) -> String {
        format!("TENANT#{id}")
    }

    pub fn tool(id: ToolId) -> String {
        format!("TOOL#{id}")
    }

    pub fn name(name: &str) -> String {
        format!("TOOLNAME#{}", name.to_lowercase())
    }
}

/// A tool as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub id: ToolId,
    pub tenant_id: TenantId,
    pub name: String,
    pub description: String,
    /// JSON Schema of the tool's input.
    pub input_schema: serde_json::Value,
    pub timeout_ms: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct ToolItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    tool: Tool,
}

#[derive(Serialize)]
struct NameMarker {
    pk: String,
    sk: String,
    tool_id: ToolId,
}

#[derive(Clone, Debug)]
pub struct ToolStore {
    client: Client,
    table: String,
}

impl ToolStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates the tool and claims its name in one transaction.
    #[tracing::instrument(skip_all, fields(tenant_id = %tool.tenant_id))]
    pub async fn create(&self, tool: &Tool) -> ApiResult<()> {
        let put = |item, what: &str| -> anyhow::Result<TransactWriteItem> {
            Ok(TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(|e| anyhow::anyhow!("{what}: {e}"))?,
                )
                .build())
        };
        let item = ToolItem {
            pk: keys::tenant(tool.tenant_id),
            sk: keys::tool(tool.id),
            tool: tool.clone(),
        };
        let marker = NameMarker {
            pk: keys::tenant(tool.tenant_id),
            sk: keys::name(&tool.name),
            tool_id: tool.id,
        };
        let items = vec![
            put(dynamo::to_item(&item)?, "tool")?,
            put(dynamo::to_item(&marker)?, "name")?,
        ];
        match dynamo::transact(&self.client, items, Backoff::default()).await {
            Ok(()) => Ok(()),
            Err(e)
                if dynamo::cancellation_reasons(&e)
                    .is_some_and(|r| dynamo::item_condition_failed(&r, 1)) =>
            {
                Err(ApiError::conflict(
                    "TOOL_NAME_EXISTS",
                    format!("The tenant already has a tool named {}", tool.name),
                ))
            }
            Err(e) => Err(ApiError::Internal(
                anyhow::Error::new(e).context("creating a tool"),
            )),
        }
    }

    #[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
    pub async fn get(&self, tenant_id: TenantId, id: ToolId) -> ApiResult<Option<Tool>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(tenant_id), keys::tool(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("reading a tool"))?;
        Ok(output
            .item
            .map(dynamo::from_item::<ToolItem>)
            .transpose()?
            .map(|i| i.tool))
    }

    /// A transaction item that holds only while the tenant has this tool.
    pub fn exists_check(
        &self,
        tenant_id: TenantId,
        id: ToolId,
    ) -> anyhow::Result<TransactWriteItem> {
        Ok(TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(dynamo::key(keys::tenant(tenant_id), keys::tool(id))))
                    .condition_expression("attribute_exists(pk)")
                    .build()?,
            )
            .build())
    }
}
