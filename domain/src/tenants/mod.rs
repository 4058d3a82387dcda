//! The tenants aggregate.

pub mod access;
pub mod model;
pub mod store;
