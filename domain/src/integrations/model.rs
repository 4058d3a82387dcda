//! A tenant's n8n integrations and the record of each tool execution.

use chrono::{DateTime, Utc};
use gobi_shared::ids::{CallId, TenantId, ToolId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How GOBI authenticates to a tenant's n8n.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    None,
    /// The secret in a header (`header_name`, default `X-N8N-API-KEY`).
    HeaderToken,
    /// The secret is `user:password`.
    Basic,
    Bearer,
}

/// A tenant's n8n, without its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Integration {
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    pub base_url: String,
    pub auth_type: AuthType,
    pub header_name: Option<String>,
    pub has_secret: bool,
    pub created_at: DateTime<Utc>,
    pub last_tested_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Succeeded,
    Failed,
    TimedOut,
}

/// The `tool_executions` record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Execution {
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    pub call_id: CallId,
    pub tool_id: ToolId,
    pub tool_name: String,
    pub trace_id: Option<String>,
    #[schema(value_type = Object)]
    pub input: serde_json::Value,
    pub status: ExecutionStatus,
    pub attempts: u32,
    pub latency_ms: u64,
    pub http_status: Option<u16>,
    /// n8n's answer, cut to 8 KiB when larger.
    #[schema(value_type = Object)]
    pub response: Option<serde_json::Value>,
    pub response_truncated: bool,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}
