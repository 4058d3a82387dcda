//! Agents as stored and shown, their configuration and its rules, versions and heartbeats.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use gobi_shared::error::{ApiError, Problems};
use gobi_shared::ids::{AgentId, AgentVersionId, TenantId, ToolId};
use gobi_shared::serde_fields::{nullable, whole, whole_opt};
use gobi_shared::text;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 2000;
const MAX_PROMPT: usize = 32_000;
const MAX_FIRST_MESSAGE: usize = 2000;
const MAX_PHRASES: usize = 20;
const MAX_PHRASE: usize = 200;
/// Free-form settings, serialised, may not exceed this.
pub const MAX_SETTINGS_BYTES: usize = 16 * 1024;
pub const DEFAULT_MAX_CALL_SECONDS: u32 = 1800;

/// What a voice agent needs; versions snapshot exactly this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentConfig {
    #[schema(example = "Front desk")]
    pub name: String,
    pub description: Option<String>,
    /// e.g. `openai`, `anthropic`, `google`.
    #[schema(example = "openai")]
    pub llm_provider: String,
    #[schema(example = "gpt-4o-mini")]
    pub llm_model: String,
    /// e.g. `elevenlabs`, `cartesia`, `deepgram`.
    #[schema(example = "elevenlabs")]
    pub voice_provider: String,
    #[schema(example = "21m00Tcm4TlvDq8ikWAM")]
    pub voice_id: String,
    /// BCP 47, e.g. `en-US`.
    #[schema(example = "en-US")]
    pub language: String,
    pub system_prompt: String,
    pub first_message: Option<String>,
    #[schema(example = 0.7)]
    pub temperature: f64,
    #[schema(example = 1800)]
    pub max_call_duration_seconds: u32,
    pub end_call_phrases: Vec<String>,
    /// Free-form settings for the runtime (an object of at most 16 KiB).
    #[schema(value_type = Object)]
    pub settings: serde_json::Map<String, serde_json::Value>,
}

/// A worker's latest heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Worker {
    pub worker_id: String,
    pub status: WorkerStatus,
    pub active_calls: u32,
    pub capacity: u32,
    pub last_seen_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkerStatus {
    Available,
    Busy,
    Draining,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Online,
    Offline,
}

/// The stored agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: AgentId,
    pub tenant_id: TenantId,
    pub config: AgentConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_version_id: Option<AgentVersionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_version_number: Option<u32>,
    /// How many versions exist; the next one is numbered `version_count + 1`.
    pub version_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    /// Worker id → its latest heartbeat.
    pub workers: BTreeMap<String, Worker>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Agent {
    /// Online while the newest heartbeat is younger than `timeout`: exact at any moment, whatever
    /// the sweeper has persisted so far.
    pub fn status(&self, now: DateTime<Utc>, timeout: chrono::Duration) -> AgentStatus {
        match self.last_heartbeat_at {
            Some(at) if now - at < timeout => AgentStatus::Online,
            _ => AgentStatus::Offline,
        }
    }

    pub fn view(&self, now: DateTime<Utc>, timeout: chrono::Duration) -> AgentView {
        AgentView {
            id: self.id,
            tenant_id: self.tenant_id,
            config: self.config.clone(),
            active_version_id: self.active_version_id,
            active_version_number: self.active_version_number,
            version_count: self.version_count,
            status: self.status(now, timeout),
            last_heartbeat_at: self.last_heartbeat_at,
            workers: self
                .workers
                .values()
                .filter(|w| now - w.last_seen_at < timeout)
                .cloned()
                .collect(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// An agent under `/api` (camelCase): its configuration, published version and live status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentView {
    pub id: AgentId,
    pub tenant_id: TenantId,
    #[serde(flatten)]
    pub config: AgentConfig,
    pub active_version_id: Option<AgentVersionId>,
    pub active_version_number: Option<u32>,
    pub version_count: u32,
    /// Computed on read from the newest heartbeat.
    pub status: AgentStatus,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    /// Workers whose heartbeat is younger than the timeout.
    pub workers: Vec<Worker>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An immutable snapshot of an agent's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentVersion {
    pub id: AgentVersionId,
    pub agent_id: AgentId,
    pub tenant_id: TenantId,
    /// 1, 2, 3… per agent.
    pub number: u32,
    pub notes: Option<String>,
    pub config: AgentConfig,
    pub is_active: bool,
    /// The tools this version may call (the second seed's allowlist).
    pub tool_ids: Vec<ToolId>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// One entry of an agent's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentEvent {
    pub id: uuid::Uuid,
    pub agent_id: AgentId,
    #[schema(example = "status_changed")]
    pub kind: String,
    pub from: Option<AgentStatus>,
    pub to: Option<AgentStatus>,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

/// `POST /api/tenants/{id}/agents`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAgent {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "Front desk"
    )]
    pub name: String,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    #[schema(pattern = r"^[a-z0-9][a-z0-9_.-]{0,49}$", example = "openai")]
    pub llm_provider: String,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^\S+$",
        example = "gpt-4o-mini"
    )]
    pub llm_model: String,
    #[schema(pattern = r"^[a-z0-9][a-z0-9_.-]{0,49}$", example = "elevenlabs")]
    pub voice_provider: String,
    #[schema(min_length = 1, max_length = 100, pattern = r"^\S+$")]
    pub voice_id: String,
    /// BCP 47; default `en-US`.
    #[schema(pattern = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", example = "en-US")]
    pub language: Option<String>,
    #[schema(max_length = 32000)]
    pub system_prompt: Option<String>,
    #[schema(max_length = 2000)]
    pub first_message: Option<String>,
    /// 0 to 2, kept to six decimal places; default 0.7.
    #[schema(minimum = 0.0, maximum = 2.0)]
    pub temperature: Option<f64>,
    /// 30 to 14400; default 1800.
    #[serde(default, deserialize_with = "whole_opt")]
    #[schema(minimum = 30, maximum = 14400)]
    pub max_call_duration_seconds: Option<u32>,
    #[schema(max_items = 20)]
    pub end_call_phrases: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `PUT /api/tenants/{id}/agents/{agentId}`: only the fields sent change; `null` clears an
/// optional one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateAgent {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub description: Option<Option<String>>,
    #[schema(pattern = r"^[a-z0-9][a-z0-9_.-]{0,49}$")]
    pub llm_provider: Option<String>,
    #[schema(min_length = 1, max_length = 100, pattern = r"^\S+$")]
    pub llm_model: Option<String>,
    #[schema(pattern = r"^[a-z0-9][a-z0-9_.-]{0,49}$")]
    pub voice_provider: Option<String>,
    #[schema(min_length = 1, max_length = 100, pattern = r"^\S+$")]
    pub voice_id: Option<String>,
    #[schema(pattern = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
    pub language: Option<String>,
    #[schema(max_length = 32000)]
    pub system_prompt: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub first_message: Option<Option<String>>,
    #[schema(minimum = 0.0, maximum = 2.0)]
    pub temperature: Option<f64>,
    #[serde(default, deserialize_with = "whole_opt")]
    #[schema(minimum = 30, maximum = 14400)]
    pub max_call_duration_seconds: Option<u32>,
    #[schema(max_items = 20)]
    pub end_call_phrases: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A provider slug: lower-case letters, digits, `_`, `.`, `-`.
fn slug(raw: &str) -> Result<String, String> {
    let valid = !raw.is_empty()
        && raw.len() <= 50
        && raw
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if valid {
        Ok(raw.to_owned())
    } else {
        Err("must be a lower-case provider name like openai".into())
    }
}

fn token(raw: &str) -> Result<String, String> {
    if !text::is_token(raw) || raw.chars().count() > 100 {
        return Err("must be 1 to 100 characters without spaces".into());
    }
    Ok(raw.to_owned())
}

fn language(raw: &str) -> Result<String, String> {
    let mut parts = raw.split('-');
    let primary = parts.next().unwrap_or_default();
    let valid = (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && parts
            .all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if valid {
        Ok(raw.to_owned())
    } else {
        Err("must be a BCP 47 language tag like en-US".into())
    }
}

/// Kept to six decimal places: finer steps mean nothing to a model, and DynamoDB cannot store
/// magnitudes below 1e-130 (a schema-valid 4.4e-242 used to fail the write).
fn temperature(raw: f64) -> Result<f64, String> {
    if (0.0..=2.0).contains(&raw) {
        Ok((raw * 1e6).round() / 1e6)
    } else {
        Err("must be between 0 and 2".into())
    }
}

fn max_call(raw: u32) -> Result<u32, String> {
    if (30..=14_400).contains(&raw) {
        Ok(raw)
    } else {
        Err("must be between 30 and 14400 seconds".into())
    }
}

/// Blank phrases are dropped (they could never match).
fn phrases(raw: Vec<String>) -> Result<Vec<String>, String> {
    if raw.len() > MAX_PHRASES {
        return Err(format!("at most {MAX_PHRASES} phrases"));
    }
    raw.iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|t| {
            if t.chars().count() > MAX_PHRASE {
                Err(format!("each phrase has at most {MAX_PHRASE} characters"))
            } else {
                Ok(t.to_owned())
            }
        })
        .collect()
}

fn settings(
    raw: serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let size = serde_json::to_vec(&raw)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_SETTINGS_BYTES {
        return Err(format!(
            "must serialise to at most {MAX_SETTINGS_BYTES} bytes"
        ));
    }
    Ok(raw)
}

impl CreateAgent {
    pub fn validate(self) -> Result<AgentConfig, ApiError> {
        let mut p = Problems::default();
        let config = AgentConfig {
            name: p
                .check("name", text::required(&self.name, MAX_NAME))
                .unwrap_or_default(),
            description: p
                .check(
                    "description",
                    text::optional(self.description.as_deref(), MAX_DESCRIPTION),
                )
                .flatten(),
            llm_provider: p
                .check("llmProvider", slug(&self.llm_provider))
                .unwrap_or_default(),
            llm_model: p
                .check("llmModel", token(&self.llm_model))
                .unwrap_or_default(),
            voice_provider: p
                .check("voiceProvider", slug(&self.voice_provider))
                .unwrap_or_default(),
            voice_id: p
                .check("voiceId", token(&self.voice_id))
                .unwrap_or_default(),
            language: p
                .check(
                    "language",
                    language(self.language.as_deref().unwrap_or("en-US")),
                )
                .unwrap_or_default(),
            system_prompt: p
                .check(
                    "systemPrompt",
                    text::optional(self.system_prompt.as_deref(), MAX_PROMPT),
                )
                .flatten()
                .unwrap_or_default(),
            first_message: p
                .check(
                    "firstMessage",
                    text::optional(self.first_message.as_deref(), MAX_FIRST_MESSAGE),
                )
                .flatten(),
            temperature: p
                .check("temperature", temperature(self.temperature.unwrap_or(0.7)))
                .unwrap_or_default(),
            max_call_duration_seconds: p
                .check(
                    "maxCallDurationSeconds",
                    max_call(
                        self.max_call_duration_seconds
                            .unwrap_or(DEFAULT_MAX_CALL_SECONDS),
                    ),
                )
                .unwrap_or_default(),
            end_call_phrases: p
                .check(
                    "endCallPhrases",
                    phrases(self.end_call_phrases.unwrap_or_default()),
                )
                .unwrap_or_default(),
            settings: p
                .check("settings", settings(self.settings.unwrap_or_default()))
                .unwrap_or_default(),
        };
        p.finish()?;
        Ok(config)
    }
}

impl UpdateAgent {
    /// The configuration after these changes.
    pub fn apply(&self, current: &AgentConfig) -> Result<AgentConfig, ApiError> {
        let mut p = Problems::default();
        let mut next = current.clone();
        macro_rules! change {
            ($field:ident, $name:literal, $check:expr) => {
                if let Some(value) = &self.$field {
                    if let Some(valid) = p.check($name, $check(value.clone())) {
                        next.$field = valid;
                    }
                }
            };
        }
        change!(name, "name", |v: String| text::required(&v, MAX_NAME));
        change!(description, "description", |v: Option<String>| {
            text::optional(v.as_deref(), MAX_DESCRIPTION)
        });
        change!(llm_provider, "llmProvider", |v: String| slug(&v));
        change!(llm_model, "llmModel", |v: String| token(&v));
        change!(voice_provider, "voiceProvider", |v: String| slug(&v));
        change!(voice_id, "voiceId", |v: String| token(&v));
        change!(language, "language", |v: String| language(&v));
        change!(system_prompt, "systemPrompt", |v: String| text::optional(
            Some(&v),
            MAX_PROMPT
        )
        .map(Option::unwrap_or_default));
        change!(first_message, "firstMessage", |v: Option<String>| {
            text::optional(v.as_deref(), MAX_FIRST_MESSAGE)
        });
        change!(temperature, "temperature", temperature);
        change!(
            max_call_duration_seconds,
            "maxCallDurationSeconds",
            max_call
        );
        change!(end_call_phrases, "endCallPhrases", phrases);
        change!(settings, "settings", settings);
        p.finish()?;
        Ok(next)
    }
}

/// `GET /api/tenants/{id}/agents` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListAgentsQuery {
    #[param(minimum = 1, maximum = 100000)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Case-insensitive match on name or description.
    #[param(max_length = 200)]
    pub search: Option<String>,
    /// `online` or `offline`, as computed now.
    #[param(inline)]
    pub status: Option<AgentStatus>,
}

/// `POST /internal/agents/{agentId}/versions`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVersion {
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

impl CreateVersion {
    pub fn notes(&self) -> Result<Option<String>, ApiError> {
        let mut p = Problems::default();
        let notes = p
            .check(
                "notes",
                text::optional(self.notes.as_deref(), MAX_DESCRIPTION),
            )
            .flatten();
        p.finish()?;
        Ok(notes)
    }
}

/// `POST /internal/agents/{agentId}/versions/{versionId}/tools`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTools {
    /// The whole allowlist (replaces the previous one); at most 50 distinct tools.
    #[schema(max_items = 50)]
    pub tool_ids: Vec<ToolId>,
}

/// `POST /internal/runtime/heartbeat`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub agent_id: AgentId,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[A-Za-z0-9_.:-]+$",
        example = "worker-1"
    )]
    pub worker_id: String,
    pub status: WorkerStatus,
    #[serde(deserialize_with = "whole")]
    #[schema(maximum = 10000)]
    pub active_calls: u32,
    #[serde(deserialize_with = "whole")]
    #[schema(maximum = 10000)]
    pub capacity: u32,
}

impl Heartbeat {
    pub fn validate(&self) -> Result<(), ApiError> {
        let mut p = Problems::default();
        let id_ok = !self.worker_id.is_empty()
            && self.worker_id.len() <= 100
            && self
                .worker_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
        p.require("worker_id", id_ok, "1 to 100 letters, digits, _ . : -");
        p.require("active_calls", self.active_calls <= 10_000, "at most 10000");
        p.require("capacity", self.capacity <= 10_000, "at most 10000");
        p.finish()
    }
}

/// What the heartbeat endpoint answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeartbeatAck {
    pub agent_id: AgentId,
    pub status: AgentStatus,
    pub last_heartbeat_at: DateTime<Utc>,
    /// Send the next heartbeat well within this many seconds.
    pub timeout_seconds: i64,
}

/// `GET .../events` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    #[param(max_length = 512)]
    pub cursor: Option<String>,
}

/// One page of an agent's timeline, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventsPage {
    pub data: Vec<AgentEvent>,
    pub next_cursor: Option<String>,
}
