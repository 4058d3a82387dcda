//! Dispositions live in the tenants table, in the tenant's partition (`DISPOSITION#<code>`).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use gobi_shared::dynamo;
use gobi_shared::ids::TenantId;
use serde::{Deserialize, Serialize};

use super::model::Disposition;
use crate::error::{StoreError, StoreResult};

mod keys {
    use gobi_shared::ids::TenantId;

    pub const PREFIX: &str = "DISPOSITION#";

    pub fn tenant(id: TenantId) -> String {
        format!("TENANT#{id}")
    }

    pub fn disposition(code: &str) -> String {
        format!("{PREFIX}{code}")
    }
}

#[derive(Serialize, Deserialize)]
struct DispositionItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    disposition: Disposition,
}

pub fn disposition_not_found(code: &str) -> StoreError {
    StoreError::not_found(
        "DISPOSITION_NOT_FOUND",
        format!("Disposition {code} not found"),
    )
}

#[derive(Clone, Debug)]
pub struct DispositionStore {
    client: Client,
    table: String,
}

impl DispositionStore {
    /// On the tenants table.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn item(
        disposition: &Disposition,
    ) -> anyhow::Result<std::collections::HashMap<String, AttributeValue>> {
        dynamo::to_item(&DispositionItem {
            pk: keys::tenant(disposition.tenant_id),
            sk: keys::disposition(&disposition.code),
            disposition: disposition.clone(),
        })
    }

    /// Adds a disposition; its code must be new to the tenant (`DISPOSITION_EXISTS`).
    pub async fn create(&self, disposition: &Disposition) -> StoreResult<()> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(disposition)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) if dynamo::is_condition_failed(&e) => Err(StoreError::conflict(
                "DISPOSITION_EXISTS",
                format!("The tenant has a disposition {} already", disposition.code),
            )),
            Err(e) => Err(StoreError::Dynamo(
                anyhow::Error::new(e).context("creating a disposition"),
            )),
        }
    }

    /// Replaces an existing disposition (`DISPOSITION_NOT_FOUND` when it is gone).
    pub async fn save(&self, disposition: &Disposition) -> StoreResult<()> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(disposition)?))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) if dynamo::is_condition_failed(&e) => {
                Err(disposition_not_found(&disposition.code))
            }
            Err(e) => Err(StoreError::Dynamo(
                anyhow::Error::new(e).context("saving a disposition"),
            )),
        }
    }

    pub async fn get(&self, tenant: TenantId, code: &str) -> StoreResult<Option<Disposition>> {
        let item = dynamo::read_item(
            &self.client,
            &self.table,
            keys::tenant(tenant),
            keys::disposition(code),
            "reading a disposition",
        )
        .await?;
        Ok(item
            .map(dynamo::from_item::<DispositionItem>)
            .transpose()?
            .map(|i| i.disposition))
    }

    /// Every disposition of the tenant, by code (at most `MAX_DISPOSITIONS`, one Query).
    pub async fn list(&self, tenant: TenantId) -> StoreResult<Vec<Disposition>> {
        let items = dynamo::query_prefix(
            &self.client,
            &self.table,
            keys::tenant(tenant),
            keys::PREFIX.to_owned(),
            "listing dispositions",
        )
        .await?;
        items
            .into_iter()
            .map(|item| Ok(dynamo::from_item::<DispositionItem>(item)?.disposition))
            .collect()
    }

    /// Removes a disposition; calls that carry it keep their copy.
    pub async fn delete(&self, tenant: TenantId, code: &str) -> StoreResult<()> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(tenant),
                keys::disposition(code),
            )))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e) if dynamo::is_condition_failed(&e) => Err(disposition_not_found(code)),
            Err(e) => Err(StoreError::Dynamo(
                anyhow::Error::new(e).context("deleting a disposition"),
            )),
        }
    }
}
