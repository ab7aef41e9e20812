//! The pages' words in English and French, and the visitor's language: `?lang=` (which also
//! sets a cookie), else the `lang` cookie, else the first of `Accept-Language` we speak, else
//! English.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;

/// A language of the pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// French.
    Fr,
}

impl Lang {
    /// The code, as `lang` attributes and the cookie write it.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    fn parse(code: &str) -> Option<Self> {
        let primary = code.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    /// The visitor's language, and whether it was asked for now (`?lang=`: the answer sets the
    /// cookie).
    pub fn of(query_lang: Option<&str>, headers: &HeaderMap) -> (Self, bool) {
        if let Some(asked) = query_lang.and_then(Self::parse) {
            return (asked, true);
        }
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().strip_prefix("lang="))
            .find_map(Self::parse);
        if let Some(lang) = cookie {
            return (lang, false);
        }
        // `Accept-Language: fr-CH, fr;q=0.9, en;q=0.8`: the highest weight we speak.
        let mut best: Option<(f32, Self)> = None;
        for value in headers.get_all(header::ACCEPT_LANGUAGE).iter().filter_map(|v| v.to_str().ok()) {
            for item in value.split(',') {
                let mut parts = item.split(';');
                let Some(lang) = parts.next().and_then(Self::parse) else { continue };
                let weight =
                    parts.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
                if weight > 0.0 && best.is_none_or(|(w, _)| weight > w) {
                    best = Some((weight, lang));
                }
            }
        }
        (best.map_or(Lang::En, |(_, lang)| lang), false)
    }

    /// Every word of the pages in this language, by key.
    pub fn words(self) -> BTreeMap<&'static str, &'static str> {
        WORDS.iter().map(|(key, en, fr)| (*key, if self == Lang::Fr { *fr } else { *en })).collect()
    }

    /// One word by key (`?` when unknown: a missing word shows, it never fails).
    pub fn word(self, key: &str) -> &'static str {
        WORDS.iter().find(|(k, _, _)| *k == key).map_or("?", |(_, en, fr)| if self == Lang::Fr { *fr } else { *en })
    }

    /// `at` in `zone`, as people of this language write it: `Fri 2 Jul 2027, 20:00` or
    /// `ven. 2 juil. 2027, 20:00`.
    pub fn datetime(self, at: DateTime<Utc>, zone: Tz) -> String {
        let local = at.with_timezone(&zone);
        let (days, months): (&[&str; 7], &[&str; 12]) = match self {
            Lang::En => (
                &["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
                &["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
            ),
            Lang::Fr => (
                &["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."],
                &["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."],
            ),
        };
        format!(
            "{} {} {} {}, {:02}:{:02}",
            days[local.weekday().num_days_from_monday() as usize],
            local.day(),
            months[local.month0() as usize],
            local.year(),
            local.hour(),
            local.minute()
        )
    }
}

/// Each word: key, English, French.
const WORDS: &[(&str, &str, &str)] = &[
    ("site", "Tickets", "Billetterie"),
    ("language", "Language", "Langue"),
    ("events", "Events", "Événements"),
    ("filters", "Find an event", "Trouver un événement"),
    ("from", "From", "Du"),
    ("to", "To", "Au"),
    ("location", "Location", "Lieu"),
    ("status", "Status", "Statut"),
    ("search", "Search", "Rechercher"),
    ("no_events", "No event matches.", "Aucun événement ne correspond."),
    ("previous", "Previous page", "Page précédente"),
    ("next", "Next page", "Page suivante"),
    ("page", "Page", "Page"),
    ("starts", "Starts", "Début"),
    ("ends", "Ends", "Fin"),
    ("venue", "Venue", "Lieu"),
    ("capacity", "Capacity", "Capacité"),
    ("places_left", "places left", "places restantes"),
    ("dress_code", "Dress code", "Tenue"),
    ("tickets", "Tickets", "Billets"),
    ("ticket_type", "Ticket", "Billet"),
    ("price", "Price", "Prix"),
    ("remaining", "Left", "Restant"),
    ("valid", "Valid", "Validité"),
    ("valid_any", "Whole event", "Tout l'événement"),
    ("quantity", "Quantity", "Quantité"),
    ("buy", "Buy", "Acheter"),
    ("buy_title", "Buy tickets", "Acheter des billets"),
    (
        "buy_help",
        "Your tickets are held for you while you pay.",
        "Vos billets vous sont réservés le temps du paiement.",
    ),
    ("name", "Full name", "Nom complet"),
    ("email", "Email", "E-mail"),
    ("phone", "Phone (optional)", "Téléphone (facultatif)"),
    ("sold_out", "Sold out", "Complet"),
    ("not_on_sale", "Tickets are not on sale for this event.", "Les billets ne sont pas en vente pour cet événement."),
    ("order", "Your order", "Votre commande"),
    ("order_total", "Total", "Total"),
    ("held_until", "Held for you until", "Réservé pour vous jusqu'au"),
    ("pay", "Pay now", "Payer maintenant"),
    (
        "pay_at_desk",
        "Pay at the box office or by transfer; your tickets appear here once paid.",
        "Payez au guichet ou par virement ; vos billets apparaissent ici une fois payés.",
    ),
    (
        "keep_link",
        "Keep this page's address: it is your access to the order.",
        "Gardez l'adresse de cette page : c'est votre accès à la commande.",
    ),
    ("open_ticket", "Open the ticket", "Ouvrir le billet"),
    ("your_ticket", "Your ticket", "Votre billet"),
    ("code", "Code", "Code"),
    ("holder", "Holder", "Titulaire"),
    ("entries", "Entries used", "Entrées utilisées"),
    ("download_pdf", "Download the PDF", "Télécharger le PDF"),
    ("add_calendar", "Add to calendar", "Ajouter au calendrier"),
    ("show_qr", "Show this code at the entrance.", "Présentez ce code à l'entrée."),
    ("qr_alt", "QR code of ticket", "QR code du billet"),
    ("error", "Something went wrong", "Un problème est survenu"),
    ("back", "Back to the events", "Retour aux événements"),
    (
        "not_found",
        "This page does not exist, or its link has expired.",
        "Cette page n'existe pas, ou son lien a expiré.",
    ),
    (
        "too_many",
        "Too many requests: wait a moment, then try again.",
        "Trop de demandes : patientez un instant puis réessayez.",
    ),
    (
        "unavailable",
        "The service is unavailable for a moment. Try again shortly.",
        "Le service est momentanément indisponible. Réessayez dans un instant.",
    ),
    // The scanner.
    ("scan_title", "Gate scanner", "Scanner de contrôle"),
    ("needs_script", "This page needs JavaScript.", "Cette page a besoin de JavaScript."),
    ("staff_signin", "Sign in", "Se connecter"),
    ("staff_password", "Password", "Mot de passe"),
    ("staff_signin_refused", "The email or password is wrong.", "L'e-mail ou le mot de passe est incorrect."),
    ("staff_signout", "Sign out", "Se déconnecter"),
    ("staff_signed_out", "Signed out.", "Déconnecté."),
    ("staff_session_over", "Your session has ended: sign in again.", "Votre session a pris fin : reconnectez-vous."),
    ("scan_pick_gate", "Choose your gate", "Choisissez votre porte"),
    ("scan_no_gates", "No gate is assigned to you.", "Aucune porte ne vous est attribuée."),
    ("scan_change_gate", "Change gate", "Changer de porte"),
    ("scan_ready", "Ready: scan a ticket", "Prêt : scannez un billet"),
    ("scan_checking", "Checking…", "Vérification…"),
    ("scan_confirming", "Confirming…", "Confirmation…"),
    ("scan_valid", "Valid ticket", "Billet valable"),
    ("scan_inside_exit", "Already inside: exit only", "Déjà entré : sortie seulement"),
    ("scan_entered", "Entry recorded: admit", "Entrée enregistrée : laissez passer"),
    ("scan_left", "Exit recorded", "Sortie enregistrée"),
    ("scan_unavailable", "System unavailable", "Système indisponible"),
    ("scan_do_not_admit", "Do not admit.", "Ne laissez pas entrer."),
    ("scan_retry", "Try again", "Réessayer"),
    ("scan_next", "Next ticket", "Billet suivant"),
    ("scan_in", "In", "Entrée"),
    ("scan_out", "Out", "Sortie"),
    ("scan_holder", "Holder", "Titulaire"),
    ("scan_entries", "Entries", "Entrées"),
    ("scan_wedge", "Scanner input (reads end with Enter)", "Lecteur (chaque lecture finit par Entrée)"),
    ("scan_manual", "Short code", "Code court"),
    ("scan_check", "Check", "Vérifier"),
    ("scan_camera", "Camera", "Caméra"),
    ("scan_camera_start", "Start the camera", "Allumer la caméra"),
    ("scan_camera_stop", "Stop the camera", "Éteindre la caméra"),
    ("scan_camera_refused", "The camera cannot be used here.", "La caméra ne peut pas être utilisée ici."),
    ("scan_camera_failed", "The camera stopped: start it again.", "La caméra s'est arrêtée : rallumez-la."),
    ("scan_auto_in", "Confirm entries at once", "Confirmer les entrées aussitôt"),
    ("scan_log", "This gate's recent scans", "Derniers passages à cette porte"),
    ("scan_log_empty", "Nothing yet.", "Rien pour l'instant."),
    // The dashboard.
    ("admin_title", "Organiser dashboard", "Tableau de bord"),
    ("admin_events", "Your events", "Vos événements"),
    ("admin_no_events", "You have no events yet.", "Vous n'avez pas encore d'événement."),
    ("admin_all_events", "All events", "Tous les événements"),
    ("admin_sold", "Tickets sold", "Billets vendus"),
    ("admin_inside", "Inside now", "Présents"),
    ("admin_occupancy", "Occupancy", "Remplissage"),
    ("admin_revenue", "Revenue", "Recettes"),
    ("admin_by_type", "Sales by ticket type", "Ventes par type de billet"),
    ("admin_flow", "Entries and exits over time", "Entrées et sorties dans le temps"),
    ("admin_gates", "Scans per gate", "Passages par porte"),
    ("admin_refusals", "Refusals by reason", "Refus par motif"),
    ("admin_entries", "Entries", "Entrées"),
    ("admin_exits", "Exits", "Sorties"),
    ("admin_refused", "Refused", "Refusés"),
    ("admin_nothing", "Nothing yet.", "Rien pour l'instant."),
    ("admin_exports", "Exports", "Exports"),
    ("admin_participants", "Participants (CSV)", "Participants (CSV)"),
    ("admin_scans", "Scans (CSV)", "Passages (CSV)"),
    ("admin_orders", "Orders (CSV)", "Commandes (CSV)"),
    ("admin_pdfs", "Ticket PDFs (ZIP)", "PDF des billets (ZIP)"),
    ("admin_saved", "Saved", "Enregistré"),
    ("admin_updated", "Counted at", "Compté à"),
    (
        "admin_live",
        "updated every few seconds while the event runs",
        "mis à jour toutes les quelques secondes pendant l'événement",
    ),
    // The scan verdicts' reasons, one for each code (`reason_{code}`).
    ("reason_ok", "Accepted", "Accepté"),
    ("reason_bad_signature", "Forged or altered code", "Code falsifié ou altéré"),
    ("reason_invalid_code", "Mistyped code", "Code mal saisi"),
    ("reason_unknown_ticket", "Unknown ticket", "Billet inconnu"),
    ("reason_wrong_event", "Ticket for another event", "Billet d'un autre événement"),
    ("reason_event_not_published", "Event not open yet", "Événement pas encore ouvert"),
    ("reason_event_cancelled", "Event cancelled", "Événement annulé"),
    ("reason_not_paid", "Ticket not paid", "Billet non payé"),
    ("reason_refunded", "Ticket refunded", "Billet remboursé"),
    ("reason_revoked", "Ticket cancelled by the organiser", "Billet annulé par l'organisateur"),
    ("reason_already_inside", "Already inside", "Déjà entré"),
    ("reason_not_inside", "Not inside", "Pas à l'intérieur"),
    ("reason_reentry_not_allowed", "Re-entry not allowed", "Pas de nouvelle entrée"),
    ("reason_usage_limit_reached", "No entries left", "Plus d'entrée disponible"),
    ("reason_daily_limit_reached", "No entries left today", "Plus d'entrée aujourd'hui"),
    ("reason_too_early", "Too early for this ticket", "Trop tôt pour ce billet"),
    ("reason_expired", "Ticket no longer valid", "Billet plus valable"),
    ("reason_wrong_gate", "Wrong gate for this ticket", "Mauvaise porte pour ce billet"),
    ("reason_session_expired", "Too slow: scan again", "Trop tard : scannez à nouveau"),
    ("reason_session_used", "Already confirmed", "Déjà confirmé"),
    ("reason_invalid_session", "Scan again", "Scannez à nouveau"),
    ("reason_session_mismatch", "Scanned at another gate: scan again", "Scanné à une autre porte : scannez à nouveau"),
    ("reason_nonce_reused", "Scan again", "Scannez à nouveau"),
    // Statuses in words.
    ("event_published", "On sale", "En vente"),
    ("event_cancelled", "Cancelled", "Annulé"),
    ("event_ended", "Ended", "Terminé"),
    ("event_draft", "Draft", "Brouillon"),
    ("ticket_issued", "Valid", "Valide"),
    ("ticket_reserved", "Reserved, awaiting payment", "Réservé, en attente de paiement"),
    ("ticket_paid", "Paid: valid for entry", "Payé : valable pour l'entrée"),
    ("ticket_inside", "Inside the venue", "Dans l'enceinte"),
    ("ticket_outside", "Went out: may enter again", "Sorti : peut entrer à nouveau"),
    ("ticket_invalid", "Not valid", "Non valable"),
    ("ticket_refunded", "Refunded: not valid", "Remboursé : non valable"),
    ("order_pending", "Awaiting payment", "En attente de paiement"),
    ("order_paid", "Paid", "Payée"),
    (
        "order_expired",
        "Expired: the hold ended before payment",
        "Expirée : la réservation a pris fin avant le paiement",
    ),
    ("order_cancelled", "Cancelled", "Annulée"),
    (
        "order_paid_unfulfilled",
        "Paid after the places were gone: it will be refunded",
        "Payée après la fin des places : elle sera remboursée",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), value.parse().expect("a header value"));
        }
        map
    }

    #[test]
    fn every_scan_reason_has_words() {
        for reason in ticketing_core::scan::ScanReason::ALL {
            let key = format!("reason_{}", reason.code());
            assert!(WORDS.iter().any(|(k, _, _)| *k == key), "no words for {key}");
        }
    }

    #[test]
    fn the_language_comes_from_the_query_then_the_cookie_then_accept_language() {
        let fr_browser = headers(&[(header::ACCEPT_LANGUAGE, "de-DE, fr-CH;q=0.9, en;q=0.8")]);
        assert_eq!(Lang::of(None, &fr_browser), (Lang::Fr, false));
        assert_eq!(Lang::of(Some("en"), &fr_browser), (Lang::En, true));
        assert_eq!(Lang::of(Some("klingon"), &fr_browser), (Lang::Fr, false), "an unknown ask is ignored");
        let cookie = headers(&[(header::COOKIE, "a=b; lang=en"), (header::ACCEPT_LANGUAGE, "fr")]);
        assert_eq!(Lang::of(None, &cookie), (Lang::En, false));
        assert_eq!(Lang::of(None, &headers(&[(header::ACCEPT_LANGUAGE, "fr;q=0, en;q=0.1")])), (Lang::En, false));
        assert_eq!(Lang::of(None, &HeaderMap::new()), (Lang::En, false));
    }

    #[test]
    fn every_word_is_in_both_languages_once() {
        let mut keys: Vec<&str> = WORDS.iter().map(|(k, _, _)| *k).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), before, "a key written twice");
        assert!(WORDS.iter().all(|(_, en, fr)| !en.is_empty() && !fr.is_empty()));
    }

    #[test]
    fn dates_are_written_in_the_events_zone_and_the_visitors_language() {
        let at = "2027-07-02T18:00:00Z".parse().expect("a date");
        assert_eq!(Lang::En.datetime(at, chrono_tz::Europe::Paris), "Fri 2 Jul 2027, 20:00");
        assert_eq!(Lang::Fr.datetime(at, chrono_tz::Europe::Paris), "ven. 2 juil. 2027, 20:00");
        assert_eq!(Lang::En.datetime(at, chrono_tz::America::New_York), "Fri 2 Jul 2027, 14:00");
    }
}
