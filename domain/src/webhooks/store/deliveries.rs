//! An endpoint's deliveries: added once per event, numbered, claimed for one attempt at a
//! time, recorded, started over on request, and found by the tick when they fall due.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use gobi_shared::dynamo::{self, s};
use gobi_shared::ids::TenantId;

use super::*;
use crate::webhooks::model::DeliveryStatus;

impl WebhookStore {
    pub(super) fn delivery_item(
        delivery: &Delivery,
        due: Option<DateTime<Utc>>,
        lease_ms: Option<i64>,
    ) -> anyhow::Result<HashMap<String, AttributeValue>> {
        dynamo::to_item(&DeliveryItem {
            pk: endpoint_key(delivery.endpoint_id),
            sk: delivery_key(delivery.id),
            duepk: due.map(|_| DUE.to_owned()),
            duesk: due.map(|at| {
                dynamo::due_key(
                    at,
                    format!(
                        "{}#{}#{}",
                        delivery.tenant_id, delivery.endpoint_id, delivery.id
                    ),
                )
            }),
            lease_ms,
            expires_at: (delivery.created_at + chrono::Duration::days(DELIVERY_DAYS)).timestamp(),
            delivery: delivery.clone(),
        })
    }

    /// Saves a new delivery, due now; `false` when it exists (the event was fanned out before).
    pub async fn add_delivery(&self, delivery: &Delivery) -> StoreResult<bool> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::delivery_item(
                delivery,
                Some(delivery.created_at),
                None,
            )?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if dynamo::is_condition_failed(&e) => Ok(false),
            Err(e) => Err(anyhow::Error::new(e).context("adding a delivery").into()),
        }
    }

    /// Numbers a delivery that has no number yet.
    pub async fn set_sequence(
        &self,
        endpoint: uuid::Uuid,
        delivery: uuid::Uuid,
        sequence: u64,
    ) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                endpoint_key(endpoint),
                delivery_key(delivery),
            )))
            .update_expression("SET #sequence = :n")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#sequence)")
            .expression_attribute_names("#sequence", "sequence")
            .expression_attribute_values(":n", AttributeValue::N(sequence.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if dynamo::is_condition_failed(&e) => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context("numbering a delivery").into()),
        }
    }

    pub async fn delivery(
        &self,
        endpoint: uuid::Uuid,
        id: uuid::Uuid,
    ) -> StoreResult<Option<Delivery>> {
        let item = dynamo::read_item(
            &self.client,
            &self.table,
            endpoint_key(endpoint),
            delivery_key(id),
            "reading a delivery",
        )
        .await?;
        Ok(item
            .map(dynamo::from_item::<DeliveryItem>)
            .transpose()?
            .map(|i| i.delivery))
    }

    /// A page of the endpoint's deliveries, newest first, and the cursor of the next.
    pub async fn deliveries(
        &self,
        endpoint: uuid::Uuid,
        after: Option<&str>,
        limit: i32,
    ) -> StoreResult<(Vec<Delivery>, Option<String>)> {
        let start = match after {
            Some(cursor) => Some(dynamo::key(
                endpoint_key(endpoint),
                dynamo::cursor_sort_key(cursor, "DELIVERY#", 64)
                    .ok_or_else(StoreError::invalid_cursor)?,
            )),
            None => None,
        };
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(endpoint_key(endpoint)))
            .expression_attribute_values(":prefix", s("DELIVERY#"))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("listing deliveries"))?;
        let next = dynamo::next_cursor(output.last_evaluated_key.as_ref());
        let deliveries = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| Ok(dynamo::from_item::<DeliveryItem>(item)?.delivery))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((deliveries, next))
    }

    /// Claims a due delivery for one attempt until `lease_until`: one that is pending and due,
    /// or whose earlier claim lapsed. `None` when another attempt has it or it is done.
    pub async fn claim(
        &self,
        tenant: TenantId,
        endpoint: uuid::Uuid,
        id: uuid::Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Claimed>> {
        let lease_ms = lease_until.timestamp_millis();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(endpoint_key(endpoint), delivery_key(id))))
            .update_expression(
                "SET #status = :delivering, lease_ms = :lease, duesk = :duesk, duepk = :due",
            )
            .condition_expression(
                "attribute_exists(pk) AND ((#status = :pending AND duesk <= :now_key) \
                 OR (#status = :delivering AND lease_ms < :now_ms))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":delivering", status(DeliveryStatus::Delivering)?)
            .expression_attribute_values(":pending", status(DeliveryStatus::Pending)?)
            .expression_attribute_values(":lease", AttributeValue::N(lease_ms.to_string()))
            .expression_attribute_values(":due", s(DUE))
            .expression_attribute_values(
                ":duesk",
                s(dynamo::due_key(
                    lease_until,
                    format!("{tenant}#{endpoint}#{id}"),
                )),
            )
            .expression_attribute_values(
                ":now_key",
                // Every due key at `now` sorts before this one.
                s(format!("{}~", dynamo::due_cutoff(now))),
            )
            .expression_attribute_values(
                ":now_ms",
                AttributeValue::N(now.timestamp_millis().to_string()),
            )
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => {
                let item: DeliveryItem = dynamo::from_item(output.attributes.unwrap_or_default())?;
                Ok(Some(Claimed {
                    delivery: item.delivery,
                    lease_ms,
                }))
            }
            Err(e) if dynamo::is_condition_failed(&e) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context("claiming a delivery").into()),
        }
    }

    /// Writes the delivery after its attempt, on the condition that the claim is still ours;
    /// due again at `due` when a retry is scheduled. `false` when the claim was lost.
    pub async fn finish_attempt(
        &self,
        claimed: &Claimed,
        delivery: &Delivery,
        due: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::delivery_item(delivery, due, None)?))
            .condition_expression("#status = :delivering AND lease_ms = :lease")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":delivering", status(DeliveryStatus::Delivering)?)
            .expression_attribute_values(":lease", AttributeValue::N(claimed.lease_ms.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if dynamo::is_condition_failed(&e) => Ok(false),
            Err(e) => Err(anyhow::Error::new(e).context("recording an attempt").into()),
        }
    }

    /// Starts a delivery over (due now, the retry schedule from its start), unless an attempt
    /// is under way. The delivery as it now is, or `None` when an attempt is running.
    pub async fn redeliver(
        &self,
        endpoint: uuid::Uuid,
        id: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Delivery>> {
        let Some(mut delivery) = self.delivery(endpoint, id).await? else {
            return Err(delivery_not_found(id));
        };
        if delivery.status == DeliveryStatus::Delivering {
            return Ok(None);
        }
        let was = delivery.status;
        delivery.status = DeliveryStatus::Pending;
        delivery.round = 0;
        delivery.next_attempt_at = Some(now);
        delivery.updated_at = now;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::delivery_item(&delivery, Some(now), None)?))
            .condition_expression("#status = :was")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":was", status(was)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(delivery)),
            Err(e) if dynamo::is_condition_failed(&e) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context("redelivering").into()),
        }
    }

    /// Deliveries due by `now` (retries, and attempts whose claim lapsed), at most `limit`.
    pub async fn due(&self, now: DateTime<Utc>, limit: i32) -> StoreResult<Vec<DueDelivery>> {
        // One page: a backlog is worked off `limit` a tick.
        let items =
            dynamo::due_before(&self.client, &self.table, DUE_INDEX, DUE, now, Some(limit)).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let key = item.get("duesk")?.as_s().ok()?;
                let mut parts = key.splitn(4, '#').skip(1);
                Some(DueDelivery {
                    tenant: parts.next()?.parse().ok()?,
                    endpoint: parts.next()?.parse().ok()?,
                    delivery: parts.next()?.parse().ok()?,
                })
            })
            .collect())
    }
}

fn status(status: DeliveryStatus) -> anyhow::Result<AttributeValue> {
    Ok(serde_dynamo::to_attribute_value(status)?)
}
