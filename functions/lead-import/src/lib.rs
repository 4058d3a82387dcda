//! The `lead-import` worker: the background work of lead lists, one job per message.
//!
//! - An import (of a list's leads, or of do-not-call numbers): the file is downloaded from S3 to
//!   a temporary file (streamed, never whole in memory), read row by row and written in batches
//!   with the import's progress (`gobi_domain::leads::importer`); the error report is written to
//!   a temporary file as the rows go and stored beside the upload. A redelivered message resumes
//!   after the last committed batch and counts nothing twice; a finished import is left alone; a
//!   file that cannot be read fails the import and leaves the list as it was.
//! - A list's deletion: a bounded round of its items per message (leads, imports and their
//!   files), the next round queued until the list is gone.

use std::fs::File;
use std::path::Path;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use gobi_domain::error::StoreError;
use gobi_domain::leads::files::{self, ImportFiles};
use gobi_domain::leads::import::Options;
use gobi_domain::leads::importer::{
    ImportError, ImportTarget, ListTarget, SuppressionTarget, import_file,
};
use gobi_domain::leads::jobs;
use gobi_domain::leads::model::{ImportState, LeadImport, LeadJob, SuppressionReason};
use gobi_domain::leads::store::{ImportScope, LeadStore};
use gobi_shared::Config;
use gobi_shared::events::{Envelope, Publisher};
use gobi_shared::ids::TenantId;
use gobi_shared::sqs::{self, MessageError, PollReport};
use gobi_shared::time::Clock;
use lambda_runtime::LambdaEvent;

/// Items one message of a list's deletion removes at most (the rest go to the next message).
pub const DELETE_ROUND_ITEMS: usize = 5_000;

/// The AWS clients the worker uses.
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
}

#[derive(Clone)]
pub struct WorkerState {
    pub leads: LeadStore,
    pub files: ImportFiles,
    /// Its own queue: a list's deletion queues its next round here.
    pub jobs: Publisher,
    /// The tenant's webhooks: `import.completed`.
    pub events: gobi_domain::webhooks::EventSink,
    pub clock: Clock,
}

impl WorkerState {
    pub fn new(config: &Config, clients: Clients, clock: Clock) -> anyhow::Result<Self> {
        let bucket = config
            .imports_bucket
            .clone()
            .ok_or_else(|| anyhow::anyhow!("IMPORTS_BUCKET is not set"))?;
        let queue = config
            .lead_import_queue_url
            .clone()
            .ok_or_else(|| anyhow::anyhow!("LEAD_IMPORT_QUEUE_URL is not set"))?;
        Ok(Self {
            leads: LeadStore::new(clients.dynamodb, &config.tables.leads),
            files: ImportFiles::new(clients.s3, bucket),
            events: gobi_domain::webhooks::EventSink::from_config(config, clients.sqs.clone()),
            jobs: Publisher::new(clients.sqs, queue),
            clock,
        })
    }
}

/// What one message did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Imported(ImportState),
    /// Finished before (a duplicate delivery), awaiting its upload, or gone with its list:
    /// nothing to do.
    Skipped,
    /// One round of a list's deletion: the items removed, and whether the list is gone.
    Deleted {
        items: usize,
        finished: bool,
    },
}

pub async fn handle_message(state: &WorkerState, body: &str) -> Result<Outcome, MessageError> {
    let envelope: Envelope<LeadJob> =
        serde_json::from_str(body).map_err(|e| MessageError::Poison(e.to_string()))?;
    match envelope.data {
        LeadJob::Import { list_id, import_id } => {
            let scope = list_id.map_or(
                ImportScope::Suppressions(envelope.tenant_id),
                ImportScope::List,
            );
            run_import(state, envelope.tenant_id, scope, import_id).await
        }
        LeadJob::DeleteList { list_id } => delete_list(state, envelope.tenant_id, list_id).await,
    }
}

/// How a run's reading ended, for the import's final state.
enum Ran {
    Done {
        rejected: u64,
    },
    Unreadable(String),
    /// The list (and so the import) was deleted while it ran.
    Gone,
}

async fn run_import(
    state: &WorkerState,
    tenant: TenantId,
    scope: ImportScope,
    import_id: uuid::Uuid,
) -> Result<Outcome, MessageError> {
    let leads = &state.leads;
    let Some(import) = leads
        .import(scope, import_id)
        .await
        .map_err(MessageError::retry)?
    else {
        // Its list was deleted (and the import with it) before the message came.
        tracing::info!(import_id = %import_id, "import gone; nothing to do");
        return Ok(Outcome::Skipped);
    };
    if import.state.finished() || import.state == ImportState::AwaitingUpload {
        return Ok(Outcome::Skipped);
    }
    let list = match import.list_id {
        Some(list_id) => match leads
            .list(tenant, list_id)
            .await
            .map_err(MessageError::retry)?
        {
            Some(list) => Some(list),
            None => {
                fail(state, &import, "the lead list was deleted").await?;
                return Ok(Outcome::Imported(ImportState::Failed));
            }
        },
        None => None,
    };
    let now = state.clock.now();
    leads
        .move_import(
            scope,
            import.id,
            &[ImportState::Queued, ImportState::Importing],
            ImportState::Importing,
            None,
            now,
        )
        .await
        .map_err(MessageError::retry)?;
    let dir = std::env::temp_dir().join(format!("gobi-import-{}", import.id));
    std::fs::create_dir_all(&dir).map_err(MessageError::retry)?;
    let ran = async {
        let upload = dir.join("file.csv");
        let report = dir.join("report.csv");
        let key = import.object_key.clone().unwrap_or_default();
        state
            .files
            .download(&key, &upload)
            .await
            .map_err(MessageError::retry)?;
        let ran = match &list {
            Some(list) => {
                let options = Options {
                    default_country: country(list.default_country.as_deref()),
                    phone_column: list.phone_column.clone(),
                    timezone_column: list.timezone_column.clone(),
                };
                let target = ListTarget {
                    store: leads,
                    list,
                    import: import.id,
                    on_duplicate: import.on_duplicate,
                    dry_run: import.dry_run,
                    now,
                };
                read(&target, &upload, options, &report).await?
            }
            None => {
                let options = Options {
                    default_country: country(import.default_country.as_deref()),
                    ..Options::default()
                };
                let target = SuppressionTarget {
                    store: leads,
                    tenant,
                    import: import.id,
                    reason: import.reason.unwrap_or(SuppressionReason::Manual),
                    dry_run: import.dry_run,
                    now,
                };
                read(&target, &upload, options, &report).await?
            }
        };
        if matches!(ran, Ran::Done { .. }) {
            state
                .files
                .put_file(
                    &files::report_key(tenant, import.list_id, import.id),
                    &report,
                )
                .await
                .map_err(MessageError::retry)?;
        }
        Ok::<_, MessageError>(ran)
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    match ran? {
        Ran::Done { rejected } => {
            let done = if rejected == 0 {
                ImportState::Completed
            } else {
                ImportState::CompletedWithErrors
            };
            let now = state.clock.now();
            let moved = leads
                .move_import(scope, import.id, &[ImportState::Importing], done, None, now)
                .await
                .map_err(MessageError::retry)?;
            tracing::info!(tenant_id = %tenant, import_id = %import.id, rejected, "import finished");
            if moved {
                let data = serde_json::json!({
                    "importId": import.id,
                    "listId": import.list_id,
                    "state": done,
                    "rejected": rejected,
                });
                state
                    .events
                    .emit(
                        tenant,
                        gobi_domain::webhooks::EventType::ImportCompleted,
                        data,
                        now,
                    )
                    .await;
            }
            Ok(Outcome::Imported(done))
        }
        Ran::Unreadable(why) => {
            fail(state, &import, &why).await?;
            Ok(Outcome::Imported(ImportState::Failed))
        }
        Ran::Gone => {
            fail(state, &import, "the lead list was deleted").await?;
            Ok(Outcome::Imported(ImportState::Failed))
        }
    }
}

fn country(code: Option<&str>) -> Option<phonenumber::country::Id> {
    code.and_then(|c| c.parse().ok())
}

/// Reads the downloaded file into `target`, the report into `report`.
async fn read<T: ImportTarget>(
    target: &T,
    upload: &Path,
    options: Options,
    report: &Path,
) -> Result<Ran, MessageError> {
    let file = File::open(upload).map_err(MessageError::retry)?;
    let out = std::io::BufWriter::new(File::create(report).map_err(MessageError::retry)?);
    match import_file(target, file, options, out, None).await {
        Ok(run) => {
            run.report
                .into_inner()
                .map_err(|e| MessageError::retry(e.into_error()))?
                .sync_all()
                .map_err(MessageError::retry)?;
            Ok(Ran::Done {
                rejected: run.counters.rejected(),
            })
        }
        Err(ImportError::File(unreadable)) => Ok(Ran::Unreadable(unreadable.to_string())),
        Err(ImportError::Store(StoreError::NotFound { .. })) => Ok(Ran::Gone),
        Err(e) => Err(MessageError::retry(e)),
    }
}

async fn fail(state: &WorkerState, import: &LeadImport, why: &str) -> Result<(), MessageError> {
    tracing::warn!(import_id = %import.id, reason = why, "import failed");
    state
        .leads
        .move_import(
            import.scope(),
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

/// One round of a list's deletion; queues the next while items are left.
async fn delete_list(
    state: &WorkerState,
    tenant: TenantId,
    list: uuid::Uuid,
) -> Result<Outcome, MessageError> {
    let deleted = state
        .leads
        .delete_list_items(tenant, list, DELETE_ROUND_ITEMS)
        .await
        .map_err(MessageError::retry)?;
    let keys: Vec<String> = deleted
        .imports
        .iter()
        .flat_map(|import| {
            [
                import.object_key.clone(),
                Some(files::report_key(tenant, Some(list), import.id)),
            ]
        })
        .flatten()
        .collect();
    state
        .files
        .delete(&keys)
        .await
        .map_err(MessageError::retry)?;
    if !deleted.finished {
        jobs::queue(
            &state.jobs,
            tenant,
            LeadJob::DeleteList { list_id: list },
            state.clock.now(),
        )
        .await
        .map_err(MessageError::retry)?;
    }
    tracing::info!(tenant_id = %tenant, list_id = %list, items = deleted.items, finished = deleted.finished, "lead list deletion round");
    Ok(Outcome::Deleted {
        items: deleted.items,
        finished: deleted.finished,
    })
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
