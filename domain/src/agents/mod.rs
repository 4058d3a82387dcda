//! The agents aggregate.

pub mod model;
pub mod store;
