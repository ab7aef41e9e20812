//! The scan flow, and every reason code reached through the engine.

use chrono::Duration;
use ticketing_core::engine::Error;
use ticketing_core::env::Clock;
use ticketing_core::event::{EventSpec, EventStatus};
use ticketing_core::scan::{
    ConfirmRequest, Credential, Direction, Nonce, ScanAgent, ScanReason, ScanRequest, ScanStage,
};
use ticketing_core::signing::{Algorithm, KeyId, KeyMaterial, KeyState, Keyring, QrClaims};
use ticketing_core::status::{TicketAction, TicketStatus};
use ticketing_core::store::ScanLogFilter;
use ticketing_core::ticket_type::TicketTypeSpec;

use super::support::{Backend, Options, World, event_start};

/// Conformance case.
pub async fn a_ticket_goes_issued_paid_inside_outside_inside(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let t = w.ticket(&w.standard, TicketStatus::Issued).await;
    assert_eq!(w.pass(&t, Direction::In).await.reason(), ScanReason::NotPaid);
    w.engine.change_ticket(t.id(), TicketAction::Pay).await.unwrap();

    let requested = w.request(w.qr(&t), &w.main_gate, w.agent).await;
    assert_eq!((requested.reason, requested.allowed.as_slice()), (ScanReason::Ok, &[Direction::In][..]));
    let summary = requested.ticket.unwrap();
    assert_eq!((summary.holder_name.as_deref(), summary.ticket_type.as_str()), (Some("Zoë Lefèvre"), "Standard"));
    let confirmed = w.confirm(&requested.session.unwrap().token, Direction::In, &w.main_gate, w.agent).await;
    assert_eq!(
        (confirmed.reason, confirmed.status, confirmed.entries_used),
        (ScanReason::Ok, Some(TicketStatus::Inside), Some(1))
    );

    let out = w.request(w.qr(&t), &w.main_gate, w.agent).await;
    assert_eq!(out.allowed, vec![Direction::Out]);
    let out = w.confirm(&out.session.unwrap().token, Direction::Out, &w.main_gate, w.agent).await;
    assert_eq!(out.status, Some(TicketStatus::Outside));
    match w.pass(&t, Direction::In).await {
        super::support::ConfirmOrRefusal::Confirmed(c) => {
            assert_eq!((c.status, c.entries_used), (Some(TicketStatus::Inside), Some(2)))
        }
        other => panic!("re-entry refused: {other:?}"),
    }
}

/// Conformance case.
pub async fn without_reentry_a_ticket_that_left_stays_out(backend: &Backend) {
    let w = World::new(backend, Options { allow_reentry: false, ..Options::default() }).await;
    let t = w.ticket(&w.standard, TicketStatus::Paid).await;
    assert_eq!(w.pass(&t, Direction::In).await.reason(), ScanReason::Ok);
    assert_eq!(w.pass(&t, Direction::In).await.reason(), ScanReason::AlreadyInside);
    assert_eq!(w.pass(&t, Direction::Out).await.reason(), ScanReason::Ok);
    assert_eq!(w.pass(&t, Direction::In).await.reason(), ScanReason::ReentryNotAllowed);
    // At request time the verdict speaks of the ticket's natural direction: it is out, and may
    // not come back, whichever way the agent meant to scan it.
    assert_eq!(w.pass(&t, Direction::Out).await.reason(), ScanReason::ReentryNotAllowed);
}

/// Conformance case.
pub async fn usage_and_daily_limits(backend: &Backend) {
    let w = World::new(backend, Options { usage_limit: 3, daily_entry_limit: Some(1), ..Options::default() }).await;
    let t = w.ticket(&w.standard, TicketStatus::Paid).await;
    w.clock.set(event_start());
    assert_eq!(w.pass(&t, Direction::In).await.reason(), ScanReason::Ok);
    assert_eq!(w.pass(&t, Direction::Out).await.reason(), ScanReason::Ok);
    assert_eq!(w.pass(&t, Direction::In).await.reason(), ScanReason::DailyLimitReached);
    for day in 1..=2 {
        w.clock.set(event_start() + Duration::days(day));
        assert_eq!(w.pass(&t, Direction::In).await.reason(), ScanReason::Ok, "day {day}");
        assert_eq!(w.pass(&t, Direction::Out).await.reason(), ScanReason::Ok);
    }
    w.clock.set(event_start() + Duration::days(2) + Duration::hours(2));
    assert_eq!(w.pass(&t, Direction::In).await.reason(), ScanReason::UsageLimitReached);
}

/// Conformance case.
pub async fn statuses_that_never_pass(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let reserved = w.ticket(&w.standard, TicketStatus::Reserved).await;
    assert_eq!(w.pass(&reserved, Direction::In).await.reason(), ScanReason::NotPaid);
    let refunded = w.ticket(&w.standard, TicketStatus::Paid).await;
    w.engine.change_ticket(refunded.id(), TicketAction::Refund).await.unwrap();
    assert_eq!(w.pass(&refunded, Direction::In).await.reason(), ScanReason::Refunded);
    let revoked = w.ticket(&w.standard, TicketStatus::Paid).await;
    w.engine.change_ticket(revoked.id(), TicketAction::Invalidate).await.unwrap();
    assert_eq!(w.pass(&revoked, Direction::In).await.reason(), ScanReason::Revoked);
}

/// Conformance case.
pub async fn bad_codes_are_refused_and_logged(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let t = w.ticket(&w.standard, TicketStatus::Paid).await;
    let forger = Keyring::new().with_key(KeyId(1), KeyState::Current, KeyMaterial::HmacSecret(vec![9; 32])).unwrap();
    let forged = forger.sign_qr(Algorithm::HmacSha256, &QrClaims { ticket: t.short_code(), expires_at: None }).unwrap();
    let outcomes = [
        (Credential::Qr(forged), ScanReason::BadSignature),
        (Credential::Qr("not a ticket".into()), ScanReason::BadSignature),
        (Credential::ShortCode("22222-22223".into()), ScanReason::InvalidCode),
        (Credential::ShortCode("22222-22222".into()), ScanReason::UnknownTicket),
        (Credential::ShortCode(t.short_code().to_string().to_lowercase()), ScanReason::Ok),
    ];
    for (credential, expected) in outcomes {
        assert_eq!(w.request(credential.clone(), &w.main_gate, w.agent).await.reason, expected, "{credential:?}");
    }
    let expired = w.engine.qr_payload(&t, Some(Clock::now(&*w.clock) - Duration::seconds(1))).unwrap();
    assert_eq!(w.request(Credential::Qr(expired), &w.main_gate, w.agent).await.reason, ScanReason::Expired);
    let logs = w.engine.store().scan_logs(&ScanLogFilter::default()).await.unwrap();
    let logged: Vec<ScanReason> = logs.iter().rev().map(|l| l.reason).collect();
    assert_eq!(
        logged,
        [
            ScanReason::BadSignature,
            ScanReason::BadSignature,
            ScanReason::InvalidCode,
            ScanReason::UnknownTicket,
            ScanReason::Expired
        ]
    );
    assert!(logs.iter().all(|l| l.stage == ScanStage::Request && l.gate_id == w.main_gate.id()));
}

/// Conformance case.
pub async fn gates_really_restrict(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let standard = w.ticket(&w.standard, TicketStatus::Paid).await;
    let vip = w.ticket(&w.vip, TicketStatus::Paid).await;
    assert_eq!(w.request(w.qr(&standard), &w.vip_gate, w.agent).await.reason, ScanReason::WrongGate);
    assert_eq!(w.request(w.qr(&vip), &w.vip_gate, w.vip_agent).await.reason, ScanReason::Ok);
    // An agent scans only at the gates they are assigned to; supervisors anywhere.
    let refused = w
        .engine
        .scan_request(&ScanRequest { credential: w.qr(&vip), gate_id: w.main_gate.id(), agent: w.vip_agent })
        .await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    let supervisor =
        ScanAgent { id: ticketing_core::ids::UserId::from_uuid(uuid::Uuid::from_u128(99)), any_gate: true };
    assert_eq!(w.request(w.qr(&vip), &w.main_gate, supervisor).await.reason, ScanReason::Ok);
    // A type may restrict its gates too.
    let mut spec = w.standard.spec();
    spec.gates = Some(vec![w.vip_gate.id()]);
    w.engine.update_ticket_type(w.standard.id(), &spec).await.unwrap();
    assert_eq!(w.request(w.qr(&standard), &w.main_gate, w.agent).await.reason, ScanReason::WrongGate);
}

/// Conformance case.
pub async fn validity_windows_and_event_status(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let spec = TicketTypeSpec {
        name: "Samedi".into(),
        validity_from: Some(event_start() + Duration::days(1)),
        validity_to: Some(event_start() + Duration::days(1) + Duration::hours(8)),
        ..w.standard.spec()
    };
    let saturday = w.engine.add_ticket_type(w.event.id(), &spec).await.unwrap();
    let t = w.ticket(&saturday, TicketStatus::Paid).await;
    assert_eq!(w.pass(&t, Direction::In).await.reason(), ScanReason::TooEarly);
    w.clock.set(event_start() + Duration::days(1) + Duration::hours(9));
    assert_eq!(w.pass(&t, Direction::In).await.reason(), ScanReason::Expired);

    let any = w.ticket(&w.standard, TicketStatus::Paid).await;
    w.clock.set(event_start() + Duration::days(3) + Duration::seconds(1));
    assert_eq!(w.pass(&any, Direction::In).await.reason(), ScanReason::Expired);

    let other = World::new(backend, Options::default()).await;
    let foreign = other.ticket(&other.standard, TicketStatus::Paid).await;
    w.clock.set(event_start());
    let payload = other.engine.qr_payload(&foreign, None).unwrap();
    // Same key, different store: the ticket is unknown here.
    assert_eq!(w.request(Credential::Qr(payload), &w.main_gate, w.agent).await.reason, ScanReason::UnknownTicket);

    w.engine.set_event_status(w.event.id(), EventStatus::Cancelled).await.unwrap();
    assert_eq!(w.pass(&any, Direction::In).await.reason(), ScanReason::EventCancelled);
}

/// Conformance case: without a type window, entries open when the event's doors do (4 hours
/// before the start by default, or as the event says, stored and read back); a type whose own
/// window opens earlier lets its holders in then (early access).
pub async fn doors_open_some_hours_before_the_start(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let t = w.ticket(&w.standard, TicketStatus::Paid).await;
    w.clock.set(event_start() - Duration::days(30));
    assert_eq!(w.pass(&t, Direction::In).await.reason(), ScanReason::TooEarly, "a month before");
    w.clock.set(event_start() - Duration::hours(4) - Duration::seconds(1));
    assert_eq!(w.pass(&t, Direction::In).await.reason(), ScanReason::TooEarly);
    let early = TicketTypeSpec {
        name: "Early access".into(),
        validity_from: Some(event_start() - Duration::hours(6)),
        ..w.standard.spec()
    };
    let early = w.engine.add_ticket_type(w.event.id(), &early).await.unwrap();
    let vip = w.ticket(&early, TicketStatus::Paid).await;
    let gate_spec =
        ticketing_core::gate::GateSpec { name: "Early".into(), agents: vec![w.agent.id], ticket_types: None };
    let gate = w.engine.add_gate(w.event.id(), &gate_spec).await.unwrap();
    let requested = w.request(w.qr(&vip), &gate, w.agent).await;
    assert_eq!(requested.reason, ScanReason::Ok, "the type's window opens first");
    w.clock.set(event_start() - Duration::hours(4));
    assert_eq!(w.pass(&t, Direction::In).await.reason(), ScanReason::Ok, "doors open");

    let spec = EventSpec { doors_open_minutes: 30, ..w.event.spec() };
    let event = w.engine.update_event(w.event.id(), &spec).await.unwrap();
    assert_eq!(w.engine.event(event.id()).await.unwrap().doors_open_minutes(), 30, "stored and read back");
    let later = w.ticket(&w.standard, TicketStatus::Paid).await;
    assert_eq!(w.pass(&later, Direction::In).await.reason(), ScanReason::TooEarly, "now 30 minutes before");
    w.clock.set(event_start() - Duration::minutes(30));
    assert_eq!(w.pass(&later, Direction::In).await.reason(), ScanReason::Ok);
    let bad = EventSpec { doors_open_minutes: 10_081, ..w.event.spec() };
    assert!(matches!(w.engine.update_event(w.event.id(), &bad).await, Err(Error::Event(_))));
}

/// Conformance case.
pub async fn a_ticket_of_another_event_is_wrong_event_and_drafts_do_not_admit(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let mut spec = w.event.spec();
    spec.title = "Autre".into();
    let draft = w.engine.create_event(&spec).await.unwrap();
    let draft_type = w.engine.add_ticket_type(draft.id(), &w.standard.spec()).await.unwrap();
    let t = w.ticket(&draft_type, TicketStatus::Paid).await;
    assert_eq!(w.pass(&t, Direction::In).await.reason(), ScanReason::WrongEvent);
    // A gate of another event learns nothing of the ticket: no summary, and its log names none.
    let refused = w.request(w.qr(&t), &w.main_gate, w.agent).await;
    assert_eq!((refused.reason, refused.ticket, refused.session), (ScanReason::WrongEvent, None, None));
    let logs = w
        .engine
        .store()
        .scan_logs(&ScanLogFilter { event_id: Some(w.event.id()), ..Default::default() })
        .await
        .unwrap();
    assert!(logs.iter().all(|l| l.reason != ScanReason::WrongEvent || l.ticket_id.is_none()), "{logs:?}");
    let gate = w
        .engine
        .add_gate(
            draft.id(),
            &ticketing_core::gate::GateSpec { name: "G".into(), agents: vec![w.agent.id], ticket_types: None },
        )
        .await
        .unwrap();
    assert_eq!(w.request(w.qr(&t), &gate, w.agent).await.reason, ScanReason::EventNotPublished);
}

/// Conformance case.
pub async fn sessions_are_single_use_short_lived_and_bound(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let t = w.ticket(&w.vip, TicketStatus::Paid).await;
    let token = w.request(w.qr(&t), &w.vip_gate, w.agent).await.session.unwrap().token;
    assert_eq!(w.confirm(&token, Direction::In, &w.vip_gate, w.vip_agent).await.reason, ScanReason::SessionMismatch);
    assert_eq!(w.confirm(&token, Direction::In, &w.main_gate, w.agent).await.reason, ScanReason::SessionMismatch);
    assert_eq!(w.confirm(&token, Direction::In, &w.vip_gate, w.agent).await.reason, ScanReason::Ok);
    assert_eq!(w.confirm(&token, Direction::Out, &w.vip_gate, w.agent).await.reason, ScanReason::SessionUsed);
    assert_eq!(w.confirm("garbage", Direction::Out, &w.vip_gate, w.agent).await.reason, ScanReason::InvalidSession);
    assert_eq!(
        w.confirm("AAAAAAAAAAAAAAAAAAAAAA", Direction::Out, &w.vip_gate, w.agent).await.reason,
        ScanReason::InvalidSession
    );

    let token = w.request(w.qr(&t), &w.vip_gate, w.agent).await.session.unwrap().token;
    w.clock.advance(w.engine.config().session_ttl);
    assert_eq!(w.confirm(&token, Direction::Out, &w.vip_gate, w.agent).await.reason, ScanReason::SessionExpired);
    assert_eq!(w.engine.ticket(t.id()).await.unwrap().status(), TicketStatus::Inside);
}

/// Conformance case.
pub async fn rules_are_checked_again_at_confirm(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let t = w.ticket(&w.standard, TicketStatus::Paid).await;
    let token = w.request(w.qr(&t), &w.main_gate, w.agent).await.session.unwrap().token;
    w.engine.change_ticket(t.id(), TicketAction::Invalidate).await.unwrap();
    assert_eq!(w.confirm(&token, Direction::In, &w.main_gate, w.agent).await.reason, ScanReason::Revoked);
    // A direction that was not offered is refused with the rule's reason.
    let t = w.ticket(&w.standard, TicketStatus::Paid).await;
    let token = w.request(w.qr(&t), &w.main_gate, w.agent).await.session.unwrap().token;
    assert_eq!(w.confirm(&token, Direction::Out, &w.main_gate, w.agent).await.reason, ScanReason::NotInside);
}

/// Conformance case.
pub async fn a_repeated_nonce_returns_the_first_result_and_changes_nothing(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let t = w.ticket(&w.standard, TicketStatus::Paid).await;
    let token = w.request(w.qr(&t), &w.main_gate, w.agent).await.session.unwrap().token;
    let confirm = ConfirmRequest {
        token,
        direction: Direction::In,
        gate_id: w.main_gate.id(),
        agent: w.agent,
        nonce: Nonce::parse("device-7:42"),
    };
    let first = w.engine.scan_confirm(&confirm).await.unwrap();
    let again = w.engine.scan_confirm(&confirm).await.unwrap();
    assert_eq!((first.reason, first.replayed, first.entries_used), (ScanReason::Ok, false, Some(1)));
    assert_eq!((again.reason, again.replayed, again.entries_used), (ScanReason::Ok, true, Some(1)));
    let logs =
        w.engine.store().scan_logs(&ScanLogFilter { ticket_id: Some(t.id()), ..Default::default() }).await.unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(w.engine.ticket(t.id()).await.unwrap().entries_used(), 1);
    // Refusals replay too (an unknown session, sent again with its nonce).
    let unknown = "AAAAAAAAAAAAAAAAAAAAAA".to_owned();
    let bad = ConfirmRequest { token: unknown, nonce: Nonce::parse("device-7:43"), ..confirm.clone() };
    let (a, b) = (w.engine.scan_confirm(&bad).await.unwrap(), w.engine.scan_confirm(&bad).await.unwrap());
    assert_eq!(
        (a.reason, a.replayed, b.reason, b.replayed),
        (ScanReason::InvalidSession, false, ScanReason::InvalidSession, true)
    );
    // A token that is not even well-formed has no session to match: its nonce replays nothing.
    let garbage = ConfirmRequest { token: "nope".into(), nonce: Nonce::parse("device-7:42"), ..confirm };
    assert_eq!(w.engine.scan_confirm(&garbage).await.unwrap().reason, ScanReason::NonceReused);
}

/// Conformance case: a scanner that reuses a nonce (a counter reset by a restart) for another
/// ticket gets `nonce_reused`, never the first ticket's entry; nothing is applied, and a fresh
/// nonce then confirms the session.
pub async fn a_nonce_reused_for_another_request_is_refused_not_replayed(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let (one, two) = (w.ticket(&w.standard, TicketStatus::Paid).await, w.ticket(&w.standard, TicketStatus::Paid).await);
    let confirm = |token: String, nonce: &str| ConfirmRequest {
        token,
        direction: Direction::In,
        gate_id: w.main_gate.id(),
        agent: w.agent,
        nonce: Nonce::parse(nonce),
    };
    let token = w.request(w.qr(&one), &w.main_gate, w.agent).await.session.unwrap().token;
    assert_eq!(w.engine.scan_confirm(&confirm(token, "7")).await.unwrap().reason, ScanReason::Ok);
    let token = w.request(w.qr(&two), &w.main_gate, w.agent).await.session.unwrap().token;
    let reused = w.engine.scan_confirm(&confirm(token.clone(), "7")).await.unwrap();
    assert_eq!((reused.reason, reused.replayed, reused.ticket_id), (ScanReason::NonceReused, false, None));
    assert_eq!(w.engine.ticket(two.id()).await.unwrap().status(), TicketStatus::Paid, "ticket 2 did not enter");
    // The same session and nonce in the other direction, or at another gate: refused as well.
    let out = ConfirmRequest { direction: Direction::Out, ..confirm(token.clone(), "7") };
    assert_eq!(w.engine.scan_confirm(&out).await.unwrap().reason, ScanReason::NonceReused);
    let fresh = w.engine.scan_confirm(&confirm(token.clone(), "8")).await.unwrap();
    assert_eq!((fresh.reason, fresh.ticket_id, fresh.replayed), (ScanReason::Ok, Some(two.id()), false));
    // And that one, sent again, is a true replay.
    let again = w.engine.scan_confirm(&confirm(token, "8")).await.unwrap();
    assert_eq!((again.reason, again.ticket_id, again.replayed), (ScanReason::Ok, Some(two.id()), true));
    // A re-entry of ticket 1 with the nonce of its first entry is not that entry either.
    assert_eq!(w.pass(&one, Direction::Out).await.reason(), ScanReason::Ok);
    let token = w.request(w.qr(&one), &w.main_gate, w.agent).await.session.unwrap().token;
    assert_eq!(w.engine.scan_confirm(&confirm(token, "7")).await.unwrap().reason, ScanReason::NonceReused);
    assert_eq!(w.engine.ticket(one.id()).await.unwrap().status(), TicketStatus::Outside);
}

/// Conformance case.
pub async fn magic_links_open_their_ticket_until_revoked_or_expired(backend: &Backend) {
    use ticketing_core::magic_link::MagicLinkError;
    let w = World::new(backend, Options::default()).await;
    let t = w.ticket(&w.standard, TicketStatus::Paid).await;
    let (token, _) = w.engine.issue_magic_link(t.id(), Some(Duration::days(30))).await.unwrap();
    assert_eq!(w.engine.open_magic_link(&token.as_text()).await.unwrap().id(), t.id());
    let (fresh, _) = w.engine.reissue_magic_link(t.id(), None).await.unwrap();
    assert!(matches!(w.engine.open_magic_link(&token.as_text()).await, Err(Error::MagicLink(MagicLinkError::Revoked))));
    assert_eq!(w.engine.open_magic_link(&fresh.as_text()).await.unwrap().id(), t.id());
    assert!(matches!(w.engine.open_magic_link("x").await, Err(Error::MagicLink(MagicLinkError::Malformed))));
    assert!(matches!(w.engine.open_magic_link(&"A".repeat(32)).await, Err(Error::NotFound(_))));
    let (short, _) = w.engine.issue_magic_link(t.id(), Some(Duration::minutes(1))).await.unwrap();
    w.clock.advance(Duration::minutes(1));
    assert!(matches!(w.engine.open_magic_link(&short.as_text()).await, Err(Error::MagicLink(MagicLinkError::Expired))));
}

/// Conformance case: the engine revokes a dead ticket's links itself, so an embedder gets the
/// rule without the HTTP layer.
pub async fn refunding_or_invalidating_a_ticket_revokes_its_links(backend: &Backend) {
    use ticketing_core::magic_link::MagicLinkError;
    let w = World::new(backend, Options::default()).await;
    for action in [TicketAction::Refund, TicketAction::Invalidate] {
        let t = w.ticket(&w.standard, TicketStatus::Paid).await;
        let other = w.ticket(&w.standard, TicketStatus::Paid).await;
        let (token, _) = w.engine.issue_magic_link(t.id(), None).await.unwrap();
        let (kept, _) = w.engine.issue_magic_link(other.id(), None).await.unwrap();
        w.engine.change_ticket(t.id(), action).await.unwrap();
        let opened = w.engine.open_magic_link(&token.as_text()).await;
        assert!(matches!(opened, Err(Error::MagicLink(MagicLinkError::Revoked))), "{action:?}: {opened:?}");
        assert_eq!(w.engine.open_magic_link(&kept.as_text()).await.unwrap().id(), other.id(), "{action:?}");
    }
}

/// Conformance case.
pub async fn a_code_that_expires_between_request_and_confirm_is_refused(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let t = w.ticket(&w.standard, TicketStatus::Paid).await;
    let payload = w.engine.qr_payload(&t, Some(Clock::now(&*w.clock) + Duration::seconds(10))).unwrap();
    let session = w.request(Credential::Qr(payload), &w.main_gate, w.agent).await.session.unwrap();
    w.clock.advance(Duration::seconds(20));
    assert_eq!(w.confirm(&session.token, Direction::In, &w.main_gate, w.agent).await.reason, ScanReason::Expired);
    assert_eq!(w.engine.ticket(t.id()).await.unwrap().status(), TicketStatus::Paid);
}

/// Conformance case.
pub async fn dashboard_counts_group_tickets_scans_and_flow(backend: &Backend) {
    use ticketing_core::stats::{Dashboard, bucket_start};
    let w = World::new(backend, Options::default()).await;
    let (a, b, c) = (
        w.ticket(&w.standard, TicketStatus::Paid).await,
        w.ticket(&w.standard, TicketStatus::Paid).await,
        w.ticket(&w.vip, TicketStatus::Issued).await,
    );
    let refunded = w.ticket(&w.standard, TicketStatus::Paid).await;
    w.engine.change_ticket(refunded.id(), TicketAction::Refund).await.unwrap();
    let first = Clock::now(&*w.clock);
    assert_eq!(w.pass(&a, Direction::In).await.reason(), ScanReason::Ok);
    assert_eq!(w.pass(&b, Direction::In).await.reason(), ScanReason::Ok);
    w.clock.advance(Duration::minutes(20));
    let later = Clock::now(&*w.clock);
    assert_eq!(w.pass(&a, Direction::Out).await.reason(), ScanReason::Ok);
    assert_eq!(w.pass(&c, Direction::In).await.reason(), ScanReason::NotPaid);
    let bad = w.request(Credential::Qr("not a ticket".into()), &w.vip_gate, w.vip_agent).await;
    assert_eq!(bad.reason, ScanReason::BadSignature);

    let bucket = Duration::minutes(15);
    let counts = w.engine.store().event_counts(w.event.id(), bucket).await.unwrap();
    let types = w.engine.store().ticket_types(w.event.id()).await.unwrap();
    let d = Dashboard::new(w.event.capacity(), &types, &counts, bucket);
    let standard = d.types.iter().find(|t| t.ticket_type_id == w.standard.id()).unwrap();
    assert_eq!(
        (standard.by_status["inside"], standard.by_status["outside"], standard.by_status["refunded"], standard.sold),
        (1, 1, 1, 2)
    );
    assert_eq!(standard.revenue_minor, 0, "issued by staff, not sold: no revenue (see selling's revenue case)");
    let vip = d.types.iter().find(|t| t.ticket_type_id == w.vip.id()).unwrap();
    assert_eq!((vip.by_status["issued"], vip.sold), (1, 0));
    assert_eq!(d.inside, 1, "occupancy now");
    let main = d.gates.iter().find(|g| g.gate_id == w.main_gate.id()).unwrap();
    assert_eq!((main.entries, main.exits, main.refusals), (2, 1, 1));
    let side = d.gates.iter().find(|g| g.gate_id == w.vip_gate.id()).unwrap();
    assert_eq!((side.entries, side.refusals), (0, 1));
    assert_eq!((d.refusals["not_paid"], d.refusals["bad_signature"]), (1, 1));
    let flow: Vec<_> = d.flow.iter().map(|f| (f.start, f.entries, f.exits)).collect();
    let (early, late) = (bucket_start(first, bucket), bucket_start(later, bucket));
    if early == late {
        assert_eq!(flow, [(early, 2, 1)]);
    } else {
        assert_eq!(flow, [(early, 2, 0), (late, 0, 1)]);
    }
    let empty = w.engine.store().event_counts(ticketing_core::ids::EventId::from_uuid(uuid::Uuid::nil()), bucket).await;
    assert_eq!(empty.unwrap(), ticketing_core::stats::EventCounts::default(), "an unknown event counts nothing");
}
