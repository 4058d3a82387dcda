//! Enrolment pages: a campaign's new leads written with its enrolment's move, in one
//! transaction that holds only from the round it read.

use super::dialing::{CounterChange, LeadItem, due_sk};
use super::*;
use crate::campaigns::dialing::CampaignLead;
use crate::campaigns::model::Enrollment;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use gobi_shared::dynamo::n;
use std::collections::HashMap;

/// Leads one enrolment transaction writes (DynamoDB takes 100 items; one is the campaign).
pub const ENROLL_PAGE: usize = 99;

impl CampaignStore {
    /// The campaign's leads among `numbers` (E.164), by number.
    async fn enrolled_among(
        &self,
        campaign: uuid::Uuid,
        numbers: &[&str],
    ) -> StoreResult<HashMap<String, CampaignLead>> {
        let keys = numbers
            .iter()
            .map(|e164| dynamo::key(keys::campaign(campaign), keys::lead(e164)))
            .collect();
        dynamo::batch_get(&self.client, &self.table, keys, "reading enrolled leads")
            .await?
            .into_iter()
            .map(|item| {
                let lead = dynamo::from_item::<LeadItem>(item)?.lead;
                Ok((lead.phone_number.clone(), lead))
            })
            .collect()
    }

    /// Enrols one page of leads (their numbers not yet in the campaign) and moves the campaign's
    /// enrolment from `from` to `to`, in one transaction that holds only while the enrolment is
    /// still at `from` (`false`: an earlier delivery did it).
    pub async fn enroll_page(
        &self,
        campaign: &Campaign,
        from: &Enrollment,
        leads: Vec<CampaignLead>,
        to: &Enrollment,
    ) -> StoreResult<bool> {
        if leads.len() > ENROLL_PAGE {
            return Err(anyhow::anyhow!(
                "an enrolment page of {} is over {ENROLL_PAGE}",
                leads.len()
            )
            .into());
        }
        let numbers: Vec<&str> = leads.iter().map(|l| l.phone_number.as_str()).collect();
        let known = self.enrolled_among(campaign.id, &numbers).await?;
        let mut writes = Vec::new();
        let mut moves = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for lead in leads {
            if known.contains_key(&lead.phone_number) || !seen.insert(lead.phone_number.clone()) {
                continue;
            }
            moves.push((lead.status, 1));
            let open = lead.status.open();
            let at = lead.next_attempt_at.unwrap_or(lead.updated_at);
            let item = LeadItem {
                pk: keys::campaign(campaign.id),
                sk: keys::lead(&lead.phone_number),
                due_pk: open.then(|| keys::campaign(campaign.id)),
                due_sk: open.then(|| due_sk(at, &lead.lead_id)),
                lead,
            };
            writes.push(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(dynamo::to_item(&item)?))
                            .condition_expression("attribute_not_exists(pk)")
                            .build()?,
                    )
                    .build(),
            );
        }
        let mut next = to.clone();
        next.enrolled = from.enrolled + writes.len() as u64;
        let counter = self.counters(
            campaign,
            CounterChange {
                moves: &moves,
                condition: Some("enrollment.round = :round"),
                set: Some("enrollment = :next"),
                values: vec![
                    (":round", n(from.round)),
                    (
                        ":next",
                        serde_dynamo::to_attribute_value(&next).map_err(anyhow::Error::new)?,
                    ),
                ],
                ..CounterChange::default()
            },
        )?;
        let guard = writes.len();
        writes.push(counter);
        Ok(dynamo::transact_guarded(&self.client, writes, guard, "enrolling leads").await?)
    }
}
