//! The campaigns table: a tenant's campaigns (`TENANT#<tenant>` / `CAMPAIGN#<id>`). Changes are
//! conditional on the campaign as read (`updatedAt`) or on its state, never read-then-write.

use crate::webhooks::EventType;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use gobi_shared::dynamo;
use gobi_shared::ids::TenantId;
use serde::{Deserialize, Serialize};

use super::model::{Campaign, CampaignState, PauseReason};
use crate::error::{StoreError, StoreResult};

/// Key formats of the campaigns table.
pub mod keys {
    use gobi_shared::ids::TenantId;

    pub fn tenant(id: TenantId) -> String {
        format!("TENANT#{id}")
    }

    pub fn campaign(id: uuid::Uuid) -> String {
        format!("CAMPAIGN#{id}")
    }

    /// A campaign's lead, by number (under `campaign(id)`): a number is called once per
    /// campaign, whichever of its lists it is in.
    pub fn lead(e164: &str) -> String {
        format!("LEAD#{}", e164.trim_start_matches('+'))
    }

    /// One attempt of a lead (by its number's digits), zero-padded to sort in order.
    pub fn attempt(lead_id: &str, attempt: u32) -> String {
        format!("ATTEMPT#{lead_id}#{attempt:03}")
    }

    /// The tenant's live-calls counter (under `tenant(id)`).
    pub fn live_calls() -> String {
        "LIVECALLS".into()
    }
}

/// The `running` index's one partition: every running or scheduled campaign.
const RUNNING: &str = "RUNNING";

mod attempts;
mod dialing;
mod enrolment;
mod progress;
pub use attempts::AttemptEnd;
pub use dialing::{Caps, Claim, QUEUED_TIMEOUT_MINUTES};
pub use enrolment::ENROLL_PAGE;

#[derive(Serialize, Deserialize)]
struct CampaignItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    campaign: Campaign,
}

/// Campaigns one list request looks at, at most (its page may be short, with a cursor).
const MAX_CAMPAIGNS_EXAMINED: usize = 1000;

/// The attributes `save` writes: what a user sets, and when.
const SETTINGS: &[&str] = &[
    "name",
    "direction",
    "purpose",
    "agentId",
    "agentVersionId",
    "versionSplit",
    "leadListIds",
    "callerIds",
    "schedule",
    "pacing",
    "retry",
    "voicemail",
    "variables",
    "circuitBreaker",
    "skipWithoutConsent",
    "updatedAt",
];

pub fn campaign_not_found(id: uuid::Uuid) -> StoreError {
    StoreError::not_found("CAMPAIGN_NOT_FOUND", format!("Campaign {id} not found"))
}

fn state_value(state: CampaignState) -> anyhow::Result<AttributeValue> {
    Ok(serde_dynamo::to_attribute_value(state)?)
}

#[derive(Clone, Debug)]
pub struct CampaignStore {
    client: Client,
    table: String,
    /// Where a state change tells the tenant's webhooks (`campaign.started`, `.paused`,
    /// `.completed`); none unless [`Self::with_events`].
    events: crate::webhooks::EventSink,
}

impl CampaignStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            events: crate::webhooks::EventSink::default(),
        }
    }

    /// Where this store's changes are told to the tenant's webhooks.
    pub fn events(&self) -> &crate::webhooks::EventSink {
        &self.events
    }

    /// The same, telling the tenant's webhooks of state changes.
    pub fn with_events(self, events: crate::webhooks::EventSink) -> Self {
        Self { events, ..self }
    }

    fn item(
        campaign: &Campaign,
    ) -> anyhow::Result<std::collections::HashMap<String, AttributeValue>> {
        dynamo::to_item(&CampaignItem {
            pk: keys::tenant(campaign.tenant_id),
            sk: keys::campaign(campaign.id),
            campaign: campaign.clone(),
        })
    }

    pub async fn create(&self, campaign: &Campaign) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(campaign)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("creating a campaign"))?;
        Ok(())
    }

    pub async fn get(&self, tenant: TenantId, id: uuid::Uuid) -> StoreResult<Option<Campaign>> {
        let item = dynamo::read_item(
            &self.client,
            &self.table,
            keys::tenant(tenant),
            keys::campaign(id),
            "reading a campaign",
        )
        .await?;
        Ok(item
            .map(dynamo::from_item::<CampaignItem>)
            .transpose()?
            .map(|i| i.campaign))
    }

    /// A transaction item that holds while the campaign is as it was at `updated_at` (its
    /// settings and state change only with `updatedAt`).
    pub fn unchanged_check(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
        updated_at: DateTime<Utc>,
    ) -> anyhow::Result<aws_sdk_dynamodb::types::TransactWriteItem> {
        dynamo::condition_check(
            &self.table,
            dynamo::key(keys::tenant(tenant), keys::campaign(id)),
            "updatedAt = :read",
            &[(":read", dynamo::time(updated_at)?)],
        )
    }

    /// A page of the tenant's campaigns (`single_call` ones left out) in `state` if given, in
    /// id (creation) order: read on until `limit` match or 1,000 campaigns were examined.
    pub async fn page(
        &self,
        tenant: TenantId,
        state: Option<CampaignState>,
        limit: u32,
        cursor: Option<&str>,
    ) -> StoreResult<(Vec<Campaign>, Option<String>)> {
        let pk = keys::tenant(tenant);
        let scan = crate::paging::Scan {
            pk: &pk,
            prefix: "CAMPAIGN#",
            limit,
            cursor,
            max_examined: MAX_CAMPAIGNS_EXAMINED,
        };
        let (items, next) = crate::paging::matching::<CampaignItem>(
            &self.client,
            &self.table,
            scan,
            |item| &item.sk,
            |item| !item.campaign.single_call && state.is_none_or(|s| item.campaign.state == s),
        )
        .await?;
        Ok((items.into_iter().map(|i| i.campaign).collect(), next))
    }

    /// Replaces the campaign's settings (never its state or counters, which calls in flight
    /// keep moving), if it is still as read and still editable.
    pub async fn save(&self, campaign: &Campaign, read_at: DateTime<Utc>) -> StoreResult<()> {
        let mut item = Self::item(campaign)?;
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(campaign.tenant_id),
                keys::campaign(campaign.id),
            )));
        let mut sets = Vec::new();
        for (i, field) in SETTINGS.iter().enumerate() {
            let value = item.remove(*field).unwrap_or(AttributeValue::Null(true));
            update = update
                .expression_attribute_names(format!("#f{i}"), *field)
                .expression_attribute_values(format!(":f{i}"), value);
            sets.push(format!("#f{i} = :f{i}"));
        }
        let written = update
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression("updatedAt = :read AND (#state = :draft OR #state = :paused)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":read", dynamo::time(read_at)?)
            .expression_attribute_values(":draft", state_value(CampaignState::Draft)?)
            .expression_attribute_values(":paused", state_value(CampaignState::Paused)?)
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(e) if dynamo::is_condition_failed(&e) => Err(StoreError::concurrent(
                "The campaign changed meanwhile; read it again and retry",
            )),
            Err(e) => Err(anyhow::Error::new(e).context("saving a campaign").into()),
        }
    }

    /// Moves a campaign from one of `from` to `to`: `false` when it was in none of them. A move
    /// that starts, pauses or completes it is told to the tenant's webhooks.
    pub async fn transition(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
        from: &[CampaignState],
        to: CampaignState,
        pause_reason: Option<PauseReason>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(tenant), keys::campaign(id))))
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":to", state_value(to)?)
            .expression_attribute_values(":now", dynamo::time(now)?)
            .expression_attribute_values(
                ":reason",
                pause_reason.map_or(Ok(AttributeValue::Null(true)), |r| {
                    serde_dynamo::to_attribute_value(r).map_err(anyhow::Error::new)
                })?,
            );
        let mut allowed = Vec::new();
        for (i, state) in from.iter().enumerate() {
            let name = format!(":from{i}");
            update = update.expression_attribute_values(&name, state_value(*state)?);
            allowed.push(format!("#state = {name}"));
        }
        let mut set = String::from("SET #state = :to, pauseReason = :reason, updatedAt = :now");
        // Only running campaigns are in the scheduler's `running` index.
        let mut remove = "";
        if matches!(to, CampaignState::Running | CampaignState::Scheduled) {
            set.push_str(", runPk = :run, runSk = :id");
            update = update
                .expression_attribute_values(":run", AttributeValue::S(RUNNING.into()))
                .expression_attribute_values(":id", AttributeValue::S(id.to_string()));
        } else {
            remove = " REMOVE runPk, runSk, dialingState";
        }
        // Started once: from a draft (absent fields are stored as NULL, so `if_not_exists`
        // would not do).
        if from == [CampaignState::Draft] && !to.finished() {
            set.push_str(", startedAt = :now");
        }
        if to.finished() {
            set.push_str(", finishedAt = :now");
        }
        let written = update
            .update_expression(format!("{set}{remove}"))
            .condition_expression(format!(
                "attribute_exists(pk) AND ({})",
                allowed.join(" OR ")
            ))
            .send()
            .await;
        match written {
            Ok(_) => {
                let starts = !from.contains(&CampaignState::Paused);
                let kind = match to {
                    CampaignState::Running if starts => Some(EventType::CampaignStarted),
                    CampaignState::Paused => Some(EventType::CampaignPaused),
                    CampaignState::Completed => Some(EventType::CampaignCompleted),
                    _ => None,
                };
                if let Some(kind) = kind {
                    let data = serde_json::json!({
                        "campaignId": id,
                        "state": to,
                        "pauseReason": pause_reason,
                    });
                    self.events.emit(tenant, kind, data, now).await;
                }
                Ok(true)
            }
            Err(e) if dynamo::is_condition_failed(&e) => Ok(false),
            Err(e) => Err(anyhow::Error::new(e)
                .context("changing a campaign's state")
                .into()),
        }
    }

    /// Removes a draft campaign (`false` when it is not a draft, or gone).
    pub async fn delete_draft(&self, tenant: TenantId, id: uuid::Uuid) -> StoreResult<bool> {
        let written = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(tenant), keys::campaign(id))))
            .condition_expression("#state = :draft")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":draft", state_value(CampaignState::Draft)?)
            .send()
            .await;
        match written {
            Ok(_) => Ok(true),
            Err(e) if dynamo::is_condition_failed(&e) => Ok(false),
            Err(e) => Err(anyhow::Error::new(e).context("deleting a campaign").into()),
        }
    }
}
