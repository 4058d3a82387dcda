//! What progress and reports read: a campaign's leads a page at a time (all, or those in one
//! status), a lead's attempts, and the attempts of a page of leads in one range read.

use super::dialing::{AttemptItem, LeadItem};
use super::*;
use crate::campaigns::dialing::{Attempt, CampaignLead, LeadStatus};

/// Leads one filtered page looks at, at most (its page may be short, with a cursor).
const MAX_LEADS_EXAMINED: usize = 2000;

impl CampaignStore {
    /// A lead's attempts, in order.
    pub async fn attempts(&self, campaign: uuid::Uuid, lead_id: &str) -> StoreResult<Vec<Attempt>> {
        let items = dynamo::query_prefix(
            &self.client,
            &self.table,
            keys::campaign(campaign),
            format!("ATTEMPT#{lead_id}#"),
            "reading attempts",
        )
        .await?;
        Ok(items
            .into_iter()
            .map(|item| dynamo::from_item::<AttemptItem>(item).map(|i| i.attempt))
            .collect::<anyhow::Result<Vec<_>>>()?)
    }

    /// A campaign's leads in number order, a page at a time; with `status`, those in it, read on
    /// until the page is full or 2,000 leads were examined.
    pub async fn leads_page(
        &self,
        campaign: uuid::Uuid,
        status: Option<LeadStatus>,
        limit: u32,
        cursor: Option<&str>,
    ) -> StoreResult<(Vec<CampaignLead>, Option<String>)> {
        let pk = keys::campaign(campaign);
        let scan = crate::paging::Scan {
            pk: &pk,
            prefix: "LEAD#",
            limit,
            cursor,
            max_examined: MAX_LEADS_EXAMINED,
        };
        let (items, next) = crate::paging::matching::<LeadItem>(
            &self.client,
            &self.table,
            scan,
            |item| &item.sk,
            |item| status.is_none_or(|s| item.lead.status == s),
        )
        .await?;
        Ok((items.into_iter().map(|i| i.lead).collect(), next))
    }

    /// The attempts of every lead whose id sorts from `first` to `last` (a page of leads, in
    /// number order): one range read, in lead then attempt order. A lead's attempt keys sort as
    /// its lead key does (`ATTEMPT#<digits>#` after a shorter prefix of the same digits, since
    /// `#` sorts before every digit), so the range holds exactly the page's attempts.
    pub async fn attempts_between(
        &self,
        campaign: uuid::Uuid,
        first: &str,
        last: &str,
    ) -> StoreResult<Vec<Attempt>> {
        let items = dynamo::query_between(
            &self.client,
            &self.table,
            keys::campaign(campaign),
            format!("ATTEMPT#{first}#"),
            format!("ATTEMPT#{last}#~"),
            "reading a page's attempts",
        )
        .await?;
        Ok(items
            .into_iter()
            .map(|item| dynamo::from_item::<AttemptItem>(item).map(|i| i.attempt))
            .collect::<anyhow::Result<Vec<_>>>()?)
    }
}
