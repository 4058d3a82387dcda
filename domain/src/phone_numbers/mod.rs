//! The phone numbers aggregate.

pub mod context;
pub mod model;
pub mod store;
