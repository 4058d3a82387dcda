//! Queueing the `lead-import` worker's jobs: imports to run and lists to empty.

use chrono::{DateTime, Utc};
use gobi_shared::events::{Envelope, LEAD_IMPORT_QUEUED, LEAD_LIST_DELETING, Publisher};
use gobi_shared::ids::TenantId;

use super::model::LeadJob;

/// Sends `job` to the worker's queue.
pub async fn queue(
    jobs: &Publisher,
    tenant: TenantId,
    job: LeadJob,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let kind = match job {
        LeadJob::Import { .. } => LEAD_IMPORT_QUEUED,
        LeadJob::DeleteList { .. } => LEAD_LIST_DELETING,
    };
    jobs.send(&Envelope::new(kind, now, tenant, None, job))
        .await
        .map_err(|e| e.context("queueing a lead-list job"))
}
