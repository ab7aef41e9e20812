//! Issuing tickets, changing their status, their QR payload and their magic links.

use crate::audit;
use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};

use super::{Error, Ticketing};
use crate::event::EventStatus;
use crate::ids::{JobId, TicketId, TicketTypeId};
use crate::job::{Job, Notification, NotificationTopic};
use crate::magic_link::{self, MagicLink, MagicLinkToken};
use crate::short_code::ShortCode;
use crate::signing::QrClaims;
use crate::status::{TicketAction, TicketStatus};
use crate::store::{Store, StoreError, TicketBatch};
use crate::ticket::{Holder, HolderSpec, NewTicket, Ticket};
use crate::ticket_type::TicketType;

/// Short codes are drawn at random from 31^9. A code that collides (with a stored ticket's, or
/// with another of its batch) is drawn again, alone, for at most this many rounds.
const CODE_ROUNDS: usize = 64;

/// Storage still refuses a code that a concurrent batch took after the check: the batch's codes
/// are then checked and drawn again, this many times at most.
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

/// A ticket just issued with its magic link.
#[derive(Clone, Debug)]
pub struct IssuedTicket {
    /// The ticket.
    pub ticket: Ticket,
    /// Its link's token, in clear.
    pub link: MagicLinkToken,
    /// When the link stops working, if ever.
    pub link_expires_at: Option<DateTime<Utc>>,
}

/// When a link made `now` and valid for `ttl` stops working; `Invalid` past the calendar's end.
fn link_expiry(now: DateTime<Utc>, ttl: Option<Duration>) -> Result<Option<DateTime<Utc>>, Error> {
    ttl.map(|t| now.checked_add_signed(t).ok_or(Error::Invalid("a link cannot last that long"))).transpose()
}

impl<S: Store + ?Sized> Ticketing<S> {
    /// Issues tickets within the type's quota and the event's capacity, all or none.
    pub async fn issue_tickets(&self, request: &IssueRequest) -> Result<Vec<Ticket>, Error> {
        Ok(self.issue(request, None).await?.into_iter().map(|(ticket, _)| ticket).collect())
    }

    /// Issues tickets as [`Self::issue_tickets`] does, each with a magic link valid for
    /// `link_ttl` (for ever when `None`), written in the same atomic step.
    pub async fn issue_tickets_with_links(
        &self,
        request: &IssueRequest,
        link_ttl: Option<Duration>,
    ) -> Result<Vec<IssuedTicket>, Error> {
        let issued = self.issue(request, Some(link_ttl)).await?;
        Ok(issued
            .into_iter()
            .filter_map(|(ticket, link)| {
                let (token, link) = link?;
                Some(IssuedTicket { ticket, link: token, link_expires_at: link.expires_at })
            })
            .collect())
    }

    /// Issues tickets, with links when `links` gives their validity.
    #[allow(clippy::type_complexity)]
    async fn issue(
        &self,
        request: &IssueRequest,
        links: Option<Option<Duration>>,
    ) -> Result<Vec<(Ticket, Option<(MagicLinkToken, MagicLink)>)>, Error> {
        let ticket_type = self.ticket_type(request.ticket_type_id).await?;
        let event = self.event(ticket_type.event_id()).await?;
        if matches!(event.status(), EventStatus::Cancelled | EventStatus::Ended) {
            return Err(Error::EventClosed(event.status()));
        }
        let holders: Vec<Option<Holder>> = if request.holders.is_empty() {
            vec![None; request.count as usize]
        } else {
            Holder::list(&request.holders)?.into_iter().map(Some).collect()
        };
        let now = self.clock.now();
        for draw in 1..=CODE_DRAWS {
            let codes = self.fresh_codes(holders.len()).await?;
            let tickets = self.draw_tickets(&ticket_type, &holders, codes, request.status, now)?;
            let links: Vec<(MagicLinkToken, MagicLink)> = match links {
                Some(ttl) => self.links_for(&tickets, now, link_expiry(now, ttl)?),
                None => vec![],
            };
            let records: Vec<MagicLink> = links.iter().map(|(_, link)| link.clone()).collect();
            let batch = TicketBatch { tickets: &tickets, links: &records, template: None };
            // A ticket with a link goes to its holder, when they gave an email or a phone.
            let mut told: Vec<Job> = if links.is_empty() {
                vec![]
            } else {
                tickets
                    .iter()
                    .filter(|t| t.holder().is_some_and(Holder::reachable))
                    .map(|t| self.ticket_created(t))
                    .collect()
            };
            told.extend(self.created_hooks(&tickets).await?);
            audit::writing(&tickets);
            match self.store.insert_tickets(&batch, &told).await {
                Ok(()) => {
                    let mut links = links.into_iter();
                    return Ok(tickets.into_iter().map(|t| (t, links.next())).collect());
                }
                Err(StoreError::Conflict(_)) if draw < CODE_DRAWS => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict("could not draw unique short codes".into()))
    }

    /// The notification that `ticket` was issued to its holder, due now.
    pub(super) fn ticket_created(&self, ticket: &Ticket) -> Job {
        let notification = Notification {
            topic: NotificationTopic::TicketCreated,
            order_id: None,
            ticket_id: Some(ticket.id()),
            detail: None,
            address: None,
        };
        Job::notify(JobId::generate(&*self.clock, &*self.rng), notification, Some(ticket.event_id()), self.clock.now())
    }

    /// A link for each ticket, created `now`.
    pub(super) fn links_for(
        &self,
        tickets: &[Ticket],
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Vec<(MagicLinkToken, MagicLink)> {
        tickets.iter().map(|t| MagicLink::issue(&self.link_key, t.id(), now, expires_at)).collect()
    }

    /// `n` short codes, distinct, and not any stored ticket's as storage sees them now. Only the
    /// colliding codes are drawn again, so a batch does not fail for a collision however many
    /// tickets exist (at 22 million tickets, one batch of 1,000 in about 1,200 meets one).
    pub(super) async fn fresh_codes(&self, n: usize) -> Result<Vec<ShortCode>, Error> {
        let draw = || ShortCode::generate_within(&*self.rng, self.config.short_code_space);
        let mut codes: Vec<ShortCode> = (0..n).map(|_| draw()).collect();
        let mut unchecked: Vec<usize> = (0..n).collect();
        for _ in 0..CODE_ROUNDS {
            let mut seen = HashSet::with_capacity(n);
            for (i, code) in codes.iter_mut().enumerate() {
                if !seen.insert(*code) {
                    *code = draw();
                    unchecked.push(i);
                }
            }
            if unchecked.is_empty() {
                return Ok(codes);
            }
            unchecked.sort_unstable();
            unchecked.dedup();
            let asked: Vec<ShortCode> = unchecked.iter().map(|&i| codes[i]).collect();
            let taken: HashSet<ShortCode> = self.store.taken_short_codes(&asked).await?.into_iter().collect();
            unchecked.retain(|&i| taken.contains(&codes[i]));
            for &i in &unchecked {
                codes[i] = draw();
            }
        }
        Err(Error::Conflict("could not draw unique short codes".into()))
    }

    /// New tickets of `ticket_type`, one per holder, with fresh ids and the given short codes.
    pub(super) fn draw_tickets(
        &self,
        ticket_type: &TicketType,
        holders: &[Option<Holder>],
        codes: Vec<ShortCode>,
        status: TicketStatus,
        now: DateTime<Utc>,
    ) -> Result<Vec<Ticket>, Error> {
        self.draw_tickets_of(ticket_type.event_id(), ticket_type.id(), holders, codes, status, now)
    }

    /// New tickets of the type `ticket_type_id` of `event_id`, one per holder.
    pub(super) fn draw_tickets_of(
        &self,
        event_id: crate::ids::EventId,
        ticket_type_id: TicketTypeId,
        holders: &[Option<Holder>],
        codes: Vec<ShortCode>,
        status: TicketStatus,
        now: DateTime<Utc>,
    ) -> Result<Vec<Ticket>, Error> {
        holders
            .iter()
            .zip(codes)
            .map(|(holder, short_code)| {
                Ticket::new(NewTicket {
                    id: TicketId::generate(&*self.clock, &*self.rng),
                    event_id,
                    ticket_type_id,
                    short_code,
                    holder: holder.clone(),
                    status,
                    created_at: now,
                })
                .map_err(Error::from)
            })
            .collect()
    }

    /// `n` short codes drawn at random, distinct among themselves but not checked against
    /// storage: for the few tickets of an order, whose placement storage's unique index refuses
    /// (and the order is drawn again) on the rare collision, one read fewer on the buying path.
    pub(super) fn distinct_codes(&self, n: usize) -> Vec<ShortCode> {
        let mut seen = HashSet::with_capacity(n);
        let mut codes = Vec::with_capacity(n);
        while codes.len() < n {
            let code = ShortCode::generate_within(&*self.rng, self.config.short_code_space);
            if seen.insert(code) {
                codes.push(code);
            }
        }
        codes
    }

    /// A ticket by id.
    pub async fn ticket(&self, id: TicketId) -> Result<Ticket, Error> {
        self.store.ticket(id).await?.ok_or(Error::NotFound("ticket"))
    }

    /// Applies `action` (reserve, release, pay, invalidate, refund) to a ticket, retrying the
    /// compare-and-set if a concurrent change wins. Entries and exits go through the scan. A
    /// refund or an invalidation also revokes the ticket's magic links, in the same store step
    /// ([`TicketRepository::update_ticket`](crate::store::TicketRepository::update_ticket)): a
    /// dead ticket's download links stop working with it.
    pub async fn change_ticket(&self, id: TicketId, action: TicketAction) -> Result<Ticket, Error> {
        if matches!(action, TicketAction::Enter | TicketAction::Exit) {
            return Err(Error::Forbidden("entries and exits go through the scan"));
        }
        // The money of a sold ticket is recorded with its refund: through its order.
        if action == TicketAction::Refund
            && let Some(order) = self.store.ticket_order(id).await?
        {
            return Err(Error::Conflict(format!(
                "this ticket was sold in order {order}: refund it through POST /api/v1/orders/{order}/refund"
            )));
        }
        for _ in 0..self.config.max_retries {
            let ticket = self.ticket(id).await?;
            let event = self.event(ticket.event_id()).await?;
            let next = ticket.apply(action, self.clock.now(), event.time_zone())?;
            audit::writing(&next);
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
        let expires_at = link_expiry(now, ttl)?;
        // A link's token follows from its ticket and creation instant: a second link of the same
        // ticket in the same microsecond (a re-issue on a stopped clock) takes the next one.
        for step in 0..CODE_DRAWS {
            let at = now + Duration::microseconds(step as i64);
            let (token, link) = MagicLink::issue(&self.link_key, ticket.id(), at, expires_at);
            audit::writing(&link);
            match self.store.insert_magic_link(&link).await {
                Ok(()) => return Ok((token, link)),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict("could not make a fresh magic link".into()))
    }

    /// The links of an event's tickets (of one ticket, when `ticket_id` is given) that still
    /// open them at this moment, with their tokens given again, oldest first. Links made under
    /// another key are left out (see [`crate::magic_link`]).
    pub async fn live_magic_links(
        &self,
        event_id: crate::ids::EventId,
        ticket_id: Option<TicketId>,
    ) -> Result<Vec<(MagicLinkToken, MagicLink)>, Error> {
        let now = self.clock.now();
        let links = self.store.unrevoked_magic_links(event_id, ticket_id).await?;
        Ok(links
            .into_iter()
            .filter(|link| link.check(now).is_ok())
            .filter_map(|link| Some((link.token(&self.link_key)?, link)))
            .collect())
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
