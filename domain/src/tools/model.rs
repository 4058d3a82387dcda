//! A tenant's tools as stored.

use chrono::{DateTime, Utc};
use gobi_shared::ids::{TenantId, ToolId};
use serde::{Deserialize, Serialize};

/// A tool as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub id: ToolId,
    pub tenant_id: TenantId,
    pub name: String,
    pub description: String,
    /// JSON Schema of the tool's input.
    pub input_schema: serde_json::Value,
    pub timeout_ms: u32,
    /// The n8n webhook the tool runs, once linked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<ToolEndpoint>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a tool runs: a webhook of one of the tenant's n8n integrations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolEndpoint {
    pub integration_id: uuid::Uuid,
    /// Appended to the integration's base URL, e.g. `/webhook/lookup-order`.
    pub webhook_path: String,
    pub method: String,
    /// The names of the headers sent to n8n; their values are secrets, never returned.
    #[serde(default)]
    pub header_names: Vec<String>,
    /// The header template (name → value) as KMS ciphertext (base64), sealed for this tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_headers: Option<String>,
}
