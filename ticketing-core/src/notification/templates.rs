//! Message templates: per topic and language (English and French built in), a subject, a
//! plain-text part, an HTML part and a text message, written with `minijinja` over a
//! [`MessageContext`]. HTML parts escape every value; the text parts and text messages do not.
//!
//! An event may replace the built-in parts of a topic in a language with its own
//! ([`MessageTemplate`]), checked when saved ([`TemplateParts::check`]): every part present,
//! within its length, parsed, using only the variables the topic gives, and showing what the
//! message exists for (a ticket message its tickets, an alert its detail). Only the messages
//! buyers and holders get can be the event's own ([`customisable`]): the alerts staff get stay
//! the platform's. An event's own parts are a small language: `{{ … }}` values with a few
//! filters (no `*` or `~`, which make large strings out of small ones), and only `for` and `if`
//! blocks; they run on a fuel budget and each part writes at most [`OUTPUT_MAX`] bytes, so no
//! template can loop for ever or fill the memory.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use minijinja::{AutoEscape, Environment};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::EventId;
use crate::job::NotificationTopic;
use crate::order::Locale;

/// What a template may show. Every field is there for every topic; the ones a topic has no use
/// for are empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MessageContext {
    /// The recipient's name (the buyer, the holder, the staff member).
    pub name: String,
    /// The event.
    pub event: EventContext,
    /// The tickets it concerns, each with its link.
    pub tickets: Vec<TicketContext>,
    /// The order it concerns, if any.
    pub order: Option<OrderContext>,
    /// Why, for an alert.
    pub detail: Option<String>,
}

/// The event as messages show it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EventContext {
    /// Its title.
    pub title: String,
    /// When it starts, in its own time zone (`2026-07-14 20:30`).
    pub starts_at: String,
    /// Where.
    pub location: String,
}

/// A ticket as messages show it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TicketContext {
    /// Its type's name.
    pub type_name: String,
    /// Its short code, as printed.
    pub code: String,
    /// Its magic link: the ticket's page.
    pub url: String,
    /// Its magic link's PDF.
    pub pdf_url: String,
}

/// An order as messages show it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OrderContext {
    /// Its total (`90.00 EUR`).
    pub total: String,
    /// The buyer's page of the order.
    pub url: String,
}

/// A message's parts, written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The email's subject.
    pub subject: String,
    /// The email's plain-text part.
    pub text: String,
    /// The email's HTML part.
    pub html: String,
    /// The text message, before its link ([`super::fit_sms`] adds it).
    pub sms: String,
}

/// A template that could not be written (a built-in one never fails: tested for every topic
/// and language; an event's own was written once over a sample when it was saved).
#[derive(Debug, Error)]
#[error("the {part} template of {topic:?} could not be written: {source}")]
pub struct TemplateError {
    /// The topic.
    pub topic: NotificationTopic,
    /// `subject`, `text`, `html` or `sms`.
    pub part: &'static str,
    /// Why.
    #[source]
    pub source: minijinja::Error,
}

/// The four parts of a message's template, as minijinja source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateParts {
    /// The email's subject: one line, at most [`SUBJECT_MAX`] characters.
    pub subject: String,
    /// The email's plain-text part, at most [`BODY_MAX`] characters.
    pub text: String,
    /// The email's HTML part (values escaped), at most [`BODY_MAX`] characters.
    pub html: String,
    /// The text message before its link, at most [`SMS_MAX`] characters (the message is cut to
    /// two segments when sent).
    pub sms: String,
}

/// The longest subject template.
pub const SUBJECT_MAX: usize = 300;
/// The longest text or HTML template.
pub const BODY_MAX: usize = 20_000;
/// The longest text message template.
pub const SMS_MAX: usize = 500;
/// The instructions one part of an event's own template may run (a message's loop over its
/// tickets takes a few hundred).
const FUEL: u64 = 200_000;
/// The most one part of an event's own template may write, in bytes.
pub const OUTPUT_MAX: usize = 1 << 20;

/// The topics an event may write its own messages for: those its buyers and holders get.
pub fn customisable(topic: NotificationTopic) -> bool {
    matches!(
        topic,
        NotificationTopic::TicketCreated
            | NotificationTopic::PaymentSucceeded
            | NotificationTopic::Refunded
            | NotificationTopic::ResendTickets
    )
}

/// Refuses what an event's own part may not use: blocks other than `for` and `if`, and the `*`
/// and `~` operators (in any tag).
fn plain_language(source: &str) -> Result<(), String> {
    let mut rest = source;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let (close, is_block) = match after.chars().next() {
            Some('{') => ("}}", false),
            Some('%') => ("%}", true),
            Some('#') => ("#}", false),
            _ => {
                rest = after;
                continue;
            }
        };
        let Some(end) = after[1..].find(close) else { return Ok(()) };
        let tag = &after[1..1 + end];
        if !after.starts_with('#') {
            if tag.contains(['*', '~']) {
                return Err("`*` and `~` are not allowed".into());
            }
            let word = tag.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
            let word = word.split_whitespace().next().unwrap_or_default();
            if is_block && !matches!(word, "for" | "endfor" | "if" | "elif" | "else" | "endif") {
                return Err(format!("`{{% {word} %}}` is not allowed: only for and if blocks"));
            }
        }
        rest = &after[1 + end + close.len()..];
    }
    Ok(())
}

/// A writer that refuses to grow past [`OUTPUT_MAX`].
struct Capped(Vec<u8>);

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > OUTPUT_MAX {
            return Err(std::io::Error::other("the message is too long"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One part of an event's own template, written over `context` within [`OUTPUT_MAX`].
fn render_capped(template: &minijinja::Template<'_, '_>, context: &MessageContext) -> Result<String, minijinja::Error> {
    let mut out = Capped(Vec::new());
    template.render_captured_to(context, &mut out)?;
    Ok(String::from_utf8_lossy(&out.0).into_owned())
}

/// An event's own template for a topic in a language, replacing the built-in one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageTemplate {
    /// The event.
    pub event_id: EventId,
    /// The topic.
    pub topic: NotificationTopic,
    /// The language.
    pub locale: Locale,
    /// The parts, checked ([`TemplateParts::check`]).
    pub parts: TemplateParts,
    /// When it was saved.
    pub updated_at: DateTime<Utc>,
}

/// Why a template cannot be saved: the part at fault and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{part}: {detail}")]
pub struct TemplateProblem {
    /// `subject`, `text`, `html` or `sms` (`kind` for a topic the event may not write).
    pub part: &'static str,
    /// What is wrong.
    pub detail: String,
}

impl TemplateParts {
    /// The built-in parts of `topic` in `locale`.
    pub fn built_in(topic: NotificationTopic, locale: Locale) -> Self {
        let found = BUILT_IN.iter().find(|(t, l, ..)| *t == topic && *l == locale);
        let (_, _, subject, text, html, sms) = found.copied().unwrap_or((topic, locale, "", "", "", ""));
        Self { subject: subject.into(), text: text.into(), html: html.into(), sms: sms.into() }
    }

    fn each(&self) -> [(&'static str, &str); 4] {
        [("subject", &self.subject), ("text", &self.text), ("html", &self.html), ("sms", &self.sms)]
    }

    /// Checks the parts for `topic` (one the event may write, [`customisable`]): each present and within its length (the subject on one
    /// line), each parsed, each using only the variables `topic` gives ([`variables`]), the text
    /// and HTML parts showing what the message is for ([`required`]), and each written once over
    /// a sample message without error within the fuel budget.
    pub fn check(&self, topic: NotificationTopic) -> Result<(), TemplateProblem> {
        if !customisable(topic) {
            return Err(TemplateProblem {
                part: "kind",
                detail: format!("{} messages go to staff and are the platform's own", topic.as_str()),
            });
        }
        for (part, source) in self.each() {
            plain_language(source).map_err(|detail| TemplateProblem { part, detail })?;
        }
        let env = own_environment(self).map_err(|(part, e)| TemplateProblem { part, detail: syntax(&e) })?;
        let allowed = variables(topic);
        // The environment's own functions (`range`, `dict`…) are not the message's variables.
        let globals: BTreeSet<&str> = env.globals().map(|(name, _)| name).collect();
        for (part, source) in self.each() {
            let problem = |detail: String| TemplateProblem { part, detail };
            let max = match part {
                "subject" => SUBJECT_MAX,
                "sms" => SMS_MAX,
                _ => BODY_MAX,
            };
            if source.trim().is_empty() {
                return Err(problem("must not be blank".into()));
            }
            if source.chars().count() > max {
                return Err(problem(format!("must be at most {max} characters")));
            }
            if part == "subject" && source.contains(['\n', '\r']) {
                return Err(problem("must be one line".into()));
            }
            let template = env.get_template(part).map_err(|e| problem(syntax(&e)))?;
            let used = template.undeclared_variables(true);
            let unknown: BTreeSet<&str> = used
                .iter()
                .map(String::as_str)
                .filter(|v| !globals.contains(v.split('.').next().unwrap_or(v)))
                .filter(|v| !allowed.contains(v) && !allowed.iter().any(|a| a.starts_with(&format!("{v}."))))
                .collect();
            if !unknown.is_empty() {
                let names: Vec<&str> = unknown.into_iter().collect();
                return Err(problem(format!(
                    "unknown variable{} {} (a {} message has {})",
                    if names.len() > 1 { "s" } else { "" },
                    names.join(", "),
                    topic.as_str(),
                    allowed.join(", ")
                )));
            }
            if matches!(part, "text" | "html") {
                for needed in required(topic) {
                    if !used.iter().any(|v| v == needed || v.starts_with(&format!("{needed}."))) {
                        return Err(problem(format!("must show {needed}: the message is for it")));
                    }
                }
            }
            render_capped(&template, &sample()).map_err(|e| problem(format!("cannot be written: {}", syntax(&e))))?;
        }
        Ok(())
    }
}

/// The variables a topic's templates may use (the others are empty for it).
pub fn variables(topic: NotificationTopic) -> Vec<&'static str> {
    let mut names = vec!["name", "event.title", "event.starts_at", "event.location"];
    let (tickets, order, detail) = match topic {
        NotificationTopic::TicketCreated | NotificationTopic::ResendTickets => (true, false, false),
        NotificationTopic::PaymentSucceeded => (true, true, false),
        NotificationTopic::Refunded => (false, true, false),
        NotificationTopic::PaymentAlert => (false, true, true),
        NotificationTopic::SuspiciousActivity | NotificationTopic::EndpointDisabled => (false, false, true),
    };
    if tickets {
        names.push("tickets");
    }
    if order {
        names.extend(["order.total", "order.url"]);
    }
    if detail {
        names.push("detail");
    }
    names
}

/// What a topic's text and HTML parts must show: its tickets (each with its link), or the
/// alert's detail.
pub fn required(topic: NotificationTopic) -> &'static [&'static str] {
    match topic {
        NotificationTopic::TicketCreated | NotificationTopic::ResendTickets | NotificationTopic::PaymentSucceeded => {
            &["tickets"]
        }
        NotificationTopic::Refunded => &["order"],
        NotificationTopic::PaymentAlert
        | NotificationTopic::SuspiciousActivity
        | NotificationTopic::EndpointDisabled => &["detail"],
    }
}

/// A minijinja error in one line, with where it is.
fn syntax(e: &minijinja::Error) -> String {
    match e.line() {
        Some(line) => format!("{} (line {line})", e.detail().unwrap_or(&e.kind().to_string())),
        None => e.detail().map_or_else(|| e.kind().to_string(), str::to_owned),
    }
}

/// An environment holding an event's own parts, named `subject`, `text`, `html` (escaped) and
/// `sms`, on a fuel budget.
fn own_environment(parts: &TemplateParts) -> Result<Environment<'static>, (&'static str, minijinja::Error)> {
    use minijinja::{filters, tests};
    let mut env = Environment::empty();
    env.add_filter("upper", filters::upper);
    env.add_filter("lower", filters::lower);
    env.add_filter("capitalize", filters::capitalize);
    env.add_filter("escape", filters::escape);
    env.add_filter("title", filters::title);
    env.add_filter("trim", filters::trim);
    env.add_filter("length", filters::length);
    env.add_filter("first", filters::first);
    env.add_filter("last", filters::last);
    env.add_filter("join", filters::join);
    env.add_filter("default", filters::default);
    env.add_test("defined", tests::is_defined);
    env.add_test("undefined", tests::is_undefined);
    env.add_test("none", tests::is_none);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|name| if name == "html" { AutoEscape::Html } else { AutoEscape::None });
    for (part, source) in parts.each() {
        env.add_template_owned(part, source.to_owned()).map_err(|e| (part, e))?;
    }
    Ok(env)
}

/// A message with every variable filled, to write a template once before saving it (and to
/// preview one).
pub fn sample() -> MessageContext {
    MessageContext {
        name: "Zoé Lefèvre".into(),
        event: EventContext {
            title: "Jazz à Vienne".into(),
            starts_at: "2027-07-01 20:30".into(),
            location: "Théâtre antique, Vienne".into(),
        },
        tickets: vec![TicketContext {
            type_name: "Fosse".into(),
            code: "K7QF2-M9XPA".into(),
            url: "https://tickets.example.org/api/v1/public/tickets/TOKEN".into(),
            pdf_url: "https://tickets.example.org/api/v1/public/tickets/TOKEN/pdf".into(),
        }],
        order: Some(OrderContext {
            total: "90.00 EUR".into(),
            url: "https://tickets.example.org/api/v1/public/orders/TOKEN".into(),
        }),
        detail: Some("5 forged or damaged QR codes at gate \"Nord\" since 20:41.".into()),
    }
}

/// The parts of each topic in each language: (topic, locale, subject, text, html, sms).
type BuiltIn = (NotificationTopic, Locale, &'static str, &'static str, &'static str, &'static str);

const BUILT_IN: &[BuiltIn] = &[
    (
        NotificationTopic::TicketCreated,
        Locale::En,
        "Your ticket for {{ event.title }}",
        "Hello {{ name }},\n\nHere is your ticket for {{ event.title }}, {{ event.starts_at }}, {{ event.location }}.\n{% for t in tickets %}\n{{ t.type_name }} ({{ t.code }}): {{ t.url }}\nPDF: {{ t.pdf_url }}\n{% endfor %}\nShow its QR code at the gate.\n",
        "<p>Hello {{ name }},</p><p>Here is your ticket for <strong>{{ event.title }}</strong>, {{ event.starts_at }}, {{ event.location }}.</p><ul>{% for t in tickets %}<li>{{ t.type_name }} ({{ t.code }}): <a href=\"{{ t.url }}\">open your ticket</a> · <a href=\"{{ t.pdf_url }}\">PDF</a></li>{% endfor %}</ul><p>Show its QR code at the gate.</p>",
        "Your ticket for {{ event.title }}:",
    ),
    (
        NotificationTopic::TicketCreated,
        Locale::Fr,
        "Votre billet pour {{ event.title }}",
        "Bonjour {{ name }},\n\nVoici votre billet pour {{ event.title }}, {{ event.starts_at }}, {{ event.location }}.\n{% for t in tickets %}\n{{ t.type_name }} ({{ t.code }}) : {{ t.url }}\nPDF : {{ t.pdf_url }}\n{% endfor %}\nPrésentez son QR code à l'entrée.\n",
        "<p>Bonjour {{ name }},</p><p>Voici votre billet pour <strong>{{ event.title }}</strong>, {{ event.starts_at }}, {{ event.location }}.</p><ul>{% for t in tickets %}<li>{{ t.type_name }} ({{ t.code }}) : <a href=\"{{ t.url }}\">ouvrir votre billet</a> · <a href=\"{{ t.pdf_url }}\">PDF</a></li>{% endfor %}</ul><p>Présentez son QR code à l'entrée.</p>",
        "Votre billet pour {{ event.title }} :",
    ),
    (
        NotificationTopic::PaymentSucceeded,
        Locale::En,
        "Your tickets for {{ event.title }}",
        "Hello {{ name }},\n\nThank you: your order of {{ order.total }} is paid. Your tickets for {{ event.title }}, {{ event.starts_at }}, {{ event.location }}:\n{% for t in tickets %}\n{{ t.type_name }} ({{ t.code }}): {{ t.url }}\nPDF: {{ t.pdf_url }}\n{% endfor %}\nYour order: {{ order.url }}\n",
        "<p>Hello {{ name }},</p><p>Thank you: your order of {{ order.total }} is paid. Your tickets for <strong>{{ event.title }}</strong>, {{ event.starts_at }}, {{ event.location }}:</p><ul>{% for t in tickets %}<li>{{ t.type_name }} ({{ t.code }}): <a href=\"{{ t.url }}\">open your ticket</a> · <a href=\"{{ t.pdf_url }}\">PDF</a></li>{% endfor %}</ul><p><a href=\"{{ order.url }}\">Your order</a></p>",
        "Paid: your tickets for {{ event.title }}:",
    ),
    (
        NotificationTopic::PaymentSucceeded,
        Locale::Fr,
        "Vos billets pour {{ event.title }}",
        "Bonjour {{ name }},\n\nMerci : votre commande de {{ order.total }} est payée. Vos billets pour {{ event.title }}, {{ event.starts_at }}, {{ event.location }} :\n{% for t in tickets %}\n{{ t.type_name }} ({{ t.code }}) : {{ t.url }}\nPDF : {{ t.pdf_url }}\n{% endfor %}\nVotre commande : {{ order.url }}\n",
        "<p>Bonjour {{ name }},</p><p>Merci : votre commande de {{ order.total }} est payée. Vos billets pour <strong>{{ event.title }}</strong>, {{ event.starts_at }}, {{ event.location }} :</p><ul>{% for t in tickets %}<li>{{ t.type_name }} ({{ t.code }}) : <a href=\"{{ t.url }}\">ouvrir votre billet</a> · <a href=\"{{ t.pdf_url }}\">PDF</a></li>{% endfor %}</ul><p><a href=\"{{ order.url }}\">Votre commande</a></p>",
        "Payé : vos billets pour {{ event.title }} :",
    ),
    (
        NotificationTopic::Refunded,
        Locale::En,
        "Your order for {{ event.title }} is refunded",
        "Hello {{ name }},\n\nYour order for {{ event.title }} ({{ order.total }}) is refunded; its tickets no longer open the gate.\n\nYour order: {{ order.url }}\n",
        "<p>Hello {{ name }},</p><p>Your order for <strong>{{ event.title }}</strong> ({{ order.total }}) is refunded; its tickets no longer open the gate.</p><p><a href=\"{{ order.url }}\">Your order</a></p>",
        "Refunded: your order for {{ event.title }}:",
    ),
    (
        NotificationTopic::Refunded,
        Locale::Fr,
        "Votre commande pour {{ event.title }} est remboursée",
        "Bonjour {{ name }},\n\nVotre commande pour {{ event.title }} ({{ order.total }}) est remboursée ; ses billets n'ouvrent plus l'entrée.\n\nVotre commande : {{ order.url }}\n",
        "<p>Bonjour {{ name }},</p><p>Votre commande pour <strong>{{ event.title }}</strong> ({{ order.total }}) est remboursée ; ses billets n'ouvrent plus l'entrée.</p><p><a href=\"{{ order.url }}\">Votre commande</a></p>",
        "Remboursé : votre commande pour {{ event.title }} :",
    ),
    (
        NotificationTopic::PaymentAlert,
        Locale::En,
        "Payment alert: {{ event.title }}",
        "Hello {{ name }},\n\nA payment for {{ event.title }} needs you: {{ detail }}\n\nOrder: {{ order.url }} ({{ order.total }})\n",
        "<p>Hello {{ name }},</p><p>A payment for <strong>{{ event.title }}</strong> needs you: {{ detail }}</p><p><a href=\"{{ order.url }}\">The order</a> ({{ order.total }})</p>",
        "Payment alert, {{ event.title }}: {{ detail }}",
    ),
    (
        NotificationTopic::PaymentAlert,
        Locale::Fr,
        "Alerte de paiement : {{ event.title }}",
        "Bonjour {{ name }},\n\nUn paiement pour {{ event.title }} demande votre attention : {{ detail }}\n\nCommande : {{ order.url }} ({{ order.total }})\n",
        "<p>Bonjour {{ name }},</p><p>Un paiement pour <strong>{{ event.title }}</strong> demande votre attention : {{ detail }}</p><p><a href=\"{{ order.url }}\">La commande</a> ({{ order.total }})</p>",
        "Alerte paiement, {{ event.title }} : {{ detail }}",
    ),
    (
        NotificationTopic::SuspiciousActivity,
        Locale::En,
        "Suspicious scanning: {{ event.title }}",
        "Hello {{ name }},\n\nThe gates of {{ event.title }} ({{ event.starts_at }}, {{ event.location }}) see something suspicious: {{ detail }}\n\nThe gate logs and the audit trail have the details.\n",
        "<p>Hello {{ name }},</p><p>The gates of <strong>{{ event.title }}</strong> ({{ event.starts_at }}, {{ event.location }}) see something suspicious: {{ detail }}</p><p>The gate logs and the audit trail have the details.</p>",
        "Suspicious scanning, {{ event.title }}: {{ detail }}",
    ),
    (
        NotificationTopic::SuspiciousActivity,
        Locale::Fr,
        "Scans suspects : {{ event.title }}",
        "Bonjour {{ name }},\n\nLes entrées de {{ event.title }} ({{ event.starts_at }}, {{ event.location }}) voient quelque chose de suspect : {{ detail }}\n\nLes journaux des portes et le journal d'audit donnent le détail.\n",
        "<p>Bonjour {{ name }},</p><p>Les entrées de <strong>{{ event.title }}</strong> ({{ event.starts_at }}, {{ event.location }}) voient quelque chose de suspect : {{ detail }}</p><p>Les journaux des portes et le journal d'audit donnent le détail.</p>",
        "Scans suspects, {{ event.title }} : {{ detail }}",
    ),
    (
        NotificationTopic::ResendTickets,
        Locale::En,
        "Your tickets for {{ event.title }}",
        "Hello {{ name }},\n\nAs asked, here are your tickets for {{ event.title }}, {{ event.starts_at }}, {{ event.location }}.\n{% for t in tickets %}\n{{ t.type_name }} ({{ t.code }}): {{ t.url }}\nPDF: {{ t.pdf_url }}\n{% endfor %}\nIf you did not ask, you may ignore this email.\n",
        "<p>Hello {{ name }},</p><p>As asked, here are your tickets for <strong>{{ event.title }}</strong>, {{ event.starts_at }}, {{ event.location }}.</p><ul>{% for t in tickets %}<li>{{ t.type_name }} ({{ t.code }}): <a href=\"{{ t.url }}\">open your ticket</a> · <a href=\"{{ t.pdf_url }}\">PDF</a></li>{% endfor %}</ul><p>If you did not ask, you may ignore this email.</p>",
        "Your tickets for {{ event.title }}:",
    ),
    (
        NotificationTopic::ResendTickets,
        Locale::Fr,
        "Vos billets pour {{ event.title }}",
        "Bonjour {{ name }},\n\nComme demandé, voici vos billets pour {{ event.title }}, {{ event.starts_at }}, {{ event.location }}.\n{% for t in tickets %}\n{{ t.type_name }} ({{ t.code }}) : {{ t.url }}\nPDF : {{ t.pdf_url }}\n{% endfor %}\nSi vous n'avez rien demandé, ignorez ce message.\n",
        "<p>Bonjour {{ name }},</p><p>Comme demandé, voici vos billets pour <strong>{{ event.title }}</strong>, {{ event.starts_at }}, {{ event.location }}.</p><ul>{% for t in tickets %}<li>{{ t.type_name }} ({{ t.code }}) : <a href=\"{{ t.url }}\">ouvrir votre billet</a> · <a href=\"{{ t.pdf_url }}\">PDF</a></li>{% endfor %}</ul><p>Si vous n'avez rien demandé, ignorez ce message.</p>",
        "Vos billets pour {{ event.title }} :",
    ),
    (
        NotificationTopic::EndpointDisabled,
        Locale::En,
        "Webhook endpoint disabled: {{ event.title }}",
        "Hello {{ name }},\n\nA webhook endpoint of {{ event.title }} was disabled: {{ detail }}\n\nOnce it answers again, enable it (POST /api/v1/webhooks/{id}/enable); messages sent meanwhile are not replayed.\n",
        "<p>Hello {{ name }},</p><p>A webhook endpoint of <strong>{{ event.title }}</strong> was disabled: {{ detail }}</p><p>Once it answers again, enable it (<code>POST /api/v1/webhooks/{id}/enable</code>); messages sent meanwhile are not replayed.</p>",
        "Webhook endpoint disabled, {{ event.title }}: {{ detail }}",
    ),
    (
        NotificationTopic::EndpointDisabled,
        Locale::Fr,
        "Point de réception webhook désactivé : {{ event.title }}",
        "Bonjour {{ name }},\n\nUn point de réception webhook de {{ event.title }} a été désactivé : {{ detail }}\n\nQuand il répondra de nouveau, réactivez-le (POST /api/v1/webhooks/{id}/enable) ; les messages envoyés entre-temps ne sont pas rejoués.\n",
        "<p>Bonjour {{ name }},</p><p>Un point de réception webhook de <strong>{{ event.title }}</strong> a été désactivé : {{ detail }}</p><p>Quand il répondra de nouveau, réactivez-le (<code>POST /api/v1/webhooks/{id}/enable</code>) ; les messages envoyés entre-temps ne sont pas rejoués.</p>",
        "Webhook désactivé, {{ event.title }} : {{ detail }}",
    ),
];

/// The environment holding every built-in part, named `{topic}.{locale}.{part}` (`.html` parts
/// are escaped for HTML).
fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
        for (topic, locale, subject, text, html, sms) in BUILT_IN {
            for (part, source) in [("subject", subject), ("text", text), ("html", html), ("sms", sms)] {
                env.add_template_owned(name(*topic, *locale, part), *source)
                    .unwrap_or_else(|e| panic!("the built-in {part} template of {topic:?} parses: {e}"));
            }
        }
        env
    })
}

fn name(topic: NotificationTopic, locale: Locale, part: &str) -> String {
    format!("{}.{}.{part}", topic.as_str(), locale.as_str())
}

/// The message of `topic` in `locale`, written over `context`: from the event's `own` parts
/// when it has them, else the built-in ones.
pub fn write(
    topic: NotificationTopic,
    locale: Locale,
    context: &MessageContext,
    own: Option<&TemplateParts>,
) -> Result<Written, TemplateError> {
    let owned;
    let env = match own {
        Some(parts) => {
            owned = own_environment(parts).map_err(|(part, source)| TemplateError { topic, part, source })?;
            &owned
        }
        None => environment(),
    };
    let render = |part: &'static str| {
        let named = if own.is_some() { part.to_owned() } else { name(topic, locale, part) };
        env.get_template(&named)
            .and_then(|t| if own.is_some() { render_capped(&t, context) } else { t.render(context) })
            .map(|s| s.trim().to_owned())
            .map_err(|source| TemplateError { topic, part, source })
    };
    Ok(Written { subject: render("subject")?, text: render("text")?, html: render("html")?, sms: render("sms")? })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> MessageContext {
        MessageContext {
            name: "Zoë <Lefèvre>".into(),
            event: EventContext {
                title: "Jazz à Vienne".into(),
                starts_at: "2026-07-14 20:30".into(),
                location: "Vienne".into(),
            },
            tickets: vec![TicketContext {
                type_name: "Fosse".into(),
                code: "ABCD-EFGH-J".into(),
                url: "https://t.example/api/v1/public/tickets/tok".into(),
                pdf_url: "https://t.example/api/v1/public/tickets/tok/pdf".into(),
            }],
            order: Some(OrderContext { total: "45.00 EUR".into(), url: "https://t.example/o".into() }),
            detail: Some("received 40.00 EUR".into()),
        }
    }

    #[test]
    fn every_topic_is_written_in_both_languages_with_html_escaped() {
        for topic in NotificationTopic::ALL {
            for locale in [Locale::En, Locale::Fr] {
                let written = write(topic, locale, &context(), None).unwrap();
                assert!(written.subject.contains("Jazz à Vienne"), "{topic:?} {locale:?}: {}", written.subject);
                assert!(written.text.contains("Zoë <Lefèvre>"), "the text part is not escaped");
                assert!(written.html.contains("Zoë &lt;Lefèvre&gt;"), "the HTML part is: {}", written.html);
                assert!(!written.sms.is_empty());
            }
        }
        let paid = write(NotificationTopic::PaymentSucceeded, Locale::Fr, &context(), None).unwrap();
        assert!(paid.text.contains("https://t.example/api/v1/public/tickets/tok/pdf"), "{}", paid.text);
        assert!(paid.text.contains("45.00 EUR"));
        assert_eq!(paid.subject, "Vos billets pour Jazz à Vienne");
    }

    fn own(text: &str) -> TemplateParts {
        TemplateParts {
            subject: "Billets : {{ event.title }}".into(),
            text: text.into(),
            html: "<p>{{ name }}</p>{% for t in tickets %}<a href=\"{{ t.url }}\">{{ t.code }}</a>{% endfor %}".into(),
            sms: "{{ event.title }}".into(),
        }
    }

    #[test]
    fn every_built_in_template_passes_the_checks_an_event_s_own_must_pass() {
        for topic in NotificationTopic::ALL {
            for locale in Locale::ALL.into_iter().filter(|_| customisable(topic)) {
                assert_eq!(TemplateParts::built_in(topic, locale).check(topic), Ok(()), "{topic:?} {locale:?}");
            }
        }
    }

    #[test]
    fn an_event_s_own_template_is_checked_part_by_part() {
        let topic = NotificationTopic::TicketCreated;
        let good = own("Bonjour {{ name }} : {% for t in tickets %}{{ t.url }} {% endfor %}");
        assert_eq!(good.check(topic), Ok(()));
        let refused = |parts: TemplateParts| parts.check(topic).unwrap_err();

        let unknown = refused(own("{{ name }} {{ order.total }} {{ secret }} {% for t in tickets %}{% endfor %}"));
        assert_eq!(unknown.part, "text");
        assert!(unknown.detail.starts_with("unknown variables order.total, secret"), "{}", unknown.detail);
        let syntax = refused(own("{% for t in tickets %}{{ t.url }"));
        assert_eq!(syntax.part, "text");
        assert!(syntax.detail.contains("line 1"), "{}", syntax.detail);
        let pointless = refused(own("Bonjour {{ name }}"));
        assert_eq!((pointless.part, pointless.detail.as_str()), ("text", "must show tickets: the message is for it"));
        let blank = refused(TemplateParts { sms: "  ".into(), ..good.clone() });
        assert_eq!((blank.part, blank.detail.as_str()), ("sms", "must not be blank"));
        let two_lines = refused(TemplateParts { subject: "a\nb".into(), ..good.clone() });
        assert_eq!(two_lines.part, "subject");
        let long = refused(TemplateParts { subject: "x".repeat(SUBJECT_MAX + 1), ..good.clone() });
        assert_eq!(long.detail, format!("must be at most {SUBJECT_MAX} characters"));
        let bomb = "{% for t in tickets %}{% for a in range(1000) %}{% for b in range(1000) %}x{% endfor %}{% endfor %}{% endfor %}";
        let bomb = refused(own(bomb));
        assert!(bomb.detail.starts_with("unknown variable range"), "no functions at all: {}", bomb.detail);
        let filter = refused(own("{{ name|nosuchfilter }}{% for t in tickets %}{% endfor %}"));
        assert_eq!(filter.part, "text");
        for (source, why) in [
            ("{{ name|indent(100000000000000) }}{% for t in tickets %}{% endfor %}", "cannot be written"),
            ("{% for t in tickets %}{{ \"x\" * 100000000 }}{% endfor %}", "`*` and `~` are not allowed"),
            ("{% set x = name %}{% for t in tickets %}{% endfor %}", "`{% set %}` is not allowed"),
            ("{%- macro m() %}{% endmacro %}{% for t in tickets %}{% endfor %}", "`{% macro %}` is not allowed"),
            ("{% for t in tickets %}{{ t.url ~ t.url }}{% endfor %}", "`*` and `~` are not allowed"),
            (
                "{% for t in tickets %}{% for c in t.url %}{% for d in t.url %}{% for e in t.url %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}",
                "cannot be written",
            ),
        ] {
            let refusal = refused(own(source));
            assert!(refusal.detail.contains(why), "{source}: {}", refusal.detail);
        }
        assert_eq!(own("{# a * comment ~ #}{% for t in tickets %}{{ t.url|upper }}{% endfor %}").check(topic), Ok(()));
        assert!(customisable(topic) && !customisable(NotificationTopic::PaymentAlert));
    }

    #[test]
    fn an_event_s_own_template_is_written_instead_of_the_built_in_one_with_html_escaped() {
        let parts = own("Bonjour {{ name }} : {% for t in tickets %}{{ t.url }}{% endfor %}");
        let written = write(NotificationTopic::TicketCreated, Locale::En, &context(), Some(&parts)).unwrap();
        assert_eq!(written.subject, "Billets : Jazz à Vienne");
        assert_eq!(written.text, "Bonjour Zoë <Lefèvre> : https://t.example/api/v1/public/tickets/tok");
        assert!(written.html.starts_with("<p>Zoë &lt;Lefèvre&gt;</p><a href="), "{}", written.html);
    }
}
