//! CSV for exports: RFC 4180 quoting, and cells that a spreadsheet would run as a formula
//! (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) prefixed with `'` (OWASP's
//! advice against CSV injection): a holder named `=HYPERLINK(…)` stays text.

/// Appends one cell's text, escaped and quoted as needed.
fn push_cell(out: &mut String, cell: &str) {
    let guarded = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
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
}
