//! Validation of free-text and contact fields, shared by the entities.
//!
//! Every refusal names the field, so an HTTP layer can point at it without guessing.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A field that failed validation, and why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    /// The field's name as the API spells it (`title`, `holder.email`…).
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: FieldProblem,
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FieldProblem {
    /// Empty, or only white space.
    #[error("must not be blank")]
    Blank,
    /// Longer than allowed (in characters).
    #[error("must be at most {max} characters")]
    TooLong {
        /// The maximum length.
        max: usize,
    },
    /// Holds control characters (line breaks are allowed only in long text).
    #[error("must not contain control characters")]
    ControlCharacters,
    /// Not in the expected format.
    #[error("{0}")]
    Format(&'static str),
    /// Outside the allowed range.
    #[error("{0}")]
    Range(&'static str),
}

impl FieldError {
    pub(crate) fn new(field: &'static str, problem: FieldProblem) -> Self {
        Self { field, problem }
    }
}

/// A trimmed, non-blank, single-line text of at most `max` characters.
pub(crate) fn single_line(field: &'static str, value: &str, max: usize) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::new(field, FieldProblem::Blank));
    }
    if value.chars().count() > max {
        return Err(FieldError::new(field, FieldProblem::TooLong { max }));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(field, FieldProblem::ControlCharacters));
    }
    Ok(value.to_owned())
}

/// An optional single-line text: blank means absent.
pub(crate) fn optional_line(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => single_line(field, v, max).map(Some),
    }
}

/// Multi-line text (line breaks and tabs allowed), possibly empty, at most `max` characters.
pub(crate) fn long_text(field: &'static str, value: &str, max: usize) -> Result<String, FieldError> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(FieldError::new(field, FieldProblem::TooLong { max }));
    }
    if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(FieldError::new(field, FieldProblem::ControlCharacters));
    }
    Ok(value.to_owned())
}

/// An e-mail address, checked for shape only (one `@`, a dotted domain, no spaces).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Parses an address; the domain part is lower-cased.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let err = |p| FieldError::new("email", p);
        let value = value.trim();
        if value.is_empty() {
            return Err(err(FieldProblem::Blank));
        }
        if value.len() > 254 {
            return Err(err(FieldProblem::TooLong { max: 254 }));
        }
        let (local, domain) =
            value.rsplit_once('@').ok_or(err(FieldProblem::Format("must look like name@example.org")))?;
        let well_formed = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !value.chars().any(|c| c.is_whitespace() || c.is_control());
        if !well_formed {
            return Err(err(FieldProblem::Format("must look like name@example.org")));
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> Self {
        e.0
    }
}

/// A phone number in international form: `+` then 6 to 15 digits (E.164); spaces, dots, dashes
/// and parentheses are accepted on input and dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Parses and normalises a number to `+<digits>`.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let format = FieldError::new("phone", FieldProblem::Format("must be +<country code><number>"));
        let value = value.trim();
        let rest = value.strip_prefix('+').ok_or_else(|| format.clone())?;
        let mut digits = String::with_capacity(16);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '.' | '-' | '(' | ')' => {}
                _ => return Err(format),
            }
        }
        if !(6..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(format);
        }
        Ok(Self(format!("+{digits}")))
    }

    /// The normalised number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> Self {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_trims_and_refuses_blank_long_and_control() {
        assert_eq!(single_line("title", "  Gala  ", 10), Ok("Gala".into()));
        assert_eq!(single_line("title", " \t ", 10).map_err(|e| e.problem), Err(FieldProblem::Blank));
        assert_eq!(
            single_line("title", "ééééééééééé", 10).map_err(|e| e.problem),
            Err(FieldProblem::TooLong { max: 10 })
        );
        assert_eq!(single_line("title", "a\nb", 10).map_err(|e| e.problem), Err(FieldProblem::ControlCharacters));
    }

    #[test]
    fn long_text_keeps_line_breaks_but_not_other_controls() {
        assert_eq!(long_text("description", "a\nb", 10), Ok("a\nb".into()));
        assert!(long_text("description", "a\u{7}b", 10).is_err());
    }

    #[test]
    fn emails_are_checked_for_shape() {
        assert_eq!(Email::parse("Léa@Example.ORG").map(|e| e.0), Ok("Léa@example.org".into()));
        for bad in ["", "lea", "lea@", "@example.org", "lea@example", "l ea@example.org", "a@b@c.d"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_are_normalised_to_e164() {
        assert_eq!(Phone::parse("+33 6 12-34.56(78)").map(|p| p.0), Ok("+33612345678".into()));
        for bad in ["0612345678", "+", "+0123456", "+12345", "+1234567890123456", "+33 6x"] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }
}
