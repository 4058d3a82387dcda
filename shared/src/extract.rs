//! Extractors whose rejections come back in the GOBI error format (never axum's plain text).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// A JSON object body; malformed JSON, a body that is not an object, wrong types, unknown
/// fields, a wrong content type and an oversized body each answer with a clear 4xx.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Read an object first: serde would otherwise build a struct from a JSON array.
        let object = match axum::Json::<serde_json::Map<String, serde_json::Value>>::from_request(
            req, state,
        )
        .await
        {
            Ok(axum::Json(object)) => object,
            Err(rejection) => return Err(json_rejection(rejection)),
        };
        serde_path_to_error::deserialize(serde_json::Value::Object(object))
            .map(Self)
            .map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." || path.is_empty() {
                    "body".to_owned()
                } else {
                    path
                };
                ApiError::validation(field, e.into_inner().to_string())
            })
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::JsonSyntaxError(e) => ApiError::validation(
            "body",
            format!("malformed JSON: {}", serde_message(&e.body_text())),
        ),
        JsonRejection::JsonDataError(e) => data_error("body", &e.body_text()),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge
        }
        other => ApiError::validation("body", other.body_text()),
    }
}

/// axum's messages read `Failed to deserialize ...: <path>: <serde message>`; keep the useful tail.
fn serde_message(text: &str) -> &str {
    text.split_once(": ").map(|(_, rest)| rest).unwrap_or(text)
}

/// Splits `field.path: message` into a field error when serde named the field.
fn data_error(part: &str, text: &str) -> ApiError {
    let detail = serde_message(text);
    match detail.split_once(": ") {
        Some((path, message)) if !path.contains(' ') && path != "." => {
            ApiError::Validation(vec![FieldError::new(path, message)])
        }
        _ => ApiError::validation(part, detail),
    }
}

/// Query parameters, with GOBI-format rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(data_error("query", &e.body_text()))
            }
            Err(other) => Err(ApiError::validation("query", other.body_text())),
        }
    }
}

/// Path parameters, with GOBI-format rejections (a malformed id is a 400, not a 500).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(ApiError::validation(
                "path",
                e.body_text().replace("Invalid URL: ", ""),
            )),
            Err(other) => Err(ApiError::Internal(anyhow::anyhow!(
                "path extraction: {}",
                other.body_text()
            ))),
        }
    }
}

/// The address a request came from: API Gateway's `sourceIp` under Lambda, the peer address
/// locally; `unknown` when neither is known. Used to key per-source limits, never trusted for
/// authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SourceAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) =
            parts
                .extensions
                .get::<lambda_http::request::RequestContext>()
            && let Some(ip) = &context.http.source_ip
        {
            return Ok(Self(ip.clone()));
        }
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip().to_string());
        Ok(Self(peer.unwrap_or_else(|| "unknown".to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn source(request: http::Request<()>) -> String {
        let (mut parts, ()) = request.into_parts();
        SourceAddress::from_request_parts(&mut parts, &())
            .await
            .unwrap()
            .0
    }

    #[tokio::test]
    async fn the_source_is_api_gateways_source_ip_else_the_peer() {
        let mut context =
            lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
        context.http.source_ip = Some("198.51.100.7".into());
        let mut lambda = http::Request::new(());
        lambda
            .extensions_mut()
            .insert(lambda_http::request::RequestContext::ApiGatewayV2(context));
        assert_eq!(source(lambda).await, "198.51.100.7");
        let mut local = http::Request::new(());
        local
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                5000,
            ))));
        assert_eq!(source(local).await, "127.0.0.1");
        assert_eq!(source(http::Request::new(())).await, "unknown");
    }
}
