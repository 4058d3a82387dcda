//! The error report of an import: a CSV of every rejected row with its line and reason, the
//! row's own cells after them. Cells a spreadsheet would run as a formula (starting with `=`,
//! `+`, `-`, `@`, a tab or a carriage return, as OWASP's CSV-injection advice lists) are
//! prefixed with `'`, so opening the report never runs what an uploaded file carried.

use std::io::Write;

use super::Outcome;

/// A cell a spreadsheet shows as text.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

fn reason(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Accepted => "accepted",
        Outcome::Updated => "updated",
        Outcome::DuplicateInFile => "duplicateInFile",
        Outcome::AlreadyInList => "alreadyInList",
        Outcome::InvalidNumber => "invalidNumber",
        Outcome::InvalidTimezone => "invalidTimezone",
        Outcome::Suppressed => "suppressed",
        Outcome::TooLarge => "tooLarge",
    }
}

/// Writes the report to `out` as rows are rejected.
pub struct ErrorReport<W: Write> {
    writer: csv::Writer<W>,
}

impl<W: Write> ErrorReport<W> {
    /// A report whose header is `line,reason` and the file's own headers.
    pub fn new(out: W, headers: &[String]) -> csv::Result<Self> {
        let mut writer = csv::Writer::from_writer(out);
        let mut header = vec!["line".to_owned(), "reason".to_owned()];
        header.extend(headers.iter().map(|h| neutralise(h).into_owned()));
        writer.write_record(&header)?;
        Ok(Self { writer })
    }

    pub fn reject(&mut self, line: u64, outcome: Outcome, cells: &[String]) -> csv::Result<()> {
        let mut record = vec![line.to_string(), reason(outcome).to_owned()];
        record.extend(cells.iter().map(|c| neutralise(c).into_owned()));
        self.writer.write_record(&record)
    }

    pub fn finish(self) -> std::io::Result<W> {
        self.writer.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_escaped_and_the_rest_kept() {
        let mut report = ErrorReport::new(Vec::new(), &["phone".into(), "note".into()]).unwrap();
        for (line, cells) in [
            (2, ["=HYPERLINK(\"http://evil\")", "ok"]),
            (3, ["+1 415", "@SUM(A1)"]),
            (4, ["-2+3", "plain, with comma"]),
        ] {
            let cells: Vec<String> = cells.iter().map(|c| (*c).to_owned()).collect();
            report.reject(line, Outcome::InvalidNumber, &cells).unwrap();
        }
        let text = String::from_utf8(report.finish().unwrap()).unwrap();
        assert_eq!(
            text,
            "line,reason,phone,note\n\
             2,invalidNumber,\"'=HYPERLINK(\"\"http://evil\"\")\",ok\n\
             3,invalidNumber,'+1 415,'@SUM(A1)\n\
             4,invalidNumber,'-2+3,\"plain, with comma\"\n"
        );
    }
}
