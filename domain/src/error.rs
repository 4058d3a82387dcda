//! What a store answers when it cannot do what was asked. Stores know nothing of HTTP; the one
//! mapping to `ApiError` is below, applied by `?` in the HTTP handlers. Workers keep the store
//! error (and with `Dynamo`, the whole cause chain) in their `anyhow` reports.

use aws_sdk_dynamodb::error::SdkError;
use gobi_shared::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The item the operation needs does not exist (`code`: `TENANT_NOT_FOUND`, ...).
    #[error("{message}")]
    NotFound {
        code: &'static str,
        message: String,
        /// What else the caller should know (which ids were missing).
        details: Option<serde_json::Value>,
    },
    /// A conditional write lost: the item changed between its read and this write.
    #[error("{message}")]
    ConditionFailed { code: &'static str, message: String },
    /// A rule of the aggregate refuses the write (a name taken, a hold in place, a limit).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Too many attempts in a window; the caller may try again after `retry_after_seconds`.
    #[error("{message}")]
    Throttled {
        code: &'static str,
        message: String,
        retry_after_seconds: u64,
    },
    /// An input the store reads (a page cursor) is not one it handed out.
    #[error("{field} {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    /// DynamoDB failed, timed out or answered what the store cannot read; the cause chain is
    /// kept for the logs.
    #[error(transparent)]
    Dynamo(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    /// The answer to a write that lost to a concurrent one.
    pub fn concurrent(message: impl Into<String>) -> Self {
        Self::ConditionFailed {
            code: "CONCURRENT_MODIFICATION",
            message: message.into(),
        }
    }

    /// A cursor that does not decode to one of the store's sort keys.
    pub fn invalid_cursor() -> Self {
        Self::Invalid {
            field: "cursor",
            message: "is not a cursor this API returned",
        }
    }
}

impl<E, R> From<SdkError<E, R>> for StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn from(error: SdkError<E, R>) -> Self {
        Self::Dynamo(anyhow::Error::new(error))
    }
}

/// A request the code itself built wrongly (a missing key or expression): a bug, kept with
/// its cause.
impl From<aws_sdk_dynamodb::error::BuildError> for StoreError {
    fn from(error: aws_sdk_dynamodb::error::BuildError) -> Self {
        Self::Dynamo(anyhow::Error::new(error).context("building a DynamoDB request"))
    }
}

/// The HTTP edge: how each store error is answered.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound {
                code,
                message,
                details: None,
            } => ApiError::not_found(code, message),
            StoreError::NotFound {
                code,
                message,
                details,
            } => ApiError::Dependency {
                status: http::StatusCode::NOT_FOUND,
                code,
                message,
                details,
                twilio_code: None,
            },
            StoreError::ConditionFailed { code, message }
            | StoreError::Conflict { code, message } => ApiError::conflict(code, message),
            StoreError::Throttled {
                code,
                message,
                retry_after_seconds,
            } => ApiError::TooManyRequests {
                code,
                message,
                retry_after_seconds,
            },
            StoreError::Invalid { field, message } => ApiError::validation(field, message),
            StoreError::Dynamo(cause) => ApiError::Internal(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_store_error_has_its_http_answer() {
        let answers = [
            (StoreError::not_found("TENANT_NOT_FOUND", "gone"), 404),
            (StoreError::concurrent("changed"), 409),
            (StoreError::conflict("DOMAIN_EXISTS", "taken"), 409),
            (StoreError::invalid_cursor(), 400),
            (
                StoreError::Throttled {
                    code: "TOO_MANY_LOGIN_ATTEMPTS",
                    message: "later".into(),
                    retry_after_seconds: 5,
                },
                429,
            ),
            (StoreError::Dynamo(anyhow::anyhow!("broken")), 500),
        ];
        for (error, status) in answers {
            let code = match &error {
                StoreError::NotFound { code, .. }
                | StoreError::ConditionFailed { code, .. }
                | StoreError::Conflict { code, .. }
                | StoreError::Throttled { code, .. } => Some(*code),
                _ => None,
            };
            let answer = ApiError::from(error);
            assert_eq!(answer.status().as_u16(), status, "{answer:?}");
            if let Some(code) = code {
                assert_eq!(answer.code(), code);
            }
        }
    }

    #[test]
    fn a_dynamo_failure_keeps_its_cause_chain_for_workers() {
        let error = StoreError::Dynamo(anyhow::anyhow!("timed out").context("reading a call"));
        let report = format!("{:#}", anyhow::Error::new(error));
        assert!(
            report.contains("reading a call") && report.contains("timed out"),
            "{report}"
        );
    }
}
