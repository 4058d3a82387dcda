//! The one error type. Every failure leaves GOBI as `{"error": {"message", "code", "details"?}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

pub type ApiResult<T> = Result<T, ApiError>;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's name or JSON path (`body`, `query`, `path` when the whole part is unreadable).
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Collects every field's problem, so one answer lists them all.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    /// Keeps the value, or notes the problem under `field`.
    pub fn check<T, E: ToString>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        result.map_err(|e| self.push(field, e.to_string())).ok()
    }

    /// Notes `message` under `field` unless `valid`.
    pub fn require(&mut self, field: &str, valid: bool, message: &str) {
        if !valid {
            self.push(field, message);
        }
    }

    /// Notes a batch under `field` that is empty or holds more than `max` items.
    pub fn check_batch(&mut self, field: &str, len: usize, max: usize) {
        if !(1..=max).contains(&len) {
            self.push(field, format!("1 to {max} {field}"));
        }
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// `VALIDATION_ERROR` with every problem noted, if there was any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("No authorization token provided")]
    MissingToken,
    #[error("Token is invalid or malformed")]
    InvalidToken,
    #[error("Token has expired")]
    TokenExpired,
    /// Any other 401: wrong credentials, a wrong bootstrap key.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// The token is valid but this kind of principal may not call the route at all.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("Insufficient permissions: requires {required}")]
    InsufficientPermissions { required: &'static str },
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// It existed, and is over for good (an expired dispatch).
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    #[error("Request validation failed")]
    Validation(Vec<FieldError>),
    #[error("Request body is too large")]
    PayloadTooLarge,
    #[error("Expected a request body with Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("Method not allowed")]
    MethodNotAllowed,
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    /// Answered with `Retry-After`.
    #[error("{message}")]
    TooManyRequests {
        code: &'static str,
        message: String,
        retry_after_seconds: u64,
    },
    /// An external service (Twilio, LiveKit, n8n) refused or failed; `status` is a 4xx when the
    /// caller can fix it, 502 when the service failed.
    #[error("{message}")]
    Dependency {
        status: StatusCode,
        code: &'static str,
        message: String,
        details: Option<serde_json::Value>,
        twilio_code: Option<i64>,
    },
    /// Anything unexpected; logged with its cause chain, answered without internals.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The error body, for OpenAPI and for tests that read it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub message: String,
    /// Stable, UPPER_SNAKE: `MISSING_TOKEN`, `VALIDATION_ERROR`, `TENANT_NOT_FOUND`, ...
    pub code: String,
    /// Per-field problems (`[{field, message}]`) for `VALIDATION_ERROR`; for other codes a
    /// string or object that explains more; absent when there is nothing to add.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    /// Twilio's own error code, when Twilio refused.
    #[serde(rename = "twilioCode", skip_serializing_if = "Option::is_none")]
    pub twilio_code: Option<i64>,
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken
            | Self::InvalidToken
            | Self::TokenExpired
            | Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } | Self::InsufficientPermissions { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Gone { .. } => StatusCode::GONE,
            Self::Validation(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Dependency { status, .. } => *status,
            Self::Internal(cause) if dependency_unavailable(cause) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "MISSING_TOKEN",
            Self::InvalidToken => "INVALID_TOKEN",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::Forbidden { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::Gone { code, .. }
            | Self::Unavailable { code, .. }
            | Self::TooManyRequests { code, .. }
            | Self::Dependency { code, .. } => code,
            Self::InsufficientPermissions { .. } => "INSUFFICIENT_PERMISSIONS",
            Self::Validation(_) => "VALIDATION_ERROR",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::Internal(cause) if dependency_unavailable(cause) => "DEPENDENCY_UNAVAILABLE",
            Self::Internal(_) => "INTERNAL_ERROR",
        }
    }

    fn body(&self) -> ErrorBody {
        let (message, details, twilio_code) = match self {
            Self::Internal(cause) if dependency_unavailable(cause) => (
                "A service GOBI depends on did not answer in time; try again shortly".to_owned(),
                None,
                None,
            ),
            Self::Internal(_) => ("Internal server error".to_owned(), None, None),
            Self::Validation(fields) => (
                self.to_string(),
                Some(serde_json::to_value(fields).unwrap_or_default()),
                None,
            ),
            Self::Dependency {
                details,
                twilio_code,
                ..
            } => (self.to_string(), details.clone(), *twilio_code),
            other => (other.to_string(), None, None),
        };
        ErrorBody {
            error: ErrorDetail {
                message,
                code: self.code().to_owned(),
                details,
                twilio_code,
            },
        }
    }
}

/// How long a client waits before retrying after a dependency timed out or throttled.
pub const DEPENDENCY_RETRY_AFTER_SECONDS: u64 = 2;

/// AWS error codes that mean "too many requests now" or "not available now" (throttling and
/// transient service faults), from the DynamoDB, SQS and KMS error references.
const TRANSIENT_AWS_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "KMSInternalException",
];

/// Whether an unexpected failure is a dependency that timed out, could not be reached or
/// throttled: worth a 503 with `Retry-After` (the caller may simply try again), not a 500.
pub fn dependency_unavailable(cause: &anyhow::Error) -> bool {
    use aws_smithy_runtime_api::client::result::ConnectorError;
    cause.chain().any(|e| {
        if let Some(connector) = e.downcast_ref::<ConnectorError>() {
            return connector.is_timeout() || connector.is_io();
        }
        // The SDK's own words for an attempt or operation timeout (`SdkError::TimeoutError`);
        // service errors name their AWS code.
        let text = e.to_string();
        text == "request has timed out"
            || TRANSIENT_AWS_CODES.iter().any(|code| text.contains(code))
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            // `{:#}` prints the whole cause chain; the request span carries the request id.
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let status = self.status();
        let retry_after = match &self {
            Self::TooManyRequests {
                retry_after_seconds,
                ..
            } => Some((*retry_after_seconds).max(1)),
            Self::Internal(cause) if dependency_unavailable(cause) => {
                Some(DEPENDENCY_RETRY_AFTER_SECONDS)
            }
            _ => None,
        };
        let mut response = (status, Json(self.body())).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn throttling_and_timeouts_are_a_dependency_being_unavailable() {
        for transient in [
            anyhow::anyhow!("unhandled error (ThrottlingException)").context("listing calls"),
            anyhow::anyhow!("ProvisionedThroughputExceededException: slow down").context("x"),
            anyhow::anyhow!("request has timed out").context("reading tenant"),
        ] {
            assert!(dependency_unavailable(&transient), "{transient:#}");
            let error = ApiError::Internal(transient);
            assert_eq!(
                (error.status(), error.code()),
                (StatusCode::SERVICE_UNAVAILABLE, "DEPENDENCY_UNAVAILABLE")
            );
        }
        let bug =
            ApiError::Internal(anyhow::anyhow!("ConditionalCheckFailedException").context("x"));
        assert_eq!(
            (bug.status(), bug.code()),
            (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR")
        );
    }

    async fn body_of(error: ApiError) -> (StatusCode, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let (status, body) =
            body_of(ApiError::Internal(anyhow::anyhow!("table gobi-x: secret"))).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "INTERNAL_ERROR");
        assert!(!body.to_string().contains("secret"));
    }

    #[tokio::test]
    async fn validation_errors_list_their_fields() {
        let (status, body) = body_of(ApiError::Validation(vec![FieldError::new(
            "name",
            "is required",
        )]))
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
        assert_eq!(body["error"]["details"][0]["field"], "name");
    }
}
