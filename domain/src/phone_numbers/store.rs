//! The phone numbers table: one item per number under its tenant, and the inbound route index
//! (E.164 → tenant, number, agent) that the Twilio webhook reads with one GetItem. Both are
//! always written in the same transaction, and the route item is what makes a number belong to
//! one tenant only.

use std::collections::HashMap;

use crate::error::{StoreError, StoreResult};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use gobi_shared::dynamo::{self, Backoff};
use gobi_shared::ids::{AgentId, E164, PhoneNumberId, TenantId};
use serde::{Deserialize, Serialize};

use super::context::RouteContext;
use super::model::{NumberStatus, PhoneNumber};

/// Key formats of the phone numbers table.
mod keys {
    use gobi_shared::ids::{E164, PhoneNumberId, TenantId};

    pub const NUMBER_PREFIX: &str = "PHONE#";
    pub const ROUTE: &str = "ROUTE";
    /// Beside a number's route: the inbound campaign its calls carry (while it runs).
    pub const ROUTE_CAMPAIGN: &str = "ROUTE#CAMPAIGN";
    /// Beside a number's route: what a call to it opens with (`super::super::context`).
    pub const ROUTE_CONTEXT: &str = "ROUTE#CONTEXT";

    pub fn tenant(id: TenantId) -> String {
        format!("TENANT#{id}")
    }

    pub fn number(id: PhoneNumberId) -> String {
        format!("{NUMBER_PREFIX}{id}")
    }

    pub fn route(e164: &E164) -> String {
        format!("ROUTE#{e164}")
    }
}

#[derive(Serialize, Deserialize)]
struct NumberItem {
    pk: String,
    sk: String,
    /// `PHONE#<id>`: finds a number by id alone (the internal routes have no tenant in the path).
    gsi1pk: String,
    gsi1sk: String,
    version: u64,
    #[serde(flatten)]
    number: PhoneNumber,
}

/// What the webhook needs to route a call to `e164`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundRoute {
    pub tenant_id: TenantId,
    pub phone_number_id: PhoneNumberId,
    pub agent_id: Option<AgentId>,
    pub active: bool,
    /// The running inbound campaign the number is assigned to (read with the route).
    #[serde(skip)]
    pub campaign: Option<RouteCampaign>,
    /// What a call opens with, as last written (read with the route; checked when used).
    #[serde(skip)]
    pub context: Option<RouteContext>,
}

/// A number's inbound campaign: its calls carry the campaign and go to its agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteCampaign {
    pub tenant_id: TenantId,
    pub phone_number_id: PhoneNumberId,
    pub campaign_id: uuid::Uuid,
    pub agent_id: AgentId,
}

#[derive(Serialize, Deserialize)]
struct RouteCampaignItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    campaign: RouteCampaign,
}

pub fn number_in_campaign(e164: &E164) -> StoreError {
    StoreError::conflict(
        "NUMBER_IN_CAMPAIGN",
        format!("{e164} is assigned to another running inbound campaign"),
    )
}

#[derive(Serialize, Deserialize)]
struct RouteContextItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    context: RouteContext,
}

#[derive(Serialize, Deserialize)]
struct RouteItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    route: InboundRoute,
}

/// A number with the version its next write must match.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub number: PhoneNumber,
    pub version: u64,
}

/// Where a number wanted by a tenant already is.
pub enum Claim {
    /// Reserved now, for this tenant.
    Reserved(Versioned),
    /// The tenant already has it (possibly mid-purchase).
    Ours(Versioned),
    /// Another tenant has it.
    Taken,
}

pub fn number_not_found(id: PhoneNumberId) -> StoreError {
    StoreError::not_found(
        "PHONE_NUMBER_NOT_FOUND",
        format!("Phone number {id} not found"),
    )
}

pub fn number_taken(e164: &E164) -> StoreError {
    StoreError::conflict(
        "NUMBER_ALREADY_CLAIMED",
        format!("{e164} already belongs to a tenant"),
    )
}

fn concurrent_change() -> StoreError {
    StoreError::conflict(
        "CONCURRENT_MODIFICATION",
        "The phone number changed meanwhile; read it again and retry",
    )
}

#[derive(Clone, Debug)]
pub struct PhoneNumberStore {
    client: Client,
    table: String,
}

impl PhoneNumberStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn number_item(number: &PhoneNumber, version: u64) -> NumberItem {
        NumberItem {
            pk: keys::tenant(number.tenant_id),
            sk: keys::number(number.id),
            gsi1pk: keys::number(number.id),
            gsi1sk: "PHONE".into(),
            version,
            number: number.clone(),
        }
    }

    fn route_item(number: &PhoneNumber) -> RouteItem {
        RouteItem {
            pk: keys::route(&number.e164),
            sk: keys::ROUTE.into(),
            route: InboundRoute {
                tenant_id: number.tenant_id,
                phone_number_id: number.id,
                agent_id: number.agent_id,
                active: number.is_active(),
                campaign: None,
                context: None,
            },
        }
    }

    fn put(
        &self,
        item: HashMap<String, AttributeValue>,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> anyhow::Result<TransactWriteItem> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        for (name, value) in values {
            put = put.expression_attribute_values(*name, value.clone());
        }
        Ok(TransactWriteItem::builder().put(put.build()?).build())
    }

    /// The writes that create `number` and claim its E.164: `[0]` the route, `[1]` the number.
    pub fn create_items(&self, number: &PhoneNumber) -> anyhow::Result<Vec<TransactWriteItem>> {
        Ok(vec![
            self.put(
                dynamo::to_item(&Self::route_item(number))?,
                "attribute_not_exists(pk)",
                &[],
            )?,
            self.put(
                dynamo::to_item(&Self::number_item(number, 1))?,
                "attribute_not_exists(pk)",
                &[],
            )?,
        ])
    }

    /// Claims `number.e164` for its tenant, or says who has it.
    #[tracing::instrument(skip_all, fields(tenant_id = %number.tenant_id))]
    pub async fn claim(&self, number: &PhoneNumber) -> StoreResult<Claim> {
        let items = self.create_items(number)?;
        if dynamo::transact_guarded(&self.client, items, 0, "claiming a phone number").await? {
            return Ok(Claim::Reserved(Versioned {
                number: number.clone(),
                version: 1,
            }));
        }
        match self.route(&number.e164).await? {
            Some(route) if route.tenant_id == number.tenant_id => {
                match self.get(number.tenant_id, route.phone_number_id).await? {
                    Some(existing) => Ok(Claim::Ours(existing)),
                    None => Ok(Claim::Taken),
                }
            }
            _ => Ok(Claim::Taken),
        }
    }

    /// Writes `number` (the successor of `version`) and its route together.
    #[tracing::instrument(skip_all, fields(tenant_id = %number.tenant_id))]
    pub async fn save(&self, number: &PhoneNumber, version: u64) -> StoreResult<Versioned> {
        let items = vec![
            self.put(
                dynamo::to_item(&Self::number_item(number, version + 1))?,
                "version = :version",
                &[(":version", AttributeValue::N(version.to_string()))],
            )?,
            self.put(
                dynamo::to_item(&Self::route_item(number))?,
                "phone_number_id = :id",
                &[(":id", AttributeValue::S(number.id.to_string()))],
            )?,
        ];
        match dynamo::transact(&self.client, items, Backoff::default()).await {
            Ok(()) => Ok(Versioned {
                number: number.clone(),
                version: version + 1,
            }),
            Err(e)
                if dynamo::cancellation_reasons(&e)
                    .is_some_and(|r| r.iter().flatten().any(|c| c == "ConditionalCheckFailed")) =>
            {
                Err(concurrent_change())
            }
            Err(e) => Err(StoreError::Dynamo(
                anyhow::Error::new(e).context("saving a phone number"),
            )),
        }
    }

    /// Deletes the number and frees its E.164.
    #[tracing::instrument(skip_all, fields(tenant_id = %number.tenant_id))]
    pub async fn remove(&self, number: &PhoneNumber, version: u64) -> StoreResult<()> {
        let delete = |pk: String,
                      sk: String,
                      condition: &str,
                      name: &str,
                      value: AttributeValue|
         -> anyhow::Result<TransactWriteItem> {
            Ok(TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(dynamo::key(pk, sk)))
                        .condition_expression(condition)
                        .expression_attribute_values(name, value)
                        .build()?,
                )
                .build())
        };
        let items = vec![
            delete(
                keys::tenant(number.tenant_id),
                keys::number(number.id),
                "version = :version",
                ":version",
                AttributeValue::N(version.to_string()),
            )?,
            delete(
                keys::route(&number.e164),
                keys::ROUTE.into(),
                "phone_number_id = :id",
                ":id",
                AttributeValue::S(number.id.to_string()),
            )?,
            // What calls to it opened with goes with it.
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(dynamo::key(
                            keys::route(&number.e164),
                            keys::ROUTE_CONTEXT,
                        )))
                        .build()?,
                )
                .build(),
        ];
        match dynamo::transact(&self.client, items, Backoff::default()).await {
            Ok(()) => Ok(()),
            Err(e) if dynamo::cancellation_reasons(&e).is_some() => Err(concurrent_change()),
            Err(e) => Err(StoreError::Dynamo(
                anyhow::Error::new(e).context("removing a phone number"),
            )),
        }
    }

    #[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
    pub async fn get(
        &self,
        tenant_id: TenantId,
        id: PhoneNumberId,
    ) -> StoreResult<Option<Versioned>> {
        let output = dynamo::read_item(
            &self.client,
            &self.table,
            keys::tenant(tenant_id),
            keys::number(id),
            "reading a phone number",
        )
        .await?;
        Ok(output
            .map(dynamo::from_item::<NumberItem>)
            .transpose()?
            .map(|i| Versioned {
                number: i.number,
                version: i.version,
            }))
    }

    /// Finds a number by id alone, then reads it consistently under its tenant.
    pub async fn find(&self, id: PhoneNumberId) -> StoreResult<Option<Versioned>> {
        let tenant = dynamo::tenant_by_id(&self.client, &self.table, keys::number(id))
            .await
            .map_err(|e| e.context("finding a phone number"))?;
        match tenant {
            Some(tenant_id) => self.get(tenant_id, id).await,
            None => Ok(None),
        }
    }

    /// The inbound route for `e164` and the campaign it is assigned to: one Query over the
    /// route's partition.
    #[tracing::instrument(skip_all)]
    pub async fn route(&self, e164: &E164) -> StoreResult<Option<InboundRoute>> {
        let items = dynamo::query_prefix(
            &self.client,
            &self.table,
            keys::route(e164),
            keys::ROUTE.to_owned(),
            "reading a route",
        )
        .await?;
        let sk_of = |item: &HashMap<String, AttributeValue>| {
            item.get("sk")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let (mut route, mut campaign, mut context) = (None, None, None);
        for item in items {
            match sk_of(&item).as_str() {
                keys::ROUTE => route = Some(dynamo::from_item::<RouteItem>(item)?.route),
                keys::ROUTE_CAMPAIGN => {
                    campaign = Some(dynamo::from_item::<RouteCampaignItem>(item)?.campaign);
                }
                // One that no longer reads is as good as none: the next call writes it again.
                keys::ROUTE_CONTEXT => {
                    context = dynamo::from_item::<RouteContextItem>(item)
                        .ok()
                        .map(|i| i.context);
                }
                _ => {}
            }
        }
        Ok(route.map(|mut route| {
            // An assignment left from the number's previous life is not this one's.
            route.campaign = campaign.filter(|c| {
                c.tenant_id == route.tenant_id && c.phone_number_id == route.phone_number_id
            });
            route.context = context.filter(|c| c.fits(&route));
            route
        }))
    }

    /// The write that keeps `context` beside the route of `e164`, for the transaction that opens
    /// a call from it.
    pub fn context_put(
        &self,
        e164: &E164,
        context: &RouteContext,
    ) -> anyhow::Result<TransactWriteItem> {
        let item = RouteContextItem {
            pk: keys::route(e164),
            sk: keys::ROUTE_CONTEXT.into(),
            context: context.clone(),
        };
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(dynamo::to_item(&item)?))
                    .build()?,
            )
            .build())
    }

    /// Assigns `e164` to an inbound campaign: refused (`NUMBER_IN_CAMPAIGN`) while another
    /// campaign holds it; assigning it to the same campaign again changes nothing.
    #[tracing::instrument(skip_all, fields(tenant_id = %campaign.tenant_id))]
    pub async fn assign_campaign(&self, e164: &E164, campaign: &RouteCampaign) -> StoreResult<()> {
        let item = RouteCampaignItem {
            pk: keys::route(e164),
            sk: keys::ROUTE_CAMPAIGN.into(),
            campaign: campaign.clone(),
        };
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&item)?))
            .condition_expression(
                "attribute_not_exists(pk) OR campaign_id = :campaign OR phone_number_id <> :number",
            )
            .expression_attribute_values(
                ":campaign",
                AttributeValue::S(campaign.campaign_id.to_string()),
            )
            .expression_attribute_values(
                ":number",
                AttributeValue::S(campaign.phone_number_id.to_string()),
            )
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) if dynamo::is_condition_failed(&e) => Err(number_in_campaign(e164)),
            Err(e) => Err(StoreError::Dynamo(
                anyhow::Error::new(e).context("assigning a number to a campaign"),
            )),
        }
    }

    /// Takes `e164` back from `campaign_id` (nothing when another campaign holds it).
    #[tracing::instrument(skip_all)]
    pub async fn release_campaign(&self, e164: &E164, campaign_id: uuid::Uuid) -> StoreResult<()> {
        let delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::route(e164), keys::ROUTE_CAMPAIGN)))
            .condition_expression("campaign_id = :campaign")
            .expression_attribute_values(":campaign", AttributeValue::S(campaign_id.to_string()))
            .send()
            .await;
        match delete {
            Ok(_) => Ok(()),
            Err(e) if dynamo::is_condition_failed(&e) => Ok(()),
            Err(e) => Err(StoreError::Dynamo(
                anyhow::Error::new(e).context("releasing a number from a campaign"),
            )),
        }
    }

    /// One page of a tenant's numbers in id (creation) order, with the cursor of the next.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
    pub async fn page(
        &self,
        tenant_id: TenantId,
        limit: u32,
        cursor: Option<&str>,
    ) -> StoreResult<(Vec<PhoneNumber>, Option<String>)> {
        let start = cursor
            .map(|c| {
                dynamo::cursor_sort_key(c, keys::NUMBER_PREFIX, 100)
                    .ok_or_else(StoreError::invalid_cursor)
            })
            .transpose()?;
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :tenant AND begins_with(sk, :prefix)")
            .expression_attribute_values(":tenant", AttributeValue::S(keys::tenant(tenant_id)))
            .expression_attribute_values(":prefix", AttributeValue::S(keys::NUMBER_PREFIX.into()))
            .set_exclusive_start_key(start.map(|sk| dynamo::key(keys::tenant(tenant_id), sk)))
            .limit(i32::try_from(limit).unwrap_or(500))
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("listing phone numbers"))?;
        let numbers = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| dynamo::from_item::<NumberItem>(item).map(|i| i.number))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok((
            numbers,
            dynamo::next_cursor(output.last_evaluated_key.as_ref()),
        ))
    }

    /// Every number of a tenant (a tenant has few); for in-memory paging under `/api`.
    pub async fn list(&self, tenant_id: TenantId) -> StoreResult<Vec<PhoneNumber>> {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let (numbers, next) = self.page(tenant_id, 500, cursor.as_deref()).await?;
            all.extend(numbers);
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(all),
            }
        }
    }
}

impl NumberStatus {
    /// A purchase that has not finished.
    pub fn is_pending(self) -> bool {
        matches!(self, Self::Purchasing | Self::SipPending)
    }
}
