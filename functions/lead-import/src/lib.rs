//! The `lead-import` worker: one queued import per message. It downloads the file from S3 to a
//! temporary file (streamed, never whole in memory), reads it row by row and writes the rows in
//! batches with the import's progress (`gobi_domain::leads::importer`), then writes the error
//! report and the import's final state.
//!
//! A redelivered message resumes after the last committed batch and counts nothing twice; a
//! finished import is left alone; a file that cannot be read fails the import and leaves the
//! list as it was.

use std::fs::File;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use gobi_domain::leads::files::{self, ImportFiles};
use gobi_domain::leads::import::{ErrorReport, Options};
use gobi_domain::leads::importer::{ImportError, ImportSettings, import_file};
use gobi_domain::leads::model::{ImportJob, ImportState, LeadImport};
use gobi_domain::leads::store::LeadStore;
use gobi_shared::Config;
use gobi_shared::events::Envelope;
use gobi_shared::sqs::{self, MessageError, PollReport};
use gobi_shared::time::Clock;
use lambda_runtime::LambdaEvent;

#[derive(Clone)]
pub struct WorkerState {
    pub leads: LeadStore,
    pub files: ImportFiles,
    pub clock: Clock,
}

impl WorkerState {
    pub fn new(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        s3: aws_sdk_s3::Client,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let bucket = config
            .imports_bucket
            .clone()
            .ok_or_else(|| anyhow::anyhow!("IMPORTS_BUCKET is not set"))?;
        Ok(Self {
            leads: LeadStore::new(dynamodb, &config.tables.leads),
            files: ImportFiles::new(s3, bucket),
            clock,
        })
    }
}

/// What one message did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Imported(ImportState),
    /// Finished before (a duplicate delivery), or awaiting its upload: nothing to do.
    Skipped,
}

fn options(default_country: Option<&str>, list: &gobi_domain::leads::model::LeadList) -> Options {
    Options {
        default_country: default_country.and_then(|c| c.parse().ok()),
        phone_column: list.phone_column.clone(),
        timezone_column: list.timezone_column.clone(),
    }
}

pub async fn handle_message(state: &WorkerState, body: &str) -> Result<Outcome, MessageError> {
    let envelope: Envelope<ImportJob> =
        serde_json::from_str(body).map_err(|e| MessageError::Poison(e.to_string()))?;
    let tenant = envelope.tenant_id;
    let job = envelope.data;
    let leads = &state.leads;
    let import = leads
        .import(job.list_id, job.import_id)
        .await
        .map_err(MessageError::retry)?
        .ok_or_else(|| MessageError::Poison(format!("no import {}", job.import_id)))?;
    if import.state.finished() || import.state == ImportState::AwaitingUpload {
        return Ok(Outcome::Skipped);
    }
    let Some(list) = leads
        .list(tenant, job.list_id)
        .await
        .map_err(MessageError::retry)?
    else {
        fail(state, &import, "the lead list no longer exists").await?;
        return Ok(Outcome::Imported(ImportState::Failed));
    };
    let now = state.clock.now();
    leads
        .move_import(
            list.id,
            import.id,
            &[ImportState::Queued, ImportState::Importing],
            ImportState::Importing,
            None,
            now,
        )
        .await
        .map_err(MessageError::retry)?;
    let key = import.object_key.clone().unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("gobi-import-{}", import.id));
    std::fs::create_dir_all(&dir).map_err(MessageError::retry)?;
    let path = dir.join("file.csv");
    let result = async {
        state
            .files
            .download(&key, &path)
            .await
            .map_err(MessageError::retry)?;
        let file = File::open(&path).map_err(MessageError::retry)?;
        let settings = ImportSettings {
            on_duplicate: import.on_duplicate,
            dry_run: import.dry_run,
            now,
            max_batches: None,
        };
        let options = options(list.default_country.as_deref(), &list);
        match import_file(leads, &list, import.id, file, options, settings).await {
            Ok(run) => Ok(Ok(run)),
            Err(ImportError::File(unreadable)) => Ok(Err(unreadable.to_string())),
            Err(ImportError::Store(e)) => Err(MessageError::retry(e)),
        }
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    match result? {
        Ok(run) => {
            let mut report =
                ErrorReport::new(Vec::new(), &run.headers).map_err(MessageError::retry)?;
            for (line, outcome, cells) in &run.rejected {
                report
                    .reject(*line, *outcome, cells)
                    .map_err(MessageError::retry)?;
            }
            let report = report.finish().map_err(MessageError::retry)?;
            state
                .files
                .put(&files::report_key(tenant, list.id, import.id), report)
                .await
                .map_err(MessageError::retry)?;
            let done = if run.counters.rejected() == 0 {
                ImportState::Completed
            } else {
                ImportState::CompletedWithErrors
            };
            leads
                .move_import(
                    list.id,
                    import.id,
                    &[ImportState::Importing],
                    done,
                    None,
                    state.clock.now(),
                )
                .await
                .map_err(MessageError::retry)?;
            tracing::info!(tenant_id = %tenant, import_id = %import.id, rows = run.counters.rows, "import finished");
            Ok(Outcome::Imported(done))
        }
        Err(unreadable) => {
            fail(state, &import, &unreadable).await?;
            Ok(Outcome::Imported(ImportState::Failed))
        }
    }
}

async fn fail(state: &WorkerState, import: &LeadImport, why: &str) -> Result<(), MessageError> {
    tracing::warn!(import_id = %import.id, reason = why, "import failed");
    state
        .leads
        .move_import(
            import.list_id,
            import.id,
            &[ImportState::Queued, ImportState::Importing],
            ImportState::Failed,
            Some(why),
            state.clock.now(),
        )
        .await
        .map_err(MessageError::retry)?;
    Ok(())
}

/// One batch of messages, each on its own (partial batch failure).
pub async fn process(state: &WorkerState, event: SqsEvent) -> SqsBatchResponse {
    sqs::process(event, "lead-import", |body| async move {
        handle_message(state, &body).await
    })
    .await
}

/// The Lambda handler.
pub async fn handle(
    state: &WorkerState,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    Ok(process(state, event.payload).await)
}

/// One local round on the import queue, with the Lambda's handler.
pub async fn poll_once(
    state: &WorkerState,
    queue: &aws_sdk_sqs::Client,
    queue_url: &str,
    wait_seconds: i32,
) -> anyhow::Result<PollReport> {
    sqs::poll_once(queue, queue_url, wait_seconds, |event| {
        process(state, event)
    })
    .await
}
