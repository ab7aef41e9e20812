//! Staff users, roles and the seeder.

use std::sync::Arc;

use chrono::{SubsecRound as _, Utc};
use ticketing_core::engine::{Config, Error, SeedConfig, SuperadminSeed, Ticketing};
use ticketing_core::env::FixedClock;
use ticketing_core::field::Email;
use ticketing_core::ids::UserId;
use ticketing_core::store::{Store, StoreError};
use ticketing_core::user::{LAST_SUPERADMIN, PasswordHash, Role, User};
use uuid::Uuid;

use super::support::{Backend, TestRng, keyring};

async fn engine(backend: &Backend, seed: u64) -> Ticketing<dyn Store> {
    let clock = Arc::new(FixedClock::new(Utc::now().trunc_subsecs(6)));
    let store = backend.store(clock.clone()).await;
    Ticketing::new(store, keyring(), clock, Arc::new(TestRng::new(seed)), Config::default())
}

fn config(password: Option<&str>) -> SeedConfig {
    SeedConfig {
        superadmin_email: "Admin@Example.org".into(),
        superadmin_name: "Ada Admin".into(),
        superadmin_password: password.map(str::to_owned),
    }
}

/// Conformance case.
pub async fn seeding_twice_changes_nothing(backend: &Backend) {
    let engine = engine(backend, 3).await;
    let first = engine.seed(&config(None)).await.unwrap();
    assert_eq!(first.roles_added, 4);
    let SuperadminSeed::Created { id, generated_password: Some(password) } = first.superadmin else {
        panic!("a first superadmin with a generated password: {first:?}")
    };
    assert_eq!(password.len(), 24);
    let store = engine.store();
    assert_eq!(store.roles().await.unwrap(), Role::ALL);
    let admin = store.user_by_email("admin@EXAMPLE.org").await.unwrap().unwrap();
    assert_eq!((admin.id, admin.role, admin.active), (id, Role::Superadmin, true));
    assert!(admin.password_hash.verify(&password));
    assert_eq!(store.user(id).await.unwrap().as_ref(), Some(&admin));

    let again = engine.seed(&config(Some("another password entirely"))).await.unwrap();
    assert_eq!((again.roles_added, again.superadmin), (0, SuperadminSeed::Existing(id)));
    assert_eq!(store.users_with_role(Role::Superadmin).await.unwrap(), [admin], "nothing changed");

    let configured = self::engine(backend, 4).await;
    let report = configured.seed(&config(Some("a configured password"))).await.unwrap();
    let SuperadminSeed::Created { id, generated_password: None } = report.superadmin else {
        panic!("no password generated when one is configured: {report:?}")
    };
    assert!(configured.store().user(id).await.unwrap().unwrap().password_hash.verify("a configured password"));
}

/// Conformance case.
pub async fn concurrent_seeders_make_one_superadmin(backend: &Backend) {
    let engine = engine(backend, 5).await;
    // Different emails: only the lock keeps two of them from both making a superadmin.
    let seeders: Vec<_> = (0..5)
        .map(|n| {
            let engine = engine.clone();
            tokio::spawn(async move {
                let config = SeedConfig {
                    superadmin_email: format!("admin{n}@example.org"),
                    superadmin_name: "Ada Admin".into(),
                    superadmin_password: Some("the configured password".into()),
                };
                engine.seed(&config).await
            })
        })
        .collect();
    let mut created = Vec::new();
    let mut existing = Vec::new();
    for seeder in seeders {
        match seeder.await.unwrap() {
            Ok(report) => match report.superadmin {
                SuperadminSeed::Created { id, .. } => created.push(id),
                SuperadminSeed::Existing(id) => existing.push(id),
            },
            Err(Error::Contention) => {}
            Err(e) => panic!("a seeder failed: {e}"),
        }
    }
    assert_eq!(created.len(), 1, "one seeder made the superadmin");
    assert!(existing.iter().all(|id| *id == created[0]), "the others report it");
    let again = engine.seed(&config(None)).await.unwrap();
    assert_eq!(again.superadmin, SuperadminSeed::Existing(created[0]), "a seeder told to run again sees it");
    assert_eq!(engine.store().users_with_role(Role::Superadmin).await.unwrap().len(), 1);
}

/// Conformance case.
pub async fn user_emails_are_unique_case_insensitively_and_roles_must_exist(backend: &Backend) {
    let engine = engine(backend, 6).await;
    let store = engine.store();
    let user = |n: u128, email: &str, role| User {
        id: UserId::from_uuid(Uuid::from_u128(n)),
        email: Email::parse(email).unwrap(),
        name: "Gate Agent".into(),
        role,
        password_hash: PasswordHash::new("a long enough password", &TestRng::new(1)).unwrap(),
        active: true,
        created_at: Utc::now().trunc_subsecs(6),
    };
    let early = store.insert_user(&user(1, "agent@example.org", Role::Agent)).await;
    assert!(matches!(early, Err(StoreError::NotFound("role"))), "{early:?}");
    store.ensure_roles(&[Role::Agent]).await.unwrap();
    assert_eq!(store.roles().await.unwrap(), [Role::Agent]);
    store.insert_user(&user(1, "agent@example.org", Role::Agent)).await.unwrap();
    let twin = store.insert_user(&user(2, "AGENT@example.org", Role::Agent)).await;
    // In the same words on every backend: the database's own text is not for clients.
    assert!(matches!(&twin, Err(StoreError::Conflict(m)) if m == ticketing_core::user::EMAIL_TAKEN), "{twin:?}");
    assert_eq!(store.users_with_role(Role::Agent).await.unwrap().len(), 1);
    assert_eq!(store.user_by_email("nobody@example.org").await.unwrap(), None);
}

/// Conformance case: the last active superadmin stays. Eight superadmins, each demoted or
/// deactivated at the same moment: one change is refused, whichever comes last, and one stays.
pub async fn the_last_active_superadmin_stays_under_concurrent_demotions(backend: &Backend) {
    let engine = engine(backend, 7).await;
    let store = Arc::clone(engine.store());
    store.ensure_roles(&Role::ALL).await.unwrap();
    let admins: Vec<User> = (1..=8u128)
        .map(|n| User {
            id: UserId::from_uuid(Uuid::from_u128(n)),
            email: Email::parse(&format!("admin{n}@example.org")).unwrap(),
            name: format!("Admin {n}"),
            role: Role::Superadmin,
            password_hash: PasswordHash::new("a long enough password", &TestRng::new(1)).unwrap(),
            active: true,
            created_at: Utc::now().trunc_subsecs(6),
        })
        .collect();
    for admin in &admins {
        store.insert_user(admin).await.unwrap();
    }
    let last = |r: &Result<(), StoreError>| matches!(r, Err(StoreError::Conflict(m)) if m == LAST_SUPERADMIN);
    for round in 0..5 {
        let changes: Vec<_> = admins
            .iter()
            .enumerate()
            .map(|(i, admin)| {
                let changed = if i % 2 == 0 {
                    User { role: Role::Organizer, ..admin.clone() }
                } else {
                    User { active: false, ..admin.clone() }
                };
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.update_user(&changed).await })
            })
            .collect();
        let mut answers = Vec::new();
        for change in changes {
            answers.push(change.await.unwrap());
        }
        assert_eq!(answers.iter().filter(|r| last(r)).count(), 1, "round {round}: {answers:?}");
        assert_eq!(answers.iter().filter(|r| r.is_ok()).count(), admins.len() - 1, "round {round}: {answers:?}");
        let left = store.users_with_role(Role::Superadmin).await.unwrap();
        assert_eq!(left.iter().filter(|u| u.active).count(), 1, "round {round}");
        // All superadmins again, for the next round (a change that keeps one is never refused).
        for admin in &admins {
            store.update_user(admin).await.unwrap();
        }
    }
    // Alone, the last one may change anything but that.
    let (a, others) = admins.split_first().unwrap();
    for other in others {
        store.update_user(&User { role: Role::Organizer, ..other.clone() }).await.unwrap();
    }
    assert!(last(&store.update_user(&User { active: false, ..a.clone() }).await));
    assert!(last(&store.update_user(&User { role: Role::Agent, ..a.clone() }).await));
    store.update_user(&User { name: "Ada Admin".into(), ..a.clone() }).await.unwrap();
    assert_eq!(
        store.user(a.id).await.unwrap().map(|u| (u.is_active_superadmin(), u.name)),
        Some((true, "Ada Admin".into()))
    );
}
