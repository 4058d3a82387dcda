//! JSON logs via `tracing`. Never log tokens, auth headers, secrets or request bodies.
//!
//! Every line logged while a request is handled carries the request's span: its `request_id`
//! (the `x-request-id` header, made up when absent) and, inside Lambda, `lambda_request_id`.
//! Workers log inside the Lambda runtime's own span, whose `requestId` each line carries.

use std::io;

use tracing::Subscriber;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// Installs the JSON subscriber on stdout; `RUST_LOG` sets the filter (default `info`).
pub fn init() {
    let _ = tracing::subscriber::set_global_default(subscriber(io::stdout));
}

/// The JSON subscriber writing to `writer`, so tests read exactly what a function logs.
///
/// `RUST_LOG` is a level (`warn`) or a list of `target=level` and a default level
/// (`gobi_auth=debug,warn`): a `Targets` filter, which matches on targets and levels alone. (An
/// `EnvFilter` also reads span and field directives, which GOBI never uses; its machinery cost
/// every function memory and time at each cold start.) A value that does not parse means `info`.
pub fn subscriber<W>(writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_max_level(LevelFilter::TRACE)
        .with_writer(writer)
        .finish()
        .with(filter(std::env::var("RUST_LOG").ok().as_deref()))
}

/// The filter `RUST_LOG` asks for: `info` when unset or unreadable.
fn filter(rust_log: Option<&str>) -> Targets {
    rust_log
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::filter;

    #[test]
    fn rust_log_is_a_level_or_targets_with_a_default_and_info_otherwise() {
        let unset = filter(None);
        assert!(unset.would_enable("gobi_auth", &Level::INFO));
        assert!(!unset.would_enable("gobi_auth", &Level::DEBUG));

        let warn = filter(Some("warn"));
        assert!(warn.would_enable("aws_config", &Level::WARN));
        assert!(!warn.would_enable("aws_config", &Level::INFO));

        let targets = filter(Some("gobi_auth=debug,warn"));
        assert!(targets.would_enable("gobi_auth", &Level::DEBUG));
        assert!(targets.would_enable("gobi_auth::login", &Level::DEBUG));
        assert!(!targets.would_enable("gobi_tenants", &Level::INFO));
        assert!(targets.would_enable("gobi_tenants", &Level::WARN));

        let unreadable = filter(Some("gobi_auth=loud"));
        assert!(unreadable.would_enable("gobi_tenants", &Level::INFO));
        assert!(!unreadable.would_enable("gobi_tenants", &Level::DEBUG));
    }
}
