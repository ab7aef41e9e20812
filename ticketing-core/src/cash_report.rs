//! The cash report: what staff took in on one day, per staff member and payment method, so a
//! desk's till can be counted against it. An order counts on the day (in the event's time zone)
//! its payment was taken or validated by staff: box-office sales and orders marked paid.
//! Payments through a provider are the provider's statement, not a till's.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::event::TimeZone;
use crate::ids::UserId;
use crate::money::Currency;
use crate::order::{Order, OrderStatus, PaymentMethod};

/// One staff member's takings by one method in one currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashLine {
    /// Who took the payments.
    pub staff: UserId,
    /// How they were paid.
    pub method: PaymentMethod,
    /// The currency.
    pub currency: Currency,
    /// Orders paid.
    pub orders: u64,
    /// Tickets in them.
    pub tickets: u64,
    /// Their totals added up, in minor units.
    pub total_minor: i64,
}

/// A day's takings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashReport {
    /// The day, in the event's time zone.
    pub date: NaiveDate,
    /// Per staff member, method and currency, in that order.
    pub lines: Vec<CashLine>,
    /// Every line together, per currency code.
    pub totals: BTreeMap<String, i64>,
}

impl CashReport {
    /// The takings on `date` (in `tz`) among `orders`; only `staff`'s when given.
    pub fn new(orders: &[Order], date: NaiveDate, tz: TimeZone, staff: Option<UserId>) -> Self {
        let mut lines: BTreeMap<(UserId, &'static str, String), CashLine> = BTreeMap::new();
        for order in orders {
            if !matches!(order.status(), OrderStatus::Paid | OrderStatus::PaidUnfulfilled) {
                continue;
            }
            let Some(payment) = order.payment() else { continue };
            let Some(by) = payment.staff else { continue };
            if staff.is_some_and(|s| s != by) || tz.local_date(payment.at) != date {
                continue;
            }
            let currency = order.total().currency();
            let key = (by, payment.method.as_str(), currency.code().to_owned());
            let line = lines.entry(key).or_insert(CashLine {
                staff: by,
                method: payment.method,
                currency,
                orders: 0,
                tickets: 0,
                total_minor: 0,
            });
            line.orders += 1;
            line.tickets += order.tickets();
            line.total_minor = line.total_minor.saturating_add(order.total().minor());
        }
        let mut totals: BTreeMap<String, i64> = BTreeMap::new();
        for line in lines.values() {
            let total = totals.entry(line.currency.code().to_owned()).or_default();
            *total = total.saturating_add(line.total_minor);
        }
        Self { date, lines: lines.into_values().collect(), totals }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone as _, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::ids::{EventId, OrderId, TicketTypeId};
    use crate::money::Money;
    use crate::order::{NewOrder, OrderAction, OrderLine, Payment, SaleChannel};
    use crate::secret_token::TokenHash;

    fn sale(n: u128, staff: u128, method: PaymentMethod, quantity: u32, at: chrono::DateTime<Utc>) -> Order {
        let new = NewOrder {
            id: OrderId::from_uuid(Uuid::from_u128(n)),
            event_id: EventId::from_uuid(Uuid::nil()),
            buyer: None,
            lines: vec![OrderLine {
                ticket_type_id: TicketTypeId::from_uuid(Uuid::from_u128(7)),
                quantity,
                unit_price: Money::new(4500, Currency::parse("EUR").unwrap()).unwrap(),
            }],
            token_hash: TokenHash([n as u8; 32]),
            created_at: at,
            hold_expires_at: at,
            channel: SaleChannel::BoxOffice,
        };
        let payment = Payment {
            method,
            provider: None,
            reference: None,
            staff: Some(UserId::from_uuid(Uuid::from_u128(staff))),
            at,
        };
        Order::new(new, 10).unwrap().pay(OrderAction::Pay, payment).unwrap()
    }

    #[test]
    fn takings_group_by_staff_and_method_on_the_local_day() {
        let tz = TimeZone::parse("Europe/Paris").unwrap();
        // 23:30 UTC on 30 June is 1 July in Paris.
        let evening = Utc.with_ymd_and_hms(2027, 6, 30, 23, 30, 0).unwrap();
        let orders = [
            sale(1, 1, PaymentMethod::Cash, 2, evening),
            sale(2, 1, PaymentMethod::Cash, 1, evening + Duration::hours(2)),
            sale(3, 1, PaymentMethod::Card, 1, evening),
            sale(4, 2, PaymentMethod::Cash, 3, evening),
            sale(5, 2, PaymentMethod::Cash, 1, evening - Duration::hours(2)),
        ];
        let day = NaiveDate::from_ymd_opt(2027, 7, 1).unwrap();
        let report = CashReport::new(&orders, day, tz, None);
        let lines: Vec<(u128, &str, u64, u64, i64)> = report
            .lines
            .iter()
            .map(|l| (l.staff.as_uuid().as_u128(), l.method.as_str(), l.orders, l.tickets, l.total_minor))
            .collect();
        assert_eq!(lines, [(1, "card", 1, 1, 4500), (1, "cash", 2, 3, 13_500), (2, "cash", 1, 3, 13_500)]);
        assert_eq!(report.totals["EUR"], 31_500, "the one sold on 30 June (Paris) is another day's");
        let own = CashReport::new(&orders, day, tz, Some(UserId::from_uuid(Uuid::from_u128(2))));
        assert_eq!(own.lines.len(), 1);
    }
}
