//! Every tolerant-reading case from a small fixture file (`domain/tests/fixtures/leads`), with
//! each row's outcome and the counters checked exactly.

use std::collections::BTreeMap;

use super::*;
use crate::leads::timezones::LeadTimezone;

macro_rules! fixture {
    ($name:literal) => {
        &include_bytes!(concat!("../../../tests/fixtures/leads/", $name))[..]
    };
}

fn read(file: &[u8], options: Options) -> Result<Vec<Row>, FileError> {
    LeadRows::new(file, options)?.collect()
}

fn leads(rows: &[Row]) -> Vec<&Candidate> {
    rows.iter()
        .filter_map(|r| match r {
            Row::Lead(lead) => Some(lead),
            Row::Rejected { .. } => None,
        })
        .collect()
}

fn us() -> Options {
    Options {
        default_country: Some(phonenumber::country::Id::US),
        ..Options::default()
    }
}

#[test]
fn a_bom_crlf_and_quoted_commas_read_as_written() {
    let rows = read(fixture!("comma_bom_crlf.csv"), Options::default()).unwrap();
    let leads = leads(&rows);
    assert_eq!(leads.len(), 2);
    assert_eq!(leads[0].e164, "+14155550100");
    assert_eq!(leads[0].name.as_deref(), Some("Ann Lee"));
    assert_eq!(
        leads[0].variables,
        BTreeMap::from([("Company".to_owned(), "Acme, Inc.".to_owned())])
    );
    assert_eq!(leads[0].line, 2);
    assert_eq!(leads[1].e164, "+447911123456");
}

#[test]
fn semicolons_punctuation_and_a_missing_plus_are_understood() {
    let rows = read(fixture!("semicolon_excel.csv"), us()).unwrap();
    let numbers: Vec<&str> = leads(&rows).iter().map(|l| l.e164.as_str()).collect();
    // 415.555.0101 and (212) 555-0103 with the default country; 14155550102 national with its
    // trunk 1; 447911123457 is a UK number whose + a spreadsheet dropped.
    assert_eq!(
        numbers,
        vec![
            "+14155550101",
            "+14155550102",
            "+12125550103",
            "+447911123457"
        ]
    );
    assert_eq!(leads(&rows)[2].timezone.zone(), Some("America/New_York"));
}

#[test]
fn tabs_are_a_separator_too() {
    let rows = read(fixture!("tab.tsv"), Options::default()).unwrap();
    let lead = leads(&rows)[0];
    assert_eq!(
        (
            lead.e164.as_str(),
            lead.name.as_deref(),
            lead.timezone.zone()
        ),
        ("+33612345678", Some("Chloé"), Some("Europe/Paris"))
    );
}

#[test]
fn every_outcome_of_a_mixed_file_is_counted_exactly() {
    let mut counters = Counters::default();
    let rows = read(fixture!("outcomes.csv"), Options::default()).unwrap();
    let summary: Vec<(u64, Option<Outcome>)> = rows
        .iter()
        .map(|row| match row {
            Row::Lead(lead) => {
                counters.count(Outcome::Accepted);
                (lead.line, None)
            }
            Row::Rejected { line, outcome, .. } => {
                counters.count(*outcome);
                (*line, Some(*outcome))
            }
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (2, None),
            (3, Some(Outcome::DuplicateInFile)),
            (4, Some(Outcome::InvalidNumber)),
            (5, Some(Outcome::InvalidTimezone)),
            (6, Some(Outcome::TooLarge)),
            (8, None),
        ]
    );
    assert_eq!(
        counters,
        Counters {
            rows: 6,
            accepted: 2,
            duplicate_in_file: 1,
            invalid_number: 1,
            invalid_timezone: 1,
            too_large: 1,
            ..Counters::default()
        }
    );
    assert_eq!(counters.rejected(), 4);
    let first = leads(&rows)[0];
    assert_eq!(
        first.timezone,
        LeadTimezone::Explicit {
            zone: "America/Chicago".into()
        }
    );
    assert_eq!(first.name.as_deref(), Some("Ann Lee"));
    assert_eq!(first.external_id.as_deref(), Some("crm-1"));
    assert_eq!(
        first.variables,
        BTreeMap::from([("Plan".to_owned(), "gold".to_owned())])
    );
    assert!(matches!(
        leads(&rows)[1].timezone,
        LeadTimezone::Ambiguous { .. }
    ));
}

#[test]
fn other_encodings_and_files_without_a_phone_column_are_refused_clearly() {
    assert_eq!(
        read(fixture!("latin1.csv"), Options::default()).unwrap_err(),
        FileError::NotUtf8 {
            line: 2,
            found: "another encoding"
        }
    );
    assert!(matches!(
        read(fixture!("utf16.csv"), Options::default()).unwrap_err(),
        FileError::NotUtf8 {
            found: "UTF-16",
            ..
        }
    ));
    let missing = read(fixture!("no_phone.csv"), Options::default()).unwrap_err();
    assert!(missing.to_string().contains("no phone column"), "{missing}");
}

#[test]
fn named_columns_win_over_detection() {
    let options = Options {
        phone_column: Some("Telefon".into()),
        ..us()
    };
    let rows = read(fixture!("semicolon_excel.csv"), options).unwrap();
    assert!(rows.iter().all(|row| matches!(
        row,
        Row::Rejected {
            outcome: Outcome::InvalidNumber,
            ..
        }
    )));
    let missing = Options {
        timezone_column: Some("Zone".into()),
        ..Options::default()
    };
    assert_eq!(
        read(fixture!("tab.tsv"), missing).unwrap_err(),
        FileError::NoTimezoneColumn("Zone".into())
    );
}
