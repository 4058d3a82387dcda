//! `make bench-import`: the `lead-import` worker's handler on a generated lead file, against the
//! local stack, with figures printed (no assertions: machines are shared and noisy).
//!
//!   gobi-bench-import [rows]     (default 150000: 10% invalid, 5% duplicates, 2% suppressed)
//!
//! The file is written to disk and put to moto's S3 as a stream, the suppressed numbers are put on
//! the do-not-call list, then one message is handled exactly as the Lambda would. Printed: rows
//! per second, the process's peak RSS (`VmHWM`) before and after, and DynamoDB requests per 1,000
//! rows (counted by an SDK interceptor).

use std::io::Write;
use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use chrono::Utc;
use gobi_domain::leads::files;
use gobi_domain::leads::model::{
    ImportKind, ImportState, LeadImport, LeadJob, LeadList, ListCounts, Suppression,
    SuppressionReason,
};
use gobi_domain::leads::store::{LeadStore, OnDuplicate};
use gobi_infra::{provision, template};
use gobi_shared::events::{Envelope, LEAD_IMPORT_QUEUED};
use gobi_shared::ids::TenantId;
use gobi_tests::bench::{CountRequests, peak_rss_kib};

/// Valid North American numbers, one per index: ten area codes, then exchange and line.
fn valid(i: usize) -> String {
    const AREAS: [u32; 10] = [212, 312, 415, 617, 713, 202, 305, 503, 602, 702];
    let rest = i / AREAS.len();
    format!(
        "+1{}{}{:04}",
        AREAS[i % AREAS.len()],
        200 + rest / 10_000,
        rest % 10_000
    )
}

/// The number of row `i`: every 20th repeats the one before (5% duplicates), every 10th
/// (offset 5) is not a number (10% invalid).
fn number(i: usize) -> Option<String> {
    if i % 10 == 5 {
        None
    } else if i % 20 == 19 {
        Some(valid(i - 1))
    } else {
        Some(valid(i))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rows: usize = std::env::args()
        .nth(1)
        .map(|r| r.parse())
        .transpose()?
        .unwrap_or(150_000);
    let mut config = gobi_shared::Config::from_env()?;
    let prefix = format!("bench{}", uuid::Uuid::now_v7().simple());
    config.tables.leads = format!("{prefix}-leads");
    // Generous timeouts: a stack just started is slow to answer its first requests, and the file
    // is put to S3 in one request.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(std::time::Duration::from_secs(120))
                .build(),
        )
        .load()
        .await;
    let requests = CountRequests::default();
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(requests.clone())
            .build(),
    );
    let template = template::Template::load(&template::default_path())?;
    provision::ensure_tables(&dynamodb, &template, &config.tables).await?;
    let s3 = files::s3_client(&sdk, true);
    let bucket = provision::ensure_bucket(&s3, &format!("{prefix}-imports")).await?;
    config.imports_bucket = Some(bucket.clone());
    config.s3_force_path_style = true;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    config.lead_import_queue_url = Some(
        provision::ensure_queue(
            &sqs,
            &template,
            "LeadImportQueue",
            &format!("{prefix}-lead-import"),
        )
        .await?,
    );

    let store = LeadStore::new(dynamodb.clone(), &config.tables.leads);
    let tenant = TenantId::new();
    let now = Utc::now();
    let list = LeadList {
        id: uuid::Uuid::now_v7(),
        tenant_id: tenant,
        name: "bench".into(),
        description: None,
        default_country: Some("US".into()),
        timezone_column: None,
        phone_column: None,
        counts: ListCounts::default(),
        created_at: now,
        updated_at: now,
    };
    store.create_list(&list).await?;
    // 2% suppressed: every 50th row's number.
    let suppressed: Vec<String> = (0..rows).step_by(50).filter_map(number).collect();
    for phone_number in &suppressed {
        store
            .suppress(&Suppression {
                tenant_id: tenant,
                phone_number: phone_number.clone(),
                reason: SuppressionReason::Manual,
                source: "bench".into(),
                created_at: now,
            })
            .await?;
    }

    let path = std::env::temp_dir().join(format!("{prefix}.csv"));
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(file, "Phone,First Name,Last Name,Plan,Notes")?;
        for i in 0..rows {
            let phone = number(i).unwrap_or_else(|| "not a number".into());
            writeln!(file, "{phone},Lead,{i},gold,imported by the bench")?;
        }
    }
    let size = std::fs::metadata(&path)?.len();
    let import_id = uuid::Uuid::now_v7();
    let key = files::upload_key(tenant, Some(list.id), import_id);
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        // One buffer: moto does not answer the `Expect: 100-continue` of a streamed upload.
        .body(ByteStream::from(std::fs::read(&path)?))
        .send()
        .await?;
    store
        .create_import(&LeadImport {
            id: import_id,
            tenant_id: tenant,
            kind: ImportKind::Leads,
            list_id: Some(list.id),
            reason: None,
            default_country: None,
            state: ImportState::Queued,
            dry_run: false,
            on_duplicate: OnDuplicate::Skip,
            object_key: Some(key),
            size_bytes: Some(size),
            failure: None,
            counters: Default::default(),
            created_at: now,
            updated_at: now,
            completed_at: None,
        })
        .await?;
    let message = serde_json::to_string(&Envelope::new(
        LEAD_IMPORT_QUEUED,
        now,
        tenant,
        None,
        LeadJob::Import {
            list_id: Some(list.id),
            import_id,
        },
    ))?;
    let state = gobi_lead_import::WorkerState::new(
        &config,
        gobi_lead_import::Clients { dynamodb, s3, sqs },
        gobi_shared::time::Clock::system(),
    )?;

    let rss_before = peak_rss_kib();
    let before = requests.count();
    let started = Instant::now();
    let outcome = gobi_lead_import::handle_message(&state, &message)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let used = requests.count() - before;
    let import = store
        .import(
            gobi_domain::leads::store::ImportScope::List(list.id),
            import_id,
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("the import is gone"))?;
    let counted = import.counters.rows;
    println!(
        "lead import bench: {rows} rows, {:.1} MB file",
        size as f64 / 1e6
    );
    println!("  outcome            {outcome:?}");
    println!("  counters           {:?}", import.counters);
    println!(
        "  every row counted  {}",
        if counted == rows as u64 { "yes" } else { "NO" }
    );
    println!("  seconds            {seconds:.1}");
    println!("  rows/s             {:.0}", rows as f64 / seconds);
    println!(
        "  peak RSS           {} MiB before the import, {} MiB after (whole process)",
        rss_before / 1024,
        peak_rss_kib() / 1024
    );
    println!(
        "  DynamoDB requests  {used} ({:.1} per 1,000 rows)",
        used as f64 * 1000.0 / rows as f64
    );
    let _ = std::fs::remove_file(&path);
    Ok(())
}
