//! The local stack: resources from `template.yaml` on DynamoDB Local and moto, and one server
//! that mounts every function's router at its API Gateway path.

pub mod app;
pub mod aws_requests;
pub mod openapi;
pub mod provision;
pub mod template;
