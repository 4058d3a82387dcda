//! Deleting a lead list: marked at once (gone for the API, closed to imports and new leads),
//! then its partition emptied in the background (the `lead-import` worker, a bounded number of
//! items per message) and its own record removed last. A running campaign holds the list
//! (`campaigns`, a string set on the list's record) and the mark is refused while it does.

use super::*;
use crate::leads::model::LeadImport;

pub fn list_in_use(id: uuid::Uuid) -> StoreError {
    StoreError::conflict(
        "LEAD_LIST_IN_USE",
        format!("Lead list {id} is used by a running campaign; pause or finish it first"),
    )
}

/// What one round of a list's deletion removed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deleted {
    /// Items removed this round (leads, import records and their bookkeeping).
    pub items: usize,
    /// The import records removed: their files in the bucket go with them.
    pub imports: Vec<LeadImport>,
    /// The partition is empty and the list's record removed.
    pub finished: bool,
}

impl LeadStore {
    /// Marks a list deleted, unless a running campaign holds it (`LEAD_LIST_IN_USE`).
    pub async fn begin_delete(
        &self,
        tenant: TenantId,
        list: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(tenant), keys::list(list))))
            .update_expression("SET deletingAt = :now")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(deletingAt) \
                 AND attribute_not_exists(campaigns)",
            )
            .expression_attribute_values(":now", dynamo::time(now)?)
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(e) if dynamo::is_condition_failed(&e) => {
                let old = e.as_service_error().and_then(|s| match s {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => c.item.clone(),
                    _ => None,
                });
                match old {
                    Some(item)
                        if !item.contains_key("deletingAt") && item.contains_key("campaigns") =>
                    {
                        Err(list_in_use(list))
                    }
                    _ => Err(list_not_found(list)),
                }
            }
            Err(e) => Err(anyhow::Error::new(e).context("deleting a lead list").into()),
        }
    }

    /// Takes the deletion mark off again (the job that would empty the list could not be
    /// queued).
    pub async fn undo_delete(&self, tenant: TenantId, list: uuid::Uuid) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(tenant), keys::list(list))))
            .update_expression("REMOVE deletingAt")
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("restoring a lead list"))?;
        Ok(())
    }

    /// A running campaign takes hold of a list: it cannot be deleted until released. Taking
    /// hold again is harmless; a list being deleted answers `LEAD_LIST_NOT_FOUND`.
    pub async fn hold_list(
        &self,
        tenant: TenantId,
        list: uuid::Uuid,
        campaign: uuid::Uuid,
    ) -> StoreResult<()> {
        self.change_holders(
            tenant,
            list,
            campaign,
            "ADD",
            "attribute_not_exists(deletingAt)",
        )
        .await
    }

    /// The campaign lets go of the list (again: harmless).
    pub async fn release_list(
        &self,
        tenant: TenantId,
        list: uuid::Uuid,
        campaign: uuid::Uuid,
    ) -> StoreResult<()> {
        match self
            .change_holders(tenant, list, campaign, "DELETE", "attribute_exists(pk)")
            .await
        {
            Err(StoreError::NotFound { .. }) => Ok(()),
            done => done,
        }
    }

    /// `ADD`s `campaign` to the list's holders or `DELETE`s it, while `condition` holds.
    async fn change_holders(
        &self,
        tenant: TenantId,
        list: uuid::Uuid,
        campaign: uuid::Uuid,
        action: &str,
        condition: &str,
    ) -> StoreResult<()> {
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(tenant), keys::list(list))))
            .update_expression(format!("{action} campaigns :c"))
            .condition_expression(format!("attribute_exists(pk) AND {condition}"))
            .expression_attribute_values(":c", AttributeValue::Ss(vec![campaign.to_string()]))
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(e) if dynamo::is_condition_failed(&e) => Err(list_not_found(list)),
            Err(e) => Err(anyhow::Error::new(e)
                .context("changing who holds a lead list")
                .into()),
        }
    }

    /// One round of a marked list's deletion: up to `max_items` of its items, then, once the
    /// partition is empty, the list's record. A list that is not marked is left alone (answered
    /// as finished: there is nothing this job may delete).
    pub async fn delete_list_items(
        &self,
        tenant: TenantId,
        list: uuid::Uuid,
        max_items: usize,
    ) -> StoreResult<Deleted> {
        let record = dynamo::read_item(
            &self.client,
            &self.table,
            keys::tenant(tenant),
            keys::list(list),
            "reading a lead list",
        )
        .await?;
        if !record.is_some_and(|item| item.contains_key("deletingAt")) {
            return Ok(Deleted {
                finished: true,
                ..Deleted::default()
            });
        }
        let mut deleted = Deleted::default();
        let mut start = None;
        loop {
            let room = max_items.saturating_sub(deleted.items);
            if room == 0 {
                return Ok(deleted);
            }
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(keys::list(list)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .limit(i32::try_from(room.min(500)).unwrap_or(500))
                .send()
                .await
                .map_err(|e| anyhow::Error::new(e).context("reading a list's items"))?;
            let items = output.items.unwrap_or_default();
            let mut doomed = Vec::with_capacity(items.len());
            for item in items {
                let is_import = item.contains_key("state")
                    && item
                        .get("sk")
                        .and_then(|v| v.as_s().ok())
                        .is_some_and(|sk| sk.starts_with("IMPORT#") && !sk.contains("#REFUSED#"));
                let (Some(pk), Some(sk)) = (item.get("pk").cloned(), item.get("sk").cloned())
                else {
                    continue;
                };
                if is_import {
                    deleted.imports.push(dynamo::from_item::<LeadImport>(item)?);
                }
                doomed.push(HashMap::from([
                    ("pk".to_owned(), pk),
                    ("sk".to_owned(), sk),
                ]));
            }
            deleted.items += doomed.len();
            dynamo::delete_keys(&self.client, &self.table, doomed).await?;
            start = output.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                break;
            }
        }
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(tenant), keys::list(list))))
            .condition_expression("attribute_exists(deletingAt)")
            .send()
            .await
            .map(|_| ())
            .or_else(|e| {
                // Removed already, by an earlier delivery of the same job.
                if dynamo::is_condition_failed(&e) {
                    Ok(())
                } else {
                    Err(anyhow::Error::new(e).context("removing a lead list"))
                }
            })?;
        deleted.finished = true;
        Ok(deleted)
    }
}
