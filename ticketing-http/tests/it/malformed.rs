//! Bad input gets a typed problem, never a 500: malformed JSON, wrong types, missing and unknown
//! fields, oversized bodies, unknown ids, bad queries, wrong methods; and invariants that would
//! break are refused with nothing written.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use ticketing_core::engine::IssueRequest;
use ticketing_core::ids::TicketTypeId;
use ticketing_core::status::TicketStatus;

use crate::support::{TestServer, event_body, type_body};

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

async fn bad_input_is_refused_with_a_problem(s: &TestServer) {
    let admin = s.admin().await;
    let token = Some(admin.as_str());
    let good = event_body("Valid", 10);
    let mut without_title = good.clone();
    without_title.as_object_mut().expect("object").remove("title");
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    // (content type, body, status, code, field)
    type Case<'a> = (&'a str, Vec<u8>, StatusCode, &'a str, Option<&'a str>);
    let cases: Vec<Case> = vec![
        ("application/json", b"{\"title\":".to_vec(), StatusCode::BAD_REQUEST, "malformed_json", None),
        ("application/json", b"not json at all".to_vec(), StatusCode::BAD_REQUEST, "malformed_json", None),
        ("application/json", deep.into_bytes(), StatusCode::BAD_REQUEST, "malformed_json", None),
        ("application/json", Vec::new(), StatusCode::BAD_REQUEST, "malformed_json", None),
        (
            "text/plain",
            serde_json::to_vec(&good).expect("json"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            None,
        ),
        ("application/json", b"[1, 2]".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", Some("body")),
        (
            "application/json",
            serde_json::to_vec(&with(good.clone(), "capacity", json!("many"))).expect("json"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("capacity"),
        ),
        (
            "application/json",
            serde_json::to_vec(&with(good.clone(), "capacity", json!(1e20))).expect("json"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("capacity"),
        ),
        (
            "application/json",
            serde_json::to_vec(&with(good.clone(), "capacity", json!(-1))).expect("json"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("capacity"),
        ),
        (
            "application/json",
            serde_json::to_vec(&with(good.clone(), "capacity", json!(0))).expect("json"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("capacity"),
        ),
        (
            "application/json",
            serde_json::to_vec(&with(good.clone(), "starts_at", json!("tomorrow"))).expect("json"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("starts_at"),
        ),
        (
            "application/json",
            serde_json::to_vec(&with(good.clone(), "ends_at", good["starts_at"].clone())).expect("json"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("ends_at"),
        ),
        (
            "application/json",
            serde_json::to_vec(&with(good.clone(), "time_zone", json!("Mars/Olympus"))).expect("json"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("time_zone"),
        ),
        (
            "application/json",
            serde_json::to_vec(&with(good.clone(), "title", json!("x".repeat(201)))).expect("json"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("title"),
        ),
        (
            "application/json",
            serde_json::to_vec(&with(good.clone(), "title", json!("two\nlines"))).expect("json"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("title"),
        ),
        (
            "application/json",
            serde_json::to_vec(&with(good.clone(), "payment_url", json!("javascript:alert(1)"))).expect("json"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("payment_url"),
        ),
        (
            "application/json",
            serde_json::to_vec(&with(good.clone(), "surprise", json!(true))).expect("json"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("surprise"),
        ),
        (
            "application/json",
            serde_json::to_vec(&without_title).expect("json"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("title"),
        ),
        // One byte over the 1 MiB limit: the server reads the whole body before it refuses it, so
        // its answer is never lost to a reset of a connection with unread bytes (a larger body
        // raced the client's writing against the server's close).
        ("application/json", vec![b' '; (1 << 20) + 1], StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None),
    ];
    for (content_type, body, status, code, field) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        let answer = s.raw(Method::POST, "/api/v1/events", token, Some((content_type, body))).await;
        assert_eq!((answer.status, answer.code()), (status, code), "{shown}: {}", answer.text);
        assert_eq!(answer.json["field"].as_str(), field, "{shown}: {}", answer.text);
        assert_eq!(answer.headers["content-type"], "application/problem+json");
        assert_eq!(answer.json["status"], status.as_u16());
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            assert_eq!(answer.headers["connection"], "close", "the unread body ends the connection");
        }
    }
    let listed = s.call(Method::GET, "/api/v1/events", token, None).await;
    assert_eq!(listed.json["items"], json!([]), "nothing was written by any refusal");

    // Unknown and malformed ids, queries and methods.
    let event = s.call(Method::POST, "/api/v1/events", token, Some(good.clone())).await;
    let event = event.json["id"].as_str().expect("id").to_owned();
    let nil = "00000000-0000-0000-0000-000000000000";
    let lookups = [
        (Method::GET, format!("/api/v1/events/{nil}"), StatusCode::NOT_FOUND, "not_found"),
        (Method::GET, "/api/v1/events/not-a-uuid".to_owned(), StatusCode::NOT_FOUND, "not_found"),
        (Method::GET, format!("/api/v1/ticket-types/{nil}"), StatusCode::NOT_FOUND, "not_found"),
        (Method::DELETE, format!("/api/v1/gates/{nil}"), StatusCode::NOT_FOUND, "not_found"),
        (Method::GET, format!("/api/v1/public/events/{event}"), StatusCode::NOT_FOUND, "not_found"),
        (Method::GET, "/api/v1/events?per_page=0".to_owned(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (Method::GET, "/api/v1/events?page=0".to_owned(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (
            Method::GET,
            "/api/v1/public/events?from=yesterday".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            Method::GET,
            "/api/v1/public/events?status=draft".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            Method::GET,
            "/api/v1/public/events?page=4294967295&per_page=100".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (Method::GET, "/api/v1/nothing-here".to_owned(), StatusCode::NOT_FOUND, "route_not_found"),
        (Method::PATCH, "/api/v1/events".to_owned(), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
    ];
    for (method, path, status, code) in lookups {
        let answer = s.call(method.clone(), &path, token, None).await;
        assert_eq!((answer.status, answer.code()), (status, code), "{method} {path}: {}", answer.text);
    }
    let bad_token = s.call(Method::GET, "/api/v1/me", Some("garbage"), None).await;
    assert_eq!((bad_token.status, bad_token.code()), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let gate_with_stranger = s
        .call(
            Method::POST,
            &format!("/api/v1/events/{event}/gates"),
            token,
            Some(json!({"name": "North", "agents": [nil]})),
        )
        .await;
    assert_eq!(
        (gate_with_stranger.status, gate_with_stranger.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("agents[0]"))
    );
    let type_with_stranger_gate = s
        .call(
            Method::POST,
            &format!("/api/v1/events/{event}/ticket-types"),
            token,
            Some(with(type_body("A", 5), "gates", json!([nil]))),
        )
        .await;
    assert_eq!(
        (type_with_stranger_gate.status, type_with_stranger_gate.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("gates")),
        "{}",
        type_with_stranger_gate.text
    );
    let bad_currency = s
        .call(
            Method::POST,
            &format!("/api/v1/events/{event}/ticket-types"),
            token,
            Some(with(type_body("A", 5), "currency", json!("XYZ"))),
        )
        .await;
    assert_eq!(bad_currency.json["field"], "currency", "{}", bad_currency.text);
    let bad_status =
        s.call(Method::POST, &format!("/api/v1/events/{event}/status"), token, Some(json!({"status": "open"}))).await;
    assert_eq!(
        (bad_status.status, bad_status.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("status"))
    );
    let backwards =
        s.call(Method::POST, &format!("/api/v1/events/{event}/status"), token, Some(json!({"status": "ended"}))).await;
    assert_eq!((backwards.status, backwards.code()), (StatusCode::CONFLICT, "invalid_transition"));
    let short = s
        .call(
            Method::POST,
            "/api/v1/users",
            token,
            Some(json!({"email": "a@example.org", "name": "A", "role": "agent", "password": "short"})),
        )
        .await;
    assert_eq!(short.json["field"], "password");
    let role = s
        .call(
            Method::POST,
            "/api/v1/users",
            token,
            Some(json!({"email": "a@example.org", "name": "A", "role": "root", "password": "long enough password"})),
        )
        .await;
    assert_eq!(role.json["field"], "role");
    // A taken email: the store's refusal, told in our words, never the database's (whose text
    // names its constraints and differs between SQLite and Postgres).
    let user = |email: &str| json!({"email": email, "name": "A", "role": "agent", "password": "long enough password"});
    s.call(Method::POST, "/api/v1/users", token, Some(user("twin@example.org"))).await.ok(StatusCode::CREATED);
    let twin = s.call(Method::POST, "/api/v1/users", token, Some(user("TWIN@example.org"))).await;
    assert_eq!(twin.status, StatusCode::CONFLICT, "{}", twin.text);
    assert_eq!(twin.json["detail"], ticketing_core::user::EMAIL_TAKEN, "{}", twin.text);

    // Generation jobs with bad holder lists or template choices: refused, naming the field (and
    // the line of a CSV list), and no job is queued.
    let t =
        s.call(Method::POST, &format!("/api/v1/events/{event}/ticket-types"), token, Some(type_body("Bulk", 50))).await;
    let bulk = t.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let generations: [(Value, &str, &str); 7] = [
        (json!({"count": 2, "holders_csv": "name,email\n"}), "holders_csv", "no holder"),
        (json!({"count": 2, "holders_csv": "email\na@example.org\nb@example.org"}), "holders_csv", "line 1"),
        (
            json!({"count": 2, "holders_csv": "name,email\nAda,ada@example.org\n,b@example.org"}),
            "holders_csv",
            "line 3",
        ),
        (json!({"count": 1, "holders": [{"name": "A"}], "holders_csv": "name\nB"}), "holders_csv", "not both"),
        (json!({"count": 3, "holders": [{"name": "A"}, {"name": "B"}]}), "count", "must be 2"),
        (
            json!({"count": 2, "holders": [{"name": "A"}, {"name": "B", "email": "not-an-address"}]}),
            "holders[1].email",
            "",
        ),
        (json!({"count": 1, "template_version": 1}), "template_version", "template_id"),
    ];
    for (body, field, detail) in generations {
        let answer =
            s.call(Method::POST, &format!("/api/v1/ticket-types/{bulk}/generations"), token, Some(body.clone())).await;
        assert_eq!(
            (answer.status, answer.json["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}: {}",
            answer.text
        );
        assert!(answer.json["detail"].as_str().expect("detail").contains(detail), "{body}: {}", answer.text);
    }
    let purge = s.call(Method::POST, "/api/v1/queue/purge", token, Some(json!({"older_than_hours": u32::MAX}))).await;
    assert_eq!(
        (purge.status, purge.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("older_than_hours"))
    );
    let forever = s
        .call(
            Method::POST,
            &format!("/api/v1/ticket-types/{bulk}/tickets"),
            token,
            Some(json!({"link_valid_days": u32::MAX})),
        )
        .await;
    assert_eq!(
        (forever.status, forever.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("link_valid_days"))
    );
    let unknown_template = s
        .call(
            Method::POST,
            &format!("/api/v1/ticket-types/{bulk}/generations"),
            token,
            Some(json!({"count": 1, "template_id": nil})),
        )
        .await;
    assert_eq!(unknown_template.status, StatusCode::NOT_FOUND);
    let jobs = s.call(Method::GET, &format!("/api/v1/jobs?event_id={event}"), token, None).await;
    assert_eq!(jobs.ok(StatusCode::OK).as_array().map(Vec::len), Some(0), "no job was queued: {}", jobs.text);
}

crate::on_both_backends!(bad_input, &[("TICKETING_RATE_BATCH", "1000")], bad_input_is_refused_with_a_problem);

async fn invariants_that_would_break_are_refused(s: &TestServer) {
    let admin = s.admin().await;
    let token = Some(admin.as_str());
    let event = s.call(Method::POST, "/api/v1/events", token, Some(event_body("Sold", 100))).await.json;
    let id = event["id"].as_str().expect("id");
    let t = s
        .call(Method::POST, &format!("/api/v1/events/{id}/ticket-types"), token, Some(type_body("Standard", 50)))
        .await
        .json;
    let type_id = t["id"].as_str().expect("id");
    let twin = s
        .call(Method::POST, &format!("/api/v1/events/{id}/ticket-types"), token, Some(type_body(" STANDARD ", 5)))
        .await;
    assert_eq!((twin.status, twin.code()), (StatusCode::CONFLICT, "duplicate_name"));

    // Sell 30 (ticket endpoints come with the next issue; the engine is the same).
    let request = IssueRequest {
        ticket_type_id: TicketTypeId::from_uuid(type_id.parse().expect("uuid")),
        count: 30,
        holders: vec![],
        status: TicketStatus::Paid,
    };
    s.state.engine().issue_tickets(&request).await.expect("30 tickets");

    let quota =
        s.call(Method::PUT, &format!("/api/v1/ticket-types/{type_id}"), token, Some(type_body("Standard", 29))).await;
    assert_eq!((quota.status, quota.code()), (StatusCode::CONFLICT, "below_issued"), "{}", quota.text);
    let capacity = s.call(Method::PUT, &format!("/api/v1/events/{id}"), token, Some(event_body("Sold", 29))).await;
    assert_eq!((capacity.status, capacity.code()), (StatusCode::CONFLICT, "below_issued"), "{}", capacity.text);
    let deleted = s.call(Method::DELETE, &format!("/api/v1/ticket-types/{type_id}"), token, None).await;
    assert_eq!(deleted.status, StatusCode::CONFLICT);
    let deleted = s.call(Method::DELETE, &format!("/api/v1/events/{id}"), token, None).await;
    assert_eq!(deleted.status, StatusCode::CONFLICT);
    let kept = s.call(Method::GET, &format!("/api/v1/ticket-types/{type_id}"), token, None).await;
    assert_eq!(kept.json["quota"], 50, "nothing changed");
    let at_the_line =
        s.call(Method::PUT, &format!("/api/v1/ticket-types/{type_id}"), token, Some(type_body("Standard", 30))).await;
    assert_eq!(at_the_line.status, StatusCode::OK, "{}", at_the_line.text);

    // The public page counts what is left.
    s.call(Method::POST, &format!("/api/v1/events/{id}/status"), token, Some(json!({"status": "published"}))).await;
    let public = s.call(Method::GET, &format!("/api/v1/public/events/{id}"), None, None).await;
    assert_eq!(public.status, StatusCode::OK, "{}", public.text);
    assert_eq!(
        (public.json["remaining_capacity"].as_u64(), public.json["ticket_types"][0]["remaining"].as_u64()),
        (Some(70), Some(0))
    );

    // A gate that a type enters by stays until the type lets go of it.
    let gate = s
        .call(Method::POST, &format!("/api/v1/events/{id}/gates"), token, Some(json!({"name": "VIP door"})))
        .await
        .json;
    let gate_id = gate["id"].as_str().expect("id");
    let vip = s
        .call(
            Method::POST,
            &format!("/api/v1/events/{id}/ticket-types"),
            token,
            Some(with(type_body("VIP", 5), "gates", json!([gate_id]))),
        )
        .await;
    assert_eq!(vip.status, StatusCode::CREATED, "{}", vip.text);
    let held = s.call(Method::DELETE, &format!("/api/v1/gates/{gate_id}"), token, None).await;
    assert_eq!((held.status, held.code()), (StatusCode::CONFLICT, "conflict"));
}

crate::on_both_backends!(invariants, &[], invariants_that_would_break_are_refused);

/// Each field of a body, given a bad value, is named by its exact path: the type's fields
/// (`currency`, not `price_minor`, for an unknown currency), and a holder in a list by its place
/// (`holders[1].email`) whether tickets are issued now or by a generation job.
async fn every_bad_field_is_named_by_its_path(s: &TestServer) {
    let admin = s.admin().await;
    let token = Some(admin.as_str());
    let event = s.call(Method::POST, "/api/v1/events", token, Some(event_body("Paths", 100))).await;
    let event = event.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let good = type_body("Paths", 10);
    let types: [(&str, Value); 6] = [
        ("name", json!("")),
        ("price_minor", json!(-1)),
        ("currency", json!("XYZ")),
        ("currency", json!(7)),
        ("quota", json!("many")),
        ("usage_limit", json!(-2)),
    ];
    for (field, value) in types {
        let body = with(good.clone(), field, value);
        let answer =
            s.call(Method::POST, &format!("/api/v1/events/{event}/ticket-types"), token, Some(body.clone())).await;
        assert_eq!(
            (answer.status, answer.json["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}: {}",
            answer.text
        );
    }
    let t = s.call(Method::POST, &format!("/api/v1/events/{event}/ticket-types"), token, Some(good)).await;
    let ticket_type = t.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let fine = json!({"name": "Ana", "email": "ana@example.org", "phone": "+33612345678"});
    for (field, value) in [("name", json!("")), ("email", json!("not-an-address")), ("phone", json!("call me"))] {
        let mut bad = fine.clone();
        bad[field] = value;
        let holders = json!([fine, bad, fine]);
        for (path, body) in
            [("tickets", json!({"holders": holders})), ("generations", json!({"count": 3, "holders": holders}))]
        {
            let answer =
                s.call(Method::POST, &format!("/api/v1/ticket-types/{ticket_type}/{path}"), token, Some(body)).await;
            let expected = format!("holders[1].{field}");
            assert_eq!(
                (answer.status, answer.json["field"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some(expected.as_str())),
                "{path}: {}",
                answer.text
            );
        }
    }
    let none = s.call(Method::GET, &format!("/api/v1/events/{event}/tickets"), token, None).await;
    assert_eq!(none.json.as_array().map(Vec::len), Some(0), "nothing was written: {}", none.text);
}

crate::on_both_backends!(field_paths, &[], every_bad_field_is_named_by_its_path);
