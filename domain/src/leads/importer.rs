//! Runs one import of a lead file into a list: rows read one at a time, written in batches of
//! [`BATCH`] with the import's progress, so a worker that stops mid-file resumes after its last
//! committed batch and a redelivered message counts nothing twice.
//!
//! Reading is synchronous (the CSV reader pulls from the file as it goes); the worker runs one
//! import per invocation, so the file is streamed, never held whole.

use std::io::Read;

use chrono::{DateTime, Utc};

use super::import::{Candidate, Counters, FileError, LeadRows, Options, Outcome, Row};
use super::model::LeadList;
use super::store::{BATCH, BatchCommit, LeadStore, OnDuplicate, Progress};
use crate::error::StoreError;

/// Rows rejected at most per commit when no lead fills a batch, so progress keeps moving.
const MAX_REJECTED_PER_COMMIT: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How one run of an import ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRun {
    /// The file's headers, as written.
    pub headers: Vec<String>,
    pub counters: Counters,
    /// Every row the reader refused, with its line and cells (for the error report); rows the
    /// store refused (suppressed, already in the list) are counted in `counters`.
    pub rejected: Vec<(u64, Outcome, Vec<String>)>,
    /// False when the run stopped after `max_batches` (a stand-in for a worker that died).
    pub finished: bool,
}

/// What one import does with its rows.
#[derive(Debug, Clone, Copy)]
pub struct ImportSettings {
    pub on_duplicate: OnDuplicate,
    pub dry_run: bool,
    pub now: DateTime<Utc>,
    /// Stop after this many committed batches (tests: a worker dying mid-file).
    pub max_batches: Option<usize>,
}

struct Pending {
    leads: Vec<Candidate>,
    rejected: Vec<Outcome>,
    last_line: u64,
}

pub async fn import_file<R: Read>(
    store: &LeadStore,
    list: &LeadList,
    import: uuid::Uuid,
    source: R,
    options: Options,
    settings: ImportSettings,
) -> Result<ImportRun, ImportError> {
    let mut from = store.progress(list.id, import).await?;
    let rows = LeadRows::new(source, options)?;
    let mut run = ImportRun {
        headers: rows.columns().headers.clone(),
        counters: from.counters,
        rejected: Vec::new(),
        finished: false,
    };
    let mut pending = Pending {
        leads: Vec::new(),
        rejected: Vec::new(),
        last_line: from.committed_line,
    };
    let mut batches = 0;
    for row in rows {
        let row = row?;
        if let Row::Rejected {
            line,
            outcome,
            cells,
        } = &row
        {
            run.rejected.push((*line, *outcome, cells.clone()));
        }
        let line = match &row {
            Row::Lead(lead) => lead.line,
            Row::Rejected { line, .. } => *line,
        };
        // Counted by an earlier run (the row still passed through the reader, so duplicates
        // within the file are still found).
        if line <= from.committed_line {
            continue;
        }
        match row {
            Row::Lead(lead) => pending.leads.push(lead),
            Row::Rejected { outcome, .. } => pending.rejected.push(outcome),
        }
        pending.last_line = line;
        if pending.leads.len() == BATCH || pending.rejected.len() >= MAX_REJECTED_PER_COMMIT {
            from = commit(store, list, import, &from, &mut pending, settings).await?;
            batches += 1;
            if settings.max_batches.is_some_and(|max| batches >= max) {
                run.counters = from.counters;
                return Ok(run);
            }
        }
    }
    if !pending.leads.is_empty() || !pending.rejected.is_empty() {
        from = commit(store, list, import, &from, &mut pending, settings).await?;
    }
    run.counters = from.counters;
    run.finished = true;
    Ok(run)
}

async fn commit(
    store: &LeadStore,
    list: &LeadList,
    import: uuid::Uuid,
    from: &Progress,
    pending: &mut Pending,
    settings: ImportSettings,
) -> Result<Progress, ImportError> {
    let committed = store
        .commit_batch(
            list,
            import,
            from,
            &pending.leads,
            &pending.rejected,
            pending.last_line,
            settings.on_duplicate,
            settings.dry_run,
            settings.now,
        )
        .await?;
    pending.leads.clear();
    pending.rejected.clear();
    Ok(match committed {
        BatchCommit::Committed(progress) => progress,
        // Another delivery got there first: carry on from where it is.
        BatchCommit::AlreadyCommitted => store.progress(list.id, import).await?,
    })
}
