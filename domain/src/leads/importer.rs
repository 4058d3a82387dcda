//! Runs one import of a file: rows read one at a time, written in batches of [`BATCH`] with the
//! import's progress, so a worker that stops mid-file resumes after its last committed batch and
//! a redelivered message counts nothing twice. The same reading fills a lead list
//! ([`ListTarget`]) or the tenant's do-not-call list ([`SuppressionTarget`]).
//!
//! The error report is written as the run goes, in file order, to any `Write` (the worker's is
//! a temporary file): the reader's refusals with their cells, and the rows the store refused
//! (already there, suppressed) — for batches an earlier run committed, from the refusals each
//! batch keeps beside its progress. Reading is synchronous (the CSV reader pulls from the file
//! as it goes); the file is streamed, never held whole.

use std::collections::HashMap;
use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use gobi_shared::ids::TenantId;

use super::import::{Candidate, Counters, ErrorReport, FileError, LeadRows, Options, Outcome, Row};
use super::model::{LeadList, SuppressionReason};
use super::store::{
    BATCH, BatchCommit, BatchRows, ImportScope, LeadStore, OnDuplicate, Progress, Writing,
};
use crate::error::{StoreError, StoreResult};

/// Rows rejected at most per commit when no lead fills a batch, so progress keeps moving.
const MAX_REJECTED_PER_COMMIT: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the error report: {0}")]
    Report(#[from] std::io::Error),
}

impl From<csv::Error> for ImportError {
    fn from(e: csv::Error) -> Self {
        Self::Report(e.into())
    }
}

/// Where an import's rows go: its progress, the rows its committed batches refused, and the
/// commit of one batch.
#[allow(async_fn_in_trait)]
pub trait ImportTarget {
    async fn progress(&self) -> StoreResult<Progress>;
    async fn refusals(&self) -> StoreResult<HashMap<u64, Outcome>>;
    async fn commit(&self, from: &Progress, rows: BatchRows<'_>) -> StoreResult<BatchCommit>;
}

/// A lead import into a list.
#[derive(Debug, Clone, Copy)]
pub struct ListTarget<'a> {
    pub store: &'a LeadStore,
    pub list: &'a LeadList,
    pub import: uuid::Uuid,
    pub on_duplicate: OnDuplicate,
    /// Validate and count, write no lead.
    pub dry_run: bool,
    pub now: DateTime<Utc>,
}

impl ImportTarget for ListTarget<'_> {
    async fn progress(&self) -> StoreResult<Progress> {
        self.store
            .progress(ImportScope::List(self.list.id), self.import)
            .await
    }

    async fn refusals(&self) -> StoreResult<HashMap<u64, Outcome>> {
        self.store
            .refusals(ImportScope::List(self.list.id), self.import)
            .await
    }

    async fn commit(&self, from: &Progress, rows: BatchRows<'_>) -> StoreResult<BatchCommit> {
        self.store
            .commit_batch(
                self.list,
                self.import,
                from,
                rows,
                self.on_duplicate,
                Writing {
                    dry_run: self.dry_run,
                    now: self.now,
                },
            )
            .await
    }
}

/// An import of numbers onto the tenant's do-not-call list.
#[derive(Debug, Clone, Copy)]
pub struct SuppressionTarget<'a> {
    pub store: &'a LeadStore,
    pub tenant: TenantId,
    pub import: uuid::Uuid,
    pub reason: SuppressionReason,
    pub dry_run: bool,
    pub now: DateTime<Utc>,
}

impl ImportTarget for SuppressionTarget<'_> {
    async fn progress(&self) -> StoreResult<Progress> {
        self.store
            .progress(ImportScope::Suppressions(self.tenant), self.import)
            .await
    }

    async fn refusals(&self) -> StoreResult<HashMap<u64, Outcome>> {
        self.store
            .refusals(ImportScope::Suppressions(self.tenant), self.import)
            .await
    }

    async fn commit(&self, from: &Progress, rows: BatchRows<'_>) -> StoreResult<BatchCommit> {
        self.store
            .commit_suppressions(
                self.tenant,
                self.import,
                from,
                rows,
                self.reason,
                Writing {
                    dry_run: self.dry_run,
                    now: self.now,
                },
            )
            .await
    }
}

/// How one run of an import ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRun<W> {
    pub counters: Counters,
    /// False when the run stopped after `max_batches` (a stand-in for a worker that died).
    pub finished: bool,
    /// The error report as far as the run read the file.
    pub report: W,
}

/// The rows read since the last commit, with the report lines the reader gave them.
#[derive(Default)]
struct Pending {
    leads: Vec<Candidate>,
    outcomes: Vec<Outcome>,
    rejected: Vec<(u64, Outcome, Vec<String>)>,
    last_line: u64,
}

/// Imports `source` into `target`, writing rejected rows to `report`; stops after
/// `max_batches` committed batches when given (tests: a worker dying mid-file).
pub async fn import_file<T: ImportTarget, R: Read, W: Write>(
    target: &T,
    source: R,
    options: Options,
    report: W,
    max_batches: Option<usize>,
) -> Result<ImportRun<W>, ImportError> {
    let mut from = target.progress().await?;
    let mut earlier = if from.committed_line > 0 {
        target.refusals().await?
    } else {
        HashMap::new()
    };
    let rows = LeadRows::new(source, options)?;
    let mut report = ErrorReport::new(report, &rows.columns().headers)?;
    let mut pending = Pending {
        last_line: from.committed_line,
        ..Pending::default()
    };
    let mut batches = 0;
    for row in rows {
        let row = row?;
        let line = match &row {
            Row::Lead(lead) => lead.line,
            Row::Rejected { line, .. } => *line,
        };
        // Counted by an earlier run: only its report line is written again (the row still
        // passed through the reader, so duplicates within the file are still found).
        if line <= from.committed_line {
            match &row {
                Row::Rejected {
                    line,
                    outcome,
                    cells,
                } => report.reject(*line, *outcome, cells)?,
                Row::Lead(lead) => {
                    if let Some(outcome) = earlier.get(&lead.line) {
                        report.reject(lead.line, *outcome, &lead.cells)?;
                    }
                }
            }
            continue;
        }
        match row {
            Row::Lead(lead) => pending.leads.push(lead),
            Row::Rejected {
                line,
                outcome,
                cells,
            } => {
                pending.outcomes.push(outcome);
                pending.rejected.push((line, outcome, cells));
            }
        }
        pending.last_line = line;
        if pending.leads.len() == BATCH || pending.rejected.len() >= MAX_REJECTED_PER_COMMIT {
            from = commit(target, &from, &mut pending, &mut earlier, &mut report).await?;
            batches += 1;
            if max_batches.is_some_and(|max| batches >= max) {
                return Ok(ImportRun {
                    counters: from.counters,
                    finished: false,
                    report: report.finish()?,
                });
            }
        }
    }
    if !pending.leads.is_empty() || !pending.rejected.is_empty() {
        from = commit(target, &from, &mut pending, &mut earlier, &mut report).await?;
    }
    Ok(ImportRun {
        counters: from.counters,
        finished: true,
        report: report.finish()?,
    })
}

/// Commits the pending rows and writes their report lines in file order.
async fn commit<T: ImportTarget, W: Write>(
    target: &T,
    from: &Progress,
    pending: &mut Pending,
    earlier: &mut HashMap<u64, Outcome>,
    report: &mut ErrorReport<W>,
) -> Result<Progress, ImportError> {
    let committed = target
        .commit(
            from,
            BatchRows {
                candidates: &pending.leads,
                rejected: &pending.outcomes,
                through_line: pending.last_line,
            },
        )
        .await?;
    let (progress, refused) = match committed {
        BatchCommit::Committed { progress, refused } => (progress, refused),
        // Another delivery got there first: carry on from where it is, with what it refused.
        BatchCommit::AlreadyCommitted => {
            *earlier = target.refusals().await?;
            let refused = pending
                .leads
                .iter()
                .filter_map(|lead| earlier.get(&lead.line).map(|o| (lead.line, *o)))
                .collect();
            (target.progress().await?, refused)
        }
    };
    let refused: HashMap<u64, Outcome> = refused.into_iter().collect();
    let mut lines: Vec<(u64, Outcome, Vec<String>)> = std::mem::take(&mut pending.rejected);
    lines.extend(pending.leads.drain(..).filter_map(|lead| {
        refused
            .get(&lead.line)
            .map(|outcome| (lead.line, *outcome, lead.cells))
    }));
    lines.sort_by_key(|(line, _, _)| *line);
    for (line, outcome, cells) in &lines {
        report.reject(*line, *outcome, cells)?;
    }
    pending.outcomes.clear();
    Ok(progress)
}
