//! Importing lead files into a list on DynamoDB Local: every row counted exactly, suppressed
//! numbers marked, a dry run writing nothing, a repeated batch changing nothing, and a worker that
//! stops mid-file resuming to the same result as one that did not.

use chrono::Utc;
use gobi_domain::leads::import::{Counters, Options};
use gobi_domain::leads::importer::{self, ImportError, ImportRun, ListTarget};
use gobi_domain::leads::model::{
    ImportState, LeadImport, LeadList, LeadState, ListCounts, Suppression, SuppressionReason,
};
use gobi_domain::leads::store::{BATCH, ImportScope, LeadStore, OnDuplicate};
use gobi_shared::ids::TenantId;
use gobi_tests::{TestApp, spawn_app};

fn store(app: &TestApp) -> LeadStore {
    LeadStore::new(app.dynamodb.clone(), &app.config.tables.leads)
}

async fn new_list(store: &LeadStore, tenant: TenantId) -> LeadList {
    let now = Utc::now();
    let list = LeadList {
        id: uuid::Uuid::now_v7(),
        tenant_id: tenant,
        name: "Spring campaign".into(),
        description: None,
        default_country: Some("US".into()),
        timezone_column: None,
        phone_column: None,
        counts: ListCounts::default(),
        created_at: now,
        updated_at: now,
    };
    store.create_list(&list).await.unwrap();
    list
}

fn us() -> Options {
    Options {
        default_country: Some(phonenumber::country::Id::US),
        ..Options::default()
    }
}

/// What a test run of an import does.
#[derive(Clone, Copy)]
struct Settings {
    on_duplicate: OnDuplicate,
    dry_run: bool,
    max_batches: Option<usize>,
}

fn settings() -> Settings {
    Settings {
        on_duplicate: OnDuplicate::Skip,
        dry_run: false,
        max_batches: None,
    }
}

/// Runs import `import` of `text` into `list` (its record created on the first run), the error
/// report written to memory.
async fn import_file(
    store: &LeadStore,
    list: &LeadList,
    import: uuid::Uuid,
    text: &[u8],
    options: Options,
    settings: Settings,
) -> Result<ImportRun<Vec<u8>>, ImportError> {
    let now = Utc::now();
    if store
        .import(ImportScope::List(list.id), import)
        .await?
        .is_none()
    {
        store
            .create_import(&LeadImport {
                id: import,
                state: ImportState::Importing,
                on_duplicate: settings.on_duplicate,
                ..LeadImport::new(list.tenant_id, Some(list.id), settings.dry_run, now)
            })
            .await?;
    }
    let target = ListTarget {
        store,
        list,
        import,
        on_duplicate: settings.on_duplicate,
        dry_run: settings.dry_run,
        now,
    };
    importer::import_file(&target, text, options, Vec::new(), settings.max_batches).await
}

/// The error report's rows after its header.
fn report_rows(run: &ImportRun<Vec<u8>>) -> Vec<String> {
    String::from_utf8(run.report.clone())
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect()
}

/// `rows` numbers (every 10th invalid, every 20th a repeat of the one before), with a header.
fn file(rows: usize) -> String {
    let mut text = String::from("Phone,First Name,Plan\n");
    for i in 0..rows {
        let number = if i % 10 == 9 {
            "not-a-number".to_owned()
        } else if i % 20 == 19 {
            format!("(415) 555-{:04}", i - 1)
        } else {
            format!("(415) 555-{i:04}")
        };
        text.push_str(&format!("{number},Lead {i},gold\n"));
    }
    text
}

#[tokio::test]
async fn every_row_is_counted_and_suppressed_numbers_are_marked() {
    let app = spawn_app().await;
    let store = store(&app);
    let tenant = TenantId::new();
    let list = new_list(&store, tenant).await;
    store
        .suppress(&Suppression {
            tenant_id: tenant,
            phone_number: "+14155550003".into(),
            reason: SuppressionReason::OptOut,
            source: "api".into(),
            created_at: Utc::now(),
        })
        .await
        .unwrap();

    let text = file(250);
    let run = import_file(
        &store,
        &list,
        uuid::Uuid::now_v7(),
        text.as_bytes(),
        us(),
        settings(),
    )
    .await
    .unwrap();
    // 250 rows: 25 invalid (i % 10 == 9 — which includes every i % 20 == 19), so no repeats
    // survive as duplicates; one suppressed.
    assert!(run.finished);
    assert_eq!(
        run.counters,
        Counters {
            rows: 250,
            accepted: 224,
            suppressed: 1,
            invalid_number: 25,
            ..Counters::default()
        }
    );
    // The report lists the 25 invalid rows and the suppressed one, in file order.
    let rows = report_rows(&run);
    assert_eq!(rows.len(), 26, "{rows:?}");
    assert_eq!(rows[0], "5,suppressed,(415) 555-0003,Lead 3,gold");
    assert_eq!(rows[1], "11,invalidNumber,not-a-number,Lead 9,gold");
    let leads = store.leads(list.id).await.unwrap();
    assert_eq!(leads.len(), 225);
    let suppressed = store.lead(list.id, "+14155550003").await.unwrap().unwrap();
    assert_eq!(suppressed.state, LeadState::Suppressed);
    let counts = store.list(tenant, list.id).await.unwrap().unwrap().counts;
    assert_eq!(
        counts,
        ListCounts {
            total: 225,
            valid: 224,
            suppressed: 1
        }
    );
}

#[tokio::test]
async fn duplicates_in_the_file_and_in_the_list_are_told_apart() {
    let app = spawn_app().await;
    let store = store(&app);
    let tenant = TenantId::new();
    let list = new_list(&store, tenant).await;
    let first = "Phone,Name\n4155550100,Ann\n4155550100,Ann again\n";
    let run = import_file(
        &store,
        &list,
        uuid::Uuid::now_v7(),
        first.as_bytes(),
        us(),
        settings(),
    )
    .await
    .unwrap();
    assert_eq!(
        (run.counters.accepted, run.counters.duplicate_in_file),
        (1, 1)
    );

    let second = "Phone,Name\n4155550100,Ann Lee\n4155550101,Bo\n";
    let skip = import_file(
        &store,
        &list,
        uuid::Uuid::now_v7(),
        second.as_bytes(),
        us(),
        settings(),
    )
    .await
    .unwrap();
    assert_eq!(
        (skip.counters.accepted, skip.counters.already_in_list),
        (1, 1)
    );
    let update = Settings {
        on_duplicate: OnDuplicate::Update,
        ..settings()
    };
    let updated = import_file(
        &store,
        &list,
        uuid::Uuid::now_v7(),
        second.as_bytes(),
        us(),
        update,
    )
    .await
    .unwrap();
    assert_eq!(updated.counters.updated, 2);
    let ann = store.lead(list.id, "+14155550100").await.unwrap().unwrap();
    assert_eq!(ann.name.as_deref(), Some("Ann Lee"));
    assert_eq!(
        store
            .list(tenant, list.id)
            .await
            .unwrap()
            .unwrap()
            .counts
            .total,
        2,
        "updates do not count a lead twice"
    );
}

#[tokio::test]
async fn a_dry_run_writes_no_lead() {
    let app = spawn_app().await;
    let store = store(&app);
    let list = new_list(&store, TenantId::new()).await;
    let dry = Settings {
        dry_run: true,
        ..settings()
    };
    let run = import_file(
        &store,
        &list,
        uuid::Uuid::now_v7(),
        file(40).as_bytes(),
        us(),
        dry,
    )
    .await
    .unwrap();
    assert_eq!((run.counters.rows, run.counters.accepted), (40, 36));
    assert!(store.leads(list.id).await.unwrap().is_empty());
    assert_eq!(
        store
            .list(list.tenant_id, list.id)
            .await
            .unwrap()
            .unwrap()
            .counts,
        ListCounts::default()
    );
}

#[tokio::test]
async fn a_worker_stopped_mid_file_resumes_and_a_repeated_run_counts_nothing_twice() {
    let app = spawn_app().await;
    let store = store(&app);
    let tenant = TenantId::new();
    let list = new_list(&store, tenant).await;
    let import = uuid::Uuid::now_v7();
    let text = file(3 * BATCH + 17);
    // One number the store refuses in the first batch, one in a later one: the report of a
    // resumed run still lists both.
    for number in ["+14155550003", "+14155550250"] {
        store
            .suppress(&Suppression {
                tenant_id: tenant,
                phone_number: number.into(),
                reason: SuppressionReason::Manual,
                source: "api".into(),
                created_at: Utc::now(),
            })
            .await
            .unwrap();
    }
    let stopped = Settings {
        max_batches: Some(1),
        ..settings()
    };
    let first = import_file(&store, &list, import, text.as_bytes(), us(), stopped)
        .await
        .unwrap();
    assert!(!first.finished);
    assert_eq!(
        (first.counters.accepted, first.counters.suppressed),
        (BATCH as u64 - 1, 1)
    );

    // The message comes back: the same import resumes after its committed batch.
    let resumed = import_file(&store, &list, import, text.as_bytes(), us(), settings())
        .await
        .unwrap();
    assert!(resumed.finished);
    // And once more, as a duplicate delivery after completion: nothing changes.
    let again = import_file(&store, &list, import, text.as_bytes(), us(), settings())
        .await
        .unwrap();
    assert_eq!(again.counters, resumed.counters);

    // The same file in one uninterrupted run into another list gives the same figures.
    let other = new_list(&store, tenant).await;
    let whole = import_file(
        &store,
        &other,
        uuid::Uuid::now_v7(),
        text.as_bytes(),
        us(),
        settings(),
    )
    .await
    .unwrap();
    assert_eq!(resumed.counters, whole.counters);
    assert_eq!(resumed.counters.rows, (3 * BATCH + 17) as u64);
    // Every run's report is the whole file's, in file order.
    let whole_report = report_rows(&whole);
    assert_eq!(report_rows(&resumed), whole_report);
    assert_eq!(report_rows(&again), whole_report);
    assert!(whole_report.contains(&"5,suppressed,(415) 555-0003,Lead 3,gold".to_owned()));
    assert!(whole_report.contains(&"252,suppressed,(415) 555-0250,Lead 250,gold".to_owned()));
    assert_eq!(
        whole_report.len() as u64,
        whole.counters.rows - whole.counters.accepted
    );
    // Suppressed rows are kept as suppressed leads.
    let counts = store.list(tenant, list.id).await.unwrap().unwrap().counts;
    let kept = whole.counters.accepted + whole.counters.suppressed;
    assert_eq!(
        (counts.total, counts.suppressed),
        (kept, whole.counters.suppressed)
    );
    assert_eq!(store.leads(list.id).await.unwrap().len() as u64, kept);
}
