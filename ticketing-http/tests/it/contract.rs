//! The OpenAPI document says exactly what the server sends, so generated clients and fuzzers work
//! (Schemathesis runs against it in `.ci/run`; this checks the document itself).

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::{Backend, TestServer};

fn operations(document: &Value) -> Vec<(String, String, &Value)> {
    let paths = document["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("a path item")
                .iter()
                .filter(|(method, _)| ["get", "put", "post", "delete", "patch"].contains(&method.as_str()))
                .map(move |(method, operation)| (method.to_uppercase(), path.clone(), operation))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_matches_what_the_server_sends() {
    let s = TestServer::start(Backend::Sqlite).await.expect("SQLite always runs");
    let answer = s.call(Method::GET, "/openapi.json", None, None).await;
    let document = answer.ok(StatusCode::OK).clone();
    let text = document.to_string();
    assert!(!text.contains("[`") && !text.contains("No `Debug`"), "Rust doc syntax leaked into the document");
    for (method, path, operation) in operations(&document) {
        let name = format!("{method} {path}");
        assert!(operation["description"].as_str().is_some_and(|d| !d.is_empty()), "{name} has no description");
        let responses = operation["responses"].as_object().expect("responses");
        for (status, response) in responses {
            let content = response["content"].as_object();
            let problem =
                content.is_some_and(|c| c.values().any(|m| m["schema"]["$ref"] == "#/components/schemas/Problem"));
            if problem {
                assert!(
                    content.is_some_and(
                        |c| c.contains_key("application/problem+json") && !c.contains_key("application/json")
                    ),
                    "{name} {status}: problems are sent as application/problem+json"
                );
            }
        }
        let parameters = operation["parameters"].as_array().map(Vec::as_slice).unwrap_or_default();
        assert!(parameters.iter().all(|p| p.get("example").is_some()), "{name}: every parameter has an example");
        let json_parts = operation["requestBody"]["content"]["application/json"].as_object().into_iter().chain(
            responses
                .iter()
                .filter(|(s, _)| s.starts_with('2'))
                .filter_map(|(_, r)| r["content"]["application/json"].as_object()),
        );
        for part in json_parts {
            assert!(part.contains_key("example"), "{name}: every JSON body and answer has an example");
        }
        if path.contains('{') {
            assert!(responses.contains_key("404"), "{name}: an id that names nothing is a 404");
        }
        if parameters.iter().any(|p| p["in"] == "query") {
            assert!(responses.contains_key("422"), "{name}: a bad query parameter is a 422");
        }
    }
    let op = |path: &str, method: &str| document["paths"][path][method].clone();
    let formats = |path: &str| {
        op(path, "get")["responses"]["200"]["content"].as_object().map(|c| c.keys().cloned().collect::<Vec<_>>())
    };
    assert_eq!(formats("/api/v1/tickets/{id}/qr"), Some(vec!["image/png".to_owned(), "image/svg+xml".to_owned()]));
    assert_eq!(
        formats("/api/v1/templates/{id}/preview"),
        Some(vec!["application/pdf".to_owned(), "image/png".to_owned()])
    );
    let query = |path: &str, name: &str| {
        op(path, "get")["parameters"].as_array().expect("parameters").iter().find(|p| p["name"] == name).expect(name)["schema"].clone()
    };
    assert_eq!(
        (
            query("/api/v1/public/events", "per_page")["minimum"].as_u64(),
            query("/api/v1/public/events", "per_page")["maximum"].as_u64()
        ),
        (Some(1), Some(100))
    );
    assert_eq!(query("/api/v1/events/{id}/dashboard", "bucket_minutes")["maximum"], 1440);
    assert!(query("/api/v1/public/events", "status")["enum"].as_array().is_some_and(|e| e.len() == 4));
    let schema = |name: &str| document["components"]["schemas"][name].clone();
    assert_eq!(schema("NewUserBody")["properties"]["password"]["minLength"], 12);
    assert_eq!(schema("NewUserBody")["properties"]["role"]["enum"].as_array().map(Vec::len), Some(4));
    assert_eq!(schema("ScanConfirmBody")["properties"]["direction"]["enum"], serde_json::json!(["in", "out"]));
    assert_eq!(schema("TokenRequest")["properties"]["grant_type"]["enum"].as_array().map(Vec::len), Some(3));
    assert_eq!(schema("DutyBody")["properties"]["duty"]["enum"], serde_json::json!(["organizer", "cashier"]));
    for body in [
        "EventBody",
        "TicketTypeBody",
        "GateBody",
        "IssueBody",
        "ScanRequestBody",
        "ScanConfirmBody",
        "NewUserBody",
        "TokenRequest",
    ] {
        assert!(schema(body)["example"].is_object(), "{body} has an example");
    }
    s.stop().await;
}
