"""Schemathesis hooks for `run.py`: every case of an operation is aimed at a fixture made for it
(path parameters, and the gate of a scan body), so generated and documented requests reach the
operation's success path instead of a 404 for an id that names nothing.
"""

import hashlib
import hmac
import json
import os
import time
import uuid

import schemathesis

FIXTURES = json.load(open(os.environ["TICKETING_FIXTURES"]))
T = FIXTURES["tickets"]

# Per operation: the value of each path parameter. Operations that change or remove a thing
# get a thing of their own, so no operation spoils another's.
PATHS = {
    "DELETE /api/v1/clients/{id}": {"id": FIXTURES["client"]},
    "DELETE /api/v1/events/{id}": {"id": FIXTURES["spare_event"]},
    "PUT /api/v1/events/{id}": {"id": FIXTURES["other_event"]},
    "POST /api/v1/events/{id}/status": {"id": FIXTURES["other_event"]},
    "PUT /api/v1/events/{id}/staff/{user_id}": {"id": FIXTURES["event"], "user_id": FIXTURES["cashier"]},
    "DELETE /api/v1/events/{id}/staff/{user_id}": {"id": FIXTURES["event"], "user_id": FIXTURES["cashier"]},
    "DELETE /api/v1/ticket-types/{id}": {"id": FIXTURES["spare_type"]},
    "PUT /api/v1/ticket-types/{id}": {"id": FIXTURES["other_type"]},
    "DELETE /api/v1/gates/{id}": {"id": FIXTURES["spare_gate"]},
    "PUT /api/v1/gates/{id}": {"id": FIXTURES["other_gate"]},
    "GET /api/v1/gates/{id}": {"id": FIXTURES["gate"]},
    "GET /api/v1/ticket-types/{id}": {"id": FIXTURES["ticket_type"]},
    "POST /api/v1/ticket-types/{id}/generations": {"id": FIXTURES["ticket_type"]},
    "POST /api/v1/ticket-types/{id}/tickets": {"id": FIXTURES["ticket_type"]},
    "GET /api/v1/tickets/{id}": {"id": T["read"]},
    "GET /api/v1/tickets/{id}/qr": {"id": T["read"]},
    "POST /api/v1/tickets/{id}/refund": {"id": T["refund"]},
    "POST /api/v1/tickets/{id}/invalidate": {"id": T["invalidate"]},
    "POST /api/v1/tickets/{id}/magic-link": {"id": T["link"]},
    "DELETE /api/v1/tickets/{id}/magic-link": {"id": T["link"]},
    "GET /api/v1/jobs/{id}": {"id": FIXTURES["queued_job"]},
    "POST /api/v1/jobs/{id}/cancel": {"id": FIXTURES["queued_job"]},
    "POST /api/v1/jobs/{id}/retry": {"id": FIXTURES["stopped_job"]},
    "GET /api/v1/users/{id}": {"id": FIXTURES["person"]},
    "PATCH /api/v1/users/{id}": {"id": FIXTURES["person"]},
    "GET /api/v1/public/orders/{token}": {"token": FIXTURES["order_token"]},
    "GET /pay/{token}": {"token": FIXTURES["order_token"]},
    "GET /orders/{token}": {"token": FIXTURES["order_token"]},
    "GET /assets/{file}": {"file": FIXTURES["asset"]},
    "POST /api/v1/orders/{id}/mark-paid": {"id": FIXTURES["mark_order"]},
    "POST /api/v1/payments/{provider}/webhook": {"provider": "generic"},
    "POST /api/v1/orders/{id}/refund": {"id": FIXTURES["refund_order"]},
    "DELETE /api/v1/events/{id}/message-templates/{kind}/{locale}": {
        "id": FIXTURES["event"],
        "kind": "refunded",
        "locale": "en",
    },
    "DELETE /api/v1/webhooks/{id}": {"id": FIXTURES["hook_delete"]},
    "POST /api/v1/webhooks/{id}/enable": {"id": FIXTURES["hook_enable"]},
}


def signed_delivery(case):
    """A generic payment delivery for the fixture order, signed as the README documents."""
    body = json.dumps({
        "id": f"evt_{uuid.uuid4().hex}",
        "type": "payment.succeeded",
        "order_id": FIXTURES["webhook_order"],
        "amount_minor": FIXTURES["webhook_amount"],
        "currency": "EUR",
        "reference": "schemathesis",
    }).encode()
    secret = os.environ["TICKETING_GENERIC_WEBHOOK_SECRETS"].split(",")[0].encode()
    t = int(time.time())
    signature = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    case.body = body
    case.headers = dict(case.headers or {}, **{"Ticketing-Signature": f"t={t},v1={signature}"})
    case.headers.pop("Stripe-Signature", None)


def our_lines(body):
    """Order lines of the fixture ticket type, as many as the generated ones (at least one)."""
    lines = body.get("lines") if isinstance(body.get("lines"), list) else []
    quantity = next((l.get("quantity") for l in lines if isinstance(l, dict) and isinstance(l.get("quantity"), int)), 1)
    body["lines"] = [{"ticket_type_id": FIXTURES["ticket_type"], "quantity": min(max(quantity, 1), 5)}]


@schemathesis.hook
def before_call(context, case, kwargs):
    label = f"{case.method.upper()} {case.path}"
    values = PATHS.get(label)
    if values is None and case.path_parameters:
        # Everything else under an event, a template, or a magic link.
        values = {"id": FIXTURES["template"] if case.path.startswith("/api/v1/templates/") else FIXTURES["event"]}
        values["token"] = FIXTURES["link_token"]
    if values and case.path_parameters:
        for name in list(case.path_parameters):
            if name in values:
                case.path_parameters[name] = values[name]
    if label == "PUT /api/v1/ticket-types/{id}" and isinstance(case.body, dict) and "name" in case.body:
        # Its own name: the create operation's example takes the documented name first or after.
        case.body["name"] = "Other"
    if label == "POST /api/v1/templates/{id}/versions" and isinstance(case.body, dict) and "name" in case.body:
        # The fixture template's own name: another template's would be a (documented) conflict.
        case.body["name"] = "Fixture"
    if label == "POST /api/v1/queue/purge" and isinstance(case.body, dict):
        # A purge of recent jobs would take the stopped job the retry operation needs.
        case.body["older_than_hours"] = max(case.body.get("older_than_hours") or 0, 24 * 365)
    if label == "POST /api/v1/payments/{provider}/webhook":
        signed_delivery(case)
    if label in ("POST /api/v1/public/events/{id}/orders", "POST /api/v1/events/{id}/sales") and isinstance(case.body, dict):
        our_lines(case.body)
    if label == "POST /events/{id}/order" and isinstance(case.body, dict):
        # The buy form: one ticket of the fixture type, for a buyer who can be sent it.
        case.body[f"qty:{FIXTURES['ticket_type']}"] = "1"
        case.body["name"] = "Form Buyer"
        case.body["email"] = "form.buyer@example.org"
    if label == "POST /api/v1/orders/{id}/refund" and isinstance(case.body, dict):
        # The whole order: generated ticket ids name no ticket of it.
        case.body.pop("ticket_ids", None)
    if label == "GET /api/v1/payments/events" and isinstance(case.query, dict) and "event_id" in case.query:
        case.query["event_id"] = FIXTURES["event"]
    if label in ("POST /api/v1/scan/request", "POST /api/v1/scan/confirm") and isinstance(case.body, dict):
        case.body["gate_id"] = FIXTURES["gate"]
        if "short_code" in case.body:
            case.body["short_code"] = FIXTURES["short_code"]
