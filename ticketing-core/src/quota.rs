//! Quotas and capacity: tickets of a type never exceed its quota, tickets of an event never
//! exceed its capacity. Only live tickets count ([`TicketStatus::is_live`]): a refunded or
//! invalidated ticket gives its place back.
//!
//! These are the pure checks. Storage runs them inside the same transaction (or conditional
//! update) that writes the tickets, so two concurrent sales cannot both take the last place.
//!
//! [`TicketStatus::is_live`]: crate::status::TicketStatus::is_live

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How many live tickets exist for a type and for its event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// Live tickets of the type.
    pub type_live: u32,
    /// Live tickets of the whole event.
    pub event_live: u32,
}

/// A request that would break a quota or the capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum QuotaError {
    /// The ticket type's quota would be exceeded.
    #[error("the ticket type has {remaining} of {quota} places left, {requested} requested")]
    TypeQuota {
        /// The quota.
        quota: u32,
        /// Places left.
        remaining: u32,
        /// Tickets requested.
        requested: u32,
    },
    /// The event's capacity would be exceeded.
    #[error("the event has {remaining} of {capacity} places left, {requested} requested")]
    EventCapacity {
        /// The capacity.
        capacity: u32,
        /// Places left.
        remaining: u32,
        /// Tickets requested.
        requested: u32,
    },
    /// A new quota or capacity would be below the live tickets already there.
    #[error("cannot lower the limit to {limit}: {live} live tickets already exist")]
    BelowLive {
        /// The requested limit.
        limit: u32,
        /// Live tickets now.
        live: u32,
    },
}

/// Whether `requested` more tickets fit both the type's `quota` and the event's `capacity`.
pub fn check_issue(quota: u32, capacity: u32, current: Allocation, requested: u32) -> Result<(), QuotaError> {
    let type_left = quota.saturating_sub(current.type_live);
    if requested > type_left {
        return Err(QuotaError::TypeQuota { quota, remaining: type_left, requested });
    }
    let event_left = capacity.saturating_sub(current.event_live);
    if requested > event_left {
        return Err(QuotaError::EventCapacity { capacity, remaining: event_left, requested });
    }
    Ok(())
}

/// Whether a quota or capacity may be changed to `limit` with `live` tickets already there.
pub fn check_limit(limit: u32, live: u32) -> Result<(), QuotaError> {
    if limit < live { Err(QuotaError::BelowLive { limit, live }) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_type_quota_is_checked_before_the_capacity() {
        let now = Allocation { type_live: 9, event_live: 99 };
        assert_eq!(check_issue(10, 100, now, 1), Ok(()));
        assert_eq!(check_issue(10, 100, now, 2), Err(QuotaError::TypeQuota { quota: 10, remaining: 1, requested: 2 }));
        assert_eq!(
            check_issue(20, 100, now, 2),
            Err(QuotaError::EventCapacity { capacity: 100, remaining: 1, requested: 2 })
        );
    }

    #[test]
    fn limits_cannot_drop_below_live_tickets() {
        assert_eq!(check_limit(5, 5), Ok(()));
        assert_eq!(check_limit(4, 5), Err(QuotaError::BelowLive { limit: 4, live: 5 }));
    }

    proptest! {
        #[test]
        fn accepted_requests_never_overflow(
            quota in 0u32..1000,
            capacity in 0u32..1000,
            type_used in 0u32..=100,
            event_used in 0u32..=100,
            requested in 0u32..1000,
        ) {
            // Only reachable states: live tickets within both limits, the type's within the event's.
            let type_live = quota.min(capacity) * type_used / 100;
            let event_live = type_live + (capacity - type_live) * event_used / 100;
            let current = Allocation { type_live, event_live };
            if check_issue(quota, capacity, current, requested).is_ok() {
                prop_assert!(current.type_live + requested <= quota);
                prop_assert!(current.event_live + requested <= capacity);
            } else {
                prop_assert!(current.type_live + requested > quota || current.event_live + requested > capacity);
            }
        }
    }
}
