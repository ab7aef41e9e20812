//! Text with placeholders: `Doors open {{ event.time }}`.
//!
//! A placeholder is a name between `{{` and `}}` (spaces inside allowed) taken from a fixed list;
//! anything else is literal text. There are no expressions, filters or loops: a template cannot
//! run code, and an unknown name is refused when the template is saved, not when it renders.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A value a template can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// `event.title`
    EventTitle,
    /// `event.venue`: the event's location.
    EventVenue,
    /// `event.start`: date and time in the event's time zone, with the zone's abbreviation.
    EventStart,
    /// `event.date`: the start date, in words, in the event's time zone.
    EventDate,
    /// `event.time`: the start time (24-hour clock) in the event's time zone.
    EventTime,
    /// `event.time_zone`: the IANA name, for example `Europe/Paris`.
    EventTimeZone,
    /// `event.dress_code`: empty when there is none.
    EventDressCode,
    /// `ticket_type.name`
    TicketType,
    /// `ticket_type.price`: amount and currency, or the language's word for free.
    Price,
    /// `holder.name`: empty for an unnamed ticket.
    HolderName,
    /// `ticket.short_code`: the code a person can type at the gate.
    ShortCode,
    /// `ticket.id`: the ticket's UUID.
    TicketId,
}

impl Field {
    /// Every field, in the order the documentation lists them.
    pub const ALL: [Field; 12] = [
        Field::EventTitle,
        Field::EventVenue,
        Field::EventStart,
        Field::EventDate,
        Field::EventTime,
        Field::EventTimeZone,
        Field::EventDressCode,
        Field::TicketType,
        Field::Price,
        Field::HolderName,
        Field::ShortCode,
        Field::TicketId,
    ];

    /// The name written between the braces.
    pub fn name(self) -> &'static str {
        match self {
            Field::EventTitle => "event.title",
            Field::EventVenue => "event.venue",
            Field::EventStart => "event.start",
            Field::EventDate => "event.date",
            Field::EventTime => "event.time",
            Field::EventTimeZone => "event.time_zone",
            Field::EventDressCode => "event.dress_code",
            Field::TicketType => "ticket_type.name",
            Field::Price => "ticket_type.price",
            Field::HolderName => "holder.name",
            Field::ShortCode => "ticket.short_code",
            Field::TicketId => "ticket.id",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Why a text was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlaceholderError {
    /// A name that is not in [`Field::ALL`].
    #[error("unknown placeholder `{{{{{0}}}}}`; known: {known}", known = known_names())]
    Unknown(String),
    /// `{{` without its `}}`.
    #[error("`{{{{` at character {0} is never closed by `}}}}`")]
    Unclosed(usize),
}

fn known_names() -> String {
    Field::ALL.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
}

/// A piece of a [`Text`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Shown as written.
    Literal(String),
    /// Replaced by the ticket's value.
    Field(Field),
}

/// A text with placeholders, parsed once when the template is read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text {
    source: String,
    segments: Vec<Segment>,
}

impl Text {
    /// Parses `source`, refusing unknown or unclosed placeholders.
    pub fn parse(source: &str) -> Result<Self, PlaceholderError> {
        let mut segments = Vec::new();
        let mut rest = source;
        let mut at = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                segments.push(Segment::Literal(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close =
                after.find("}}").ok_or_else(|| PlaceholderError::Unclosed(source[..at + open].chars().count()))?;
            let name = after[..close].trim();
            let field = Field::from_name(name).ok_or_else(|| PlaceholderError::Unknown(name.to_owned()))?;
            segments.push(Segment::Field(field));
            let used = open + 2 + close + 2;
            at += used;
            rest = &rest[used..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(rest.to_owned()));
        }
        Ok(Self { source: source.to_owned(), segments })
    }

    /// The text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Its pieces.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The fields it shows.
    pub fn fields(&self) -> impl Iterator<Item = Field> + '_ {
        self.segments.iter().filter_map(|s| match s {
            Segment::Field(f) => Some(*f),
            Segment::Literal(_) => None,
        })
    }

    /// Fills the placeholders with `value`, or `None` when `skip_if_empty` and a field is empty.
    pub fn render(&self, value: impl Fn(Field) -> String, skip_if_empty: bool) -> Option<String> {
        let mut out = String::with_capacity(self.source.len() + 32);
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Field(field) => {
                    let v = value(*field);
                    if skip_if_empty && v.trim().is_empty() {
                        return None;
                    }
                    out.push_str(&v);
                }
            }
        }
        Some(out)
    }
}

impl TryFrom<String> for Text {
    type Error = PlaceholderError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Text> for String {
    fn from(text: Text) -> Self {
        text.source
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn splits_literals_and_fields() {
        let text = Text::parse("Doors {{ event.time }} · {{holder.name}}!").unwrap();
        assert_eq!(
            text.segments(),
            [
                Segment::Literal("Doors ".into()),
                Segment::Field(Field::EventTime),
                Segment::Literal(" · ".into()),
                Segment::Field(Field::HolderName),
                Segment::Literal("!".into()),
            ]
        );
        let filled = text.render(|f| f.name().to_uppercase(), false).unwrap();
        assert_eq!(filled, "Doors EVENT.TIME · HOLDER.NAME!");
    }

    #[test]
    fn refuses_unknown_and_unclosed_placeholders() {
        assert_eq!(Text::parse("{{ holder.email }}"), Err(PlaceholderError::Unknown("holder.email".into())));
        assert_eq!(Text::parse("a {{ system('ls') }}"), Err(PlaceholderError::Unknown("system('ls')".into())));
        assert_eq!(Text::parse("été {{ event.title"), Err(PlaceholderError::Unclosed(4)));
        let message = Text::parse("{{x}}").unwrap_err().to_string();
        assert!(message.starts_with("unknown placeholder `{{x}}`; known: event.title, "), "{message}");
    }

    #[test]
    fn an_empty_field_hides_the_text_only_when_asked() {
        let text = Text::parse("Dress code: {{event.dress_code}}").unwrap();
        assert_eq!(text.render(|_| String::new(), true), None);
        assert_eq!(text.render(|_| String::new(), false).as_deref(), Some("Dress code: "));
    }

    /// Text made of literal pieces, known placeholders (spaced or not) and stray braces.
    fn template_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[^{}]{0,12}",
            proptest::sample::select(Field::ALL.to_vec()).prop_map(|f| format!("{{{{{}}}}}", f.name())),
            proptest::sample::select(Field::ALL.to_vec()).prop_map(|f| format!("{{{{ {} }}}}", f.name())),
            Just("{{".to_owned()),
            Just("}}".to_owned()),
            Just("{{ nope }}".to_owned()),
        ];
        proptest::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused_and_a_parsed_one_keeps_its_source(source in template_text()) {
            if let Ok(text) = Text::parse(&source) {
                prop_assert_eq!(text.source(), source.as_str());
                let literal: String = text.segments().iter().map(|s| match s {
                    Segment::Literal(l) => l.clone(),
                    Segment::Field(f) => format!("{{{{{}}}}}", f.name()),
                }).collect();
                prop_assert_eq!(Text::parse(&literal).unwrap().fields().collect::<Vec<_>>(), text.fields().collect::<Vec<_>>());
            }
        }
    }
}
