//! An attempt's end: its outcome recorded, the lead moved on, both leases released, and the
//! metrics of a dial that never became a call record, in one transaction conditional on the
//! lead still dialing that attempt, so a repeated callback or the sweep changes nothing twice.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use gobi_shared::dynamo::n;

use super::dialing::{CounterChange, LeadItem, due_sk, status_value};
use super::*;
use crate::campaigns::dialing::{CampaignLead, LeadStatus, Outcome};

/// What an attempt's end records beside its outcome.
#[derive(Debug, Default)]
pub struct AttemptEnd {
    /// Twilio's `AnsweredBy`.
    pub answered_by: Option<String>,
    /// Twilio's error or the SIP code.
    pub error_code: Option<String>,
    /// Metric updates for a dial that never became a call record (they count with the end).
    pub metrics: Vec<TransactWriteItem>,
}

impl CampaignStore {
    /// Finishes attempt `attempt` of a dialing lead: its outcome recorded, the lead moved to
    /// `to` (due again at `due` for a retry), both leases released. `false` when the attempt
    /// was finished before (a repeated callback, or the sweep got there first).
    #[allow(clippy::too_many_arguments)]
    pub async fn finish(
        &self,
        campaign: &Campaign,
        lead: &CampaignLead,
        attempt: u32,
        outcome: Outcome,
        details: AttemptEnd,
        to: LeadStatus,
        due: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let AttemptEnd {
            answered_by,
            error_code,
            metrics,
        } = details;
        let mut done = lead.clone();
        done.status = to;
        done.last_outcome = Some(outcome);
        done.lease_expires_at = None;
        done.next_attempt_at = due;
        done.updated_at = now;
        let item = LeadItem {
            pk: keys::campaign(campaign.id),
            sk: keys::lead(&lead.phone_number),
            due_pk: due.map(|_| keys::campaign(campaign.id)),
            due_sk: due.map(|at| due_sk(at, &lead.lead_id)),
            lead: done,
        };
        let lead_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&item)?))
            .condition_expression("#status = :dialing AND attempts = :attempt")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":dialing", status_value(LeadStatus::Dialing)?)
            .expression_attribute_values(":attempt", n(attempt))
            .build()?;
        let attempt_update = self
            .update(
                keys::campaign(campaign.id),
                keys::attempt(&lead.lead_id, attempt),
            )
            .update_expression(
                "SET outcome = :outcome, endedAt = :now, answeredBy = :by, errorCode = :code",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(
                ":outcome",
                serde_dynamo::to_attribute_value(outcome).map_err(anyhow::Error::new)?,
            )
            .expression_attribute_values(":now", dynamo::time(now)?)
            .expression_attribute_values(
                ":by",
                answered_by.map_or(AttributeValue::Null(true), AttributeValue::S),
            )
            .expression_attribute_values(
                ":code",
                error_code.map_or(AttributeValue::Null(true), AttributeValue::S),
            )
            .build()?;
        let tenant_release = self
            .update(keys::tenant(campaign.tenant_id), keys::live_calls())
            .update_expression("ADD liveCalls :minus")
            .expression_attribute_values(":minus", n(-1))
            .build()?;
        let mut writes = vec![
            TransactWriteItem::builder().put(lead_put).build(),
            TransactWriteItem::builder().update(attempt_update).build(),
            self.counters(
                campaign,
                CounterChange {
                    moves: &[(LeadStatus::Dialing, -1), (to, 1)],
                    outcome: Some(outcome),
                    live: -1,
                    // The circuit breaker's memory: outcomes in the order attempts end.
                    set: Some("recentOutcomes = list_append(if_not_exists(recentOutcomes, :none), :ended)"),
                    values: vec![
                        (":none", AttributeValue::L(Vec::new())),
                        (
                            ":ended",
                            AttributeValue::L(vec![serde_dynamo::to_attribute_value(outcome)
                                .map_err(anyhow::Error::new)?]),
                        ),
                    ],
                    ..CounterChange::default()
                },
            )?,
            TransactWriteItem::builder().update(tenant_release).build(),
        ];
        writes.extend(metrics);
        Ok(dynamo::transact_guarded(&self.client, writes, 0, "finishing an attempt").await?)
    }
}
