//! The built-in message templates: per topic and language (English and French), a subject, a
//! plain-text part, an HTML part and a text message, written with `minijinja` over a
//! [`MessageContext`]. HTML parts escape every value; the text parts and text messages do not.

use std::sync::OnceLock;

use minijinja::{AutoEscape, Environment};
use serde::Serialize;
use thiserror::Error;

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
/// and language).
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

/// The parts of each topic in each language: (topic, locale, subject, text, html, sms).
type Parts = (NotificationTopic, Locale, &'static str, &'static str, &'static str, &'static str);

const BUILT_IN: &[Parts] = &[
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
    let locale = match locale {
        Locale::En => "en",
        Locale::Fr => "fr",
    };
    format!("{}.{locale}.{part}", topic.as_str())
}

/// The message of `topic` in `locale`, written over `context`.
pub fn write(topic: NotificationTopic, locale: Locale, context: &MessageContext) -> Result<Written, TemplateError> {
    let env = environment();
    let render = |part: &'static str| {
        env.get_template(&name(topic, locale, part))
            .and_then(|t| t.render(context))
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
                let written = write(topic, locale, &context()).unwrap();
                assert!(written.subject.contains("Jazz à Vienne"), "{topic:?} {locale:?}: {}", written.subject);
                assert!(written.text.contains("Zoë <Lefèvre>"), "the text part is not escaped");
                assert!(written.html.contains("Zoë &lt;Lefèvre&gt;"), "the HTML part is: {}", written.html);
                assert!(!written.sms.is_empty());
            }
        }
        let paid = write(NotificationTopic::PaymentSucceeded, Locale::Fr, &context()).unwrap();
        assert!(paid.text.contains("https://t.example/api/v1/public/tickets/tok/pdf"), "{}", paid.text);
        assert!(paid.text.contains("45.00 EUR"));
        assert_eq!(paid.subject, "Vos billets pour Jazz à Vienne");
    }
}
