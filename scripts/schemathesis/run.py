#!/usr/bin/env python3
"""Schemathesis against a running, freshly started ticketing server, as CI runs it.

The server must have been started with `TICKETING_WORKERS=0` (jobs stay queued, so a job can be
cancelled) and with the superadmin password of the token example in the OpenAPI document
(`the password printed at the first start`), so that the documented example signs in.

1. Fixtures are made through the API as a superadmin: an event with a ticket type, a gate and
   tickets (one per operation that changes a ticket, so no operation spoils another's), a second
   event to delete, a template, jobs, users and an API client. Their ids go to a JSON file.
2. `st run` tests every operation with the checks `not_a_server_error`,
   `status_code_conformance`, `content_type_conformance` and `response_schema_conformance`
   (positive mode: valid input per the document; the examples, coverage and fuzzing phases),
   bounded in examples and time. `hooks.py` puts the fixtures' ids into path parameters and
   bodies, so every operation can reach its success path.
3. The events Schemathesis reports (NDJSON) are tallied per operation: the statuses each got.
   The run fails when Schemathesis found a failure, or when an operation of the document never
   answered its success (2xx, or the 303 of the payment button).

Usage: run.py BASE_URL OUT_DIR
"""

import collections
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

PASSWORD = "the password printed at the first start"
ADMIN = "admin@ticketing.local"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def stylesheet(base):
    """The stylesheet's fingerprinted file name, as the event list links it."""
    with urllib.request.urlopen(f"{base}/events") as answer:
        page = answer.read().decode().replace("&#x2f;", "/")
    start = page.index("/assets/site.") + len("/assets/")
    return page[start:page.index('"', start)]


def call(base, method, path, token=None, body=None, form=None):
    """One request; the decoded JSON answer (or None), and the status."""
    headers = {}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    if form is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            status = response.status
    except urllib.error.HTTPError as e:
        raise SystemExit(f"fixture {method} {path} answered {e.code}: {e.read()[:500]!r}") from e
    return (json.loads(text) if text else None), status


def fixtures(base):
    """Everything the operations need, made through the API."""
    token = call(base, "POST", "/oauth/token", form={"grant_type": "password", "username": ADMIN, "password": PASSWORD})[0]
    admin = token["access_token"]
    post = lambda path, body=None: call(base, "POST", path, admin, body if body is not None else {})[0]  # noqa: E731
    put = lambda path, body: call(base, "PUT", path, admin, body)[0]  # noqa: E731

    def event(title, publish):
        body = {
            "title": title,
            "starts_at": "2026-01-01T00:00:00Z",
            "ends_at": "2099-01-01T00:00:00Z",
            "time_zone": "Europe/Paris",
            "location": "Lyon",
            "capacity": 100000,
            "allow_reentry": True,
            "payment_url": "https://pay.example.test/checkout?ref={order_id}&email={email}&back={return_url}",
        }
        made = post("/api/v1/events", body)
        if publish:
            post(f"/api/v1/events/{made['id']}/status", {"status": "published"})
        return made["id"]

    main = event("Schemathesis", True)
    spare = event("To delete", False)
    other = event("To change", False)
    kind = {"name": "Pass", "price_minor": 1000, "currency": "EUR", "quota": 50000, "usage_limit": 1000}
    ticket_type = post(f"/api/v1/events/{main}/ticket-types", kind)["id"]
    spare_type = post(f"/api/v1/events/{main}/ticket-types", dict(kind, name="Spare"))["id"]
    other_type = post(f"/api/v1/events/{main}/ticket-types", dict(kind, name="Other"))["id"]
    gate = post(f"/api/v1/events/{main}/gates", {"name": "Main"})["id"]
    spare_gate = post(f"/api/v1/events/{main}/gates", {"name": "Spare"})["id"]
    other_gate = post(f"/api/v1/events/{main}/gates", {"name": "Other"})["id"]

    def ticket():
        return post(f"/api/v1/ticket-types/{ticket_type}/tickets", {"status": "paid"})[0]

    tickets = {name: ticket() for name in ["read", "refund", "invalidate", "link", "page"]}
    cashier = post("/api/v1/users", {"email": "cashier@example.org", "name": "Cashier", "role": "cashier", "password": "a long passphrase"})["id"]
    person = post("/api/v1/users", {"email": "person@example.org", "name": "Person", "role": "agent", "password": "a long passphrase"})["id"]
    put(f"/api/v1/events/{main}/staff/{cashier}", {"duty": "cashier"})
    client = post("/api/v1/clients", {"name": "Till"})["id"]
    doc = json.load(open(os.path.join(os.path.dirname(__file__), "..", "..", "ticketing-pdf", "templates", "default.json")))
    # Under another name than the document's example, which the create operation then uses.
    template = post(f"/api/v1/events/{main}/templates", dict(doc, name="Fixture"))["id"]
    buyer = {"name": "Zoé Lefèvre", "email": "zoe@example.org"}
    order = lambda: post(f"/api/v1/public/events/{main}/orders", {"lines": [{"ticket_type_id": ticket_type, "quantity": 1}], "buyer": buyer})  # noqa: E731
    orders = {name: order() for name in ["page", "mark", "webhook"]}
    sale = post(f"/api/v1/events/{main}/sales", {"lines": [{"ticket_type_id": ticket_type, "quantity": 2}], "method": "cash"})
    queued = post(f"/api/v1/ticket-types/{ticket_type}/generations", {"count": 10})["id"]
    stopped = post(f"/api/v1/ticket-types/{ticket_type}/generations", {"count": 10})["id"]
    post(f"/api/v1/jobs/{stopped}/cancel")
    # The event's own `refunded` message in English, to drop; two webhook endpoints, to delete
    # and to enable (their deliveries fail for want of DNS here, which only retries them).
    post(f"/api/v1/events/{main}/message-templates", {
        "kind": "refunded", "locale": "en", "subject": "Refunded: {{ event.title }}",
        "text": "{{ name }}: {{ order.total }} back, {{ order.url }}", "html": "<p>{{ order.total }}</p>", "sms": "Refunded",
    })
    hook = lambda: post(f"/api/v1/events/{main}/webhooks", {"url": "https://hooks.example.org/in", "events": ["ticket.scanned"]})["endpoint"]["id"]  # noqa: E731
    hooks = {name: hook() for name in ["delete", "enable"]}
    return {
        "token": admin,
        "event": main,
        "spare_event": spare,
        "other_event": other,
        "ticket_type": ticket_type,
        "spare_type": spare_type,
        "other_type": other_type,
        "gate": gate,
        "spare_gate": spare_gate,
        "other_gate": other_gate,
        "tickets": {name: t["id"] for name, t in tickets.items()},
        "short_code": tickets["read"]["short_code"],
        "link_token": tickets["page"]["magic_link"]["token"],
        "cashier": cashier,
        "person": person,
        "client": client,
        "template": template,
        "queued_job": queued,
        "stopped_job": stopped,
        "order_token": orders["page"]["order_token"],
        "mark_order": orders["mark"]["order"]["id"],
        "webhook_order": orders["webhook"]["order"]["id"],
        "webhook_amount": orders["webhook"]["order"]["total_minor"],
        "refund_order": sale["order"]["id"],
        "asset": stylesheet(base),
        "hook_delete": hooks["delete"],
        "hook_enable": hooks["enable"],
    }


def tally(ndjson):
    """Per operation ("GET /path/{id}"), how many answers of each status."""
    counts = collections.defaultdict(collections.Counter)
    with open(ndjson) as lines:
        for line in lines:
            finished = json.loads(line).get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished["recorder"]
            for case_id, interaction in recorder.get("interactions", {}).items():
                case = recorder["cases"][case_id]["value"]
                status = (interaction.get("response") or {}).get("status_code")
                counts[f'{case["method"].upper()} {case["path"]}'][status] += 1
    return counts


def main():
    base, out = sys.argv[1].rstrip("/"), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    made = fixtures(base)
    fixture_file = os.path.join(out, "fixtures.json")
    with open(fixture_file, "w") as f:
        json.dump(made, f)
    document = json.load(urllib.request.urlopen(base + "/openapi.json"))
    operations = [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    ]
    ndjson = os.path.join(out, "events.ndjson")
    env = dict(os.environ, SCHEMATHESIS_HOOKS=os.path.join(os.path.dirname(os.path.abspath(__file__)), "hooks.py"), TICKETING_FIXTURES=fixture_file)
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", base + "/openapi.json",
        "--checks", CHECKS,
        "--mode", "positive",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"),
        "--request-timeout", "30",
        "--workers", "2",
        "--report-ndjson-path", ndjson,
        "-H", f"Authorization: Bearer {made['token']}",
    ]
    shown = ["st"] + command[4:]
    print("$", " ".join(c if "Bearer" not in c else "'Authorization: Bearer <token>'" for c in shown), flush=True)
    # Schemathesis keeps a cache in its working directory: the report folder, not the clone.
    run = subprocess.run(command, env=env, cwd=out)
    if not os.path.exists(ndjson):
        sys.exit(f"schemathesis exited {run.returncode} without a report")
    counts = tally(ndjson)
    print("\nper operation: answers by status")
    missing = []
    # Schemathesis does not call the document's own address; this script fetched it (200).
    counts["GET /openapi.json"][200] += 1
    for operation in operations:
        statuses = counts.get(operation, collections.Counter())
        ok = sum(n for s, n in statuses.items() if s is not None and (200 <= s < 300 or s == 303))
        shown = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items(), key=lambda x: (x[0] is None, x[0] or 0)))
        print(f"  {'ok ' if ok else 'NO '} {operation:60} {shown}")
        if not ok:
            missing.append(operation)
    if missing:
        print(f"\n{len(missing)} operations never answered their success: {', '.join(missing)}")
    print(f"\nschemathesis exited {run.returncode}; {len(operations) - len(missing)} of {len(operations)} operations reached their success (2xx, 303)")
    sys.exit(1 if run.returncode != 0 or missing else 0)


if __name__ == "__main__":
    main()
