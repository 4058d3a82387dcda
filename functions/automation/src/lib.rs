//! The `automation` function: the automation gateway. Tenants' n8n integrations (tested before
//! they are stored, secrets under KMS), tools with JSON Schema inputs linked to n8n webhooks, the
//! catalog a call's agent may use, and guarded execution: schema, allowlist, per-call rate limit,
//! then n8n with a timeout and bounded retries, every run recorded.

mod execution;
mod integrations;
pub mod model;
pub mod n8n;
mod tools;
pub use gobi_domain::integrations::store;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use base64::Engine;
use gobi_domain::agents::store::AgentStore;
use gobi_domain::calls::{Call, CallEvent, CallStore, call_not_found};
use gobi_domain::tenants::store::{TenantStore, tenant_not_found};
use gobi_domain::tools::{Tool, ToolEndpoint, ToolStore};
use gobi_shared::Config;
use gobi_shared::api_routes;
use gobi_shared::auth::{Access, JwtVerifier, Principal};
use gobi_shared::error::{ApiError, ApiResult, ErrorBody, FieldError, Problems};
use gobi_shared::extract::{ApiJson, ApiPath, ApiQuery};
use gobi_shared::idempotency::{IdempotencyStore, honour_keys};
use gobi_shared::ids::{TenantId, ToolId};
use gobi_shared::response::DataResponse;
use gobi_shared::routing::ApiRouter;
use gobi_shared::time::Clock;
use secrecy::{ExposeSecret, SecretString};

use crate::model::*;
use crate::n8n::{N8nRequest, Outcome};
use crate::store::{AutomationStore, integration_not_found};
use gobi_shared::outbound;
use gobi_shared::secrets::{SealedFor, SecretBox};

/// n8n's answer is kept up to this size in the execution record.
const MAX_RECORDED_RESPONSE: usize = 8 * 1024;
const DEFAULT_HEADER: &str = "X-N8N-API-KEY";

/// Each field is also state of its own (`FromRef`): the `Principal` extractor takes the verifier.
#[derive(Clone, FromRef)]
pub struct AutomationState {
    /// `Idempotency-Key` records of the create routes.
    pub idempotency: IdempotencyStore,
    pub tools: ToolStore,
    pub store: AutomationStore,
    pub calls: CallStore,
    pub agents: AgentStore,
    pub tenants: TenantStore,
    /// `None` without a KMS key: integrations with secrets cannot be stored.
    pub secrets: Option<SecretBox>,
    pub verifier: Arc<JwtVerifier>,
    pub clock: Clock,
    /// Local and test environments may call plain-http and internal n8n.
    #[from_ref(skip)]
    pub allow_local: bool,
    #[from_ref(skip)]
    pub max_executions_per_minute: u32,
    #[from_ref(skip)]
    pub require_mapping: bool,
    /// All attempts of one n8n call, backoffs included, fit in this (inside the function's timeout).
    #[from_ref(skip)]
    pub execution_budget: Duration,
}

impl AutomationState {
    pub fn new(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        kms: aws_sdk_kms::Client,
        verifier: Arc<JwtVerifier>,
        clock: Clock,
    ) -> Self {
        Self {
            idempotency: IdempotencyStore::new(dynamodb.clone(), &config.tables.idempotency),
            tools: ToolStore::new(dynamodb.clone(), &config.tables.tools),
            store: AutomationStore::new(dynamodb.clone(), &config.tables.tools),
            calls: CallStore::new(dynamodb.clone(), &config.tables.calls),
            agents: AgentStore::new(dynamodb.clone(), &config.tables.agents),
            tenants: TenantStore::new(dynamodb.clone(), &config.tables.tenants),
            secrets: config
                .kms_key_id
                .as_ref()
                .map(|key| SecretBox::new(kms, key)),
            verifier,
            clock,
            allow_local: config.environment.allows_local_network(),
            max_executions_per_minute: config.automation_max_executions_per_minute,
            require_mapping: config.automation_require_agent_tool_mapping,
            execution_budget: Duration::from_millis(config.automation_execution_budget_ms),
        }
    }
}

impl AutomationState {
    /// The KMS box sealed values need; 503 `KMS_NOT_CONFIGURED` without `KMS_KEY_ID`.
    fn vault(&self) -> ApiResult<&SecretBox> {
        self.secrets.as_ref().ok_or_else(|| ApiError::Unavailable {
            code: "KMS_NOT_CONFIGURED",
            message: "Secrets need KMS_KEY_ID".into(),
        })
    }

    /// Opens `ciphertext`, when there is one, for `owner` of `tenant`.
    async fn open(
        &self,
        tenant: TenantId,
        owner: SealedFor,
        ciphertext: Option<&str>,
    ) -> ApiResult<Option<SecretString>> {
        match ciphertext {
            Some(c) => Ok(Some(self.vault()?.open(tenant, owner, c).await?)),
            None => Ok(None),
        }
    }
}

fn routes() -> ApiRouter<AutomationState> {
    ApiRouter::default()
        .merge(integrations::routes())
        .merge(tools::routes())
        .merge(execution::routes())
}

pub fn router(state: AutomationState) -> axum::Router {
    let keys = state.idempotency.clone();
    honour_keys(routes().with_state(state), keys)
}

/// The function's part of the OpenAPI document.
#[cfg(feature = "openapi")]
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().openapi()
}

async fn existing_tenant(state: &AutomationState, id: TenantId) -> ApiResult<()> {
    state
        .tenants
        .get(id)
        .await?
        .map(|_| ())
        .ok_or_else(|| tenant_not_found(id).into())
}

fn tool_not_found(what: impl std::fmt::Display) -> ApiError {
    ApiError::not_found("TOOL_NOT_FOUND", format!("Tool {what} not found"))
}
