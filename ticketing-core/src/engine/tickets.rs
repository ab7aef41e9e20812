//! Issuing tickets, changing their status, their QR payload and their magic links.

use chrono::{DateTime, Duration, Utc};

use super::{Error, Ticketing};
use crate::event::EventStatus;
use crate::ids::{TicketId, TicketTypeId};
use crate::magic_link::{self, MagicLink, MagicLinkToken};
use crate::short_code::ShortCode;
use crate::signing::QrClaims;
use crate::status::{TicketAction, TicketStatus};
use crate::store::{Store, StoreError};
use crate::ticket::{Holder, HolderSpec, NewTicket, Ticket};
use crate::ticket_type::TicketType;

/// Short codes are drawn at random from 31^9; a collision with an existing code is refused by
/// storage and the batch is drawn again, this many times at most.
pub(super) const CODE_DRAWS: usize = 4;

/// A request for new tickets of one type.
#[derive(Clone, Debug)]
pub struct IssueRequest {
    /// The type.
    pub ticket_type_id: TicketTypeId,
    /// How many anonymous tickets, when `holders` is empty.
    pub count: u32,
    /// One ticket per holder, when not empty (then `count` is ignored).
    pub holders: Vec<HolderSpec>,
    /// `issued`, `reserved` or `paid`.
    pub status: TicketStatus,
}

impl<S: Store + ?Sized> Ticketing<S> {
    /// Issues tickets within the type's quota and the event's capacity, all or none.
    pub async fn issue_tickets(&self, request: &IssueRequest) -> Result<Vec<Ticket>, Error> {
        let ticket_type = self.ticket_type(request.ticket_type_id).await?;
        let event = self.event(ticket_type.event_id()).await?;
        if matches!(event.status(), EventStatus::Cancelled | EventStatus::Ended) {
            return Err(Error::EventClosed(event.status()));
        }
        let holders: Vec<Option<Holder>> = if request.holders.is_empty() {
            vec![None; request.count as usize]
        } else {
            request.holders.iter().map(|h| Holder::new(h).map(Some)).collect::<Result<_, _>>()?
        };
        let now = self.clock.now();
        for draw in 1..=CODE_DRAWS {
            let tickets = self.draw_tickets(&ticket_type, &holders, request.status, now)?;
            match self.store.insert_tickets(&tickets, &[]).await {
                Ok(()) => return Ok(tickets),
                Err(StoreError::Conflict(_)) if draw < CODE_DRAWS => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict("could not draw unique short codes".into()))
    }

    /// New tickets of `ticket_type`, one per holder, with fresh ids and short codes.
    pub(super) fn draw_tickets(
        &self,
        ticket_type: &TicketType,
        holders: &[Option<Holder>],
        status: TicketStatus,
        now: DateTime<Utc>,
    ) -> Result<Vec<Ticket>, Error> {
        holders
            .iter()
            .map(|holder| {
                Ticket::new(NewTicket {
                    id: TicketId::generate(&*self.clock, &*self.rng),
                    event_id: ticket_type.event_id(),
                    ticket_type_id: ticket_type.id(),
                    short_code: ShortCode::generate(&*self.rng),
                    holder: holder.clone(),
                    status,
                    created_at: now,
                })
                .map_err(Error::from)
            })
            .collect()
    }

    /// A ticket by id.
    pub async fn ticket(&self, id: TicketId) -> Result<Ticket, Error> {
        self.store.ticket(id).await?.ok_or(Error::NotFound("ticket"))
    }

    /// Applies `action` (reserve, release, pay, invalidate, refund) to a ticket, retrying the
    /// compare-and-set if a concurrent change wins. Entries and exits go through the scan.
    pub async fn change_ticket(&self, id: TicketId, action: TicketAction) -> Result<Ticket, Error> {
        if matches!(action, TicketAction::Enter | TicketAction::Exit) {
            return Err(Error::Forbidden("entries and exits go through the scan"));
        }
        for _ in 0..self.config.max_retries {
            let ticket = self.ticket(id).await?;
            let event = self.event(ticket.event_id()).await?;
            let next = ticket.apply(action, self.clock.now(), event.time_zone())?;
            match self.store.update_ticket(&next, ticket.version()).await {
                Ok(()) => return Ok(next),
                Err(StoreError::Stale) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Contention)
    }

    /// The signed QR payload of a ticket. It names the ticket by its short code; its validity
    /// follows the event and the type, so it carries no expiry unless `expires_at` is given.
    pub fn qr_payload(&self, ticket: &Ticket, expires_at: Option<DateTime<Utc>>) -> Result<String, Error> {
        let claims = QrClaims { ticket: ticket.short_code(), expires_at };
        Ok(self.keyring.sign_qr(self.config.qr_algorithm, &claims)?)
    }

    /// A new magic link for a ticket, valid for `ttl` (for ever when `None`). The token is
    /// returned once; only its hash is stored.
    pub async fn issue_magic_link(
        &self,
        ticket_id: TicketId,
        ttl: Option<Duration>,
    ) -> Result<(MagicLinkToken, MagicLink), Error> {
        let ticket = self.ticket(ticket_id).await?;
        let now = self.clock.now();
        let (token, link) = MagicLink::issue(ticket.id(), now, ttl.map(|t| now + t), &*self.rng);
        self.store.insert_magic_link(&link).await?;
        Ok((token, link))
    }

    /// The ticket a magic-link token opens. Unknown, expired and revoked tokens are told apart
    /// for the caller; an HTTP layer should answer all three alike.
    pub async fn open_magic_link(&self, token: &str) -> Result<Ticket, Error> {
        let token = magic_link::parse_token(token)?;
        let link = self.store.magic_link(&token.hash()).await?.ok_or(Error::NotFound("magic link"))?;
        let ticket_id = link.check(self.clock.now())?;
        self.ticket(ticket_id).await
    }

    /// Revokes all links of a ticket and issues a fresh one.
    pub async fn reissue_magic_link(
        &self,
        ticket_id: TicketId,
        ttl: Option<Duration>,
    ) -> Result<(MagicLinkToken, MagicLink), Error> {
        self.store.revoke_magic_links(ticket_id, self.clock.now()).await?;
        self.issue_magic_link(ticket_id, ttl).await
    }
}
