//! API clients, OAuth2 tokens, event staff, and the deletes and user changes the server needs.

use chrono::{Duration, SubsecRound as _};
use ticketing_core::credential::{ApiClient, Duty, Rotation, StaffAssignment, StoredToken, Subject, TokenKind};
use ticketing_core::event::{Event, EventSpec};
use ticketing_core::field::Email;
use ticketing_core::ids::{ApiClientId, EventId, TokenFamilyId, UserId};
use ticketing_core::magic_link::TokenHash;
use ticketing_core::status::TicketStatus;
use ticketing_core::store::{EventFilter, Store, StoreError};
use ticketing_core::user::{PasswordHash, Role, User};
use uuid::Uuid;

use super::support::{Backend, Options, TestRng, World, event_start};

async fn user(store: &dyn Store, n: u128, role: Role) -> User {
    store.ensure_roles(&Role::ALL).await.unwrap();
    let user = User {
        id: UserId::from_uuid(Uuid::from_u128(n)),
        email: Email::parse(&format!("user{n}@example.org")).unwrap(),
        name: format!("User {n}"),
        role,
        password_hash: PasswordHash::new("a long enough password", &TestRng::new(1)).unwrap(),
        active: true,
        created_at: event_start().trunc_subsecs(6),
    };
    store.insert_user(&user).await.unwrap();
    user
}

fn token(n: u8, kind: TokenKind, family: u128, subject: Subject) -> StoredToken {
    let issued_at = event_start() - Duration::hours(1);
    StoredToken {
        hash: TokenHash([n; 32]),
        kind,
        family: TokenFamilyId::from_uuid(Uuid::from_u128(family)),
        subject,
        issued_at,
        expires_at: issued_at + Duration::minutes(if kind == TokenKind::Access { 15 } else { 600 }),
        revoked_at: None,
    }
}

fn client(n: u128, owner: UserId) -> ApiClient {
    ApiClient {
        id: ApiClientId::from_uuid(Uuid::from_u128(n)),
        client_id: format!("client-{n}"),
        secret_hash: TokenHash([n as u8; 32]),
        name: "Box office sync".into(),
        role: Role::Organizer,
        owner,
        created_at: event_start().trunc_subsecs(6),
        revoked_at: None,
    }
}

/// Conformance case.
pub async fn refresh_tokens_rotate_once_and_a_replay_revokes_the_family(backend: &Backend) {
    let world = World::new(backend, Options::default()).await;
    let store = world.engine.store().clone();
    let alice = user(&*store, 10, Role::Organizer).await;
    let now = event_start() - Duration::minutes(50);
    let (access, refresh) = (
        token(1, TokenKind::Access, 7, Subject::User(alice.id)),
        token(2, TokenKind::Refresh, 7, Subject::User(alice.id)),
    );
    store.insert_tokens(&[access.clone(), refresh.clone()]).await.unwrap();
    assert_eq!(store.token(&access.hash).await.unwrap(), Some(access.clone()));
    let twin = store.insert_tokens(&[token(3, TokenKind::Access, 7, Subject::User(alice.id)), access.clone()]).await;
    assert!(matches!(twin, Err(StoreError::Conflict(_))), "{twin:?}");
    assert_eq!(store.token(&TokenHash([3; 32])).await.unwrap(), None, "all or none");
    let stranger = store
        .insert_tokens(&[token(4, TokenKind::Access, 8, Subject::User(UserId::from_uuid(Uuid::from_u128(99))))])
        .await;
    assert!(matches!(stranger, Err(StoreError::NotFound(_))), "{stranger:?}");

    // An access token is not a refresh token; an unknown one is nothing.
    assert_eq!(store.rotate_refresh(&access.hash, &[], now).await.unwrap(), Rotation::Invalid);
    assert_eq!(store.rotate_refresh(&TokenHash([9; 32]), &[], now).await.unwrap(), Rotation::Invalid);

    // Eight presentations of one refresh token at once: one rotates, the rest see it spent and
    // revoke the family, the new pair included.
    let tasks: Vec<_> = (0..8u8)
        .map(|i| {
            let store = store.clone();
            let issue = [
                token(20 + 2 * i, TokenKind::Access, 7, Subject::User(alice.id)),
                token(21 + 2 * i, TokenKind::Refresh, 7, Subject::User(alice.id)),
            ];
            tokio::spawn(async move { store.rotate_refresh(&TokenHash([2; 32]), &issue, now).await })
        })
        .collect();
    let mut rotated = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Rotation::Rotated(spent) => {
                assert_eq!(spent.revoked_at, Some(now));
                rotated += 1;
            }
            Rotation::Reused => {}
            Rotation::Invalid => panic!("a known refresh token is never invalid here"),
        }
    }
    assert_eq!(rotated, 1, "one presentation rotates");
    assert!(!store.token(&access.hash).await.unwrap().unwrap().is_active(now), "the replays revoked the family");

    // A fresh family: a lone replay after a clean rotation revokes the new pair too.
    let (a2, r2) = (
        token(40, TokenKind::Access, 8, Subject::User(alice.id)),
        token(41, TokenKind::Refresh, 8, Subject::User(alice.id)),
    );
    store.insert_tokens(&[a2.clone(), r2.clone()]).await.unwrap();
    let next = [
        token(42, TokenKind::Access, 8, Subject::User(alice.id)),
        token(43, TokenKind::Refresh, 8, Subject::User(alice.id)),
    ];
    assert!(matches!(store.rotate_refresh(&r2.hash, &next, now).await.unwrap(), Rotation::Rotated(_)));
    assert!(store.token(&next[1].hash).await.unwrap().unwrap().is_active(now));
    assert!(store.token(&a2.hash).await.unwrap().unwrap().is_active(now), "rotation leaves the old access token");
    assert_eq!(store.rotate_refresh(&r2.hash, &[], now).await.unwrap(), Rotation::Reused);
    for t in [&a2, &next[0], &next[1]] {
        assert!(!store.token(&t.hash).await.unwrap().unwrap().is_active(now), "family revoked");
    }

    // An expired refresh token changes nothing.
    let r3 = token(50, TokenKind::Refresh, 9, Subject::User(alice.id));
    store.insert_tokens(std::slice::from_ref(&r3)).await.unwrap();
    assert_eq!(store.rotate_refresh(&r3.hash, &[], r3.expires_at).await.unwrap(), Rotation::Invalid);
    assert_eq!(store.token(&r3.hash).await.unwrap().unwrap().revoked_at, None);
}

/// Conformance case.
pub async fn revoking_tokens_clients_and_users(backend: &Backend) {
    let world = World::new(backend, Options::default()).await;
    let store = world.engine.store();
    let now = event_start() - Duration::minutes(50);
    let (alice, bob) = (user(&**store, 10, Role::Organizer).await, user(&**store, 11, Role::Organizer).await);
    let app = client(30, alice.id);
    store.insert_api_client(&app).await.unwrap();
    assert!(matches!(store.insert_api_client(&app).await, Err(StoreError::Conflict(_))));
    let orphan = store.insert_api_client(&client(31, UserId::from_uuid(Uuid::from_u128(99)))).await;
    assert!(matches!(orphan, Err(StoreError::NotFound(_))), "{orphan:?}");
    store.insert_api_client(&client(32, bob.id)).await.unwrap();
    assert_eq!(store.api_client("client-30").await.unwrap(), Some(app.clone()));
    assert_eq!(store.api_client_by_id(app.id).await.unwrap(), Some(app.clone()));
    assert_eq!(store.api_clients(Some(alice.id)).await.unwrap(), std::slice::from_ref(&app));
    assert_eq!(store.api_clients(None).await.unwrap().len(), 2);

    let alice_access = token(1, TokenKind::Access, 1, Subject::User(alice.id));
    let alice_refresh = token(2, TokenKind::Refresh, 1, Subject::User(alice.id));
    let app_access = token(3, TokenKind::Access, 2, Subject::Client(app.id));
    let bob_access = token(4, TokenKind::Access, 3, Subject::User(bob.id));
    let alice_second = token(5, TokenKind::Access, 4, Subject::User(alice.id));
    store
        .insert_tokens(&[
            alice_access.clone(),
            alice_refresh.clone(),
            app_access.clone(),
            bob_access.clone(),
            alice_second.clone(),
        ])
        .await
        .unwrap();
    let active = |hash: TokenHash| {
        let store = store.clone();
        async move { store.token(&hash).await.unwrap().unwrap().is_active(now) }
    };

    // An access token alone; then a refresh token takes its family with it.
    assert!(store.revoke_token(&alice_second.hash, now).await.unwrap());
    assert!(!store.revoke_token(&alice_second.hash, now).await.unwrap(), "already revoked");
    assert!(!store.revoke_token(&TokenHash([77; 32]), now).await.unwrap(), "unknown");
    assert!(active(alice_access.hash).await);
    assert!(store.revoke_token(&alice_refresh.hash, now).await.unwrap());
    assert!(!active(alice_access.hash).await && !active(alice_refresh.hash).await);

    // A client: it and its tokens.
    assert!(store.revoke_api_client(app.id, now).await.unwrap());
    assert!(!store.revoke_api_client(app.id, now).await.unwrap());
    assert_eq!(store.api_client("client-30").await.unwrap().unwrap().revoked_at, Some(now));
    assert!(!active(app_access.hash).await);
    let missing = store.revoke_api_client(ApiClientId::from_uuid(Uuid::from_u128(98)), now).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");

    // A user: theirs and their clients', nobody else's.
    let bob_app = store.api_client("client-32").await.unwrap().unwrap();
    let bob_app_access = token(6, TokenKind::Access, 5, Subject::Client(bob_app.id));
    store.insert_tokens(std::slice::from_ref(&bob_app_access)).await.unwrap();
    assert_eq!(store.revoke_user_tokens(bob.id, now).await.unwrap(), 2);
    assert!(!active(bob_access.hash).await && !active(bob_app_access.hash).await);

    // Purging drops what expired before the cut, revoked or not.
    assert_eq!(store.purge_tokens(alice_access.expires_at).await.unwrap(), 0);
    assert_eq!(store.purge_tokens(alice_access.expires_at + Duration::seconds(1)).await.unwrap(), 5);
    assert_eq!(store.token(&alice_access.hash).await.unwrap(), None);
    assert!(store.token(&alice_refresh.hash).await.unwrap().is_some(), "a refresh token lives longer");
}

/// Conformance case.
pub async fn staff_scope_events_and_unused_types_and_gates_delete(backend: &Backend) {
    let world = World::new(backend, Options::default()).await;
    let store = world.engine.store();
    let (alice, bob) = (user(&**store, 10, Role::Organizer).await, user(&**store, 11, Role::Cashier).await);
    let spec = EventSpec { title: "Salon".into(), ..world.event.spec() };
    let event = Event::new(EventId::from_uuid(Uuid::from_u128(500)), &spec).unwrap();
    let owner = StaffAssignment { user_id: alice.id, duty: Duty::Organizer };
    let ghost = StaffAssignment { user_id: UserId::from_uuid(Uuid::from_u128(99)), duty: Duty::Cashier };
    let refused = store.insert_staffed_event(&event, &[owner, ghost]).await;
    assert!(matches!(refused, Err(StoreError::NotFound(_))), "{refused:?}");
    assert_eq!(store.event(event.id()).await.unwrap(), None, "all or none");
    store.insert_staffed_event(&event, &[owner]).await.unwrap();
    assert!(matches!(store.insert_staffed_event(&event, &[]).await, Err(StoreError::Conflict(_))));

    let mine =
        |user: UserId, duty| EventFilter { staff: Some(StaffAssignment { user_id: user, duty }), ..Default::default() };
    let ids = |events: Vec<Event>| events.iter().map(Event::id).collect::<Vec<_>>();
    assert_eq!(ids(store.list_events(&mine(alice.id, Duty::Organizer)).await.unwrap()), [event.id()]);
    assert!(store.list_events(&mine(alice.id, Duty::Cashier)).await.unwrap().is_empty(), "by duty");
    assert!(store.list_events(&mine(bob.id, Duty::Cashier)).await.unwrap().is_empty());
    assert_eq!(store.list_events(&EventFilter::default()).await.unwrap().len(), 2);

    let cashier = StaffAssignment { user_id: bob.id, duty: Duty::Cashier };
    store.assign_staff(world.event.id(), cashier).await.unwrap();
    store.assign_staff(event.id(), cashier).await.unwrap();
    store.assign_staff(event.id(), StaffAssignment { duty: Duty::Organizer, ..cashier }).await.unwrap();
    assert_eq!(
        store.event_staff(event.id()).await.unwrap(),
        [owner, StaffAssignment { user_id: bob.id, duty: Duty::Organizer }],
        "a second assignment replaces the duty"
    );
    assert_eq!(store.list_events(&mine(bob.id, Duty::Cashier)).await.unwrap().len(), 1);
    assert_eq!(store.list_events(&mine(bob.id, Duty::Organizer)).await.unwrap().len(), 1);
    assert!(store.unassign_staff(event.id(), bob.id).await.unwrap());
    assert!(!store.unassign_staff(event.id(), bob.id).await.unwrap());
    assert!(matches!(
        store.assign_staff(EventId::from_uuid(Uuid::from_u128(501)), cashier).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(store.assign_staff(event.id(), ghost).await, Err(StoreError::NotFound(_))));

    // Deleting the event takes its staff with it.
    store.delete_event(event.id()).await.unwrap();
    assert!(store.list_events(&mine(alice.id, Duty::Organizer)).await.unwrap().is_empty());
    assert!(store.event_staff(event.id()).await.unwrap().is_empty());

    // A type with tickets stays; an unused one goes. A gate with scans stays; an unused one goes.
    let ticket = world.ticket(&world.standard, TicketStatus::Paid).await;
    assert!(matches!(store.delete_ticket_type(world.standard.id()).await, Err(StoreError::Conflict(_))));
    store.delete_ticket_type(world.vip.id()).await.unwrap();
    assert_eq!(store.ticket_type(world.vip.id()).await.unwrap(), None);
    assert!(matches!(store.delete_ticket_type(world.vip.id()).await, Err(StoreError::NotFound(_))));
    world.pass(&ticket, ticketing_core::scan::Direction::In).await;
    assert!(matches!(store.delete_gate(world.main_gate.id()).await, Err(StoreError::Conflict(_))));
    store.delete_gate(world.vip_gate.id()).await.unwrap();
    assert_eq!(store.gate(world.vip_gate.id()).await.unwrap(), None);
    assert!(store.gates_of_agent(world.vip_agent.id).await.unwrap().is_empty());
    assert!(matches!(store.delete_gate(world.vip_gate.id()).await, Err(StoreError::NotFound(_))));
}

/// Conformance case.
pub async fn users_change_and_list_in_pages(backend: &Backend) {
    let world = World::new(backend, Options::default()).await;
    let store = world.engine.store();
    let alice = user(&**store, 10, Role::Organizer).await;
    let bob = user(&**store, 11, Role::Agent).await;
    let changed = User {
        email: Email::parse("Alice@Example.org").unwrap(),
        name: "Alice Martin".into(),
        role: Role::Cashier,
        active: false,
        created_at: alice.created_at + Duration::days(1),
        ..alice.clone()
    };
    store.update_user(&changed).await.unwrap();
    let stored = store.user(alice.id).await.unwrap().unwrap();
    assert_eq!(stored, User { created_at: alice.created_at, ..changed.clone() }, "the creation time stays");
    assert_eq!(store.user_by_email("alice@example.org").await.unwrap().map(|u| u.id), Some(alice.id));
    let taken = store.update_user(&User { email: Email::parse("ALICE@example.org").unwrap(), ..bob.clone() }).await;
    assert!(matches!(&taken, Err(StoreError::Conflict(m)) if m == ticketing_core::user::EMAIL_TAKEN), "{taken:?}");
    let missing = store
        .update_user(&User {
            id: UserId::from_uuid(Uuid::from_u128(99)),
            email: Email::parse("x@example.org").unwrap(),
            ..bob.clone()
        })
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
    let all = store.users(0, 0).await.unwrap();
    assert_eq!(all.iter().map(|u| u.id).collect::<Vec<_>>(), [alice.id, bob.id]);
    assert_eq!(store.users(1, 1).await.unwrap().iter().map(|u| u.id).collect::<Vec<_>>(), [bob.id]);
}
