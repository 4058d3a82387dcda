//! The calls table: every call under its tenant (`CALL#<id>`), a CallSid marker that makes
//! Twilio's retries land on the same call and finds it in one GetItem, and the runtime dispatch
//! of each call (`DISPATCH#<id>`). `gsi1` finds calls and dispatches by id alone; the sparse
//! `gsi2` holds only pending dispatches, by expiry, for the scheduler.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{StoreError, StoreResult};
use gobi_shared::dynamo::{self, Backoff, TransactOutcome, s, time};
use gobi_shared::ids::{AgentId, AgentVersionId, CallId, DispatchId, PhoneNumberId, TenantId};

mod analytics;
mod dispatches;
mod disposition;
mod handoff;
mod keys;
mod metrics;
mod model;
mod records;
mod retention;
mod store;

pub use analytics::*;
pub use dispatches::*;
pub use disposition::*;
pub use handoff::*;
pub use metrics::*;
pub use model::*;
pub use records::*;
pub use store::*;
