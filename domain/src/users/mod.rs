//! The users aggregate: GOBI's own users, their e-mail markers, memberships and login throttles.

pub mod model;
pub mod store;
