//! The dialer's writes: leads enrolled a page at a time, due leads found through the sparse
//! `due` index, a lead queued, a dial claimed with its leases (an attempt's end is in
//! `attempts.rs`). Each is
//! one transaction conditional on the state it leaves, with the campaign's counters in it, so a
//! repeated tick, a redelivered job or a repeated callback changes nothing twice.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use gobi_shared::dynamo::{Backoff, n};

use super::*;
use crate::campaigns::dialing::{Attempt, CampaignLead, LeadStatus, Outcome};

/// How long a queued job may stay unclaimed before the scheduler queues it again.
pub const QUEUED_TIMEOUT_MINUTES: i64 = 5;

#[derive(Serialize, Deserialize)]
pub(super) struct LeadItem {
    pub(super) pk: String,
    pub(super) sk: String,
    #[serde(flatten)]
    pub(super) lead: CampaignLead,
    #[serde(rename = "duePk", default, skip_serializing_if = "Option::is_none")]
    pub(super) due_pk: Option<String>,
    #[serde(rename = "dueSk", default, skip_serializing_if = "Option::is_none")]
    pub(super) due_sk: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct AttemptItem {
    pub(super) pk: String,
    pub(super) sk: String,
    #[serde(flatten)]
    pub(super) attempt: Attempt,
}

/// What one write does to a campaign's counters, and what else it sets or requires.
#[derive(Default)]
pub(super) struct CounterChange<'a> {
    /// Leads leaving (-1) and entering (+1) statuses.
    pub(super) moves: &'a [(LeadStatus, i64)],
    pub(super) outcome: Option<Outcome>,
    /// Live calls taken (+1) or released (-1).
    pub(super) live: i64,
    /// More the campaign must satisfy (`#state` names its state).
    pub(super) condition: Option<&'a str>,
    /// More to `SET`.
    pub(super) set: Option<&'a str>,
    pub(super) values: Vec<(&'a str, AttributeValue)>,
}

/// How a claim ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The lead is dialing, its leases held: place the call.
    Claimed,
    /// Another job claimed this attempt, or the lead moved on: nothing to do.
    Duplicate,
    /// The campaign's or the tenant's live calls are at their cap, or the campaign stopped.
    Refused,
}

/// The leases a claim takes: the campaign's `maxConcurrency` and the tenant's cap.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub campaign: u32,
    pub tenant: u32,
}

pub(super) fn due_sk(at: DateTime<Utc>, lead: &str) -> String {
    dynamo::due_key(at, lead)
}

pub(super) fn status_value(status: LeadStatus) -> anyhow::Result<AttributeValue> {
    Ok(serde_dynamo::to_attribute_value(status)?)
}

impl CampaignStore {
    pub(super) fn update(
        &self,
        pk: String,
        sk: String,
    ) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(pk, sk)))
    }

    /// The campaign's counters moved by `change`, in one update of the campaign's item.
    pub(super) fn counters(
        &self,
        campaign: &Campaign,
        change: CounterChange<'_>,
    ) -> anyhow::Result<TransactWriteItem> {
        let mut update = self.update(
            keys::tenant(campaign.tenant_id),
            keys::campaign(campaign.id),
        );
        let mut adds = Vec::new();
        let mut totals: HashMap<LeadStatus, i64> = HashMap::new();
        for (status, by) in change.moves {
            *totals.entry(*status).or_default() += by;
        }
        let mut totals: Vec<(LeadStatus, i64)> =
            totals.into_iter().filter(|(_, by)| *by != 0).collect();
        totals.sort_by_key(|(status, _)| status.counter());
        for (i, (status, by)) in totals.into_iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#s{i}"), status.counter())
                .expression_attribute_values(format!(":s{i}"), n(by));
            adds.push(format!("counts.#s{i} :s{i}"));
        }
        if let Some(outcome) = change.outcome {
            update = update
                .expression_attribute_names("#o", outcome.counter())
                .expression_attribute_values(":o", n(1));
            adds.push("outcomes.#o :o".into());
        }
        if change.live != 0 {
            update = update.expression_attribute_values(":live", n(change.live));
            adds.push("liveCalls :live".into());
        }
        let mut expression = Vec::new();
        if !adds.is_empty() {
            expression.push(format!("ADD {}", adds.join(", ")));
        }
        expression.push(format!(
            "SET {}",
            change.set.unwrap_or("updatedAt = updatedAt")
        ));
        let mut guard = String::from("attribute_exists(pk)");
        if let Some(extra) = change.condition {
            guard = format!("{guard} AND {extra}");
        }
        if guard.contains("#state") {
            update = update.expression_attribute_names("#state", "state");
        }
        for (name, value) in change.values {
            update = update.expression_attribute_values(name, value);
        }
        Ok(TransactWriteItem::builder()
            .update(
                update
                    .update_expression(expression.join(" "))
                    .condition_expression(guard)
                    .build()?,
            )
            .build())
    }

    /// Open leads whose time to be looked at has come, earliest first.
    pub async fn due_leads(
        &self,
        campaign: uuid::Uuid,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<CampaignLead>> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("due")
            .key_condition_expression("duePk = :pk AND dueSk < :now")
            .expression_attribute_values(":pk", AttributeValue::S(keys::campaign(campaign)))
            .expression_attribute_values(":now", AttributeValue::S(due_sk(now, "~")))
            .limit(i32::try_from(limit.max(1)).unwrap_or(100))
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("reading due leads"))?;
        Ok(output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| dynamo::from_item::<LeadItem>(item).map(|i| i.lead))
            .collect::<anyhow::Result<Vec<_>>>()?)
    }

    /// The earliest moment an open lead is due (for `dialingState`), if any is.
    pub async fn next_due(&self, campaign: uuid::Uuid) -> StoreResult<Option<CampaignLead>> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("due")
            .key_condition_expression("duePk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::campaign(campaign)))
            .limit(1)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("reading the next due lead"))?;
        Ok(output
            .items
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(dynamo::from_item::<LeadItem>)
            .transpose()?
            .map(|i| i.lead))
    }

    pub async fn campaign_lead(
        &self,
        campaign: uuid::Uuid,
        e164: &str,
    ) -> StoreResult<Option<CampaignLead>> {
        let item = dynamo::read_item(
            &self.client,
            &self.table,
            keys::campaign(campaign),
            keys::lead(e164),
            "reading a campaign lead",
        )
        .await?;
        Ok(item
            .map(dynamo::from_item::<LeadItem>)
            .transpose()?
            .map(|i| i.lead))
    }

    /// Moves a lead as read (its status and attempts unchanged meanwhile) to `to`: due again at
    /// `due` when given, out of the index otherwise. `false` when it had moved on.
    pub async fn move_lead(
        &self,
        campaign: &Campaign,
        lead: &CampaignLead,
        to: LeadStatus,
        due: Option<DateTime<Utc>>,
        change: impl FnOnce(&mut CampaignLead),
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut next = lead.clone();
        next.status = to;
        next.updated_at = now;
        change(&mut next);
        let item = LeadItem {
            pk: keys::campaign(campaign.id),
            sk: keys::lead(&lead.phone_number),
            due_pk: due.map(|_| keys::campaign(campaign.id)),
            due_sk: due.map(|at| due_sk(at, &lead.lead_id)),
            lead: next,
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&item)?))
            .condition_expression(
                "#status = :status AND attempts = :attempts AND updatedAt = :read",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", status_value(lead.status)?)
            .expression_attribute_values(":attempts", n(lead.attempts))
            .expression_attribute_values(":read", dynamo::time(lead.updated_at)?)
            .build()?;
        let writes = vec![
            TransactWriteItem::builder().put(put).build(),
            self.counters(
                campaign,
                CounterChange {
                    moves: &[(lead.status, -1), (to, 1)],
                    ..CounterChange::default()
                },
            )?,
        ];
        Ok(dynamo::transact_guarded(&self.client, writes, 0, "moving a campaign lead").await?)
    }

    /// Claims attempt `attempt.attempt` of a queued lead: the lead dialing with its lease until
    /// `lease_until`, the attempt recorded, and a live call counted against the campaign's and
    /// the tenant's caps — all or nothing.
    pub async fn claim(
        &self,
        campaign: &Campaign,
        lead: &CampaignLead,
        attempt: &Attempt,
        caps: Caps,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Claim> {
        let mut dialing = lead.clone();
        dialing.status = LeadStatus::Dialing;
        dialing.attempts = attempt.attempt;
        dialing.lease_expires_at = Some(lease_until);
        dialing
            .recent_dials
            .retain(|at| *at > now - chrono::Duration::hours(24));
        dialing.recent_dials.push(now);
        dialing.updated_at = now;
        let item = LeadItem {
            pk: keys::campaign(campaign.id),
            sk: keys::lead(&lead.phone_number),
            due_pk: Some(keys::campaign(campaign.id)),
            due_sk: Some(due_sk(lease_until, &lead.lead_id)),
            lead: dialing,
        };
        let lead_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&item)?))
            .condition_expression("#status = :queued AND attempts = :before")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":queued", status_value(LeadStatus::Queued)?)
            .expression_attribute_values(":before", n(attempt.attempt.saturating_sub(1)))
            .build()?;
        let attempt_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&AttemptItem {
                pk: keys::campaign(campaign.id),
                sk: keys::attempt(&lead.lead_id, attempt.attempt),
                attempt: attempt.clone(),
            })?))
            .condition_expression("attribute_not_exists(pk)")
            .build()?;
        let campaign_lease = self.counters(
            campaign,
            CounterChange {
                moves: &[(LeadStatus::Queued, -1), (LeadStatus::Dialing, 1)],
                live: 1,
                condition: Some(
                    "#state = :running AND (attribute_not_exists(liveCalls) OR liveCalls < :cap)",
                ),
                values: vec![
                    (
                        ":running",
                        serde_dynamo::to_attribute_value(CampaignState::Running)
                            .map_err(anyhow::Error::new)?,
                    ),
                    (":cap", n(caps.campaign)),
                ],
                ..CounterChange::default()
            },
        )?;
        let tenant_lease = TransactWriteItem::builder()
            .update(
                self.update(keys::tenant(campaign.tenant_id), keys::live_calls())
                    .update_expression("ADD liveCalls :one")
                    .condition_expression("attribute_not_exists(liveCalls) OR liveCalls < :cap")
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":cap", n(caps.tenant))
                    .build()?,
            )
            .build();
        let writes = vec![
            TransactWriteItem::builder().put(lead_put).build(),
            TransactWriteItem::builder().put(attempt_put).build(),
            campaign_lease,
            tenant_lease,
        ];
        match dynamo::transact(&self.client, writes, Backoff::default()).await {
            Ok(()) => Ok(Claim::Claimed),
            Err(e) => match dynamo::cancellation_reasons(&e) {
                Some(r)
                    if dynamo::item_condition_failed(&r, 0)
                        || dynamo::item_condition_failed(&r, 1) =>
                {
                    Ok(Claim::Duplicate)
                }
                Some(r)
                    if dynamo::item_condition_failed(&r, 2)
                        || dynamo::item_condition_failed(&r, 3) =>
                {
                    Ok(Claim::Refused)
                }
                _ => Err(anyhow::Error::new(e).context("claiming a dial").into()),
            },
        }
    }

    /// Records the CallSid of a placed call on its attempt.
    pub async fn placed(
        &self,
        campaign: uuid::Uuid,
        lead_id: &str,
        attempt: u32,
        call_sid: &str,
    ) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::campaign(campaign),
                keys::attempt(lead_id, attempt),
            )))
            .update_expression("SET callSid = :sid")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":sid", AttributeValue::S(call_sid.to_owned()))
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("recording a CallSid"))?;
        Ok(())
    }

    /// Records the disposition code of an attempt's call (the latest report wins; repeating
    /// it changes nothing). Nothing when the attempt is not there.
    pub async fn set_attempt_disposition(
        &self,
        campaign: uuid::Uuid,
        lead_id: &str,
        attempt: u32,
        code: &str,
    ) -> StoreResult<()> {
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::campaign(campaign),
                keys::attempt(lead_id, attempt),
            )))
            .update_expression("SET disposition = :code")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":code", AttributeValue::S(code.to_owned()))
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(e) if dynamo::is_condition_failed(&e) => Ok(()),
            Err(e) => Err(StoreError::Dynamo(
                anyhow::Error::new(e).context("recording an attempt's disposition"),
            )),
        }
    }

    /// Running campaigns, through the sparse `running` index.
    pub async fn running(&self) -> StoreResult<Vec<(TenantId, uuid::Uuid)>> {
        let query = |q: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder| {
            q.table_name(&self.table)
                .index_name("running")
                .key_condition_expression("runPk = :run")
                .expression_attribute_values(":run", AttributeValue::S(RUNNING.into()))
        };
        dynamo::query_all(&self.client, query, "listing running campaigns")
            .await?
            .into_iter()
            .map(|item| {
                let campaign = dynamo::from_item::<CampaignItem>(item)?.campaign;
                Ok((campaign.tenant_id, campaign.id))
            })
            .collect()
    }

    /// Keeps the last `keep` of the campaign's recent outcomes, if no attempt ended since they
    /// were read (`read` of them); otherwise the next tick trims.
    pub async fn trim_recent_outcomes(
        &self,
        campaign: &Campaign,
        read: usize,
        keep: usize,
    ) -> StoreResult<()> {
        let kept: Vec<AttributeValue> = campaign.recent_outcomes[read.saturating_sub(keep)..]
            .iter()
            .map(|o| serde_dynamo::to_attribute_value(o).map_err(anyhow::Error::new))
            .collect::<anyhow::Result<_>>()?;
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(campaign.tenant_id),
                keys::campaign(campaign.id),
            )))
            .update_expression("SET recentOutcomes = :kept")
            .condition_expression("size(recentOutcomes) = :read")
            .expression_attribute_values(":kept", AttributeValue::L(kept))
            .expression_attribute_values(":read", n(read))
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(e) if dynamo::is_condition_failed(&e) => Ok(()),
            Err(e) => Err(anyhow::Error::new(e)
                .context("trimming recent outcomes")
                .into()),
        }
    }

    /// Records what the last tick saw (`dialingState`).
    pub async fn set_dialing_state(
        &self,
        campaign: &Campaign,
        dialing: &crate::campaigns::model::DialingState,
    ) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(campaign.tenant_id),
                keys::campaign(campaign.id),
            )))
            .update_expression("SET dialingState = :d")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(
                ":d",
                serde_dynamo::to_attribute_value(dialing).map_err(anyhow::Error::new)?,
            )
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("recording a dialing state"))?;
        Ok(())
    }
}
