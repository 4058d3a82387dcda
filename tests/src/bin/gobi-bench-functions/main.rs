//! `make bench`: every function's release binary under the Lambda Runtime API emulator
//! (`gobi_tests::lambda_emulator`), against the local stack through counting proxies
//! (`gobi_tests::aws_proxy`), beside two hello-world `lambda_http` baselines built the same way.
//! Prints one table: binary size, init, first and warm invoke, the resident set after init and
//! its peak, AWS requests per invocation, and init and memory as multiples of the SDK baseline
//! (the RSS after init is what the function costs before any work; the peak adds what its
//! events' work needs, such as Argon2's 19 MiB or libphonenumber's metadata). Medians over RUNS
//! interleaved runs (each run starts every binary once, in turn); no assertion on any time: the
//! machines are shared and noisy (the request counts are asserted by `tests/tests/api/hot_paths.rs`).
//!
//!   gobi-bench-functions [runs] [warm invokes]     (default 5 runs, 5 warm invokes each)
//!
//! Needs the release binaries in `target/release` (`make bench` builds them; `BENCH_BINARIES`
//! names another folder) and the local stack. `BENCH_SMAPS=<folder>` keeps each process's
//! `/proc/<pid>/smaps` after its invocations.

mod events;
mod world;

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use gobi_tests::aws_proxy::CountingProxy;
use gobi_tests::lambda_emulator::RuntimeApi;
use serde_json::Value;

use world::World;

/// The number the bench's tenant answers on.
pub(crate) const NUMBER: &str = "+15557659001";
pub(crate) const SDK_BASELINE: &str = "gobi-baseline-sdk";

/// One measured event source: a binary and the event of each invocation (0 is the first).
pub(crate) struct Case {
    pub(crate) binary: &'static str,
    pub(crate) label: &'static str,
    pub(crate) event: Box<dyn Fn() -> Bytes>,
}

/// One run of one case.
#[derive(Default, Clone)]
struct Sample {
    init_ms: f64,
    first_ms: f64,
    warm_ms: f64,
    init_rss_kib: u64,
    peak_rss_kib: u64,
    first_requests: usize,
    warm_requests: usize,
    errors: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let warm: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    // `BENCH_BINARIES` names another folder (target/debug, to try the bench itself quickly).
    let release = std::env::var_os("BENCH_BINARIES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| gobi_tests::workspace_root().join("target/release"));

    let dynamodb = CountingProxy::start(&endpoint("AWS_ENDPOINT_URL_DYNAMODB")?).await?;
    let moto = CountingProxy::start(&endpoint("AWS_ENDPOINT_URL_SQS")?).await?;
    let world = World::set_up(runs * (warm + 1) + 2).await?;
    let cases = world.cases();
    let template = gobi_infra::template::Template::load(&gobi_infra::template::default_path())?;
    let deployed: Vec<_> = cases
        .iter()
        .map(|case| template.literal_environment(case.binary))
        .collect();

    let mut samples: HashMap<(&str, &str), Vec<Sample>> = HashMap::new();
    for run in 0..runs {
        eprintln!("run {}/{runs}", run + 1);
        for (case, deployed) in cases.iter().zip(&deployed) {
            let sample = measure(
                &release,
                case,
                &world.app.env,
                deployed,
                &dynamodb,
                &moto,
                warm,
            )
            .await?;
            samples
                .entry((case.binary, case.label))
                .or_default()
                .push(sample);
        }
    }

    let sdk = median_sample(&samples[&(SDK_BASELINE, "GET /health")]);
    println!(
        "\n{runs} runs × (1 first + {warm} warm invokes), medians; AWS requests counted by the proxies in front of DynamoDB Local and moto\n"
    );
    println!(
        "{:<22} {:<34} {:>8} {:>8} {:>9} {:>8} {:>9} {:>8} {:>9} {:>9} {:>7} {:>9} {:>7}",
        "function",
        "event",
        "size MB",
        "init ms",
        "first ms",
        "warm ms",
        "init RSS",
        "RSS MB",
        "AWS 1st",
        "AWS warm",
        "init×",
        "init RSS×",
        "RSS×"
    );
    for case in &cases {
        let m = median_sample(&samples[&(case.binary, case.label)]);
        let size = std::fs::metadata(release.join(case.binary))
            .map(|m| m.len() as f64 / 1_048_576.0)
            .unwrap_or(0.0);
        println!(
            "{:<22} {:<34} {:>8.1} {:>8.1} {:>9.2} {:>8.2} {:>9.1} {:>8.1} {:>9} {:>9} {:>7.2} {:>9.2} {:>7.2}{}",
            case.binary.trim_start_matches("gobi-"),
            case.label,
            size,
            m.init_ms,
            m.first_ms,
            m.warm_ms,
            m.init_rss_kib as f64 / 1024.0,
            m.peak_rss_kib as f64 / 1024.0,
            m.first_requests,
            m.warm_requests,
            m.init_ms / sdk.init_ms,
            m.init_rss_kib as f64 / sdk.init_rss_kib as f64,
            m.peak_rss_kib as f64 / sdk.peak_rss_kib as f64,
            if m.errors > 0 {
                format!("  ({} error answers)", m.errors)
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

fn endpoint(name: &str) -> anyhow::Result<String> {
    std::env::var(name).map_err(|_| anyhow::anyhow!("{name} is not set: run `make bench`"))
}

/// Starts `case.binary` under a fresh Runtime API (with `env`, and the literal variables
/// template.yaml gives its function, `deployed`), invokes it once cold and `warm` times warm,
/// reads its peak RSS, and stops it.
async fn measure(
    release: &std::path::Path,
    case: &Case,
    env: &HashMap<String, String>,
    deployed: &[(String, String)],
    dynamodb: &CountingProxy,
    moto: &CountingProxy,
    warm: usize,
) -> anyhow::Result<Sample> {
    let api = RuntimeApi::start().await?;
    let requests = || dynamodb.count() + moto.count();
    let mut command = tokio::process::Command::new(release.join(case.binary));
    command
        .env_clear()
        .envs(env)
        .envs(
            [
                "PATH",
                "AWS_REGION",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
            ]
            .into_iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k, v))),
        )
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url())
        .env("AWS_ENDPOINT_URL_SQS", moto.url())
        .env("AWS_ENDPOINT_URL_KMS", moto.url())
        .env("AWS_ENDPOINT_URL_S3", moto.url())
        .env("AWS_ENDPOINT_URL_EVENTBRIDGE", moto.url())
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", case.binary)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("RUST_LOG", "warn")
        .envs(deployed.iter().cloned())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = command.spawn()?;
    tokio::time::timeout(Duration::from_secs(20), api.ready())
        .await
        .map_err(|_| anyhow::anyhow!("{} did not ask for an event in 20 s", case.binary))?;
    let init_ms = ms(started.elapsed());

    let mut sample = Sample {
        init_ms,
        init_rss_kib: child.id().map(gobi_tests::bench::rss_kib_of).unwrap_or(0),
        ..Sample::default()
    };
    let mut warm_ms = Vec::new();
    let mut warm_requests = Vec::new();
    for i in 0..=warm {
        let event = (case.event)();
        let before = requests();
        let at = Instant::now();
        let answer = api.invoke(event).await?;
        let took = ms(at.elapsed());
        let sent = requests() - before;
        if answer.error || answer_status(&answer.body) >= 500 {
            sample.errors += 1;
        }
        if i == 0 {
            sample.first_ms = took;
            sample.first_requests = sent;
        } else {
            warm_ms.push(took);
            warm_requests.push(sent);
        }
    }
    sample.warm_ms = median(&mut warm_ms);
    warm_requests.sort_unstable();
    sample.warm_requests = warm_requests
        .get(warm_requests.len() / 2)
        .copied()
        .unwrap_or(0);
    sample.peak_rss_kib = child
        .id()
        .map(gobi_tests::bench::peak_rss_kib_of)
        .unwrap_or(0);
    if let (Some(dir), Some(pid)) = (std::env::var_os("BENCH_SMAPS"), child.id()) {
        keep_smaps(std::path::Path::new(&dir), case, pid);
    }
    child.kill().await.ok();
    Ok(sample)
}

/// With `BENCH_SMAPS=<folder>`: the process's memory map after its invocations
/// (`/proc/<pid>/smaps`, what each mapping holds resident) as `<folder>/<binary>.<event>.smaps`,
/// to see where a function's resident set goes. The last run's map is kept.
fn keep_smaps(dir: &std::path::Path, case: &Case, pid: u32) {
    let event: String = case
        .label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let kept = std::fs::create_dir_all(dir).and_then(|()| {
        std::fs::copy(
            format!("/proc/{pid}/smaps"),
            dir.join(format!("{}.{event}.smaps", case.binary)),
        )
    });
    if let Err(e) = kept {
        eprintln!("BENCH_SMAPS: {}: {e}", case.binary);
    }
}

/// An HTTP answer's status code (workers' answers have none: 200).
fn answer_status(body: &[u8]) -> u64 {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("statusCode").and_then(Value::as_u64))
        .unwrap_or(200)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn median_sample(samples: &[Sample]) -> Sample {
    let pick = |f: &dyn Fn(&Sample) -> f64| {
        let mut values: Vec<f64> = samples.iter().map(f).collect();
        median(&mut values)
    };
    Sample {
        init_ms: pick(&|s| s.init_ms),
        first_ms: pick(&|s| s.first_ms),
        warm_ms: pick(&|s| s.warm_ms),
        init_rss_kib: pick(&|s| s.init_rss_kib as f64) as u64,
        peak_rss_kib: pick(&|s| s.peak_rss_kib as f64) as u64,
        first_requests: pick(&|s| s.first_requests as f64) as usize,
        warm_requests: pick(&|s| s.warm_requests as f64) as usize,
        errors: samples.iter().map(|s| s.errors).sum(),
    }
}
