//! The tenants aggregate.

pub mod model;
pub mod store;
