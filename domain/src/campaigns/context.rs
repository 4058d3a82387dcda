//! What a campaign's call brings to the runtime: the lead (number, name) and its variables over
//! the campaign's, and the agent version the campaign pins. The handoff worker puts this on the
//! call's dispatch, so the runtime's claim returns it without reading more.

use super::model::Campaign;
use super::store::CampaignStore;
use crate::calls::{Call, DispatchCampaign};
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
    if let Some(enrolled) = campaigns.campaign_lead(campaign_id, &phone_number).await? {
        if let Some(lead) = leads.lead(enrolled.list_id, &phone_number).await? {
            variables.extend(lead.variables);
            name = lead.name;
        }
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
