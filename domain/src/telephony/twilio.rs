//! Twilio's REST API over `reqwest`: available numbers, purchase, lookup and release of
//! incoming numbers, and outbound calls. Basic auth with the account SID and auth token; the base URL comes from
//! config so tests can point it at a local server.

use std::time::Duration;

use gobi_shared::config::TwilioConfig;
use gobi_shared::dynamo::Backoff;
use gobi_shared::error::ApiError;
use gobi_shared::ids::E164;
use http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

/// Twilio's error payload.
#[derive(Debug, Clone, Deserialize)]
pub struct TwilioErrorBody {
    pub code: Option<i64>,
    pub message: Option<String>,
    pub more_info: Option<String>,
    pub status: Option<u16>,
}

#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    #[error("Twilio answered {status}: {}", body.message.as_deref().unwrap_or("no message"))]
    Api { status: u16, body: TwilioErrorBody },
    #[error("Twilio could not be reached: {0}")]
    Transport(#[from] reqwest::Error),
}

/// Twilio error codes meaning the number can no longer be bought.
const NUMBER_NOT_AVAILABLE_CODES: &[i64] = &[21422, 21452];

impl TwilioError {
    fn retryable(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status == 429 || *status >= 500,
            Self::Transport(e) => e.is_timeout() || e.is_connect(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api { status: 404, .. })
    }

    /// The answer GOBI gives for this failure.
    pub fn into_api_error(self) -> ApiError {
        let (status, body) = match self {
            Self::Transport(e) => {
                tracing::warn!(error = %e, "Twilio unreachable");
                return ApiError::Dependency {
                    status: StatusCode::BAD_GATEWAY,
                    code: "TWILIO_UNAVAILABLE",
                    message: "Twilio could not be reached".into(),
                    details: None,
                    twilio_code: None,
                };
            }
            Self::Api { status, body } => (status, body),
        };
        tracing::warn!(status, twilio_code = ?body.code, message = ?body.message, "Twilio refused");
        let message = body
            .message
            .clone()
            .unwrap_or_else(|| "Twilio refused the request".into());
        let details = body
            .more_info
            .clone()
            .map(|m| serde_json::json!({"twilioMessage": message, "moreInfo": m}));
        match (status, body.code) {
            (_, Some(code)) if NUMBER_NOT_AVAILABLE_CODES.contains(&code) => ApiError::Dependency {
                status: StatusCode::CONFLICT,
                code: "NUMBER_NOT_AVAILABLE",
                message: "Phone number is no longer available for purchase".into(),
                details: Some(serde_json::Value::String(
                    "The phone number is not available".into(),
                )),
                twilio_code: Some(code),
            },
            (401 | 403, code) => ApiError::Dependency {
                status: StatusCode::BAD_GATEWAY,
                code: "TWILIO_AUTH_FAILED",
                message: "Twilio refused GOBI's credentials".into(),
                details: None,
                twilio_code: code,
            },
            (400..=499, code) if status != 429 => ApiError::Dependency {
                status: StatusCode::BAD_REQUEST,
                code: "TWILIO_REQUEST_REJECTED",
                message: format!("Twilio rejected the request: {message}"),
                details,
                twilio_code: code,
            },
            (_, code) => ApiError::Dependency {
                status: StatusCode::BAD_GATEWAY,
                code: "TWILIO_UNAVAILABLE",
                message: "Twilio failed to answer".into(),
                details,
                twilio_code: code,
            },
        }
    }
}

/// Number kinds, as the first seed names them and as Twilio's paths do.
pub use crate::phone_numbers::model::NumberType;

/// Twilio's resource name for a kind of number (`AvailablePhoneNumbers/US/<this>`).
fn resource(kind: NumberType) -> &'static str {
    match kind {
        NumberType::Local => "Local",
        NumberType::TollFree => "TollFree",
        NumberType::Mobile => "Mobile",
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Capabilities {
    #[serde(default)]
    pub voice: bool,
    #[serde(default, alias = "SMS")]
    pub sms: bool,
    #[serde(default, alias = "MMS")]
    pub mms: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AvailableNumber {
    pub phone_number: String,
    pub friendly_name: Option<String>,
    pub locality: Option<String>,
    pub region: Option<String>,
    pub iso_country: Option<String>,
    pub capabilities: Option<Capabilities>,
}

#[derive(Debug, Deserialize)]
struct AvailableList {
    #[serde(default)]
    available_phone_numbers: Vec<AvailableNumber>,
}

/// An incoming number the account owns.
#[derive(Debug, Clone, Deserialize)]
pub struct IncomingNumber {
    pub sid: String,
    pub phone_number: String,
    pub status: Option<String>,
    /// RFC 2822, as Twilio writes dates.
    pub date_created: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IncomingList {
    #[serde(default)]
    incoming_phone_numbers: Vec<IncomingNumber>,
}

/// Search filters for available numbers.
#[derive(Debug, Clone)]
pub struct NumberSearch {
    pub country: String,
    pub kind: NumberType,
    pub area_code: Option<String>,
    pub contains: Option<String>,
    pub limit: u32,
}

#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    base: Url,
    account_sid: String,
    auth_token: SecretString,
}

impl std::fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl TwilioClient {
    /// `None` when the account SID or auth token is missing.
    pub fn from_config(config: &TwilioConfig) -> Option<Self> {
        let http = gobi_shared::https::client_builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(15))
            .build()
            .ok()?;
        Some(Self {
            http,
            base: config.api_base_url.clone(),
            account_sid: config.account_sid.clone()?,
            auth_token: config.auth_token.clone()?,
        })
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        url.set_path(&format!("/2010-04-01/Accounts/{}/{path}", self.account_sid));
        url
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, TwilioError> {
        let response = request
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .send()
            .await?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let body = response
            .json::<TwilioErrorBody>()
            .await
            .unwrap_or(TwilioErrorBody {
                code: None,
                message: None,
                more_info: None,
                status: Some(status),
            });
        Err(TwilioError::Api { status, body })
    }

    /// Idempotent requests are tried again on 429, 5xx and network failures, a bounded number of times.
    async fn send_idempotent(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, TwilioError> {
        let mut backoff = Backoff::new(3, Duration::from_millis(100));
        loop {
            match self.send(build()).await {
                Err(e) if e.retryable() && backoff.wait().await => continue,
                other => return other,
            }
        }
    }

    #[tracing::instrument(skip_all, fields(country = %search.country))]
    pub async fn available(
        &self,
        search: &NumberSearch,
    ) -> Result<Vec<AvailableNumber>, TwilioError> {
        let url = self.url(&format!(
            "AvailablePhoneNumbers/{}/{}.json",
            search.country,
            resource(search.kind)
        ));
        let mut query: Vec<(&str, String)> = vec![
            ("PageSize", search.limit.to_string()),
            ("VoiceEnabled", "true".into()),
        ];
        if let Some(area) = &search.area_code {
            query.push(("AreaCode", area.clone()));
        }
        if let Some(contains) = &search.contains {
            query.push(("Contains", contains.clone()));
        }
        match self
            .send_idempotent(|| self.http.get(url.clone()).query(&query))
            .await
        {
            Ok(response) => Ok(response
                .json::<AvailableList>()
                .await?
                .available_phone_numbers),
            // Twilio answers 404 for a country or kind it has no numbers in: none are available.
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Buys `number` with its voice and status webhooks set. Not retried: a purchase is not idempotent.
    #[tracing::instrument(skip_all)]
    pub async fn purchase(
        &self,
        number: &E164,
        voice_url: &Url,
        status_callback: &Url,
    ) -> Result<IncomingNumber, TwilioError> {
        let form = [
            ("PhoneNumber", number.as_str()),
            ("VoiceUrl", voice_url.as_str()),
            ("VoiceMethod", "POST"),
            ("StatusCallback", status_callback.as_str()),
            ("StatusCallbackMethod", "POST"),
        ];
        let response = self
            .send(
                self.http
                    .post(self.url("IncomingPhoneNumbers.json"))
                    .form(&form),
            )
            .await?;
        Ok(response.json().await?)
    }

    /// The account's incoming number with this E.164, if it owns it.
    #[tracing::instrument(skip_all)]
    pub async fn find_owned(&self, number: &E164) -> Result<Option<IncomingNumber>, TwilioError> {
        let url = self.url("IncomingPhoneNumbers.json");
        let response = self
            .send_idempotent(|| {
                self.http
                    .get(url.clone())
                    .query(&[("PhoneNumber", number.as_str())])
            })
            .await?;
        Ok(response
            .json::<IncomingList>()
            .await?
            .incoming_phone_numbers
            .into_iter()
            .find(|n| n.phone_number == number.as_str()))
    }

    /// Gives the number back to Twilio; already gone counts as done.
    #[tracing::instrument(skip_all)]
    pub async fn release(&self, sid: &str) -> Result<(), TwilioError> {
        let url = self.url(&format!("IncomingPhoneNumbers/{sid}.json"));
        match self.send_idempotent(|| self.http.delete(url.clone())).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// An outbound call to place (Twilio's Calls API).
#[derive(Debug, Clone)]
pub struct OutboundCall<'a> {
    pub to: &'a str,
    pub from: &'a str,
    /// Where Twilio asks what to do once the call is answered.
    pub answer_url: &'a Url,
    /// Where Twilio posts the call's status changes (signed).
    pub status_callback: &'a Url,
    /// Ask for answering-machine detection (`AnsweredBy` on the callbacks).
    pub detect_machine: bool,
    /// Seconds to let it ring.
    pub ring_seconds: u32,
}

/// A call Twilio accepted.
#[derive(Debug, Clone, Deserialize)]
pub struct PlacedCall {
    pub sid: String,
    pub status: Option<String>,
}

impl TwilioClient {
    /// Places an outbound call. Not retried: a second request would be a second call.
    #[tracing::instrument(skip_all)]
    pub async fn place_call(&self, call: &OutboundCall<'_>) -> Result<PlacedCall, TwilioError> {
        let ring = call.ring_seconds.to_string();
        let mut form = vec![
            ("To", call.to),
            ("From", call.from),
            ("Url", call.answer_url.as_str()),
            ("Method", "POST"),
            ("StatusCallback", call.status_callback.as_str()),
            ("StatusCallbackMethod", "POST"),
            ("StatusCallbackEvent", "initiated"),
            ("StatusCallbackEvent", "ringing"),
            ("StatusCallbackEvent", "answered"),
            ("StatusCallbackEvent", "completed"),
            ("Timeout", ring.as_str()),
        ];
        if call.detect_machine {
            form.push(("MachineDetection", "Enable"));
        }
        let response = self
            .send(self.http.post(self.url("Calls.json")).form(&form))
            .await?;
        Ok(response.json().await?)
    }
}

/// Twilio writes `Mon, 20 Jan 2025 12:00:00 +0000`; GOBI answers RFC 3339.
pub fn parse_twilio_date(raw: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc2822(raw?)
        .ok()
        .map(|d| d.to_utc())
}
