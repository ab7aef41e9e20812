//! Typed identifiers. Every entity has its own id type so a ticket id can never be passed where
//! an event id is expected. Ids are UUIDv7 (time-ordered, so B-tree indexes stay compact), built
//! from an injected [`Clock`] and [`Randomness`] rather than a global source.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::env::{Clock, Randomness};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered (UUIDv7) id.
            pub fn generate(clock: &dyn Clock, rng: &dyn Randomness) -> Self {
                Self(uuid_v7(clock, rng))
            }

            /// Wraps an existing UUID (for example one read back from storage).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// The 16 raw bytes of the UUID.
            pub const fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// Identifies an [`Event`](crate::event::Event).
    EventId
);
id_type!(
    /// Identifies a [`TicketType`](crate::ticket_type::TicketType).
    TicketTypeId
);
id_type!(
    /// Identifies a [`Ticket`](crate::ticket::Ticket).
    TicketId
);
id_type!(
    /// Identifies a [`Gate`](crate::gate::Gate).
    GateId
);
id_type!(
    /// Identifies a staff user (organiser, cashier, agent, superadmin).
    UserId
);
id_type!(
    /// Identifies a [`ScanLog`](crate::scan::ScanLog) entry.
    ScanLogId
);
id_type!(
    /// Identifies an [`AuditEntry`](crate::audit::AuditEntry).
    AuditId
);
id_type!(
    /// Identifies a background [`Job`](crate::job::Job).
    JobId
);
id_type!(
    /// Identifies a ticket template; each save of it is a new [version](crate::template).
    TemplateId
);
id_type!(
    /// Identifies an [`ApiClient`](crate::credential::ApiClient) (its public name is its
    /// `client_id`).
    ApiClientId
);
id_type!(
    /// Identifies an [`Order`](crate::order::Order).
    OrderId
);
id_type!(
    /// Identifies a family of OAuth2 tokens: a sign-in and every token rotated from it.
    TokenFamilyId
);

id_type!(
    /// Identifies a [`Refund`](crate::refund::Refund).
    RefundId
);

fn uuid_v7(clock: &dyn Clock, rng: &dyn Randomness) -> Uuid {
    let millis = u64::try_from(clock.now().timestamp_millis()).unwrap_or(0);
    let mut random = [0u8; 10];
    rng.fill(&mut random);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

id_type!(
    /// Identifies an integrator's webhook [`Endpoint`](crate::hook::Endpoint).
    EndpointId
);
