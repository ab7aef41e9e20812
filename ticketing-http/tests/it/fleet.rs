//! Several servers on one database: the keys come from secret files (`TICKETING_QR_KEYS_FILE`,
//! `TICKETING_LINK_KEY_FILE`), so every instance signs and verifies alike and none makes keys
//! of its own.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{Backend, TestServer, running_event};

/// A ticket issued by one server scans at another that shares its database and key files; no
/// server writes keys into its data directory.
#[tokio::test]
async fn servers_sharing_key_files_sign_and_verify_alike() {
    let shared = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&shared);
    std::fs::create_dir_all(&shared).expect("a shared folder");
    let (qr_keys, link_key) = (shared.join("qr_keys"), shared.join("link_key"));
    std::fs::write(&qr_keys, format!("7:current:{}\n", "5e".repeat(32))).expect("the QR keys");
    std::fs::write(&link_key, format!("{}\n", "a1".repeat(32))).expect("the link key");
    let database = format!("sqlite://{}", shared.join("ticketing.db").display());
    let (qr_keys, link_key) = (qr_keys.display().to_string(), link_key.display().to_string());
    let settings = [
        ("TICKETING_DATABASE_URL", database.as_str()),
        ("TICKETING_QR_KEYS_FILE", qr_keys.as_str()),
        ("TICKETING_LINK_KEY_FILE", link_key.as_str()),
    ];
    let one = TestServer::start_with(Backend::Sqlite, &settings).await.expect("SQLite needs no server");
    let two = TestServer::start_with(Backend::Sqlite, &settings).await.expect("SQLite needs no server");

    // On the first: an event running now, a type, a gate, a paid ticket.
    let admin = one.admin().await;
    let (event, kind) = running_event(&one, &admin, "Fleet night", 10, 1).await;
    let gate = one
        .call(Method::POST, &format!("/api/v1/events/{event}/gates"), Some(&admin), Some(json!({"name": "Main"})))
        .await;
    let gate = gate.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let issued = one
        .call(
            Method::POST,
            &format!("/api/v1/ticket-types/{kind}/tickets"),
            Some(&admin),
            Some(json!({"status": "paid"})),
        )
        .await;
    let ticket = issued.ok(StatusCode::CREATED)[0].clone();

    // On the second: the QR verifies, and the ticket's page opens by its link.
    let admin_two = two.admin().await;
    let read = json!({"gate_id": gate, "qr": ticket["qr_payload"]});
    let verdict = two.call(Method::POST, "/api/v1/scan/request", Some(&admin_two), Some(read)).await;
    let verdict = verdict.ok(StatusCode::OK).clone();
    assert_eq!((verdict["ok"].as_bool(), verdict["reason"].as_str()), (Some(true), Some("ok")), "{verdict}");
    let link = ticket["magic_link"]["token"].as_str().expect("a link");
    two.call(Method::GET, &format!("/api/v1/public/tickets/{link}"), None, None).await.ok(StatusCode::OK);
    // Re-issuing the link on the second gives what the shared key derives.
    let id = ticket["id"].as_str().expect("id");
    let relinked =
        two.call(Method::POST, &format!("/api/v1/tickets/{id}/magic-link"), Some(&admin_two), Some(json!({}))).await;
    let relinked = relinked.ok(StatusCode::CREATED)["token"].as_str().expect("a token").to_owned();
    one.call(Method::GET, &format!("/api/v1/public/tickets/{relinked}"), None, None).await.ok(StatusCode::OK);

    for server in [&one, &two] {
        let listed: Vec<String> = std::fs::read_dir(&server.state.config().data_dir)
            .expect("the data folder")
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        assert!(!listed.iter().any(|f| f == "keys.toml" || f == "link.key"), "no key made: {listed:?}");
    }
    one.stop().await;
    two.stop().await;
    let _ = std::fs::remove_dir_all(&shared);
}

/// The settings of a server of its own in `dir`, on the database `database`, plus `extra`.
fn lone_config(dir: &std::path::Path, database: &str, extra: &[(&str, String)]) -> ticketing_http::Config {
    let mut vars: std::collections::BTreeMap<String, String> = [
        ("TICKETING_LISTEN", "127.0.0.1:0".to_owned()),
        ("TICKETING_DATA_DIR", dir.display().to_string()),
        ("TICKETING_DATABASE_URL", database.to_owned()),
        ("TICKETING_SUPERADMIN_PASSWORD", crate::support::ADMIN_PASSWORD.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    ticketing_http::Config::from_vars(vars).expect("settings")
}

/// The database records each instance's keys' fingerprints: an instance that would make keys of
/// its own while the fleet's are recorded, or that holds a different key under a recorded id,
/// refuses to start with an error that says what to do, and makes no key file; one given the
/// fleet's keys starts.
#[tokio::test]
async fn an_instance_without_the_fleets_keys_refuses_to_start() {
    use ticketing_http::StartError;
    use ticketing_http::{KEYS_FILE, KeysError, LINK_KEY_FILE};
    let shared =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fleet-keys-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&shared);
    std::fs::create_dir_all(&shared).expect("a shared folder");
    let database = format!("sqlite://{}", shared.join("ticketing.db").display());
    let first = TestServer::start_with(Backend::Sqlite, &[("TICKETING_DATABASE_URL", database.as_str())])
        .await
        .expect("SQLite needs no server");
    let first_dir = first.state.config().data_dir.clone();
    assert!(first_dir.join(KEYS_FILE).exists(), "the first instance made the fleet's keys");

    let lonely = shared.join("lonely");
    let refused = ticketing_http::Server::start(lone_config(&lonely, &database, &[])).await.err().expect("refused");
    let StartError::Keys(KeysError::NotShared { .. }) = &refused else { panic!("{refused}") };
    assert!(refused.to_string().contains("give this instance the fleet's keys"), "{refused}");
    assert!(!lonely.join(KEYS_FILE).exists() && !lonely.join(LINK_KEY_FILE).exists(), "no key made");

    // A QR key of its own under the fleet's key id: refused by its fingerprint.
    let link_file = first_dir.join(LINK_KEY_FILE).display().to_string();
    let own_key = [
        ("TICKETING_QR_KEYS", format!("1:current:{}", "0f".repeat(32))),
        ("TICKETING_LINK_KEY_FILE", link_file.clone()),
    ];
    let refused =
        ticketing_http::Server::start(lone_config(&lonely, &database, &own_key)).await.err().expect("refused");
    let StartError::Fleet(ticketing_core::engine::Error::Keys(_)) = &refused else { panic!("{refused}") };
    assert!(refused.to_string().contains("QR key 1 differs"), "{refused}");

    // Given the fleet's keys, it starts.
    std::fs::copy(first_dir.join(KEYS_FILE), lonely.join(KEYS_FILE)).expect("the keys copied");
    let fleet = [("TICKETING_LINK_KEY_FILE", link_file)];
    let second = ticketing_http::Server::start(lone_config(&lonely, &database, &fleet)).await;
    assert!(second.is_ok(), "{}", second.err().map(|e| e.to_string()).unwrap_or_default());
    first.stop().await;
    let _ = std::fs::remove_dir_all(&shared);
}

/// Two instances on one Postgres and one Redis: a rate limit of N a window admits N in total
/// across them, not 2N; a token revoked through one is refused by the other (which had it
/// cached a moment before) within 100 ms.
#[tokio::test]
async fn instances_sharing_redis_share_limits_and_revocations() {
    let Some(one) = TestServer::start_with(Backend::PgRedis, &[("TICKETING_RATE_TOKEN", "6")]).await else { return };
    let two = one.sibling().await;

    let token = one.admin().await;
    // A token both instances have cached, revoked through the first: the second refuses it.
    for server in [&one, &two] {
        server.call(Method::GET, "/api/v1/users", Some(&token), None).await.ok(StatusCode::OK);
    }
    let revoked = one.form("/oauth/revoke", &[("token", token.as_str())]).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    let revoked_at = std::time::Instant::now();
    loop {
        let answer = two.call(Method::GET, "/api/v1/users", Some(&token), None).await;
        if answer.status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert!(revoked_at.elapsed() < std::time::Duration::from_millis(100), "refused by the other within 100 ms");
    }

    // Calls to /oauth from one address: 6 in all pass, whichever instance is asked (the sign-in
    // and the revocation above included).
    let mut passed = 2;
    for i in 0..12 {
        let server = if i % 2 == 0 { &one } else { &two };
        let answer = server.sign_in(crate::support::ADMIN, crate::support::ADMIN_PASSWORD).await;
        match answer.status {
            StatusCode::OK => passed += 1,
            StatusCode::TOO_MANY_REQUESTS => assert!(answer.headers.contains_key("retry-after"), "{}", answer.text),
            other => panic!("{other}: {}", answer.text),
        }
    }
    assert_eq!(passed, 6, "the limit holds across the instances");

    two.stop().await;
    one.stop().await;
}
