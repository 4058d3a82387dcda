//! The tools table: tools and their name markers.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use gobi_shared::dynamo::{self, Backoff};
use gobi_shared::ids::{TenantId, ToolId};

use super::keys;
use super::model::Tool;

#[derive(Serialize, Deserialize)]
struct ToolItem {
    pk: String,
    sk: String,
    /// `TOOL#<id>`: a tool by id alone.
    gsi1pk: String,
    gsi1sk: String,
    #[serde(flatten)]
    tool: Tool,
}

impl ToolItem {
    fn new(tool: &Tool) -> Self {
        Self {
            pk: keys::tenant(tool.tenant_id),
            sk: keys::tool(tool.id),
            gsi1pk: keys::tool(tool.id),
            gsi1sk: "TOOL".into(),
            tool: tool.clone(),
        }
    }
}

#[derive(Serialize, Deserialize)]
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
    pub async fn create(&self, tool: &Tool) -> StoreResult<()> {
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
        let item = ToolItem::new(tool);
        let marker = NameMarker {
            pk: keys::tenant(tool.tenant_id),
            sk: keys::name(&tool.name),
            tool_id: tool.id,
        };
        let items = vec![
            put(dynamo::to_item(&item)?, "tool")?,
            put(dynamo::to_item(&marker)?, "name")?,
        ];
        if dynamo::transact_guarded(&self.client, items, 1, "creating a tool").await? {
            Ok(())
        } else {
            Err(StoreError::conflict(
                "TOOL_NAME_EXISTS",
                format!("The tenant already has a tool named {}", tool.name),
            ))
        }
    }

    #[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
    pub async fn get(&self, tenant_id: TenantId, id: ToolId) -> StoreResult<Option<Tool>> {
        let output = dynamo::read_item(
            &self.client,
            &self.table,
            keys::tenant(tenant_id),
            keys::tool(id),
            "reading a tool",
        )
        .await?;
        Ok(output
            .map(dynamo::from_item::<ToolItem>)
            .transpose()?
            .map(|i| i.tool))
    }

    /// The tenant of a tool known by id alone (keys-only index).
    pub async fn tenant_of(&self, id: ToolId) -> StoreResult<Option<TenantId>> {
        Ok(
            dynamo::tenant_by_id(&self.client, &self.table, keys::tool(id))
                .await
                .map_err(|e| e.context("finding a tool"))?,
        )
    }

    /// Every tool of a tenant (few; callers page in memory).
    pub async fn list(&self, tenant_id: TenantId) -> StoreResult<Vec<Tool>> {
        let items = dynamo::query_prefix(
            &self.client,
            &self.table,
            keys::tenant(tenant_id),
            "TOOL#".into(),
            "listing tools",
        )
        .await?;
        let mut tools = items
            .into_iter()
            .map(|item| dynamo::from_item::<ToolItem>(item).map(|i| i.tool))
            .collect::<anyhow::Result<Vec<_>>>()?;
        tools.sort_by_key(|t| t.name.to_lowercase());
        Ok(tools)
    }

    /// The tool named `name` (any case) of a tenant: the name marker, then the tool.
    pub async fn by_name(&self, tenant_id: TenantId, name: &str) -> StoreResult<Option<Tool>> {
        let output = dynamo::read_item(
            &self.client,
            &self.table,
            keys::tenant(tenant_id),
            keys::name(name),
            "reading a tool name",
        )
        .await?;
        match output.map(dynamo::from_item::<NameMarker>).transpose()? {
            Some(marker) => self.get(tenant_id, marker.tool_id).await,
            None => Ok(None),
        }
    }

    /// Replaces a tool (same name) conditional on the `updated_at` read; a renamed tool moves
    /// its name marker in the same transaction.
    pub async fn replace(&self, previous: &Tool, next: &Tool) -> StoreResult<()> {
        let item = ToolItem::new(next);
        let mut items = vec![
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(dynamo::to_item(&item)?))
                        .condition_expression("updated_at = :seen")
                        .expression_attribute_values(
                            ":seen",
                            serde_dynamo::to_attribute_value(previous.updated_at)
                                .map_err(anyhow::Error::new)?,
                        )
                        .build()
                        .map_err(anyhow::Error::new)?,
                )
                .build(),
        ];
        let renamed = previous.name.to_lowercase() != next.name.to_lowercase();
        if renamed {
            let marker = NameMarker {
                pk: keys::tenant(next.tenant_id),
                sk: keys::name(&next.name),
                tool_id: next.id,
            };
            items.push(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(dynamo::to_item(&marker)?))
                            .condition_expression("attribute_not_exists(pk)")
                            .build()
                            .map_err(anyhow::Error::new)?,
                    )
                    .build(),
            );
            items.push(
                TransactWriteItem::builder()
                    .delete(
                        aws_sdk_dynamodb::types::Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(dynamo::key(
                                keys::tenant(previous.tenant_id),
                                keys::name(&previous.name),
                            )))
                            .build()
                            .map_err(anyhow::Error::new)?,
                    )
                    .build(),
            );
        }
        match dynamo::transact(&self.client, items, Backoff::default()).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let reasons = dynamo::cancellation_reasons(&e).unwrap_or_default();
                if renamed && dynamo::item_condition_failed(&reasons, 1) {
                    return Err(StoreError::conflict(
                        "TOOL_NAME_EXISTS",
                        format!("The tenant already has a tool named {}", next.name),
                    ));
                }
                if dynamo::item_condition_failed(&reasons, 0) {
                    return Err(StoreError::conflict(
                        "CONCURRENT_MODIFICATION",
                        "The tool changed meanwhile; read it again and retry",
                    ));
                }
                Err(StoreError::Dynamo(
                    anyhow::Error::new(e).context("updating a tool"),
                ))
            }
        }
    }

    /// A transaction item that holds only while the tenant has this tool.
    pub fn exists_check(
        &self,
        tenant_id: TenantId,
        id: ToolId,
    ) -> anyhow::Result<TransactWriteItem> {
        dynamo::condition_check(
            &self.table,
            dynamo::key(keys::tenant(tenant_id), keys::tool(id)),
            "attribute_exists(pk)",
            &[],
        )
    }
}
