//! Enrolment: a started campaign's lists read into campaign leads, a page per transaction.

use super::*;

impl Dialer {
    /// One enrolment job: up to 20 pages of the lists' leads, then the next job (or done).
    pub async fn enroll(
        &self,
        tenant: TenantId,
        campaign_id: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        for _ in 0..ENROLL_PAGES_PER_JOB {
            let Some(campaign) = self.campaigns.get(tenant, campaign_id).await? else {
                return Ok(());
            };
            if campaign.enrollment.done || campaign.state.finished() {
                return Ok(());
            }
            let from = campaign.enrollment.clone();
            let index = usize::try_from(from.list).unwrap_or(usize::MAX);
            let Some(list_id) = campaign.lead_list_ids.get(index).copied() else {
                let to = Enrollment {
                    round: from.round + 1,
                    done: true,
                    ..from.clone()
                };
                self.campaigns
                    .enroll_page(&campaign, &from, Vec::new(), &to)
                    .await?;
                return Ok(());
            };
            let (leads, next) = self
                .leads
                .matching_leads(
                    list_id,
                    ENROLL_PAGE as u32,
                    from.cursor.as_deref(),
                    ENROLL_PAGE,
                    |_| true,
                )
                .await?;
            let enrolled: Vec<CampaignLead> = leads
                .into_iter()
                .map(|lead| {
                    let skip = if lead.state == LeadState::Suppressed {
                        Some(SkipReason::Suppressed)
                    } else if campaign.purpose == Purpose::Marketing
                        && lead.consent.kind != ConsentType::Written
                    {
                        Some(SkipReason::NoConsent)
                    } else {
                        None
                    };
                    CampaignLead {
                        campaign_id,
                        list_id,
                        lead_id: lead.id,
                        phone_number: lead.phone_number,
                        status: if skip.is_some() {
                            LeadStatus::Skipped
                        } else {
                            LeadStatus::Pending
                        },
                        skip_reason: skip,
                        attempts: 0,
                        last_outcome: None,
                        next_attempt_at: None,
                        lease_expires_at: None,
                        recent_dials: Vec::new(),
                        timezone: Some(lead.timezone),
                        closed: false,
                        updated_at: now,
                    }
                })
                .collect();
            let last_list = index + 1 >= campaign.lead_list_ids.len();
            let no_consent = from.no_consent
                + enrolled
                    .iter()
                    .filter(|l| l.skip_reason == Some(SkipReason::NoConsent))
                    .count() as u64;
            let to = match next {
                Some(cursor) => Enrollment {
                    round: from.round + 1,
                    cursor: Some(cursor),
                    no_consent,
                    ..from.clone()
                },
                None => Enrollment {
                    round: from.round + 1,
                    list: from.list + 1,
                    cursor: None,
                    done: last_list,
                    enrolled: from.enrolled,
                    no_consent,
                },
            };
            let committed = self
                .campaigns
                .enroll_page(&campaign, &from, enrolled, &to)
                .await?;
            if committed && to.done {
                self.enrolled(&campaign, &to, now).await?;
                return Ok(());
            }
        }
        // More to read: the next job carries on (a lost one is queued again by the tick).
        send(&self.jobs, tenant, DialerJob::Enroll { campaign_id }, now).await?;
        Ok(())
    }

    /// The enrolment is complete: a marketing campaign with leads lacking written consent, and
    /// not told to skip them, pauses before its first dial.
    async fn enrolled(
        &self,
        campaign: &Campaign,
        enrollment: &Enrollment,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if campaign.purpose == Purpose::Marketing
            && !campaign.skip_without_consent
            && enrollment.no_consent > 0
        {
            tracing::warn!(tenant_id = %campaign.tenant_id, campaign_id = %campaign.id, no_consent = enrollment.no_consent, "marketing campaign paused: leads lack written consent");
            self.campaigns
                .transition(
                    campaign.tenant_id,
                    campaign.id,
                    &[CampaignState::Running, CampaignState::Scheduled],
                    CampaignState::Paused,
                    Some(PauseReason::ConsentMissing),
                    now,
                )
                .await?;
        }
        Ok(())
    }
}
