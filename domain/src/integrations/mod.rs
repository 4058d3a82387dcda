//! The integrations aggregate: a tenant's n8n integrations (secrets sealed by KMS), per-call
//! rate windows and tool executions, kept in the tools table.

pub mod model;
pub mod store;
