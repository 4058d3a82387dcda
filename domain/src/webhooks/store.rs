//! The webhooks table: a tenant's endpoints under `TENANT#<id>` / `ENDPOINT#<id>` (with the
//! sealed signing secret and the delivery counter), and each endpoint's deliveries under
//! `ENDPOINT#<id>` / `DELIVERY#<event id>` (v7 ids, so newest last). A delivery waiting for an
//! attempt, or under one (`deliveries.rs`), sits in the sparse `due` index (`duepk` = `DUE`) at the time it is
//! next due (the attempt's lease while one runs), so the scheduler's tick finds retries and
//! attempts that were lost without a Scan.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use gobi_shared::dynamo::{self, s};
use gobi_shared::ids::TenantId;
use serde::{Deserialize, Serialize};

use super::model::{Delivery, Endpoint};
use crate::error::{StoreError, StoreResult};

mod deliveries;

pub(super) const DUE: &str = "DUE";
pub(super) const DUE_INDEX: &str = "due";
/// Deliveries expire this long after they are made.
pub(super) const DELIVERY_DAYS: i64 = 30;

pub(super) fn tenant_key(id: TenantId) -> String {
    format!("TENANT#{id}")
}

pub(super) fn endpoint_key(id: uuid::Uuid) -> String {
    format!("ENDPOINT#{id}")
}

pub(super) fn delivery_key(id: uuid::Uuid) -> String {
    format!("DELIVERY#{id}")
}

pub fn endpoint_not_found(id: uuid::Uuid) -> StoreError {
    StoreError::not_found(
        "WEBHOOK_NOT_FOUND",
        format!("Webhook endpoint {id} not found"),
    )
}

pub fn delivery_not_found(id: uuid::Uuid) -> StoreError {
    StoreError::not_found("DELIVERY_NOT_FOUND", format!("Delivery {id} not found"))
}

#[derive(Serialize, Deserialize)]
struct EndpointItem {
    pk: String,
    sk: String,
    /// KMS ciphertext of the signing secret (`whsec_…`).
    sealed_secret: String,
    #[serde(flatten)]
    endpoint: Endpoint,
}

#[derive(Serialize, Deserialize)]
pub(super) struct DeliveryItem {
    pub(super) pk: String,
    pub(super) sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duepk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duesk: Option<String>,
    /// While an attempt runs: when its claim lapses (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease_ms: Option<i64>,
    /// DynamoDB TTL (epoch seconds).
    #[serde(rename = "expiresAt")]
    expires_at: i64,
    #[serde(flatten)]
    pub(super) delivery: Delivery,
}

/// A delivery the tick found due: where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueDelivery {
    pub tenant: TenantId,
    pub endpoint: uuid::Uuid,
    pub delivery: uuid::Uuid,
}

/// A delivery claimed for one attempt (the claim's lease identifies it).
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery: Delivery,
    pub lease_ms: i64,
}

#[derive(Clone, Debug)]
pub struct WebhookStore {
    pub(super) client: Client,
    pub(super) table: String,
}

impl WebhookStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Saves a new endpoint with its sealed secret.
    pub async fn create_endpoint(&self, endpoint: &Endpoint, sealed: &str) -> StoreResult<()> {
        let item = EndpointItem {
            pk: tenant_key(endpoint.tenant_id),
            sk: endpoint_key(endpoint.id),
            sealed_secret: sealed.to_owned(),
            endpoint: endpoint.clone(),
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("creating a webhook endpoint"))?;
        Ok(())
    }

    /// The endpoint and its sealed secret.
    pub async fn endpoint(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
    ) -> StoreResult<Option<(Endpoint, String)>> {
        let item = dynamo::read_item(
            &self.client,
            &self.table,
            tenant_key(tenant),
            endpoint_key(id),
            "reading a webhook endpoint",
        )
        .await?;
        Ok(item
            .map(dynamo::from_item::<EndpointItem>)
            .transpose()?
            .map(|i| (i.endpoint, i.sealed_secret)))
    }

    /// Every endpoint of the tenant (at most [`super::model::MAX_ENDPOINTS`]).
    pub async fn endpoints(&self, tenant: TenantId) -> StoreResult<Vec<Endpoint>> {
        let items = dynamo::query_prefix(
            &self.client,
            &self.table,
            tenant_key(tenant),
            "ENDPOINT#".into(),
            "listing webhook endpoints",
        )
        .await?;
        items
            .into_iter()
            .map(|item| Ok(dynamo::from_item::<EndpointItem>(item)?.endpoint))
            .collect()
    }

    /// Writes the endpoint's settings (URL, events, active, description, disabled reason), on
    /// the condition that it exists.
    pub async fn save_endpoint(&self, endpoint: &Endpoint) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                tenant_key(endpoint.tenant_id),
                endpoint_key(endpoint.id),
            )))
            .update_expression(
                "SET #url = :url, eventTypes = :types, active = :active, description = :description, \
                 disabledReason = :reason, failingSince = :failing, updatedAt = :now",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#url", "url")
            .expression_attribute_values(":url", s(&endpoint.url))
            .expression_attribute_values(
                ":types",
                serde_dynamo::to_attribute_value(&endpoint.event_types)
                    .map_err(anyhow::Error::new)?,
            )
            .expression_attribute_values(":active", AttributeValue::Bool(endpoint.active))
            .expression_attribute_values(
                ":description",
                serde_dynamo::to_attribute_value(&endpoint.description)
                    .map_err(anyhow::Error::new)?,
            )
            .expression_attribute_values(
                ":reason",
                serde_dynamo::to_attribute_value(&endpoint.disabled_reason)
                    .map_err(anyhow::Error::new)?,
            )
            .expression_attribute_values(
                ":failing",
                serde_dynamo::to_attribute_value(endpoint.failing_since)
                    .map_err(anyhow::Error::new)?,
            )
            .expression_attribute_values(":now", dynamo::time(endpoint.updated_at)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if dynamo::is_condition_failed(&e) => Err(endpoint_not_found(endpoint.id)),
            Err(e) => Err(anyhow::Error::new(e)
                .context("saving a webhook endpoint")
                .into()),
        }
    }

    /// Replaces the signing secret.
    pub async fn set_secret(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
        sealed: &str,
        hint: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(tenant_key(tenant), endpoint_key(id))))
            .update_expression("SET sealed_secret = :sealed, secretHint = :hint, updatedAt = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":sealed", s(sealed))
            .expression_attribute_values(":hint", s(hint))
            .expression_attribute_values(":now", dynamo::time(now)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if dynamo::is_condition_failed(&e) => Err(endpoint_not_found(id)),
            Err(e) => Err(anyhow::Error::new(e).context("rotating a secret").into()),
        }
    }

    pub async fn delete_endpoint(&self, tenant: TenantId, id: uuid::Uuid) -> StoreResult<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(tenant_key(tenant), endpoint_key(id))))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if dynamo::is_condition_failed(&e) => Err(endpoint_not_found(id)),
            Err(e) => Err(anyhow::Error::new(e)
                .context("deleting a webhook endpoint")
                .into()),
        }
    }

    /// The endpoint's next delivery number (an atomic counter on the endpoint); `None` when the
    /// endpoint is gone.
    pub async fn next_sequence(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
    ) -> StoreResult<Option<u64>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(tenant_key(tenant), endpoint_key(id))))
            .update_expression("ADD deliveries :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(e) if dynamo::is_condition_failed(&e) => return Ok(None),
            Err(e) => {
                return Err(anyhow::Error::new(e).context("numbering a delivery").into());
            }
        };
        output
            .attributes
            .and_then(|a| a.get("deliveries").cloned())
            .and_then(|v| v.as_n().ok().and_then(|n| n.parse().ok()))
            .map(Some)
            .ok_or_else(|| StoreError::Dynamo(anyhow::anyhow!("no delivery number came back")))
    }

    /// Notes a failed delivery on its endpoint: when it began failing (kept from the first).
    pub async fn endpoint_failed(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        // The first failure since a success sets it (absent or null until then).
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(tenant_key(tenant), endpoint_key(id))))
            .update_expression("SET failingSince = :now")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(failingSince) \
                 OR attribute_type(failingSince, :null))",
            )
            .expression_attribute_values(":now", dynamo::time(now)?)
            .expression_attribute_values(":null", s("NULL"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(now)),
            Err(e) if dynamo::is_condition_failed(&e) => Ok(self
                .endpoint(tenant, id)
                .await?
                .and_then(|(endpoint, _)| endpoint.failing_since)),
            Err(e) => Err(anyhow::Error::new(e).context("noting a failure").into()),
        }
    }

    /// Notes a successful delivery: the endpoint is no longer failing.
    pub async fn endpoint_succeeded(&self, tenant: TenantId, id: uuid::Uuid) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(tenant_key(tenant), endpoint_key(id))))
            .update_expression("SET failingSince = :none")
            .condition_expression("attribute_exists(pk) AND attribute_type(failingSince, :string)")
            .expression_attribute_values(":none", AttributeValue::Null(true))
            .expression_attribute_values(":string", s("S"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if dynamo::is_condition_failed(&e) => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context("noting a success").into()),
        }
    }

    /// Disables an active endpoint, saying why; `false` when it was not active.
    pub async fn disable(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(tenant_key(tenant), endpoint_key(id))))
            .update_expression("SET active = :off, disabledReason = :reason, updatedAt = :now")
            .condition_expression("active = :on")
            .expression_attribute_values(":off", AttributeValue::Bool(false))
            .expression_attribute_values(":on", AttributeValue::Bool(true))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":now", dynamo::time(now)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if dynamo::is_condition_failed(&e) => Ok(false),
            Err(e) => Err(anyhow::Error::new(e)
                .context("disabling an endpoint")
                .into()),
        }
    }
}
