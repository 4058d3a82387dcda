//! Typed configuration, read from the environment once in `main`; handlers never read env vars.

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// Where GOBI runs. `Production` switches off the dev-only routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Local,
    Development,
    Test,
    Staging,
    Production,
}

impl Environment {
    fn parse(value: &str) -> Result<Self, ConfigError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(Self::Local),
            "development" | "dev" => Ok(Self::Development),
            "test" => Ok(Self::Test),
            "staging" => Ok(Self::Staging),
            "production" | "prod" => Ok(Self::Production),
            other => Err(ConfigError::invalid(
                "NODE_ENV",
                format!("unknown environment `{other}`"),
            )),
        }
    }

    pub fn is_production(self) -> bool {
        self == Self::Production
    }

    /// Local and test runs may reach loopback and plain-http services (n8n, fakes).
    pub fn allows_local_network(self) -> bool {
        matches!(self, Self::Local | Self::Test)
    }
}

/// How tokens are verified (and, for GOBI's own tokens, issued).
#[derive(Clone, Debug, Default)]
pub struct JwtConfig {
    /// PEM: an X.509 certificate or an RSA public key; verifies RS256.
    pub public_key: Option<String>,
    /// Verifies (and signs) HS256.
    pub secret: Option<SecretString>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

/// DynamoDB table names; the logical names match `template.yaml`.
#[derive(Clone, Debug)]
pub struct Tables {
    pub tenants: String,
    /// Users, e-mail markers, memberships and login throttles.
    pub users: String,
    /// Phone numbers and the inbound route index (E.164 → tenant, agent).
    pub phone_numbers: String,
    /// Agents, their versions, tool allowlists, heartbeats and timelines.
    pub agents: String,
    /// Calls (by CallSid too) and their runtime dispatches.
    pub calls: String,
    /// Tenants' tools (the automation gateway's catalog).
    pub tools: String,
    /// `Idempotency-Key` records of the create routes (24 h, TTL).
    pub idempotency: String,
    /// Lead lists, their leads (one per E.164 per list), imports and the do-not-call list.
    pub leads: String,
    /// Campaigns.
    pub campaigns: String,
    /// Tenants' webhook endpoints and their deliveries.
    pub webhooks: String,
}

impl Tables {
    /// Every table with the template's logical id, so the local stack can create them.
    pub fn by_logical_id(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("TenantsTable", self.tenants.as_str()),
            ("UsersTable", self.users.as_str()),
            ("PhoneNumbersTable", self.phone_numbers.as_str()),
            ("AgentsTable", self.agents.as_str()),
            ("CallsTable", self.calls.as_str()),
            ("ToolsTable", self.tools.as_str()),
            ("IdempotencyTable", self.idempotency.as_str()),
            ("LeadsTable", self.leads.as_str()),
            ("CampaignsTable", self.campaigns.as_str()),
            ("WebhooksTable", self.webhooks.as_str()),
        ]
    }
}

/// Twilio's REST API.
#[derive(Clone, Debug)]
pub struct TwilioConfig {
    pub api_base_url: Url,
    pub account_sid: Option<String>,
    pub auth_token: Option<SecretString>,
    /// Public base of GOBI's Twilio webhook (the Function URL); purchased numbers point their
    /// voice URL at `<base>/twilio/webhook/inbound`, and signatures are computed over it.
    pub webhook_base_url: Option<Url>,
    /// `TWILIO_VALIDATE_SIGNATURE` (default true): webhooks without a valid
    /// `X-Twilio-Signature` get 403. The webhook needs `TWILIO_AUTH_TOKEN` and
    /// `TWILIO_WEBHOOK_BASE_URL` to check it; production refuses to start with it false.
    pub validate_signature: bool,
    /// When set, inbound calls are answered with `<Connect><Stream>` to this URL.
    pub media_stream_url: Option<Url>,
    /// Passed to the media stream as a parameter, so the stream worker can trust the start.
    pub media_stream_token: Option<SecretString>,
}

/// LiveKit's server API.
#[derive(Clone, Debug)]
pub struct LiveKitConfig {
    pub url: Option<Url>,
    pub api_key: Option<String>,
    pub api_secret: Option<SecretString>,
    /// The agent worker name dispatch rules send calls to.
    pub agent_name: String,
    /// The project's SIP endpoint (`sip:xyz.sip.livekit.cloud`): calls are dialled there when no
    /// media stream is configured.
    pub sip_uri: Option<String>,
    /// Digest credentials every inbound trunk requires (`LIVEKIT_SIP_AUTH_USERNAME` /
    /// `LIVEKIT_SIP_AUTH_PASSWORD`); Twilio's `<Dial><Sip>` presents them.
    pub sip_auth: Option<SipAuth>,
    /// Addresses (IPs or CIDRs) inbound trunks accept INVITEs from
    /// (`LIVEKIT_SIP_ALLOWED_ADDRESSES`, comma-separated), e.g. Twilio's signalling ranges.
    pub sip_allowed_addresses: Vec<String>,
    /// A LiveKit SIP outbound trunk (`LIVEKIT_SIP_OUTBOUND_TRUNK_ID`, `ST_…`): when set, campaign
    /// calls are placed through LiveKit's `CreateSIPParticipant` instead of Twilio's Calls API.
    pub sip_outbound_trunk_id: Option<String>,
}

impl LiveKitConfig {
    /// Inbound trunks are never open to the world: they need credentials or an address list.
    pub fn sip_secured(&self) -> bool {
        self.sip_auth.is_some() || !self.sip_allowed_addresses.is_empty()
    }
}

/// SIP digest credentials.
#[derive(Clone)]
pub struct SipAuth {
    pub username: String,
    pub password: SecretString,
}

impl std::fmt::Debug for SipAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipAuth")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub environment: Environment,
    pub port: u16,
    /// `*` or a list of origins.
    pub cors_origins: Vec<String>,
    pub request_body_limit_bytes: usize,
    pub jwt: JwtConfig,
    pub tables: Tables,
    pub handoff_queue_url: Option<String>,
    /// Tenant legal-hold jobs: the tenants function starts them, the legal-hold worker runs them.
    pub legal_hold_queue_url: Option<String>,
    /// The `lead-import` worker's queue (`LEAD_IMPORT_QUEUE_URL`).
    pub lead_import_queue_url: Option<String>,
    /// The `dialer` worker's queue: campaign enrolment and dial jobs (`DIALER_QUEUE_URL`).
    pub dialer_queue_url: Option<String>,
    /// Events for tenants' webhooks, and their deliveries (`WEBHOOK_QUEUE_URL`); without it no
    /// event is sent.
    pub webhook_queue_url: Option<String>,
    /// Seconds between a failed webhook delivery and each retry, in order
    /// (`WEBHOOK_RETRY_SCHEDULE`: `5s,1m,5m,30m,1h,2h,4h,8h,8h` by default, about 24 hours in all);
    /// each wait is jittered by up to a fifth either way.
    pub webhook_retry_schedule: Vec<u64>,
    /// An endpoint whose deliveries have failed for this long with no success is disabled
    /// (`WEBHOOK_DISABLE_AFTER`, default `3d`).
    pub webhook_disable_after_seconds: u64,
    /// The S3 bucket of lead files and import error reports (`IMPORTS_BUCKET`).
    pub imports_bucket: Option<String>,
    /// Address S3 buckets by path instead of host name (`S3_FORCE_PATH_STYLE`, for S3
    /// emulators; off by default).
    pub s3_force_path_style: bool,
    pub kms_key_id: Option<String>,
    pub twilio: TwilioConfig,
    pub livekit: LiveKitConfig,
    pub dev_bootstrap_key: Option<SecretString>,
    pub auth_bootstrap_key: Option<SecretString>,
    /// Lifetime of the tokens GOBI issues at login and first-admin setup.
    pub token_ttl_seconds: i64,
    /// An agent is online while its newest heartbeat is younger than this.
    pub heartbeat_timeout_seconds: i64,
    /// A runtime dispatch not claimed within this many seconds expires.
    pub dispatch_ttl_seconds: i64,
    /// Tool executions allowed per call per minute.
    pub automation_max_executions_per_minute: u32,
    /// Only tools on the allowlist of the call agent's active version may run.
    pub automation_require_agent_tool_mapping: bool,
    /// The time all attempts of one n8n call may take together
    /// (`AUTOMATION_EXECUTION_BUDGET_MS`); the template keeps it inside the function's timeout.
    pub automation_execution_budget_ms: u64,
    /// Set when the Lambda runtime API is present (`AWS_LAMBDA_RUNTIME_API`).
    pub in_lambda: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {name}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

impl ConfigError {
    fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Self {
            name,
            reason: reason.into(),
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| vars.get(name).cloned())
    }

    /// Builds the config from any lookup; empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let secret = |name: &str| get(name).map(SecretString::from);
        let parse_url =
            |name: &'static str, default: Option<&str>| -> Result<Option<Url>, ConfigError> {
                match get(name).as_deref().or(default) {
                    None => Ok(None),
                    Some(raw) => Url::parse(raw)
                        .map(Some)
                        .map_err(|e| ConfigError::invalid(name, format!("not a URL: {e}"))),
                }
            };

        let environment = match get("NODE_ENV") {
            Some(v) => Environment::parse(&v)?,
            None => Environment::Development,
        };
        let port = match get("PORT") {
            Some(v) => v
                .parse()
                .map_err(|_| ConfigError::invalid("PORT", "not a port number"))?,
            None => 3000,
        };
        let request_body_limit_bytes = match get("REQUEST_BODY_LIMIT_BYTES") {
            Some(v) => v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                ConfigError::invalid("REQUEST_BODY_LIMIT_BYTES", "not a positive number")
            })?,
            None => 256 * 1024,
        };
        let cors_origins = get("CORS_ORIGIN")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().to_owned())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();

        let jwt = JwtConfig {
            // Env files often carry PEMs on one line with literal `\n`.
            public_key: get("JWT_PUBLIC_KEY").map(|pem| pem.replace("\\n", "\n")),
            secret: secret("JWT_SECRET"),
            issuer: get("JWT_ISSUER"),
            audience: get("JWT_AUDIENCE"),
        };

        let token_ttl_seconds = match get("JWT_EXPIRES_IN_SECONDS") {
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (60..=30 * 24 * 3600).contains(n))
                .ok_or_else(|| {
                    ConfigError::invalid("JWT_EXPIRES_IN_SECONDS", "between 60 and 2592000")
                })?,
            None => 3600,
        };
        let heartbeat_timeout_seconds = match get("AGENT_HEARTBEAT_TIMEOUT_SECONDS") {
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (10..=3600).contains(n))
                .ok_or_else(|| {
                    ConfigError::invalid("AGENT_HEARTBEAT_TIMEOUT_SECONDS", "between 10 and 3600")
                })?,
            None => 90,
        };
        let dispatch_ttl_seconds = match get("DISPATCH_TTL_SECONDS") {
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (10..=3600).contains(n))
                .ok_or_else(|| {
                    ConfigError::invalid("DISPATCH_TTL_SECONDS", "between 10 and 3600")
                })?,
            None => 120,
        };
        let automation_max_executions_per_minute = match get("AUTOMATION_MAX_EXECUTIONS_PER_MINUTE")
        {
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| {
                    ConfigError::invalid(
                        "AUTOMATION_MAX_EXECUTIONS_PER_MINUTE",
                        "between 1 and 10000",
                    )
                })?,
            None => 30,
        };
        let automation_require_agent_tool_mapping =
            match get("AUTOMATION_REQUIRE_AGENT_TOOL_MAPPING").as_deref() {
                None | Some("false") | Some("0") => false,
                Some("true") | Some("1") => true,
                Some(_) => {
                    return Err(ConfigError::invalid(
                        "AUTOMATION_REQUIRE_AGENT_TOOL_MAPPING",
                        "true or false",
                    ));
                }
            };
        let automation_execution_budget_ms = match get("AUTOMATION_EXECUTION_BUDGET_MS") {
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (500..=900_000).contains(n))
                .ok_or_else(|| {
                    ConfigError::invalid("AUTOMATION_EXECUTION_BUDGET_MS", "between 500 and 900000")
                })?,
            None => 25_000,
        };
        let table_prefix = get("TABLE_PREFIX").unwrap_or_else(|| "gobi".to_owned());
        let tables = Tables {
            tenants: get("TENANTS_TABLE").unwrap_or_else(|| format!("{table_prefix}-tenants")),
            users: get("USERS_TABLE").unwrap_or_else(|| format!("{table_prefix}-users")),
            agents: get("AGENTS_TABLE").unwrap_or_else(|| format!("{table_prefix}-agents")),
            calls: get("CALLS_TABLE").unwrap_or_else(|| format!("{table_prefix}-calls")),
            tools: get("TOOLS_TABLE").unwrap_or_else(|| format!("{table_prefix}-tools")),
            idempotency: get("IDEMPOTENCY_TABLE")
                .unwrap_or_else(|| format!("{table_prefix}-idempotency")),
            leads: get("LEADS_TABLE").unwrap_or_else(|| format!("{table_prefix}-leads")),
            campaigns: get("CAMPAIGNS_TABLE")
                .unwrap_or_else(|| format!("{table_prefix}-campaigns")),
            phone_numbers: get("PHONE_NUMBERS_TABLE")
                .unwrap_or_else(|| format!("{table_prefix}-phone-numbers")),
            webhooks: get("WEBHOOKS_TABLE").unwrap_or_else(|| format!("{table_prefix}-webhooks")),
        };
        let webhook_retry_schedule = get("WEBHOOK_RETRY_SCHEDULE")
            .as_deref()
            .unwrap_or(DEFAULT_WEBHOOK_RETRY_SCHEDULE)
            .split(',')
            .map(|d| seconds_of(d.trim()))
            .collect::<Option<Vec<u64>>>()
            .filter(|s| (1..=20).contains(&s.len()))
            .ok_or_else(|| {
                ConfigError::invalid(
                    "WEBHOOK_RETRY_SCHEDULE",
                    "1 to 20 durations separated by commas, e.g. 5s,1m,2h",
                )
            })?;
        let webhook_disable_after_seconds = get("WEBHOOK_DISABLE_AFTER")
            .as_deref()
            .map(|d| seconds_of(d.trim()))
            .unwrap_or(Some(3 * 86_400))
            .ok_or_else(|| ConfigError::invalid("WEBHOOK_DISABLE_AFTER", "a duration, e.g. 3d"))?;

        let twilio = TwilioConfig {
            api_base_url: parse_url("TWILIO_API_BASE_URL", Some("https://api.twilio.com"))?
                .expect("a default is given"),
            account_sid: get("TWILIO_ACCOUNT_SID"),
            auth_token: secret("TWILIO_AUTH_TOKEN"),
            webhook_base_url: parse_url("TWILIO_WEBHOOK_BASE_URL", None)?,
            validate_signature: match get("TWILIO_VALIDATE_SIGNATURE").as_deref() {
                None | Some("true") | Some("1") => true,
                Some("false") | Some("0") => false,
                Some(_) => {
                    return Err(ConfigError::invalid(
                        "TWILIO_VALIDATE_SIGNATURE",
                        "true or false",
                    ));
                }
            },
            media_stream_url: parse_url("TWILIO_MEDIA_STREAM_URL", None)?,
            media_stream_token: secret("TWILIO_MEDIA_STREAM_TOKEN"),
        };
        if environment.is_production() {
            if !twilio.validate_signature {
                return Err(ConfigError::invalid(
                    "TWILIO_VALIDATE_SIGNATURE",
                    "must not be false in production: unsigned webhooks would be accepted",
                ));
            }
            for (name, value) in [("JWT_ISSUER", &jwt.issuer), ("JWT_AUDIENCE", &jwt.audience)] {
                if value.is_none() {
                    return Err(ConfigError::invalid(
                        name,
                        "is required in production (tokens are checked against it)",
                    ));
                }
            }
        }
        let livekit = LiveKitConfig {
            url: parse_url("LIVEKIT_URL", None)?,
            api_key: get("LIVEKIT_API_KEY"),
            api_secret: secret("LIVEKIT_API_SECRET"),
            agent_name: get("LIVEKIT_AGENT_NAME").unwrap_or_else(|| "gobi-voice-agent".to_owned()),
            sip_uri: get("LIVEKIT_SIP_URI"),
            sip_auth: match (
                get("LIVEKIT_SIP_AUTH_USERNAME"),
                secret("LIVEKIT_SIP_AUTH_PASSWORD"),
            ) {
                (Some(username), Some(password)) => {
                    if password.expose_secret().chars().count() < 16 {
                        return Err(ConfigError::invalid(
                            "LIVEKIT_SIP_AUTH_PASSWORD",
                            "at least 16 characters",
                        ));
                    }
                    Some(SipAuth { username, password })
                }
                (None, None) => None,
                _ => {
                    return Err(ConfigError::invalid(
                        "LIVEKIT_SIP_AUTH_USERNAME",
                        "LIVEKIT_SIP_AUTH_USERNAME and LIVEKIT_SIP_AUTH_PASSWORD go together",
                    ));
                }
            },
            sip_allowed_addresses: get("LIVEKIT_SIP_ALLOWED_ADDRESSES")
                .map(|v| {
                    v.split(',')
                        .map(|a| a.trim().to_owned())
                        .filter(|a| !a.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            sip_outbound_trunk_id: get("LIVEKIT_SIP_OUTBOUND_TRUNK_ID"),
        };

        Ok(Self {
            environment,
            port,
            cors_origins,
            request_body_limit_bytes,
            jwt,
            tables,
            handoff_queue_url: get("HANDOFF_QUEUE_URL"),
            legal_hold_queue_url: get("LEGAL_HOLD_QUEUE_URL"),
            lead_import_queue_url: get("LEAD_IMPORT_QUEUE_URL"),
            dialer_queue_url: get("DIALER_QUEUE_URL"),
            webhook_queue_url: get("WEBHOOK_QUEUE_URL"),
            webhook_retry_schedule,
            webhook_disable_after_seconds,
            imports_bucket: get("IMPORTS_BUCKET"),
            s3_force_path_style: get("S3_FORCE_PATH_STYLE")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
            kms_key_id: get("KMS_KEY_ID"),
            twilio,
            livekit,
            dev_bootstrap_key: secret("DEV_BOOTSTRAP_KEY"),
            auth_bootstrap_key: secret("AUTH_BOOTSTRAP_KEY"),
            token_ttl_seconds,
            heartbeat_timeout_seconds,
            dispatch_ttl_seconds,
            automation_max_executions_per_minute,
            automation_require_agent_tool_mapping,
            automation_execution_budget_ms,
            in_lambda: get("AWS_LAMBDA_RUNTIME_API").is_some(),
        })
    }
}

/// The retry schedule unless configured: about 24 hours of retries, closer together first.
pub const DEFAULT_WEBHOOK_RETRY_SCHEDULE: &str = "5s,1m,5m,30m,1h,2h,4h,8h,8h";

/// Seconds in `5s`, `10m`, `2h`, `3d` or a bare number of seconds.
fn seconds_of(text: &str) -> Option<u64> {
    let (number, unit) = match text.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(scale)
}

#[cfg(test)]
mod tests;
