//! The external payment link: a URL template an organiser sets for an event (or a ticket type),
//! filled in for one order when the buyer presses "pay" (`GET /pay/{order_token}` answers a
//! `303` to it). Payment pages such as Stripe Payment Links take the order's reference and the
//! buyer's email as query parameters, which the placeholders provide:
//!
//! `{order_id}`, `{order_token}`, `{amount_minor}`, `{amount}`, `{currency}`, `{email}`,
//! `{return_url}`.
//!
//! A template is checked when it is saved: `https://` only, at most 2,000 characters, no space
//! or control character, every `{…}` a known placeholder. Each value is percent-encoded when it
//! is put in (everything but RFC 3986's unreserved characters), so no value can end the query or
//! start another parameter.
//!
//! ```
//! use ticketing_core::money::{Currency, Money};
//! use ticketing_core::payment_link::{PaymentLink, PaymentLinkValues};
//!
//! let link = PaymentLink::parse("https://buy.example.org/b/abc?client_reference_id={order_id}&prefilled_email={email}")?;
//! let values = PaymentLinkValues {
//!     order_id: "01937a3c",
//!     order_token: "k3Vq0aZ8",
//!     amount: Money::new(4500, Currency::parse("EUR")?)?,
//!     email: "zoé+jazz@example.org",
//!     return_url: "https://tickets.example.org/orders/k3Vq0aZ8",
//! };
//! assert_eq!(
//!     link.fill(&values),
//!     "https://buy.example.org/b/abc?client_reference_id=01937a3c&prefilled_email=zo%C3%A9%2Bjazz%40example.org"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::money::Money;

/// The placeholders a template may hold.
pub const PLACEHOLDERS: [&str; 7] =
    ["order_id", "order_token", "amount_minor", "amount", "currency", "email", "return_url"];

/// The longest template.
const MAX_LEN: usize = 2000;

/// Why a template was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PaymentLinkError {
    /// Not an `https://` URL.
    #[error("a payment link must start with https://")]
    NotHttps,
    /// Longer than 2,000 characters.
    #[error("a payment link is at most 2,000 characters")]
    TooLong,
    /// A space or a control character.
    #[error("a payment link holds no space or control character")]
    BadCharacter,
    /// A `{` without its `}`, or a `}` alone.
    #[error("a payment link's braces must enclose a placeholder")]
    Unbalanced,
    /// A placeholder in the host, where a value could send the buyer to another site.
    #[error("placeholders belong in the path or the query, not the host")]
    PlaceholderInHost,
    /// A `{name}` that is not one of [`PLACEHOLDERS`].
    #[error(
        "unknown placeholder {{{0}}}: use order_id, order_token, amount_minor, amount, currency, email or return_url"
    )]
    UnknownPlaceholder(String),
}

/// A checked payment link template.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PaymentLink(String);

/// One order's values for the placeholders.
#[derive(Clone, Copy, Debug)]
pub struct PaymentLinkValues<'a> {
    /// The order's id.
    pub order_id: &'a str,
    /// The buyer's secret order token.
    pub order_token: &'a str,
    /// What is owed (`{amount_minor}`, `{amount}` as a decimal, `{currency}`).
    pub amount: Money,
    /// The buyer's email.
    pub email: &'a str,
    /// Where the payment page sends the buyer back (the order's page).
    pub return_url: &'a str,
}

/// The pieces of a template: text to copy, and placeholders to fill.
enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

/// Splits `template` into its pieces, or says what is wrong with its braces.
fn pieces(template: &str) -> Result<Vec<Piece<'_>>, PaymentLinkError> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(PaymentLinkError::Unbalanced);
        }
        let close = rest[open..].find('}').ok_or(PaymentLinkError::Unbalanced)? + open;
        let name = &rest[open + 1..close];
        if name.contains('{') {
            return Err(PaymentLinkError::Unbalanced);
        }
        out.push(Piece::Text(&rest[..open]));
        out.push(Piece::Placeholder(name));
        rest = &rest[close + 1..];
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

impl PaymentLink {
    /// Checks a template.
    pub fn parse(template: &str) -> Result<Self, PaymentLinkError> {
        let template = template.trim();
        if template.len() > MAX_LEN {
            return Err(PaymentLinkError::TooLong);
        }
        if template.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(PaymentLinkError::BadCharacter);
        }
        if !template.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")) {
            return Err(PaymentLinkError::NotHttps);
        }
        let host = template[8..].split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty() {
            return Err(PaymentLinkError::NotHttps);
        }
        if host.contains(['{', '}']) {
            return Err(PaymentLinkError::PlaceholderInHost);
        }
        for piece in pieces(template)? {
            if let Piece::Placeholder(name) = piece
                && !PLACEHOLDERS.contains(&name)
            {
                return Err(PaymentLinkError::UnknownPlaceholder(name.to_owned()));
            }
        }
        Ok(Self(template.to_owned()))
    }

    /// A template as storage holds it: checked like [`Self::parse`] when it passes, else kept as
    /// it was saved (an event's `payment_url` saved before templates were checked, such as an
    /// `http://` page), which [`Self::fill`] then gives back unchanged.
    pub fn stored(text: &str) -> Self {
        Self::parse(text).unwrap_or_else(|_| Self(text.trim().to_owned()))
    }

    /// The template as saved.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The link for one order: each placeholder replaced by its value, percent-encoded.
    pub fn fill(&self, values: &PaymentLinkValues<'_>) -> String {
        let mut out = String::with_capacity(self.0.len() + 64);
        // A template saved before the checks may not be one: it is its own link.
        let Ok(pieces) = pieces(&self.0) else { return self.0.clone() };
        for piece in pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Placeholder(name) => {
                    let value = match name {
                        "order_id" => values.order_id.to_owned(),
                        "order_token" => values.order_token.to_owned(),
                        "amount_minor" => values.amount.minor().to_string(),
                        "amount" => values.amount.decimal(),
                        "currency" => values.amount.currency().code().to_owned(),
                        "email" => values.email.to_owned(),
                        "return_url" => values.return_url.to_owned(),
                        _ => String::new(),
                    };
                    encode_into(&mut out, &value);
                }
            }
        }
        out
    }
}

/// Appends `value` percent-encoded: RFC 3986's unreserved characters stay, every other byte of
/// its UTF-8 becomes `%XX`.
fn encode_into(out: &mut String, value: &str) {
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

impl fmt::Display for PaymentLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PaymentLink {
    type Error = PaymentLinkError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PaymentLink> for String {
    fn from(link: PaymentLink) -> Self {
        link.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::money::Currency;

    fn values(email: &str) -> PaymentLinkValues<'_> {
        PaymentLinkValues {
            order_id: "01937a3c-5e1f-7d2a-9b4e-3f0c8d2a6b11",
            order_token: "k3Vq0aZ8r1JmT5yWcXe2Lg",
            amount: Money::new(1250, Currency::parse("KWD").unwrap()).unwrap(),
            email,
            return_url: "https://tickets.example.org/orders/k3Vq0aZ8r1JmT5yWcXe2Lg?x=1&y=2",
        }
    }

    #[test]
    fn every_placeholder_is_filled_and_encoded() {
        let all = PLACEHOLDERS.iter().map(|p| format!("{p}={{{p}}}")).collect::<Vec<_>>().join("&");
        let link = PaymentLink::parse(&format!("https://pay.example.org/checkout?{all}")).unwrap();
        assert_eq!(
            link.fill(&values("a b&c=d@example.org")),
            "https://pay.example.org/checkout?order_id=01937a3c-5e1f-7d2a-9b4e-3f0c8d2a6b11\
             &order_token=k3Vq0aZ8r1JmT5yWcXe2Lg&amount_minor=1250&amount=1.250&currency=KWD\
             &email=a%20b%26c%3Dd%40example.org\
             &return_url=https%3A%2F%2Ftickets.example.org%2Forders%2Fk3Vq0aZ8r1JmT5yWcXe2Lg%3Fx%3D1%26y%3D2"
        );
    }

    #[test]
    fn a_link_saved_before_the_checks_is_its_own_link() {
        for old in ["http://pay.example.org/old", "https://pay.example.org/{unbalanced"] {
            assert_eq!(PaymentLink::stored(old).fill(&values("zoe@example.org")), old);
        }
        let checked = PaymentLink::stored("https://pay.example.org/?e={email}");
        assert_eq!(checked.fill(&values("zoe@example.org")), "https://pay.example.org/?e=zoe%40example.org");
    }

    #[test]
    fn bad_templates_are_refused_with_their_reason() {
        let cases = [
            ("http://pay.example.org/{order_id}", PaymentLinkError::NotHttps),
            ("javascript:alert(1)", PaymentLinkError::NotHttps),
            ("https://", PaymentLinkError::NotHttps),
            ("https:///path", PaymentLinkError::NotHttps),
            ("https://{email}.evil.example/", PaymentLinkError::PlaceholderInHost),
            ("https://pay.{order_id}.example/", PaymentLinkError::PlaceholderInHost),
            ("https://pay.example.org/a b", PaymentLinkError::BadCharacter),
            ("https://pay.example.org/{order_id", PaymentLinkError::Unbalanced),
            ("https://pay.example.org/order_id}", PaymentLinkError::Unbalanced),
            ("https://pay.example.org/{{order_id}}", PaymentLinkError::Unbalanced),
            ("https://pay.example.org/{secret}", PaymentLinkError::UnknownPlaceholder("secret".into())),
            ("https://pay.example.org/{}", PaymentLinkError::UnknownPlaceholder(String::new())),
        ];
        for (template, reason) in cases {
            assert_eq!(PaymentLink::parse(template), Err(reason), "{template}");
        }
        let long = format!("https://pay.example.org/{}", "a".repeat(2000));
        assert_eq!(PaymentLink::parse(&long), Err(PaymentLinkError::TooLong));
        assert!(PaymentLink::parse("HTTPS://pay.example.org/plain").is_ok(), "a link without placeholders");
    }

    proptest! {
        /// Whatever the values, the filled link keeps the template's text and adds no query
        /// separator, fragment or space of its own.
        #[test]
        fn values_never_break_out_of_their_place(email in "\\PC{0,40}") {
            let link = PaymentLink::parse("https://pay.example.org/c?ref={order_id}&email={email}").unwrap();
            let filled = link.fill(&values(&email));
            let tail = filled.strip_prefix("https://pay.example.org/c?ref=01937a3c-5e1f-7d2a-9b4e-3f0c8d2a6b11&email=").unwrap();
            prop_assert!(!tail.contains(['&', '=', '#', '?', ' ', '/']), "{tail}");
        }

        /// Any text parses to a template or a reason, never a panic; a template fills within its
        /// own site.
        #[test]
        fn any_text_parses_or_is_refused(text in "\\PC{0,80}") {
            if let Ok(link) = PaymentLink::parse(&format!("https://x.example/{text}")) {
                prop_assert!(link.fill(&values("a@example.org")).starts_with("https://x.example/"));
            }
        }
    }
}
