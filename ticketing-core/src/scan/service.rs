//! The two-step scan over a store: [`Ticketing::scan_request`] and [`Ticketing::scan_confirm`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::log::{Nonce, ScanLog, ScanStage};
use super::reason::{Direction, ScanReason};
use super::rules::{self, ScanContext};
use super::session::{ScanSession, SessionToken};
use crate::engine::{Error, Ticketing};
use crate::gate::Gate;
use crate::ids::{ScanLogId, TicketId, UserId};
use crate::secret_token::TokenHash;
use crate::short_code::ShortCode;
use crate::signing::{PayloadError, scanned_text};
use crate::status::{TicketAction, TicketStatus};
use crate::store::{CommitOutcome, ScanCommit, ScanView, Store, StoreError, TicketUpdate};
use crate::ticket::Ticket;

/// What the agent presented.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Credential {
    /// The text of a scanned QR code.
    Qr(String),
    /// A short code typed by hand.
    ShortCode(String),
}

/// Who is scanning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanAgent {
    /// The staff user.
    pub id: UserId,
    /// Supervisors (organisers, superadmins) may scan at any gate of their events; agents only
    /// at the gates they are assigned to.
    pub any_gate: bool,
}

/// Step one: a ticket presented at a gate.
#[derive(Clone, Debug)]
pub struct ScanRequest {
    /// The QR text or short code.
    pub credential: Credential,
    /// The gate.
    pub gate_id: crate::ids::GateId,
    /// The agent.
    pub agent: ScanAgent,
}

/// What the agent's screen shows about the ticket. The holder's name lets staff match the
/// ticket to the person; nothing else personal is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketSummary {
    /// The ticket.
    pub ticket_id: TicketId,
    /// Its short code.
    pub short_code: ShortCode,
    /// The type's name.
    pub ticket_type: String,
    /// The holder's name, if personalised.
    pub holder_name: Option<String>,
    /// The status now.
    pub status: TicketStatus,
    /// Entries used.
    pub entries_used: u32,
    /// Entries allowed in all.
    pub entries_allowed: u32,
}

/// The open session an accepted request hands back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenedSession {
    /// The token to confirm with (single use).
    pub token: String,
    /// Until when it can be confirmed.
    pub expires_at: DateTime<Utc>,
}

/// The verdict of step one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestOutcome {
    /// `ok` or why not.
    pub reason: ScanReason,
    /// The directions that may be confirmed (empty when refused).
    pub allowed: Vec<Direction>,
    /// The ticket, when it was identified.
    pub ticket: Option<TicketSummary>,
    /// The session, when accepted.
    pub session: Option<OpenedSession>,
}

/// Step two: the agent confirms a direction.
#[derive(Clone, Debug)]
pub struct ConfirmRequest {
    /// The session token from step one.
    pub token: String,
    /// In or out.
    pub direction: Direction,
    /// The gate confirming; must be the session's.
    pub gate_id: crate::ids::GateId,
    /// The agent confirming; must be the session's.
    pub agent: ScanAgent,
    /// Idempotency key: the same nonce again returns the first result and changes nothing.
    pub nonce: Option<Nonce>,
}

/// The result of step two.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmOutcome {
    /// `ok` or why not.
    pub reason: ScanReason,
    /// The direction asked for.
    pub direction: Direction,
    /// The ticket, when known.
    pub ticket_id: Option<TicketId>,
    /// Its status after this step.
    pub status: Option<TicketStatus>,
    /// Its entries after this step.
    pub entries_used: Option<u32>,
    /// Whether this answer replays an earlier confirmation with the same nonce.
    pub replayed: bool,
}

impl ConfirmOutcome {
    fn from_log(log: &ScanLog, replayed: bool) -> Self {
        Self {
            reason: log.reason,
            direction: log.direction.unwrap_or(Direction::In),
            ticket_id: log.ticket_id,
            status: log.status_after,
            entries_used: log.entries_after,
            replayed,
        }
    }
}

impl<S: Store + ?Sized> Ticketing<S> {
    /// Step one: verifies the credential, finds the ticket, applies the gate rules and, when
    /// the ticket may pass, opens a session. Changes no ticket. Refusals are logged.
    ///
    /// Errors (not verdicts): an unknown gate, an agent not assigned to it, storage failure.
    pub async fn scan_request(&self, request: &ScanRequest) -> Result<RequestOutcome, Error> {
        let now = self.clock.now();
        // The credential is checked first (no I/O), so the store is read once for gate and ticket.
        let credential = match &request.credential {
            Credential::Qr(text) => match self.keyring.verify_qr(scanned_text(text), now) {
                Ok(claims) => Ok((claims.ticket, claims.expires_at)),
                Err(PayloadError::Expired(_)) => Err(ScanReason::Expired),
                Err(_) => Err(ScanReason::BadSignature),
            },
            Credential::ShortCode(text) => {
                ShortCode::parse(text).map(|c| (c, None)).map_err(|_| ScanReason::InvalidCode)
            }
        };
        let code = credential.as_ref().ok().map(|(code, _)| *code);
        let (gate, view) = self.store.request_context(request.gate_id, request.agent.id, code).await?;
        let gate = self.scanning_gate(gate, request.agent)?;
        let code_expires_at = match credential {
            Ok((_, expires_at)) => expires_at,
            Err(reason) => return self.refuse_request(&gate, request.agent, None, reason, now).await,
        };
        let Some(ScanView { ticket, ticket_type, event }) = view else {
            return self.refuse_request(&gate, request.agent, None, ScanReason::UnknownTicket, now).await;
        };
        let ctx = ScanContext {
            event: &event,
            ticket_type: &ticket_type,
            ticket: &ticket,
            gate: &gate,
            code_expires_at,
            now,
        };
        let summary = TicketSummary {
            ticket_id: ticket.id(),
            short_code: ticket.short_code(),
            ticket_type: ticket_type.name().to_owned(),
            holder_name: ticket.holder().map(|h| h.name().to_owned()),
            status: ticket.status(),
            entries_used: ticket.entries_used(),
            entries_allowed: ticket_type.usage_limit(),
        };
        let allowed = match rules::allowed_directions(&ctx) {
            Ok(allowed) => allowed,
            // Another event's ticket: this gate's staff learn nothing of it (no summary, and
            // their event's log names no ticket), whoever runs the other event.
            Err(ScanReason::WrongEvent) => {
                return self.refuse_request(&gate, request.agent, None, ScanReason::WrongEvent, now).await;
            }
            Err(reason) => {
                let mut outcome = self.refuse_request(&gate, request.agent, Some(&ticket), reason, now).await?;
                outcome.ticket = Some(summary);
                return Ok(outcome);
            }
        };
        let token = SessionToken::generate(&*self.rng);
        let expires_at = now + self.config.session_ttl;
        let session = ScanSession {
            token_hash: token.hash(),
            ticket_id: ticket.id(),
            event_id: ticket.event_id(),
            gate_id: gate.id(),
            agent_id: request.agent.id,
            allowed: allowed.clone(),
            code_expires_at,
            created_at: now,
            expires_at,
            used_at: None,
        };
        self.store.insert_session(&session).await?;
        Ok(RequestOutcome {
            reason: ScanReason::Ok,
            allowed,
            ticket: Some(summary),
            session: Some(OpenedSession { token: token.as_text(), expires_at }),
        })
    }

    /// Step two: spends the session once and applies the entry or exit, checking the rules
    /// again against the ticket as it is now. Every confirmation is logged, accepted or not.
    ///
    /// Concurrent confirmations of one ticket (from several gates, or the same session twice)
    /// cannot both enter: the store's compare-and-set lets one win, the others decide again
    /// and see `already_inside` (or `session_used`). A confirmation sent again with the same
    /// nonce gets the first one's answer and changes nothing.
    pub async fn scan_confirm(&self, request: &ConfirmRequest) -> Result<ConfirmOutcome, Error> {
        let token = SessionToken::parse(&request.token);
        let hash = token.as_ref().map(SessionToken::hash);
        let (gate, found) = self.store.confirm_context(request.gate_id, request.agent.id, hash.as_ref()).await?;
        let gate = gate.ok_or(Error::NotFound("gate"))?;
        let hash = hash.as_ref();
        let Some((session, mut view)) = found else {
            // A session store may forget spent sessions (Redis expires them): a replay is
            // recognised by its nonce (and the session it came with).
            if let Some(answer) = self.answer_by_nonce(&gate, request, hash).await? {
                return Ok(answer);
            }
            return self.refuse_confirm(&gate, request, None, ScanReason::InvalidSession).await;
        };
        if session.agent_id != request.agent.id || session.gate_id != gate.id() {
            return self.refuse_confirm(&gate, request, None, ScanReason::SessionMismatch).await;
        }
        for _ in 0..self.config.max_retries {
            let now = self.clock.now();
            let ScanView { ticket, ticket_type, event } = &view;
            if session.used_at.is_some() {
                if let Some(answer) = self.answer_by_nonce(&gate, request, hash).await? {
                    return Ok(answer);
                }
                return self.refuse_confirm(&gate, request, Some(ticket), ScanReason::SessionUsed).await;
            }
            if now >= session.expires_at {
                return self.refuse_confirm(&gate, request, Some(ticket), ScanReason::SessionExpired).await;
            }
            let ctx =
                ScanContext { event, ticket_type, ticket, gate: &gate, code_expires_at: session.code_expires_at, now };
            let reason = rules::evaluate(&ctx, request.direction);
            let update = if reason.is_ok() {
                let action = match request.direction {
                    Direction::In => TicketAction::Enter,
                    Direction::Out => TicketAction::Exit,
                };
                Some(ticket.apply(action, now, event.time_zone())?)
            } else {
                None
            };
            let after = update.as_ref().unwrap_or(ticket);
            let mut log = self.log_line(
                &gate,
                request.agent.id,
                Some(after),
                ScanStage::Confirm,
                Some(request.direction),
                reason,
                request.nonce.clone(),
                now,
            );
            log.session = Some(session.token_hash);
            let update = update.map(|next| TicketUpdate {
                next,
                expected_version: ticket.version(),
                was_live: ticket.status().is_live(),
            });
            let commit = ScanCommit { session: session.token_hash, ticket: update, log };
            match self.store.commit_scan(&commit).await? {
                CommitOutcome::Applied => {
                    if commit.log.reason.is_ok() {
                        self.announce_scan(&commit.log).await;
                    }
                    return Ok(ConfirmOutcome::from_log(&commit.log, false));
                }
                CommitOutcome::Replayed(first) => return self.replay_or_refuse(&gate, request, hash, &first).await,
                CommitOutcome::SessionUsed => {
                    return self.refuse_confirm(&gate, request, Some(ticket), ScanReason::SessionUsed).await;
                }
                CommitOutcome::SessionExpired => {
                    return self.refuse_confirm(&gate, request, Some(ticket), ScanReason::SessionExpired).await;
                }
                CommitOutcome::TicketChanged => {
                    view = self.store.scan_view(session.ticket_id).await?.ok_or(Error::NotFound("ticket"))?;
                }
            }
        }
        Err(Error::Contention)
    }

    /// The answer to a confirmation whose nonce this agent already used, if it did: the first
    /// answer when this is the same request again, else a `nonce_reused` refusal.
    async fn answer_by_nonce(
        &self,
        gate: &Gate,
        request: &ConfirmRequest,
        session: Option<&TokenHash>,
    ) -> Result<Option<ConfirmOutcome>, Error> {
        let Some(nonce) = &request.nonce else { return Ok(None) };
        match self.store.scan_by_nonce(request.agent.id, nonce).await? {
            Some(first) => self.replay_or_refuse(gate, request, session, &first).await.map(Some),
            None => Ok(None),
        }
    }

    /// `first`'s answer, marked `replayed`, when `request` is the same confirmation sent again;
    /// else a refusal (`nonce_reused`) that applies nothing, so a scanner reusing nonces never
    /// shows another ticket's entry as this one's.
    async fn replay_or_refuse(
        &self,
        gate: &Gate,
        request: &ConfirmRequest,
        session: Option<&TokenHash>,
        first: &ScanLog,
    ) -> Result<ConfirmOutcome, Error> {
        if first.replays(session, gate.id(), request.direction) {
            return Ok(ConfirmOutcome::from_log(first, true));
        }
        let mut log = self.log_line(
            gate,
            request.agent.id,
            None,
            ScanStage::Confirm,
            Some(request.direction),
            ScanReason::NonceReused,
            // The nonce is the first line's: this refusal is logged without it.
            None,
            self.clock.now(),
        );
        log.session = session.copied();
        self.store.insert_scan_log(&log).await?;
        Ok(ConfirmOutcome::from_log(&log, false))
    }

    fn scanning_gate(&self, gate: Option<Gate>, agent: ScanAgent) -> Result<Gate, Error> {
        let gate = gate.ok_or(Error::NotFound("gate"))?;
        if !agent.any_gate && !gate.has_agent(agent.id) {
            return Err(Error::Forbidden("the agent is not assigned to this gate"));
        }
        Ok(gate)
    }

    async fn refuse_request(
        &self,
        gate: &Gate,
        agent: ScanAgent,
        ticket: Option<&Ticket>,
        reason: ScanReason,
        now: DateTime<Utc>,
    ) -> Result<RequestOutcome, Error> {
        let log = self.log_line(gate, agent.id, ticket, ScanStage::Request, None, reason, None, now);
        self.store.insert_scan_log(&log).await?;
        Ok(RequestOutcome { reason, allowed: Vec::new(), ticket: None, session: None })
    }

    async fn refuse_confirm(
        &self,
        gate: &Gate,
        request: &ConfirmRequest,
        ticket: Option<&Ticket>,
        reason: ScanReason,
    ) -> Result<ConfirmOutcome, Error> {
        let now = self.clock.now();
        let session = SessionToken::parse(&request.token).as_ref().map(SessionToken::hash);
        let mut log = self.log_line(
            gate,
            request.agent.id,
            ticket,
            ScanStage::Confirm,
            Some(request.direction),
            reason,
            request.nonce.clone(),
            now,
        );
        log.session = session;
        match self.store.insert_scan_log(&log).await {
            Ok(()) => Ok(ConfirmOutcome::from_log(&log, false)),
            // The nonce was used before (or raced in from a retry): the line that has it answers.
            Err(StoreError::Conflict(_)) if request.nonce.is_some() => {
                let nonce = request.nonce.as_ref().ok_or(Error::NotFound("scan"))?;
                let first = self.store.scan_by_nonce(request.agent.id, nonce).await?.ok_or(Error::NotFound("scan"))?;
                self.replay_or_refuse(gate, request, session.as_ref(), &first).await
            }
            Err(e) => Err(e.into()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn log_line(
        &self,
        gate: &Gate,
        agent: UserId,
        ticket: Option<&Ticket>,
        stage: ScanStage,
        direction: Option<Direction>,
        reason: ScanReason,
        nonce: Option<Nonce>,
        at: DateTime<Utc>,
    ) -> ScanLog {
        ScanLog {
            id: ScanLogId::generate(&*self.clock, &*self.rng),
            at,
            event_id: gate.event_id(),
            gate_id: gate.id(),
            agent_id: agent,
            ticket_id: ticket.map(Ticket::id),
            stage,
            direction,
            reason,
            status_after: ticket.map(Ticket::status),
            entries_after: ticket.map(Ticket::entries_used),
            nonce,
            session: None,
        }
    }
}
