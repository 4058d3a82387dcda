//! GOBI's aggregates, one module folder each: its model (what the API and the functions read
//! and write), its key formats and its store on DynamoDB. Functions depend on this crate and on
//! `gobi-shared`, never on each other; two functions that need the same aggregate share it here.

pub mod agents;
pub mod calls;
pub mod campaigns;
pub mod dispositions;
pub mod error;
pub mod integrations;
pub mod leads;
pub mod paging;
pub mod phone_numbers;
pub mod telephony;
pub mod tenants;
pub mod tools;
pub mod users;
pub mod webhooks;
pub mod zone;
