//! Reads a lead file as people export them: UTF-8 with or without a BOM, comma, semicolon or tab
//! separated (detected from the header line), quoted fields, CRLF, headers in any case and
//! spacing. One row at a time from any `Read`, so a 100 MB file is never in memory.

use std::collections::VecDeque;
use std::io::{self, Cursor, Read};
use std::sync::{Arc, Mutex};

use super::FileError;

/// How much of the file is looked at to learn its separator.
const SNIFF_BYTES: usize = 64 * 1024;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Headers compared as people mean them: `Phone Number`, `phone_number` and `PHONENUMBER` match.
pub fn normalise_header(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The separator the header line uses most, outside quotes (comma when there is no other).
fn sniff_delimiter(head: &[u8]) -> u8 {
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for &byte in &head[..line_end] {
        if byte == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(entry) = counts.iter_mut().find(|(d, _)| *d == byte) {
            entry.1 += 1;
        }
    }
    counts
        .iter()
        .max_by_key(|(delimiter, count)| (*count, *delimiter == b','))
        .map(|(delimiter, _)| *delimiter)
        .unwrap_or(b',')
}

/// The encodings a file is refused for, by their byte-order marks.
fn foreign_bom(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        Some("UTF-16")
    } else {
        None
    }
}

/// The line each record starts on, as the file's author sees it: every `\n` counts, blank lines
/// and line breaks inside quotes included (the CSV reader's own count skips blank lines).
#[derive(Clone, Default)]
pub struct LineIndex {
    inner: Arc<Mutex<Lines>>,
}

#[derive(Default)]
struct Lines {
    /// Offsets of the newlines read but not yet passed.
    ahead: VecDeque<u64>,
    /// Newlines before the last record asked about.
    passed: u64,
}

impl LineIndex {
    /// The 1-based line of a record the CSV reader places at `offset` (after a CRLF it places
    /// the record on the `\n`, which belongs to the line before); offsets come in order.
    pub fn line_of(&self, offset: u64) -> u64 {
        let Ok(mut lines) = self.inner.lock() else {
            return 0;
        };
        while lines
            .ahead
            .front()
            .is_some_and(|&newline| newline <= offset)
        {
            lines.ahead.pop_front();
            lines.passed += 1;
        }
        lines.passed + 1
    }
}

/// Reads through to `inner`, noting where each newline is.
pub struct Counted<R> {
    inner: R,
    read: u64,
    index: LineIndex,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut lines) = self.index.inner.lock() {
            for (at, _) in buf[..n].iter().enumerate().filter(|(_, b)| **b == b'\n') {
                lines.ahead.push_back(self.read + at as u64);
            }
        }
        self.read += n as u64;
        Ok(n)
    }
}

pub type Source<R> = Counted<io::Chain<Cursor<Vec<u8>>, R>>;

/// A CSV reader over `source`, its BOM dropped and its separator detected, and the index that
/// tells each record's line.
pub fn open<R: Read>(mut source: R) -> Result<(csv::Reader<Source<R>>, LineIndex), FileError> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut source)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| FileError::Unreadable(e.to_string()))?;
    if let Some(encoding) = foreign_bom(&head) {
        return Err(FileError::NotUtf8 {
            line: 1,
            found: encoding,
        });
    }
    if head.starts_with(UTF8_BOM) {
        head.drain(..UTF8_BOM.len());
    }
    if head.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(FileError::Empty);
    }
    let delimiter = sniff_delimiter(&head);
    let index = LineIndex::default();
    let counted = Counted {
        inner: Cursor::new(head).chain(source),
        read: 0,
        index: index.clone(),
    };
    let reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(counted);
    Ok((reader, index))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
        let (mut reader, _) = open(text).unwrap();
        let headers = reader
            .headers()
            .unwrap()
            .iter()
            .map(normalise_header)
            .collect();
        let rows = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        (headers, rows)
    }

    #[test]
    fn separators_are_detected_from_the_header_line() {
        for text in [
            &b"Phone,Name\n+14155550100,Ann\n"[..],
            b"Phone;Name\n+14155550100;Ann\n",
            b"Phone\tName\n+14155550100\tAnn\n",
        ] {
            assert_eq!(
                rows(text),
                (
                    vec!["phone".into(), "name".into()],
                    vec![vec!["+14155550100".into(), "Ann".into()]]
                )
            );
        }
    }

    #[test]
    fn a_bom_crlf_and_quoted_separators_are_read_as_meant() {
        let (headers, rows) = rows(
            b"\xEF\xBB\xBF\"Phone Number\";\"Last; First\"\r\n\"+1 415 555 0100\";\"Doe; Ann\"\r\n",
        );
        assert_eq!(headers, vec!["phonenumber", "lastfirst"]);
        assert_eq!(rows, vec![vec!["+1 415 555 0100", "Doe; Ann"]]);
    }

    #[test]
    fn utf16_and_empty_files_are_refused_clearly() {
        assert!(matches!(
            open(&b"\xFF\xFEP\x00h\x00"[..]),
            Err(FileError::NotUtf8 {
                found: "UTF-16",
                ..
            })
        ));
        assert!(matches!(open(&b"  \r\n"[..]), Err(FileError::Empty)));
    }
}
