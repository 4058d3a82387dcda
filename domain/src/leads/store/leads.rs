//! One lead at a time: added, changed or removed by the API, with the list's counts kept in the
//! same transaction.

use super::*;

/// The list's counts a lead in `state` makes up: (total, valid, suppressed).
fn share(state: LeadState, sign: i64) -> (i64, i64, i64) {
    match state {
        LeadState::Valid => (sign, sign, 0),
        LeadState::Suppressed => (sign, 0, sign),
    }
}

impl LeadStore {
    /// Adds a lead the list does not have (`LEAD_EXISTS` when it does).
    pub async fn add_lead(&self, list: &LeadList, lead: &Lead) -> StoreResult<()> {
        let item = LeadItem {
            pk: keys::list(list.id),
            sk: keys::lead(&lead.phone_number),
            lead: lead.clone(),
        };
        let writes = vec![
            self.put(dynamo::to_item(&item)?, "attribute_not_exists(pk)")?,
            self.count_update(list, share(lead.state, 1))?,
        ];
        if dynamo::transact_guarded(&self.client, writes, 0, "adding a lead").await? {
            Ok(())
        } else {
            Err(StoreError::conflict(
                "LEAD_EXISTS",
                format!("The list already has {}", lead.phone_number),
            ))
        }
    }

    /// Replaces a lead's fields, if it is still as read (`updated_at`).
    pub async fn save_lead(&self, lead: &Lead, read_at: DateTime<Utc>) -> StoreResult<()> {
        let item = LeadItem {
            pk: keys::list(lead.list_id),
            sk: keys::lead(&lead.phone_number),
            lead: lead.clone(),
        };
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&item)?))
            .condition_expression("updatedAt = :read")
            .expression_attribute_values(":read", dynamo::time(read_at)?)
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(e) if dynamo::is_condition_failed(&e) => Err(StoreError::concurrent(
                "The lead changed meanwhile; read it again and retry",
            )),
            Err(e) => Err(anyhow::Error::new(e).context("saving a lead").into()),
        }
    }

    /// Removes a lead as read, and its share of the list's counts.
    pub async fn remove_lead(&self, list: &LeadList, lead: &Lead) -> StoreResult<()> {
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::list(list.id),
                keys::lead(&lead.phone_number),
            )))
            .condition_expression("updatedAt = :read")
            .expression_attribute_values(":read", dynamo::time(lead.updated_at)?)
            .build()
            .map_err(anyhow::Error::new)?;
        let writes = vec![
            TransactWriteItem::builder().delete(delete).build(),
            self.count_update(list, share(lead.state, -1))?,
        ];
        if dynamo::transact_guarded(&self.client, writes, 0, "removing a lead").await? {
            Ok(())
        } else {
            Err(StoreError::concurrent(
                "The lead changed meanwhile; read it again and retry",
            ))
        }
    }
}
