//! The phone numbers aggregate.

pub mod model;
pub mod store;
