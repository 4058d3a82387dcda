//! `make bench-dialer`: a campaign of many leads dialed against the Twilio stand-in on the local
//! stack, with figures printed (no assertions: machines are shared and noisy).
//!
//!   gobi-bench-dialer [leads] [maxConcurrency]     (default 10000 leads at 100)
//!
//! The scheduler's tick, the dialer worker's handler and the webhook's status callback run as
//! in AWS, with the clock moved a minute per tick: each round is one tick, every dial job on the
//! queue handled, and every live call ended by the stand-in (an outcome per number: answered,
//! busy, no answer, machine, failed) with its signed callback to the webhook served locally.
//! Printed: dials per second, DynamoDB and SQS requests per dial (counted by SDK interceptors),
//! ticks to finish, and the most calls the stand-in saw live at once.

use std::time::Instant;

use chrono::{Datelike, Duration, Utc};
use gobi_domain::campaigns::dialer::Dialer;
use gobi_domain::campaigns::model::{
    Campaign, CampaignState, Direction, Pacing, Purpose, RetryPolicy, VoicemailAction,
};
use gobi_domain::campaigns::store::CampaignStore;
use gobi_domain::campaigns::windows::{Day, Schedule, Window};
use gobi_domain::leads::import::Options;
use gobi_domain::leads::importer::{ListTarget, import_file};
use gobi_domain::leads::model::{LeadImport, LeadList, ListCounts};
use gobi_domain::leads::store::{LeadStore, OnDuplicate};
use gobi_domain::tenants::model::CreateTenant;
use gobi_domain::tenants::store::TenantStore;
use gobi_infra::{provision, template};
use gobi_shared::ids::{AgentId, E164, TenantId};
use gobi_shared::time::Clock;
use gobi_tests::bench::{CountRequests, peak_rss_kib};
use gobi_tests::fakes::twilio::{CallOutcome, FakeTwilio};

const WEBHOOK_BASE: &str = "https://hooks.bench.example";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let leads: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let concurrency: u32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100);
    let mut config = gobi_shared::Config::from_env()?;
    let prefix = format!("bench{}", uuid::Uuid::now_v7().simple());
    for (name, table) in [
        ("tenants", &mut config.tables.tenants),
        ("leads", &mut config.tables.leads),
        ("campaigns", &mut config.tables.campaigns),
        ("phone-numbers", &mut config.tables.phone_numbers),
        ("calls", &mut config.tables.calls),
    ] {
        *table = format!("{prefix}-{name}");
    }
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(std::time::Duration::from_secs(60))
                .build(),
        )
        .load()
        .await;
    let dynamo_requests = CountRequests::default();
    let sqs_requests = CountRequests::default();
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(dynamo_requests.clone())
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk)
            .interceptor(sqs_requests.clone())
            .build(),
    );
    let template = template::Template::load(&template::default_path())?;
    provision::ensure_tables(&dynamodb, &template, &config.tables).await?;
    let queue =
        provision::ensure_queue(&sqs, &template, "DialerQueue", &format!("{prefix}-dialer"))
            .await?;
    config.dialer_queue_url = Some(queue.clone());

    // The stand-in, and the webhook its callbacks reach.
    let twilio = FakeTwilio::new("AC00000000000000000000000000000009", "bench-token");
    let any_port = ([127, 0, 0, 1], 0).into();
    let twilio_url = gobi_tests::fakes::serve(twilio.router(), any_port).await;
    config.twilio.api_base_url = twilio_url.parse()?;
    config.twilio.account_sid = Some(twilio.account_sid.clone());
    config.twilio.auth_token = Some(twilio.auth_token.clone().into());
    config.twilio.webhook_base_url = Some(WEBHOOK_BASE.parse()?);
    config.twilio.validate_signature = true;
    let now = Utc::now();
    let monday = (now.date_naive()
        + Duration::days(i64::from(7 - now.weekday().num_days_from_monday())))
    .and_hms_opt(14, 0, 0)
    .unwrap_or_default()
    .and_utc();
    let clock = Clock::fixed(monday);
    let webhook = gobi_twilio_webhook::router(gobi_twilio_webhook::WebhookState::new(
        &config,
        dynamodb.clone(),
        sqs.clone(),
        clock.clone(),
    )?);
    let webhook_base = gobi_tests::fakes::serve(webhook, any_port).await;

    // A tenant allowed the concurrency, a list of New York numbers, a running campaign.
    let tenants = TenantStore::new(dynamodb.clone(), &config.tables.tenants);
    let mut tenant =
        CreateTenant::from_name_and_domain("Bench".into(), format!("{prefix}.example"))
            .validate()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .into_tenant(TenantId::new(), monday);
    tenant.max_concurrent_calls = concurrency;
    let tenant = tenants.create(tenant).await?;
    let store = LeadStore::new(dynamodb.clone(), &config.tables.leads);
    let list = LeadList {
        id: uuid::Uuid::now_v7(),
        tenant_id: tenant.id,
        name: "bench".into(),
        description: None,
        default_country: Some("US".into()),
        timezone_column: None,
        phone_column: None,
        counts: ListCounts::default(),
        created_at: monday,
        updated_at: monday,
    };
    store.create_list(&list).await?;
    let mut file = String::from("phone\n");
    for i in 0..leads {
        file.push_str(&format!("+1212{}{:04}\n", 200 + i / 10_000, i % 10_000));
    }
    let import = LeadImport::new(tenant.id, Some(list.id), false, monday);
    store.create_import(&import).await?;
    let target = ListTarget {
        store: &store,
        list: &list,
        import: import.id,
        on_duplicate: OnDuplicate::Skip,
        dry_run: false,
        now: monday,
    };
    import_file(
        &target,
        file.as_bytes(),
        Options::default(),
        Vec::new(),
        None,
    )
    .await?;
    {
        let mut state = twilio
            .state
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?;
        for i in 0..leads {
            let outcome = match i % 10 {
                0 => CallOutcome::Busy,
                1 => CallOutcome::NoAnswer,
                2 => CallOutcome::Machine,
                3 => CallOutcome::Failed,
                _ => CallOutcome::Answered,
            };
            state.outcomes.insert(
                format!("+1212{}{:04}", 200 + i / 10_000, i % 10_000),
                outcome,
            );
        }
    }
    let campaigns = CampaignStore::new(dynamodb.clone(), &config.tables.campaigns);
    let campaign = Campaign {
        id: uuid::Uuid::now_v7(),
        tenant_id: tenant.id,
        name: "bench".into(),
        direction: Direction::Outbound,
        purpose: Purpose::Informational,
        agent_id: AgentId::new(),
        agent_version_id: None,
        version_split: Vec::new(),
        lead_list_ids: vec![list.id],
        caller_ids: vec![E164::parse("+15557669999").map_err(|e| anyhow::anyhow!(e.0))?],
        schedule: Schedule {
            start_at: None,
            end_at: None,
            windows: vec![Window {
                days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
                start: chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
                end: chrono::NaiveTime::from_hms_opt(21, 0, 0).unwrap_or_default(),
            }],
            timezone: "America/New_York".into(),
            blackout_dates: Vec::new(),
        },
        // A tick's jobs delivered at once: pacing is not what this measures.
        pacing: Pacing {
            max_concurrency: concurrency,
            max_calls_per_second: concurrency,
        },
        retry: RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        },
        voicemail: VoicemailAction::Hangup,
        variables: Default::default(),
        circuit_breaker: None,
        single_call: false,
        skip_without_consent: false,
        state: CampaignState::Draft,
        pause_reason: None,
        dialing_state: None,
        counts: Default::default(),
        outcomes: Default::default(),
        live_calls: 0,
        enrollment: Default::default(),
        recent_outcomes: Vec::new(),
        created_at: monday,
        updated_at: monday,
        started_at: None,
        finished_at: None,
    };
    campaigns.create(&campaign).await?;
    campaigns
        .transition(
            tenant.id,
            campaign.id,
            &[CampaignState::Draft],
            CampaignState::Running,
            None,
            monday,
        )
        .await?;
    let dialer = Dialer::from_config(&config, dynamodb.clone(), sqs.clone())
        .ok_or_else(|| anyhow::anyhow!("no dialer"))?;
    dialer.start(&campaign, monday).await?;
    let worker = gobi_dialer::WorkerState {
        dialer: dialer.clone(),
        clock: clock.clone(),
    };
    let drain = || async {
        loop {
            let report = gobi_dialer::poll_once(&worker, &sqs, &queue, 0).await?;
            if report.received == 0 {
                return anyhow::Ok(());
            }
        }
    };
    drain().await?;

    let (dynamo_before, sqs_before) = (dynamo_requests.count(), sqs_requests.count());
    let started = Instant::now();
    let mut ticks = 0;
    loop {
        ticks += 1;
        dialer.tick(clock.now()).await?;
        drain().await?;
        twilio.finish_calls(&webhook_base).await;
        let now = campaigns
            .get(tenant.id, campaign.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the campaign is gone"))?;
        if now.state == CampaignState::Completed || ticks > 10_000 {
            let seconds = started.elapsed().as_secs_f64();
            let dials = twilio.dials();
            let per_dial = |n: u64| n as f64 / dials.max(1) as f64;
            let max_live = twilio
                .state
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .max_live;
            println!("dialer bench: {leads} leads, maxConcurrency {concurrency}");
            println!("  campaign           {:?}", now.state);
            println!("  counts             {:?}", now.counts);
            println!("  outcomes           {:?}", now.outcomes);
            println!("  dials              {dials}");
            println!("  seconds            {seconds:.1}");
            println!("  dials/s            {:.0}", dials as f64 / seconds);
            println!("  ticks to finish    {ticks} (one a minute of campaign time)");
            println!(
                "  DynamoDB req/dial  {:.1}",
                per_dial(dynamo_requests.count() - dynamo_before)
            );
            println!(
                "  SQS req/dial       {:.1}",
                per_dial(sqs_requests.count() - sqs_before)
            );
            println!("  most live at once  {max_live} (cap {concurrency})");
            println!(
                "  peak RSS           {} MiB (whole process)",
                peak_rss_kib() / 1024
            );
            return Ok(());
        }
        clock.advance(Duration::minutes(1));
    }
}
