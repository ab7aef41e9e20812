//! CSV for exports, written by the `csv` crate (the one the holder lists are read with): RFC 4180
//! quoting, CRLF line ends, and cells that a spreadsheet would run as a formula (starting with
//! `=`, `+`, `-`, `@`, a tab or a carriage return) prefixed with `'` (OWASP's advice against CSV
//! injection): a holder named `=HYPERLINK(…)` stays text.
//!
//! The rule is reversible: a cell that itself starts with `'` gets one more `'` too. So a
//! reader recovers every exact value by removing one leading `'` from any cell that has one:
//! `=1+1` is written `'=1+1`, `'=1+1` is written `''=1+1`, and `'quoted'` is written `''quoted'`.

use std::borrow::Cow;

/// A cell as written: defused when a spreadsheet would run it (see the module).
fn defused(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A CSV document being written.
#[derive(Debug)]
pub struct Csv(csv::Writer<Vec<u8>>);

impl Csv {
    /// A document starting with `header`.
    pub fn with_header(header: &[&str]) -> Self {
        let writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).flexible(true).from_writer(Vec::new());
        let mut csv = Self(writer);
        csv.row(header.iter().copied());
        csv
    }

    /// Appends a row.
    pub fn row<'a>(&mut self, cells: impl IntoIterator<Item = &'a str>) {
        let cells: Vec<Cow<'_, str>> = cells.into_iter().map(defused).collect();
        // Into memory, with rows of any length allowed: nothing can fail.
        let _ = self.0.write_record(cells.iter().map(|c| c.as_bytes()));
    }

    /// The text.
    pub fn finish(self) -> String {
        // A flush into memory cannot fail; the cells were text, so the bytes are too.
        let bytes = match self.0.into_inner() {
            Ok(bytes) => bytes,
            Err(e) => e.into_inner().get_ref().clone(),
        };
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_quoting_follows_rfc_4180() {
        let mut csv = Csv::with_header(&["name", "note"]);
        csv.row(["=HYPERLINK(\"http://x\")", "plain"]);
        csv.row(["+33 6 12", "-1"]);
        csv.row(["@SUM(A1)", "a,b"]);
        csv.row(["O\"Brien", "two\nlines"]);
        csv.row(["Zoé", ""]);
        assert_eq!(
            csv.finish(),
            "name,note\r\n\
             \"'=HYPERLINK(\"\"http://x\"\")\",plain\r\n\
             '+33 6 12,'-1\r\n\
             '@SUM(A1),\"a,b\"\r\n\
             \"O\"\"Brien\",\"two\nlines\"\r\n\
             Zoé,\r\n"
        );
    }

    /// One cell written alone, as a row of one.
    fn written(cell: &str) -> String {
        let mut csv = Csv(csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new()));
        csv.row([cell]);
        csv.finish().trim_end_matches("\r\n").to_owned()
    }

    /// Removes what [`Csv::row`] added: RFC 4180 quoting, then one leading `'`.
    fn read_back(cell: &str) -> String {
        let unquoted = match cell.strip_prefix('"').and_then(|c| c.strip_suffix('"')) {
            Some(inner) => inner.replace("\"\"", "\""),
            None => cell.to_owned(),
        };
        unquoted.strip_prefix('\'').map_or(unquoted.clone(), str::to_owned)
    }

    #[test]
    fn defusing_is_reversible() {
        let names = ["=1+1", "'=1+1", "''=1+1", "'", "'quoted'", "+33", "plain", "", "@x", "-"];
        let written: Vec<String> = names.iter().map(|name| written(name)).collect();
        assert_eq!(written[..2], ["'=1+1", "''=1+1"], "two names, two exports");
        for (name, cell) in names.iter().zip(&written) {
            assert_eq!(read_back(cell), *name, "{cell}");
            assert!(!cell.trim_start_matches('"').starts_with(['=', '+', '-', '@']), "{cell} stays text");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_cell_reads_back_exactly(cell in "\\PC{0,12}") {
            proptest::prop_assert_eq!(read_back(&written(&cell)), cell);
        }
    }
}
