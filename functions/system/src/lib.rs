//! The `system` function: health checks and the API documentation: one OpenAPI document for
//! every function, generated from their routers by `make openapi` into `openapi.json` beside this
//! crate and served as it is (so this function links no other), and Swagger UI from vendored
//! assets.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use gobi_shared::api_routes;
use gobi_shared::error::{ApiError, ApiResult};
use gobi_shared::response::DataResponse;
use gobi_shared::routing::ApiRouter;
use gobi_shared::{dynamo, time};
use serde::Serialize;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::ToSchema;
use utoipa_swagger_ui::SwaggerUi;

/// Where Swagger UI and the document live.
pub const DOCS_PATH: &str = "/api-docs";
pub const DOCUMENT_PATH: &str = "/api-docs/swagger.json";

/// Routes served but not described in the document (the documentation itself). The last one is
/// API Gateway's catch-all for Swagger UI's assets.
pub const DOCUMENTATION_ROUTES: &[(&str, &str)] = &[
    ("GET", DOCS_PATH),
    ("GET", DOCUMENT_PATH),
    ("GET", "/api-docs/{proxy+}"),
];

/// Swagger UI needs no more than the default policy, less the https upgrade that breaks it on
/// plain-http local runs.
const DOCS_CSP: &str = "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';\
                        frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';\
                        script-src-attr 'none';style-src 'self' https: 'unsafe-inline'";

#[derive(Clone)]
pub struct SystemState {
    pub dynamodb: Client,
    /// The table `/health/db` asks about.
    pub probe_table: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatabaseHealth {
    #[schema(example = "ok")]
    pub status: String,
    #[schema(example = "dynamodb")]
    pub database: String,
    pub latency_ms: u64,
}

fn routes() -> ApiRouter<SystemState> {
    ApiRouter::default()
        .routes(api_routes!(health))
        .routes(api_routes!(health_db))
}

/// The OpenAPI document of every function, as `make openapi` wrote it.
pub const DOCUMENT: &str = include_str!("../openapi.json");

/// The function's part of the OpenAPI document.
#[cfg(feature = "openapi")]
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().openapi()
}

async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

pub fn router(state: SystemState) -> axum::Router {
    let docs: axum::Router = axum::Router::from(
        SwaggerUi::new(DOCS_PATH).config(utoipa_swagger_ui::Config::from(DOCUMENT_PATH)),
    )
    .layer(SetResponseHeaderLayer::overriding(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(DOCS_CSP),
    ));
    routes()
        .with_state(state)
        .route(DOCUMENT_PATH, axum::routing::get(document))
        .merge(docs)
}

/// Liveness: answers while the function runs.
#[utoipa::path(
    get,
    path = "/health",
    tag = "System",
    responses((status = 200, description = "The service is up", body = DataResponse<Health>))
)]
async fn health() -> Json<DataResponse<Health>> {
    Json(DataResponse::new(Health {
        status: "ok".into(),
        timestamp: time::now(),
    }))
}

/// Readiness of the database: 503 when DynamoDB does not answer within a few seconds.
#[utoipa::path(
    get,
    path = "/health/db",
    tag = "System",
    responses(
        (status = 200, description = "DynamoDB answers", body = DataResponse<DatabaseHealth>),
        (status = 503, description = "DATABASE_UNAVAILABLE", body = gobi_shared::error::ErrorBody),
    )
)]
async fn health_db(
    State(state): State<SystemState>,
) -> ApiResult<Json<DataResponse<DatabaseHealth>>> {
    let started = std::time::Instant::now();
    let probe = tokio::time::timeout(
        Duration::from_secs(3),
        dynamo::ping(&state.dynamodb, &state.probe_table),
    )
    .await;
    let unavailable = |why: String| {
        tracing::warn!(reason = %why, "database health check failed");
        ApiError::Unavailable {
            code: "DATABASE_UNAVAILABLE",
            message: "The database is not reachable".into(),
        }
    };
    match probe {
        Ok(Ok(())) => Ok(Json(DataResponse::new(DatabaseHealth {
            status: "ok".into(),
            database: "dynamodb".into(),
            latency_ms: started.elapsed().as_millis() as u64,
        }))),
        Ok(Err(e)) => Err(unavailable(format!("{e:#}"))),
        Err(_) => Err(unavailable("timed out".into())),
    }
}
