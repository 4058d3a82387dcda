//! What a campaign's call brings to the runtime: the lead (number, name) and its variables over
//! the campaign's, and the agent version the campaign pins. An outbound call's lead is the one
//! dialed; an inbound call's is the caller, when the campaign's lists have the number. The handoff worker puts this on the
//! call's dispatch, so the runtime's claim returns it without reading more.

use super::model::Campaign;
use super::store::CampaignStore;
use crate::calls::{Call, Direction, DispatchCampaign};
use crate::error::StoreResult;
use crate::leads::store::LeadStore;

/// The campaign context of `call`, with the campaign (`None` for a call of no campaign, or one
/// whose campaign is gone).
pub async fn for_call(
    campaigns: &CampaignStore,
    leads: &LeadStore,
    call: &Call,
) -> StoreResult<Option<(Campaign, DispatchCampaign)>> {
    let (Some(campaign_id), Some(lead_id)) = (call.campaign_id, call.lead_id.as_deref()) else {
        return Ok(None);
    };
    let Some(campaign) = campaigns.get(call.tenant_id, campaign_id).await? else {
        return Ok(None);
    };
    let phone_number = format!("+{lead_id}");
    let mut variables = campaign.variables.clone();
    let mut name = None;
    let lead = match call.direction {
        // The lead as listed where it was enrolled from.
        Direction::Outbound => match campaigns.campaign_lead(campaign_id, &phone_number).await? {
            Some(enrolled) => leads.lead(enrolled.list_id, &phone_number).await?,
            None => None,
        },
        // An inbound caller: as the first of the campaign's lists that has the number lists it.
        Direction::Inbound => {
            let mut found = None;
            for list in &campaign.lead_list_ids {
                found = leads.lead(*list, &phone_number).await?;
                if found.is_some() {
                    break;
                }
            }
            found
        }
    };
    if let Some(lead) = lead {
        variables.extend(lead.variables);
        name = lead.name;
    }
    let context = DispatchCampaign {
        campaign_id,
        lead_id: lead_id.to_owned(),
        phone_number,
        name,
        variables,
    };
    Ok(Some((campaign, context)))
}
