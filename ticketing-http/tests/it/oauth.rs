//! OAuth2: the three grants, §5.2 errors, rotation with replay detection, revocation (RFC
//! 7009), expiry, deactivation and the token endpoint's rate limit.

use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::Full;
use serde_json::json;

use ticketing_core::env::OsRandomness;
use ticketing_core::secret_token::SecretToken;

use crate::support::{ADMIN, ADMIN_PASSWORD, PASSWORD, TestServer};

async fn grants_errors_rotation_and_revocation(s: &TestServer) {
    // Password grant, and its refusals (§5.2), none of them telling which part was wrong.
    let signed_in = s.sign_in(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
    assert_eq!(signed_in.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        (signed_in.json["token_type"].as_str(), signed_in.json["expires_in"].as_i64()),
        (Some("Bearer"), Some(900))
    );
    assert_eq!(signed_in.json["scope"], "superadmin");
    let admin = signed_in.json["access_token"].as_str().expect("token").to_owned();
    for (username, password) in [(ADMIN, "wrong password!"), ("nobody@example.org", ADMIN_PASSWORD)] {
        let refused = s.sign_in(username, password).await;
        assert_eq!((refused.status, refused.json["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    }
    let cases = [
        (vec![("grant_type", "authorization_code")], "unsupported_grant_type"),
        (vec![("username", ADMIN)], "invalid_request"),
        (vec![("grant_type", "password"), ("username", ADMIN)], "invalid_request"),
        (vec![("grant_type", "refresh_token")], "invalid_request"),
        (vec![("grant_type", "refresh_token"), ("refresh_token", "not-a-token")], "invalid_grant"),
    ];
    for (form, error) in cases {
        let refused = s.form("/oauth/token", &form).await;
        assert_eq!(
            (refused.status, refused.json["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(error)),
            "{form:?}"
        );
        assert!(refused.json["error_description"].is_string());
    }
    let json_body = s.call(Method::POST, "/oauth/token", None, Some(json!({"grant_type": "password"}))).await;
    assert_eq!(json_body.json["error"], "invalid_request", "the token endpoint takes a form");

    // Refresh rotates; a replay of the spent token revokes the whole sign-in.
    let first = signed_in.json["refresh_token"].as_str().expect("refresh").to_owned();
    let rotated = s.form("/oauth/token", &[("grant_type", "refresh_token"), ("refresh_token", &first)]).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let (access2, refresh2) = (
        rotated.json["access_token"].as_str().expect("a").to_owned(),
        rotated.json["refresh_token"].as_str().expect("r").to_owned(),
    );
    assert_eq!(s.call(Method::GET, "/api/v1/me", Some(&access2), None).await.status, StatusCode::OK);
    let replay = s.form("/oauth/token", &[("grant_type", "refresh_token"), ("refresh_token", &first)]).await;
    assert_eq!(replay.json["error"], "invalid_grant");
    for token in [&admin, &access2] {
        let me = s.call(Method::GET, "/api/v1/me", Some(token), None).await;
        assert_eq!((me.status, me.code()), (StatusCode::UNAUTHORIZED, "unauthorized"), "the family is revoked");
        assert!(me.headers.contains_key(header::WWW_AUTHENTICATE));
    }
    let after = s.form("/oauth/token", &[("grant_type", "refresh_token"), ("refresh_token", &refresh2)]).await;
    assert_eq!(after.json["error"], "invalid_grant", "the newest refresh token went with the family");

    // Revocation: an access token alone; unknown tokens answer 200 too.
    let admin = s.admin().await;
    let other = s.admin().await;
    assert_eq!(s.form("/oauth/revoke", &[("token", &admin)]).await.status, StatusCode::OK);
    assert_eq!(s.call(Method::GET, "/api/v1/me", Some(&admin), None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.call(Method::GET, "/api/v1/me", Some(&other), None).await.status,
        StatusCode::OK,
        "another sign-in stays"
    );
    assert_eq!(s.form("/oauth/revoke", &[("token", "whatever")]).await.status, StatusCode::OK);
    assert_eq!(s.form("/oauth/revoke", &[("token_type_hint", "access_token")]).await.json["error"], "invalid_request");

    // Client credentials, in Basic or in the form; a wrong secret is invalid_client (401).
    let client = s.call(Method::POST, "/api/v1/clients", Some(&other), Some(json!({"name": "Box office"}))).await;
    assert_eq!(client.status, StatusCode::CREATED, "{}", client.text);
    let (id, secret) = (
        client.json["client_id"].as_str().expect("id").to_owned(),
        client.json["client_secret"].as_str().expect("s").to_owned(),
    );
    let listed = s.call(Method::GET, "/api/v1/clients", Some(&other), None).await;
    assert!(!listed.text.contains(&secret), "the secret is shown once");
    let in_form = s
        .form("/oauth/token", &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret)])
        .await;
    assert_eq!(in_form.status, StatusCode::OK, "{}", in_form.text);
    assert!(in_form.json.get("refresh_token").is_none(), "no refresh token for a client");
    let basic = |secret: &str| {
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        Request::builder()
            .method(Method::POST)
            .uri(format!("http://{}/oauth/token", s.addr))
            .header(header::AUTHORIZATION, format!("Basic {credentials}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(axum::body::Bytes::from_static(b"grant_type=client_credentials")))
            .expect("request")
    };
    let token = s.send(basic(&secret)).await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    let client_token = token.json["access_token"].as_str().expect("token").to_owned();
    let me = s.call(Method::GET, "/api/v1/me", Some(&client_token), None).await;
    assert_eq!(me.json["email"], ADMIN, "a client acts for its owner");
    let other_secret = SecretToken::<32>::generate(&OsRandomness).as_text();
    let wrong = s.send(basic(&other_secret)).await;
    assert_eq!((wrong.status, wrong.json["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    assert!(wrong.headers[header::WWW_AUTHENTICATE].to_str().expect("ascii").starts_with("Basic"));
    let in_form = s
        .form(
            "/oauth/token",
            &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &other_secret)],
        )
        .await;
    assert_eq!(
        (in_form.status, in_form.json["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_client")),
        "400 without Basic"
    );
    let nul = s
        .form(
            "/oauth/token",
            &[("grant_type", "client_credentials"), ("client_id", "a\0b"), ("client_secret", &secret)],
        )
        .await;
    assert_eq!(nul.json["error"], "invalid_client", "{}", nul.text);
    let nul = s.sign_in("admin\0@example.org", ADMIN_PASSWORD).await;
    assert_eq!(nul.json["error"], "invalid_grant", "{}", nul.text);

    // A client cannot manage clients: a narrowed client of a superadmin cannot widen itself.
    let narrowed = s
        .call(Method::POST, "/api/v1/clients", Some(&other), Some(json!({"name": "Narrow", "role": "organizer"})))
        .await;
    assert_eq!(narrowed.status, StatusCode::CREATED, "{}", narrowed.text);
    let narrow_token = s
        .form(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", narrowed.json["client_id"].as_str().expect("id")),
                ("client_secret", narrowed.json["client_secret"].as_str().expect("secret")),
            ],
        )
        .await;
    assert_eq!(narrow_token.json["scope"], "organizer");
    let narrow = narrow_token.json["access_token"].as_str().expect("token").to_owned();
    for (method, path) in [(Method::POST, "/api/v1/clients"), (Method::GET, "/api/v1/clients")] {
        let body = (method == Method::POST).then(|| json!({"name": "Wider"}));
        let refused = s.call(method.clone(), path, Some(&narrow), body).await;
        assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "forbidden"), "{method} {path}");
    }
    let users = s.call(Method::GET, "/api/v1/users", Some(&narrow), None).await;
    assert_eq!(users.status, StatusCode::FORBIDDEN, "it acts as an organizer, not as its owner's role");
    let organizer = s.user(&other, "org@example.org", "organizer").await;
    let org_token = s.token("org@example.org", PASSWORD).await;
    let wider = s
        .call(Method::POST, "/api/v1/clients", Some(&org_token), Some(json!({"name": "Wide", "role": "superadmin"})))
        .await;
    assert_eq!((wider.status, wider.json["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("role")));
    let for_other =
        s.call(Method::POST, "/api/v1/clients", Some(&org_token), Some(json!({"name": "x", "owner": organizer}))).await;
    assert_eq!(for_other.json["field"], "owner", "only a superadmin names an owner");

    // Revoking the client ends its tokens.
    let client_uuid = client.json["id"].as_str().expect("uuid");
    let revoked = s.call(Method::DELETE, &format!("/api/v1/clients/{client_uuid}"), Some(&other), None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(s.call(Method::GET, "/api/v1/me", Some(&client_token), None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(s.send(basic(&secret)).await.json["error"], "invalid_client");

    // Deactivating a user signs them out and keeps them out.
    let agent = s.user(&other, "agent@example.org", "agent").await;
    let agent_token = s.token("agent@example.org", PASSWORD).await;
    let off =
        s.call(Method::PATCH, &format!("/api/v1/users/{agent}"), Some(&other), Some(json!({"active": false}))).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text);
    assert_eq!(s.call(Method::GET, "/api/v1/me", Some(&agent_token), None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(s.sign_in("agent@example.org", PASSWORD).await.json["error"], "invalid_grant");

    // The last superadmin cannot demote themselves.
    let me = s.call(Method::GET, "/api/v1/me", Some(&other), None).await;
    let admin_id = me.json["id"].as_str().expect("id");
    let demote =
        s.call(Method::PATCH, &format!("/api/v1/users/{admin_id}"), Some(&other), Some(json!({"role": "agent"}))).await;
    assert_eq!((demote.status, demote.code()), (StatusCode::CONFLICT, "conflict"));
}

crate::on_both_backends!(grants, &[], grants_errors_rotation_and_revocation);

async fn tokens_expire(s: &TestServer) {
    let token = s.admin().await;
    assert_eq!(s.call(Method::GET, "/api/v1/me", Some(&token), None).await.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let expired = s.call(Method::GET, "/api/v1/me", Some(&token), None).await;
    assert_eq!((expired.status, expired.code()), (StatusCode::UNAUTHORIZED, "unauthorized"));
}

crate::on_both_backends!(expiry, &[("TICKETING_ACCESS_TOKEN_TTL_SECS", "1")], tokens_expire);

async fn the_token_endpoint_is_rate_limited(s: &TestServer) {
    for _ in 0..3 {
        assert_ne!(s.sign_in(ADMIN, "a wrong password").await.status, StatusCode::TOO_MANY_REQUESTS);
    }
    let limited = s.sign_in(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!((limited.status, limited.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    let wait: u64 = limited.headers[header::RETRY_AFTER].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=300).contains(&wait), "one request per 900/3 s: {wait}");
    assert_eq!(s.call(Method::GET, "/health", None, None).await.status, StatusCode::OK, "other routes are not limited");
}

crate::on_both_backends!(rate_limit, &[("TICKETING_RATE_TOKEN", "3")], the_token_endpoint_is_rate_limited);
