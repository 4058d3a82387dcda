//! What the bench binaries share: counting AWS requests (an SDK interceptor) and reading the
//! process's peak RSS.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Counts every request a client sends.
#[derive(Debug, Clone, Default)]
pub struct CountRequests(pub Arc<AtomicU64>);

impl CountRequests {
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// The process's peak resident set (`VmHWM`), in KiB.
pub fn peak_rss_kib() -> u64 {
    peak_rss_kib_of("self")
}

/// The peak resident set (`VmHWM`) of process `pid` (`self`: this one), in KiB; 0 when unknown.
pub fn peak_rss_kib_of(pid: impl std::fmt::Display) -> u64 {
    status_kib(pid, "VmHWM:")
}

/// The resident set now (`VmRSS`) of process `pid`, in KiB; 0 when unknown.
pub fn rss_kib_of(pid: impl std::fmt::Display) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// One `kB` field of `/proc/{pid}/status`.
fn status_kib(pid: impl std::fmt::Display, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
