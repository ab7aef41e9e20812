//! What a ticket shows: the values placeholders are filled with, and sample tickets for previews.

use chrono::{DateTime, Datelike, TimeZone as _, Timelike, Utc, Weekday};
use ticketing_core::event::{Event, TimeZone};
use ticketing_core::ids::TicketId;
use ticketing_core::money::{Currency, Money};
use ticketing_core::short_code::ShortCode;
use ticketing_core::signing::{Algorithm, KeyError, Keyring, QrClaims};
use ticketing_core::ticket::Ticket;
use ticketing_core::ticket_type::TicketType;

use crate::template::{Field, Language};

/// The values a ticket is rendered with. Build it from the domain with [`TicketData::new`].
#[derive(Clone, Debug, PartialEq)]
pub struct TicketData {
    /// The event's title.
    pub event_title: String,
    /// The event's location.
    pub venue: String,
    /// When the event starts.
    pub starts_at: DateTime<Utc>,
    /// The event's time zone: dates and times are shown in it.
    pub time_zone: TimeZone,
    /// The dress code, if any.
    pub dress_code: Option<String>,
    /// The ticket type's name.
    pub ticket_type: String,
    /// The ticket type's price.
    pub price: Money,
    /// The holder's name, if the ticket is named.
    pub holder_name: Option<String>,
    /// The code a person can type at the gate.
    pub short_code: ShortCode,
    /// The ticket's id.
    pub ticket_id: TicketId,
    /// The signed QR text (see [`ticketing_core::signing`]).
    pub qr_payload: String,
}

impl TicketData {
    /// The values of `ticket`, of `ticket_type` at `event`, with its signed QR text.
    pub fn new(event: &Event, ticket_type: &TicketType, ticket: &Ticket, qr_payload: String) -> Self {
        Self {
            event_title: event.title().to_owned(),
            venue: event.location().to_owned(),
            starts_at: event.starts_at(),
            time_zone: event.time_zone(),
            dress_code: event.dress_code().map(str::to_owned),
            ticket_type: ticket_type.name().to_owned(),
            price: ticket_type.price(),
            holder_name: ticket.holder().map(|h| h.name().to_owned()),
            short_code: ticket.short_code(),
            ticket_id: ticket.id(),
            qr_payload,
        }
    }

    /// The text a placeholder is replaced with.
    pub fn value(&self, field: Field, language: Language) -> String {
        let local = || self.starts_at.with_timezone(&self.time_zone.tz());
        match field {
            Field::EventTitle => self.event_title.clone(),
            Field::EventVenue => self.venue.clone(),
            Field::EventStart => {
                let local = local();
                let (date, time, zone) = (long_date(&local, language), clock(&local), local.format("%Z"));
                match language {
                    Language::En => format!("{date}, {time} ({zone})"),
                    Language::Fr => format!("{date} à {time} ({zone})"),
                }
            }
            Field::EventDate => long_date(&local(), language),
            Field::EventTime => clock(&local()),
            Field::EventTimeZone => self.time_zone.name().to_owned(),
            Field::EventDressCode => self.dress_code.clone().unwrap_or_default(),
            Field::TicketType => self.ticket_type.clone(),
            Field::Price => price(self.price, language),
            Field::HolderName => self.holder_name.clone().unwrap_or_default(),
            Field::ShortCode => self.short_code.to_string(),
            Field::TicketId => self.ticket_id.to_string(),
        }
    }
}

fn clock<T: Timelike>(at: &T) -> String {
    format!("{:02}:{:02}", at.hour(), at.minute())
}

fn long_date<T: Datelike>(at: &T, language: Language) -> String {
    let (day, month) = (at.weekday(), at.month0() as usize);
    match language {
        Language::En => {
            const MONTHS: [&str; 12] = [
                "January",
                "February",
                "March",
                "April",
                "May",
                "June",
                "July",
                "August",
                "September",
                "October",
                "November",
                "December",
            ];
            format!("{} {} {} {}", weekday_en(day), at.day(), MONTHS[month], at.year())
        }
        Language::Fr => {
            const MONTHS: [&str; 12] = [
                "janvier",
                "février",
                "mars",
                "avril",
                "mai",
                "juin",
                "juillet",
                "août",
                "septembre",
                "octobre",
                "novembre",
                "décembre",
            ];
            let first = if at.day() == 1 { "1er".to_owned() } else { at.day().to_string() };
            format!("{} {first} {} {}", weekday_fr(day), MONTHS[month], at.year())
        }
    }
}

fn weekday_en(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

fn weekday_fr(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "lundi",
        Weekday::Tue => "mardi",
        Weekday::Wed => "mercredi",
        Weekday::Thu => "jeudi",
        Weekday::Fri => "vendredi",
        Weekday::Sat => "samedi",
        Weekday::Sun => "dimanche",
    }
}

fn price(money: Money, language: Language) -> String {
    match (money.is_zero(), language) {
        (true, Language::En) => "Free".to_owned(),
        (true, Language::Fr) => "Gratuit".to_owned(),
        // `12.50 EUR` in English, `12,50 EUR` in French.
        (false, Language::En) => money.to_string(),
        (false, Language::Fr) => money.to_string().replacen('.', ",", 1),
    }
}

/// Sample holders: accents and long names, so a template's preview shows how it copes.
const SAMPLE_HOLDERS: [&str; 6] = [
    "Zoé Lefèvre-Château",
    "Jürgen Ñúñez Østergård",
    "Amélie Poulain",
    "François-Xavier de La Tour d'Auvergne",
    "Chloé Dubœuf",
    "Łukasz Żółć",
];

/// `count` sample tickets from the `first`th on, each with its own short code and a QR text signed
/// with `keyring`'s current key, whatever its algorithm. For previews and the command line's `render --count`.
pub fn sample_tickets(keyring: &Keyring, first: u64, count: u64) -> Result<Vec<TicketData>, KeyError> {
    (first..first.saturating_add(count)).map(|i| sample_ticket(keyring, i)).collect()
}

/// The `index`th sample ticket (see [`sample_tickets`]).
pub fn sample_ticket(keyring: &Keyring, index: u64) -> Result<TicketData, KeyError> {
    let mut ticket = unsigned_sample(index);
    let claims = QrClaims { ticket: ticket.short_code, expires_at: None };
    let algorithm = keyring.current_algorithm().unwrap_or(Algorithm::HmacSha256);
    ticket.qr_payload = keyring.sign_qr(algorithm, &claims)?;
    Ok(ticket)
}

/// The first sample ticket with the longest QR text a ticket can have, unsigned: what a
/// template is tried with before it is accepted.
pub(crate) fn trial_ticket() -> TicketData {
    TicketData { qr_payload: "Q".repeat(ticketing_core::signing::MAX_TEXT_LEN), ..unsigned_sample(0) }
}

fn unsigned_sample(index: u64) -> TicketData {
    // Spread the codes over the whole space: multiplying by a number prime to 31 modulo 31^9 is
    // a bijection, so distinct indices below 31^9 give distinct codes (index 0 is not code 0).
    const SPACE: u128 = 26_439_622_160_671;
    let value = ((u128::from(index) + 1) % SPACE * 0x9E37_79B9_7F4A_7C15 % SPACE) as u64;
    let short_code = ShortCode::from_value(value).expect("below 31^9 by construction");
    let paris = TimeZone::parse("Europe/Paris").expect("an IANA zone");
    let eur = Currency::parse("EUR").expect("an ISO 4217 code");
    let price = Money::new(4_500, eur).expect("a positive amount");
    let ticket_id =
        format!("0193c2a0-7e4d-7000-8000-{:012x}", index & 0xFFFF_FFFF_FFFF).parse().expect("a well-formed UUID");
    TicketData {
        event_title: "Nuit des Étoiles — Gala d'été".to_owned(),
        venue: "Théâtre du Châtelet, 1 place du Châtelet, Paris".to_owned(),
        starts_at: Utc.with_ymd_and_hms(2026, 6, 20, 18, 30, 0).single().unwrap_or_default(),
        time_zone: paris,
        dress_code: Some("Tenue de soirée".to_owned()),
        ticket_type: "Carré Or — placement libre".to_owned(),
        price,
        holder_name: Some(SAMPLE_HOLDERS[(index % SAMPLE_HOLDERS.len() as u64) as usize].to_owned()),
        short_code,
        ticket_id,
        qr_payload: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use ticketing_core::signing::{KeyId, KeyMaterial, KeyState};

    use super::*;

    fn keyring() -> Keyring {
        Keyring::new().with_key(KeyId(1), KeyState::Current, KeyMaterial::HmacSecret(vec![7; 32])).unwrap()
    }

    #[test]
    fn dates_are_shown_in_the_events_zone_and_language() {
        let t = sample_ticket(&keyring(), 0).unwrap();
        assert_eq!(t.value(Field::EventStart, Language::En), "Saturday 20 June 2026, 20:30 (CEST)");
        assert_eq!(t.value(Field::EventStart, Language::Fr), "samedi 20 juin 2026 à 20:30 (CEST)");
        assert_eq!(t.value(Field::EventTimeZone, Language::Fr), "Europe/Paris");
        assert_eq!(t.value(Field::Price, Language::Fr), "45,00 EUR");
        assert_eq!(t.value(Field::Price, Language::En), "45.00 EUR");
    }

    #[test]
    fn samples_differ_and_their_payloads_verify() {
        let keys = keyring();
        let samples = sample_tickets(&keys, 0, 50).unwrap();
        let codes: std::collections::HashSet<_> = samples.iter().map(|t| t.short_code).collect();
        assert_eq!(codes.len(), 50);
        for t in &samples {
            let claims = keys.verify_qr(&t.qr_payload, Utc::now()).unwrap();
            assert_eq!(claims.ticket, t.short_code);
        }
    }
}
