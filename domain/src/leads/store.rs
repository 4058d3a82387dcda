//! The leads table: lists under their tenant, leads under their list keyed by number (so a list
//! holds each number once), and the tenant's do-not-call list.
//!
//! An import writes a batch of rows in one transaction with the import's progress and the list's
//! counters: the progress condition (`committedLine` still what the worker read) makes a
//! redelivered or repeated batch change nothing, and a batch is either wholly counted or not.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use gobi_shared::dynamo::{self, Backoff, n};
use gobi_shared::ids::TenantId;
use serde::{Deserialize, Serialize};

use super::import::{Candidate, Counters, Outcome};
use super::model::{Lead, LeadList, LeadState, Suppression, SuppressionReason};
use crate::error::{StoreError, StoreResult};

/// Rows one import transaction writes (DynamoDB takes 100 items; three are the progress, the
/// list's counters and the rows the batch refused).
pub const BATCH: usize = 97;

mod batch;
mod deletion;
mod imports;
mod leads;
mod suppressions;

pub use batch::{BatchCommit, BatchRows, ImportScope, OnDuplicate, Progress, Writing};
pub use deletion::{Deleted, list_in_use};
pub use imports::import_not_found;

/// Key formats of the leads table.
pub mod keys {
    use gobi_shared::ids::TenantId;

    pub fn tenant(id: TenantId) -> String {
        format!("TENANT#{id}")
    }

    pub fn list(id: uuid::Uuid) -> String {
        format!("LIST#{id}")
    }

    pub fn lead(e164: &str) -> String {
        format!("LEAD#{e164}")
    }

    pub fn suppression(e164: &str) -> String {
        format!("DNC#{e164}")
    }

    pub fn import(id: uuid::Uuid) -> String {
        format!("IMPORT#{id}")
    }

    /// The rows one committed batch of an import refused (its last line, zero-padded so they
    /// sort in file order).
    pub fn refusals(import: uuid::Uuid, through_line: u64) -> String {
        format!("{}{through_line:012}", refusals_prefix(import))
    }

    pub fn refusals_prefix(import: uuid::Uuid) -> String {
        format!("IMPORT#{import}#REFUSED#")
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct ListItem {
    pub(crate) pk: String,
    pub(crate) sk: String,
    #[serde(flatten)]
    pub(crate) list: LeadList,
    /// Set when the list's deletion began: it is gone for the API from then on.
    #[serde(
        default,
        rename = "deletingAt",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) deleting_at: Option<DateTime<Utc>>,
}

impl ListItem {
    /// The list, unless it is being deleted.
    fn live(self) -> Option<LeadList> {
        self.deleting_at.is_none().then_some(self.list)
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct LeadItem {
    pub(crate) pk: String,
    pub(crate) sk: String,
    #[serde(flatten)]
    pub(crate) lead: Lead,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct SuppressionItem {
    pub(crate) pk: String,
    pub(crate) sk: String,
    #[serde(flatten)]
    pub(crate) suppression: Suppression,
}

pub fn list_not_found(id: uuid::Uuid) -> StoreError {
    StoreError::not_found("LEAD_LIST_NOT_FOUND", format!("Lead list {id} not found"))
}

#[derive(Clone, Debug)]
pub struct LeadStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

impl LeadStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub(crate) fn put(
        &self,
        item: HashMap<String, AttributeValue>,
        condition: &str,
    ) -> anyhow::Result<TransactWriteItem> {
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression(condition)
                    .build()?,
            )
            .build())
    }

    pub async fn create_list(&self, list: &LeadList) -> StoreResult<()> {
        let item = ListItem {
            pk: keys::tenant(list.tenant_id),
            sk: keys::list(list.id),
            list: list.clone(),
            deleting_at: None,
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("creating a lead list"))?;
        Ok(())
    }

    pub async fn list(&self, tenant: TenantId, id: uuid::Uuid) -> StoreResult<Option<LeadList>> {
        let item = dynamo::read_item(
            &self.client,
            &self.table,
            keys::tenant(tenant),
            keys::list(id),
            "reading a lead list",
        )
        .await?;
        Ok(item
            .map(dynamo::from_item::<ListItem>)
            .transpose()?
            .and_then(ListItem::live))
    }

    pub async fn lists(&self, tenant: TenantId) -> StoreResult<Vec<LeadList>> {
        let items = dynamo::query_prefix(
            &self.client,
            &self.table,
            keys::tenant(tenant),
            "LIST#".into(),
            "listing lead lists",
        )
        .await?;
        Ok(items
            .into_iter()
            .map(dynamo::from_item::<ListItem>)
            .collect::<anyhow::Result<Vec<_>>>()?
            .into_iter()
            .filter_map(ListItem::live)
            .collect())
    }

    pub async fn lead(&self, list: uuid::Uuid, e164: &str) -> StoreResult<Option<Lead>> {
        let item = dynamo::read_item(
            &self.client,
            &self.table,
            keys::list(list),
            keys::lead(e164),
            "reading a lead",
        )
        .await?;
        Ok(item
            .map(dynamo::from_item::<LeadItem>)
            .transpose()?
            .map(|i| i.lead))
    }

    /// One page of partition `pk`'s items whose sort key starts with `prefix`, in key order.
    pub(crate) async fn page<T: serde::de::DeserializeOwned>(
        &self,
        pk: String,
        prefix: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> StoreResult<(Vec<T>, Option<String>)> {
        crate::paging::page(&self.client, &self.table, pk, prefix, limit, cursor).await
    }

    /// A list's leads that `keep` accepts, in number order: pages are read until `limit` match
    /// or `max_examined` leads were looked at, so a filtered page is full unless the list ends
    /// or the bound is reached (then the cursor continues after the last lead examined).
    pub async fn matching_leads(
        &self,
        list: uuid::Uuid,
        limit: u32,
        cursor: Option<&str>,
        max_examined: usize,
        keep: impl Fn(&Lead) -> bool,
    ) -> StoreResult<(Vec<Lead>, Option<String>)> {
        let pk = keys::list(list);
        let scan = crate::paging::Scan {
            pk: &pk,
            prefix: "LEAD#",
            limit,
            cursor,
            max_examined,
        };
        let (items, next) = crate::paging::matching::<LeadItem>(
            &self.client,
            &self.table,
            scan,
            |item| &item.sk,
            |item| keep(&item.lead),
        )
        .await?;
        Ok((items.into_iter().map(|i| i.lead).collect(), next))
    }

    /// Replaces a list's own fields (not its counts), if it still has `updated_at` as read.
    pub async fn save_list(&self, list: &LeadList, read_at: DateTime<Utc>) -> StoreResult<()> {
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(list.tenant_id),
                keys::list(list.id),
            )))
            .update_expression(
                "SET #name = :name, description = :description, defaultCountry = :country, \
                 timezoneColumn = :tz, phoneColumn = :phone, updatedAt = :now",
            )
            .condition_expression("updatedAt = :read AND attribute_not_exists(deletingAt)")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", AttributeValue::S(list.name.clone()))
            .expression_attribute_values(":description", optional(&list.description))
            .expression_attribute_values(":country", optional(&list.default_country))
            .expression_attribute_values(":tz", optional(&list.timezone_column))
            .expression_attribute_values(":phone", optional(&list.phone_column))
            .expression_attribute_values(":now", dynamo::time(list.updated_at)?)
            .expression_attribute_values(":read", dynamo::time(read_at)?)
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(e) if dynamo::is_condition_failed(&e) => Err(StoreError::concurrent(
                "The lead list changed meanwhile; read it again and retry",
            )),
            Err(e) => Err(anyhow::Error::new(e).context("saving a lead list").into()),
        }
    }

    /// Every lead of a list (tests and small lists; the API pages).
    pub async fn leads(&self, list: uuid::Uuid) -> StoreResult<Vec<Lead>> {
        let items = dynamo::query_prefix(
            &self.client,
            &self.table,
            keys::list(list),
            "LEAD#".into(),
            "listing leads",
        )
        .await?;
        Ok(items
            .into_iter()
            .map(|item| dynamo::from_item::<LeadItem>(item).map(|i| i.lead))
            .collect::<anyhow::Result<Vec<_>>>()?)
    }
}

fn optional(value: &Option<String>) -> AttributeValue {
    value
        .as_ref()
        .map_or(AttributeValue::Null(true), |v| AttributeValue::S(v.clone()))
}
