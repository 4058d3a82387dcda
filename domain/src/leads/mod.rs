//! Lead lists and their leads: reading lead files (`import`) and finding each lead's time zone
//! (`timezones`). The lists, leads, suppressions and import records build on these.

pub mod files;
pub mod import;
pub mod importer;
pub mod jobs;
pub mod model;
pub mod store;
pub mod timezones;
