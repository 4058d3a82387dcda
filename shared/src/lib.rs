//! The library every GOBI function links: configuration, the one error type, auth and tenancy,
//! DynamoDB helpers, the HTTP layers and OpenAPI assembly.

pub mod auth;
pub mod config;
pub mod dynamo;
pub mod error;
pub mod events;
pub mod extract;
pub mod http;
pub mod https;
pub mod idempotency;
pub mod ids;
pub mod openapi;
pub mod outbound;
pub mod response;
pub mod routing;
pub mod secrets;
pub mod serde_fields;
pub mod sqs;
pub mod telemetry;
pub mod text;
pub mod time;

pub use config::Config;
pub use error::{ApiError, ApiResult};
