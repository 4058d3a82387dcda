//! `gobi-local`: the local stack's server and helpers.
//!
//!   gobi-local [serve]      create the template's resources, then serve every function on PORT
//!   gobi-local provision    only create the resources
//!   gobi-local openapi      write every function's OpenAPI document to functions/system/openapi.json
//!   gobi-local token [--role R] [--tenant ID] [--acct UUID|none] [--ttl-hours N]
//!                           print a GOBI token (HS256); internal roles get the platform
//!                           account unless `--acct none` (a token bound to --tenant alone)

use anyhow::Context;
use gobi_infra::{app, provision, template};
use gobi_shared::auth::{Claims, JwtIssuer};
use gobi_shared::{Config, dynamo, http, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `.env` fills in what the environment leaves unset; a variable already set wins.
    let _ = dotenvy::dotenv();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut config = Config::from_env()?;
    match args.first().map(String::as_str) {
        None | Some("serve") => {
            telemetry::init();
            let clients = provision_all(&mut config).await?;
            let clock = gobi_shared::time::Clock::system();
            // Every worker, as Lambda's SQS integration and EventBridge would run them.
            app::spawn_handoff_worker(&config, &clients, clock.clone());
            app::spawn_legal_hold_worker(&config, &clients, clock.clone())?;
            app::spawn_lead_import_worker(&config, &clients, clock.clone())?;
            app::spawn_dialer_worker(&config, &clients, clock.clone())?;
            app::spawn_webhook_worker(&config, &clients, clock.clone());
            app::spawn_scheduler(
                &config,
                &clients,
                clock.clone(),
                std::time::Duration::from_secs(60),
            );
            let router = app::routes(&config, &clients, &clock)?;
            print_banner(&config);
            http::serve(router, &config).await
        }
        Some("provision") => {
            telemetry::init();
            provision_all(&mut config).await.map(|_| ())
        }
        Some("token") => {
            println!("{}", token(&config, &args[1..])?);
            Ok(())
        }
        Some("openapi") => {
            let path = gobi_infra::openapi::document_path();
            std::fs::write(&path, gobi_infra::openapi::document_text()?)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
            Ok(())
        }
        Some(other) => {
            anyhow::bail!("unknown command `{other}`; try serve, provision, token or openapi")
        }
    }
}

async fn provision_all(config: &mut Config) -> anyhow::Result<app::Clients> {
    let sdk = dynamo::sdk_config().await;
    let template = template::Template::load(&template::default_path())?;
    let dynamodb = dynamo::client(&sdk);
    provision::ensure_tables(&dynamodb, &template, &config.tables)
        .await
        .context("creating tables")?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    if config.handoff_queue_url.is_none() {
        config.handoff_queue_url = Some(
            provision::ensure_queue(&sqs, &template, "HandoffQueue", "gobi-handoff")
                .await
                .context("creating the handoff queue")?,
        );
    }
    if config.legal_hold_queue_url.is_none() {
        config.legal_hold_queue_url = Some(
            provision::ensure_queue(&sqs, &template, "LegalHoldQueue", "gobi-legal-hold")
                .await
                .context("creating the legal-hold queue")?,
        );
    }
    let kms = aws_sdk_kms::Client::new(&sdk);
    if config.kms_key_id.is_none() {
        config.kms_key_id = Some(
            provision::ensure_secrets_key(&kms, "alias/gobi-secrets")
                .await
                .context("creating the KMS key")?,
        );
    }
    if config.lead_import_queue_url.is_none() {
        config.lead_import_queue_url = Some(
            provision::ensure_queue(&sqs, &template, "LeadImportQueue", "gobi-lead-import")
                .await
                .context("creating the lead-import queue")?,
        );
    }
    if config.dialer_queue_url.is_none() {
        config.dialer_queue_url = Some(
            provision::ensure_queue(&sqs, &template, "DialerQueue", "gobi-dialer")
                .await
                .context("creating the dialer queue")?,
        );
    }
    if config.webhook_queue_url.is_none() {
        config.webhook_queue_url = Some(
            provision::ensure_queue(&sqs, &template, "WebhookQueue", "gobi-webhooks")
                .await
                .context("creating the webhook queue")?,
        );
    }
    let s3 = gobi_domain::leads::files::s3_client(&sdk, config.s3_force_path_style);
    if config.imports_bucket.is_none() {
        config.imports_bucket = Some(
            provision::ensure_bucket(&s3, "gobi-imports")
                .await
                .context("creating the imports bucket")?,
        );
    }
    tracing::info!(queue = ?config.handoff_queue_url, legal_hold_queue = ?config.legal_hold_queue_url, key = ?config.kms_key_id, "local resources ready");
    Ok(app::Clients {
        dynamodb,
        sqs,
        kms,
        s3,
    })
}

fn print_banner(config: &Config) {
    let base = format!("http://localhost:{}", config.port);
    eprintln!(
        "\nGOBI is running on {base}\n  Swagger UI:   {base}/api-docs\n  OpenAPI:      {base}/api-docs/swagger.json\n  \
         Health:       {base}/health and {base}/health/db\n  A token:      make token   \
         (or: cargo run -q -p gobi-infra --bin gobi-local -- token --role internal_admin),\n                \
         or POST {base}/auth/register-first-admin once, then POST {base}/auth/login\n"
    );
}

/// An internal admin of the platform account unless told otherwise.
fn token(config: &Config, args: &[String]) -> anyhow::Result<String> {
    let mut role = "internal_admin".to_owned();
    let mut tenant = None;
    let mut acct: Option<Option<String>> = None;
    let mut ttl_hours = 12;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--role" => role = value.clone(),
            "--tenant" => tenant = Some(value.clone()),
            "--acct" if value == "none" => acct = Some(None),
            "--acct" => acct = Some(Some(value.clone())),
            "--ttl-hours" => ttl_hours = value.parse().context("--ttl-hours takes a number")?,
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    let internal = role.starts_with("internal_");
    let claims = Claims {
        sub: Some("local-developer".into()),
        tenant_id: tenant,
        role: Some(role),
        is_internal: Some(internal),
        acct: acct
            .unwrap_or_else(|| internal.then(|| gobi_shared::ids::PLATFORM_ACCOUNT.to_string())),
        ..Claims::default()
    };
    JwtIssuer::new(&config.jwt)?.issue(claims, chrono::Duration::hours(ttl_hours))
}
