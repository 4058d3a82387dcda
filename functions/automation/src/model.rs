//! Integrations, tools, executions: as stored and as the internal endpoints show them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use gobi_domain::tools::{Tool, ToolEndpoint};
use gobi_shared::ids::{CallId, TenantId, ToolId};
use secrecy::SecretString;

pub use gobi_domain::integrations::model::{AuthType, Execution, ExecutionStatus, Integration};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `POST /internal/integrations/n8n/test`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestIntegration {
    pub tenant_id: TenantId,
    #[schema(example = "https://acme.app.n8n.cloud", max_length = 2048)]
    pub base_url: String,
    pub auth_type: AuthType,
    /// Required unless `auth_type` is `none`; encrypted with KMS, never returned.
    #[schema(value_type = Option<String>, max_length = 4096)]
    pub secret: Option<SecretString>,
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// For `header_token` (default `X-N8N-API-KEY`).
    #[schema(max_length = 100, pattern = r"^[A-Za-z0-9-]+$")]
    pub header_name: Option<String>,
}

/// `GET /internal/integrations` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TenantQuery {
    pub tenant_id: TenantId,
}

/// A tool as the internal endpoints show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ToolView {
    pub id: ToolId,
    pub tenant_id: TenantId,
    pub name: String,
    pub description: String,
    #[schema(value_type = Object)]
    pub input_schema: serde_json::Value,
    pub timeout_ms: u32,
    pub endpoint: Option<ToolEndpointView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a tool runs. Header values are secrets (sealed by KMS): only their names are shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ToolEndpointView {
    pub integration_id: uuid::Uuid,
    /// Appended to the integration's base URL, e.g. `/webhook/lookup-order`.
    pub webhook_path: String,
    pub method: String,
    /// The names of the headers sent to n8n (values are never returned).
    pub header_names: Vec<String>,
}

impl From<&ToolEndpoint> for ToolEndpointView {
    fn from(e: &ToolEndpoint) -> Self {
        Self {
            integration_id: e.integration_id,
            webhook_path: e.webhook_path.clone(),
            method: e.method.clone(),
            header_names: e.header_names.clone(),
        }
    }
}

impl From<&Tool> for ToolView {
    fn from(t: &Tool) -> Self {
        Self {
            id: t.id,
            tenant_id: t.tenant_id,
            name: t.name.clone(),
            description: t.description.clone(),
            input_schema: t.input_schema.clone(),
            timeout_ms: t.timeout_ms,
            endpoint: t.endpoint.as_ref().map(ToolEndpointView::from),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// `POST /internal/tools`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTool {
    pub tenant_id: TenantId,
    /// Unique per tenant; what the LLM calls it.
    #[schema(pattern = r"^[a-zA-Z][a-zA-Z0-9_-]{0,63}$", example = "lookup_order")]
    pub name: String,
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    pub description: String,
    /// A JSON Schema for the tool's input.
    #[schema(value_type = Object)]
    pub input_schema: serde_json::Value,
    /// 100 to 60000 (default 10000).
    #[serde(default, deserialize_with = "gobi_shared::serde_fields::whole_opt")]
    #[schema(minimum = 100, maximum = 60000)]
    pub timeout_ms: Option<u32>,
}

/// `PUT /internal/tools/{toolId}`: only the fields sent change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTool {
    #[schema(pattern = r"^[a-zA-Z][a-zA-Z0-9_-]{0,63}$")]
    pub name: Option<String>,
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    pub description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub input_schema: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "gobi_shared::serde_fields::whole_opt")]
    #[schema(minimum = 100, maximum = 60000)]
    pub timeout_ms: Option<u32>,
}

/// `POST /internal/tools/{toolId}/endpoints`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkEndpoint {
    pub integration_id: uuid::Uuid,
    #[schema(
        pattern = r"^/[A-Za-z0-9/_.~-]{0,511}$",
        example = "/webhook/lookup-order"
    )]
    pub webhook_path: String,
    /// `POST` (default), `GET`, `PUT` or `PATCH`.
    #[schema(pattern = "^(GET|POST|PUT|PATCH)$")]
    pub method: Option<String>,
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    pub headers_template: BTreeMap<String, SecretString>,
}

/// `GET /internal/automation/tools/catalog` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CatalogQuery {
    pub call_id: CallId,
}

/// A tool as an LLM sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogEntry {
    pub id: ToolId,
    pub name: String,
    pub description: String,
    #[schema(value_type = Object)]
    pub input_schema: serde_json::Value,
}

/// `POST .../execute`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteRequest {
    pub call_id: CallId,
    /// The tool's input; validated against its schema.
    #[schema(value_type = Object)]
    pub input_json: serde_json::Value,
    #[schema(max_length = 200, pattern = r"^[A-Za-z0-9_.:-]*$")]
    pub trace_id: Option<String>,
}

/// What `execute` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionResult {
    pub execution_id: uuid::Uuid,
    pub status: ExecutionStatus,
    #[schema(value_type = Object)]
    pub output: Option<serde_json::Value>,
    pub attempts: u32,
    pub latency_ms: u64,
}
