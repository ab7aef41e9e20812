//! CSV for exports: RFC 4180 quoting, and cells that a spreadsheet would run as a formula
//! (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) prefixed with `'` (OWASP's
//! advice against CSV injection): a holder named `=HYPERLINK(…)` stays text.
//!
//! The rule is reversible: a cell that itself starts with `'` gets one more `'` too. So a
//! reader recovers every exact value by removing one leading `'` from any cell that has one:
//! `=1+1` is written `'=1+1`, `'=1+1` is written `''=1+1`, and `'quoted'` is written `''quoted'`.

/// Appends one cell's text, escaped and quoted as needed.
fn push_cell(out: &mut String, cell: &str) {
    let guarded = cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']);
    let quoted = guarded || cell.contains([',', '"', '\n', '\r']);
    if quoted {
        out.push('"');
    }
    if guarded {
        out.push('\'');
    }
    for c in cell.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quoted {
        out.push('"');
    }
}

/// A CSV document being written.
#[derive(Debug, Default)]
pub struct Csv(String);

impl Csv {
    /// A document starting with `header`.
    pub fn with_header(header: &[&str]) -> Self {
        let mut csv = Self(String::new());
        csv.row(header.iter().copied());
        csv
    }

    /// Appends a row.
    pub fn row<'a>(&mut self, cells: impl IntoIterator<Item = &'a str>) {
        for (i, cell) in cells.into_iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            push_cell(&mut self.0, cell);
        }
        self.0.push_str("\r\n");
    }

    /// The text.
    pub fn finish(self) -> String {
        self.0
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
             \"'+33 6 12\",\"'-1\"\r\n\
             \"'@SUM(A1)\",\"a,b\"\r\n\
             \"O\"\"Brien\",\"two\nlines\"\r\n\
             Zoé,\r\n"
        );
    }

    /// Removes what [`push_cell`] added: RFC 4180 quoting, then one leading `'`.
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
        let written: Vec<String> = names
            .iter()
            .map(|name| {
                let mut out = String::new();
                push_cell(&mut out, name);
                out
            })
            .collect();
        assert_eq!(written[..2], ["\"'=1+1\"", "\"''=1+1\""], "two names, two exports");
        for (name, cell) in names.iter().zip(&written) {
            assert_eq!(read_back(cell), *name, "{cell}");
            assert!(!cell.trim_start_matches('"').starts_with(['=', '+', '-', '@']), "{cell} stays text");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_cell_reads_back_exactly(cell in "\\PC{0,12}") {
            let mut out = String::new();
            push_cell(&mut out, &cell);
            proptest::prop_assert_eq!(read_back(&out), cell);
        }
    }
}
