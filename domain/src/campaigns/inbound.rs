//! Inbound campaigns: while one runs, each of its numbers carries it beside the number's route
//! (`phone_numbers::RouteCampaign`), so a call to the number is recorded with the campaign and
//! goes to the campaign's agent; the handoff finds the caller in the campaign's lists. A number
//! is held by one running campaign at a time.

use super::model::{Campaign, Direction};
use crate::error::StoreResult;
use crate::phone_numbers::store::{PhoneNumberStore, RouteCampaign};

/// Assigns the campaign's numbers to it (a number it already holds stays held). If one is
/// held by another campaign, those assigned here are released again and the refusal
/// (`NUMBER_IN_CAMPAIGN`) returned. Nothing for an outbound campaign.
pub async fn assign_numbers(numbers: &PhoneNumberStore, campaign: &Campaign) -> StoreResult<()> {
    if campaign.direction != Direction::Inbound {
        return Ok(());
    }
    for (done, e164) in campaign.caller_ids.iter().enumerate() {
        let assigned = match numbers.route(e164).await? {
            // Not the tenant's (any more): nothing to carry the campaign.
            Some(route) if route.tenant_id == campaign.tenant_id => {
                numbers
                    .assign_campaign(
                        e164,
                        &RouteCampaign {
                            tenant_id: campaign.tenant_id,
                            phone_number_id: route.phone_number_id,
                            campaign_id: campaign.id,
                            agent_id: campaign.agent_id,
                        },
                    )
                    .await
            }
            _ => Ok(()),
        };
        if let Err(refused) = assigned {
            for earlier in &campaign.caller_ids[..done] {
                numbers.release_campaign(earlier, campaign.id).await?;
            }
            return Err(refused);
        }
    }
    Ok(())
}

/// Releases the campaign's numbers (each only if this campaign holds it).
pub async fn release_numbers(numbers: &PhoneNumberStore, campaign: &Campaign) -> StoreResult<()> {
    if campaign.direction != Direction::Inbound {
        return Ok(());
    }
    for e164 in &campaign.caller_ids {
        numbers.release_campaign(e164, campaign.id).await?;
    }
    Ok(())
}
