//! From CSV records to candidate leads: the phone column found (or named), numbers parsed with
//! the list's `defaultCountry` (and again with a `+` Excel may have stripped), the time zone from
//! its column or the number, every other column kept as a variable within bounds, and each number
//! once per file.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use super::reader::{LineIndex, Source, normalise_header, open};
use super::{FileError, Outcome};
use crate::leads::timezones::{self, LeadTimezone};

/// Headers taken for the phone number when the list names none, best first.
const PHONE_HEADERS: &[&str] = &[
    "phone",
    "phonenumber",
    "mobile",
    "mobilephone",
    "mobilenumber",
    "cell",
    "cellphone",
    "telephone",
    "tel",
    "number",
    "msisdn",
    "e164",
];
const NAME_HEADERS: &[&str] = &["name", "fullname", "contactname"];
const FIRST_NAME_HEADERS: &[&str] = &["firstname", "givenname"];
const LAST_NAME_HEADERS: &[&str] = &["lastname", "surname", "familyname"];
const EXTERNAL_ID_HEADERS: &[&str] = &["externalid", "leadid", "customerid", "id"];
const TIMEZONE_HEADERS: &[&str] = &["timezone", "tz"];

/// Variables a lead keeps: at most this many, names and values within these lengths.
pub const MAX_VARIABLES: usize = 50;
pub const MAX_VARIABLE_NAME: usize = 64;
pub const MAX_VARIABLE_VALUE: usize = 1024;
pub const MAX_NAME: usize = 200;

/// What the list says about its files.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// For numbers written without a country code (`US`, `GB`, ...).
    pub default_country: Option<phonenumber::country::Id>,
    /// The phone column's header, when detection is not wanted.
    pub phone_column: Option<String>,
    /// The time zone column's header.
    pub timezone_column: Option<String>,
}

/// Where each field is, by column index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    pub headers: Vec<String>,
    pub phone: usize,
    pub timezone: Option<usize>,
    pub name: Option<usize>,
    pub first_name: Option<usize>,
    pub last_name: Option<usize>,
    pub external_id: Option<usize>,
}

impl Columns {
    fn find(headers: &[String], options: &Options) -> Result<Self, FileError> {
        let normal: Vec<String> = headers.iter().map(|h| normalise_header(h)).collect();
        let first_of = |names: &[&str]| {
            names
                .iter()
                .find_map(|name| normal.iter().position(|h| h == name))
        };
        let phone = match &options.phone_column {
            Some(named) => normal.iter().position(|h| *h == normalise_header(named)),
            None => first_of(PHONE_HEADERS),
        }
        .ok_or_else(|| FileError::NoPhoneColumn {
            looked_for: options
                .phone_column
                .clone()
                .unwrap_or_else(|| PHONE_HEADERS.join(", ")),
            headers: headers.to_vec(),
        })?;
        let timezone = match &options.timezone_column {
            Some(named) => Some(
                normal
                    .iter()
                    .position(|h| *h == normalise_header(named))
                    .ok_or_else(|| FileError::NoTimezoneColumn(named.clone()))?,
            ),
            None => first_of(TIMEZONE_HEADERS),
        };
        Ok(Self {
            headers: headers.to_vec(),
            phone,
            timezone,
            name: first_of(NAME_HEADERS),
            first_name: first_of(FIRST_NAME_HEADERS),
            last_name: first_of(LAST_NAME_HEADERS),
            external_id: first_of(EXTERNAL_ID_HEADERS),
        })
    }

    fn is_field(&self, index: usize) -> bool {
        [
            Some(self.phone),
            self.timezone,
            self.name,
            self.first_name,
            self.last_name,
            self.external_id,
        ]
        .contains(&Some(index))
    }
}

/// A row that makes a lead, before the store decides `accepted`, `updated` or `suppressed`.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub line: u64,
    pub e164: String,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub timezone: LeadTimezone,
    pub variables: BTreeMap<String, String>,
    /// The row as written, for the error report when the store refuses it.
    pub cells: Vec<String>,
}

/// One row of the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    Lead(Candidate),
    Rejected {
        line: u64,
        outcome: Outcome,
        /// The row as written, for the error report.
        cells: Vec<String>,
    },
}

/// The number in E.164, read as written, with the default country, or with the `+` restored.
pub fn parse_number(
    raw: &str,
    default_country: Option<phonenumber::country::Id>,
) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 40 {
        return None;
    }
    let valid = |text: &str, country| {
        phonenumber::parse(country, text)
            .ok()
            .filter(phonenumber::is_valid)
            .map(|n| n.format().mode(phonenumber::Mode::E164).to_string())
    };
    valid(raw, default_country).or_else(|| {
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        (!raw.starts_with('+') && digits.len() >= 8)
            .then(|| valid(&format!("+{digits}"), None))
            .flatten()
    })
}

/// The rows of a lead file, one at a time.
pub struct LeadRows<R: Read> {
    records: csv::StringRecordsIntoIter<Source<R>>,
    lines: LineIndex,
    columns: Columns,
    options: Options,
    seen: HashSet<String>,
}

impl<R: Read> LeadRows<R> {
    pub fn new(source: R, options: Options) -> Result<Self, FileError> {
        let (mut reader, lines) = open(source)?;
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| read_error(&e, None))?
            .iter()
            .map(|h| h.trim().to_owned())
            .collect();
        let columns = Columns::find(&headers, &options)?;
        Ok(Self {
            records: reader.into_records(),
            lines,
            columns,
            options,
            seen: HashSet::new(),
        })
    }

    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    fn row(&mut self, line: u64, cells: Vec<String>) -> Row {
        let cell = |index: Option<usize>| {
            index
                .and_then(|i| cells.get(i))
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        let reject = |outcome| Row::Rejected {
            line,
            outcome,
            cells: cells.clone(),
        };
        let Some(e164) = cell(Some(self.columns.phone))
            .and_then(|raw| parse_number(raw, self.options.default_country))
        else {
            return reject(Outcome::InvalidNumber);
        };
        let timezone = match cell(self.columns.timezone) {
            Some(named) => match timezones::iana(named) {
                Some(zone) => LeadTimezone::Explicit { zone },
                None => return reject(Outcome::InvalidTimezone),
            },
            None => timezones::from_number(&e164),
        };
        let name = cell(self.columns.name).map(str::to_owned).or_else(|| {
            let parts: Vec<&str> = [cell(self.columns.first_name), cell(self.columns.last_name)]
                .into_iter()
                .flatten()
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        });
        let variables: BTreeMap<String, String> = self
            .columns
            .headers
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.columns.is_field(*i))
            .filter_map(|(i, header)| {
                let value = cells.get(i)?.trim();
                (!value.is_empty() && !header.is_empty())
                    .then(|| (header.clone(), value.to_owned()))
            })
            .collect();
        let too_large = variables.len() > MAX_VARIABLES
            || variables
                .iter()
                .any(|(k, v)| k.len() > MAX_VARIABLE_NAME || v.len() > MAX_VARIABLE_VALUE)
            || name.as_ref().is_some_and(|n| n.len() > MAX_NAME)
            || cell(self.columns.external_id).is_some_and(|id| id.len() > MAX_NAME);
        if too_large {
            return reject(Outcome::TooLarge);
        }
        if !self.seen.insert(e164.clone()) {
            return reject(Outcome::DuplicateInFile);
        }
        let external_id = cell(self.columns.external_id).map(str::to_owned);
        Row::Lead(Candidate {
            line,
            e164,
            name,
            external_id,
            timezone,
            variables,
            cells,
        })
    }
}

fn read_error(error: &csv::Error, lines: Option<&LineIndex>) -> FileError {
    match error.kind() {
        csv::ErrorKind::Utf8 { pos, .. } => FileError::NotUtf8 {
            line: match (pos, lines) {
                (Some(pos), Some(lines)) => lines.line_of(pos.byte()),
                _ => 1,
            },
            found: "another encoding",
        },
        _ => FileError::Unreadable(error.to_string()),
    }
}

impl<R: Read> Iterator for LeadRows<R> {
    type Item = Result<Row, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        let record = self.records.next()?;
        Some(
            record
                .map_err(|e| read_error(&e, Some(&self.lines)))
                .map(|record| {
                    let line = record
                        .position()
                        .map_or(0, |at| self.lines.line_of(at.byte()));
                    let cells = record.iter().map(str::to_owned).collect();
                    self.row(line, cells)
                }),
        )
    }
}
