//! Importing lead files: every row becomes a lead or a rejection with its line and reason, and
//! every outcome is counted. The reading is pure (no store): the `lead-import` worker feeds it
//! the file from S3 and writes what it yields in batches.

mod reader;
mod report;
mod rows;

pub use reader::normalise_header;
pub use report::ErrorReport;
pub use rows::{
    Candidate, Columns, LeadRows, MAX_VARIABLE_NAME, MAX_VARIABLE_VALUE, MAX_VARIABLES, Options,
    Row, parse_number,
};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why a whole file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error(
        "line {line} is not UTF-8 ({found}); save the file as \"CSV UTF-8\" and upload it again"
    )]
    NotUtf8 { line: u64, found: &'static str },
    #[error("no phone column: looked for {looked_for} among the headers {headers:?}")]
    NoPhoneColumn {
        looked_for: String,
        headers: Vec<String>,
    },
    #[error("the time zone column {0:?} is not among the headers")]
    NoTimezoneColumn(String),
    #[error("the file could not be read: {0}")]
    Unreadable(String),
}

/// What became of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// A new lead.
    Accepted,
    /// The list had the number; `onDuplicate: update` replaced its fields.
    Updated,
    /// An earlier row of the file had the same number.
    DuplicateInFile,
    /// The list already has the number and the import skips such rows (`onDuplicate: skip`).
    AlreadyInList,
    /// Not a phone number (or not one `defaultCountry` makes one of).
    InvalidNumber,
    /// The time zone column names no IANA zone.
    InvalidTimezone,
    /// On the tenant's do-not-call list.
    Suppressed,
    /// More columns, or longer values, than a lead keeps.
    TooLarge,
}

impl Outcome {
    /// The outcomes that reject the row (listed in the error report).
    pub fn rejects(self) -> bool {
        !matches!(self, Self::Accepted | Self::Updated)
    }
}

/// Rows by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    pub rows: u64,
    pub accepted: u64,
    pub updated: u64,
    pub duplicate_in_file: u64,
    pub already_in_list: u64,
    pub invalid_number: u64,
    pub invalid_timezone: u64,
    pub suppressed: u64,
    pub too_large: u64,
}

impl Counters {
    pub fn count(&mut self, outcome: Outcome) {
        self.rows += 1;
        let slot = match outcome {
            Outcome::Accepted => &mut self.accepted,
            Outcome::Updated => &mut self.updated,
            Outcome::DuplicateInFile => &mut self.duplicate_in_file,
            Outcome::AlreadyInList => &mut self.already_in_list,
            Outcome::InvalidNumber => &mut self.invalid_number,
            Outcome::InvalidTimezone => &mut self.invalid_timezone,
            Outcome::Suppressed => &mut self.suppressed,
            Outcome::TooLarge => &mut self.too_large,
        };
        *slot += 1;
    }

    /// Rows that did not become or change a lead.
    pub fn rejected(&self) -> u64 {
        self.rows - self.accepted - self.updated
    }
}

#[cfg(test)]
mod tests;
