//! Seeds a database: the four roles and a first superadmin. Running it again changes nothing.
//!
//! ```sh
//! cargo run --example seed -- sqlite://ticketing.db     # or postgres://…, redis via REDIS_URL
//! TICKETING_SUPERADMIN_PASSWORD='a long secret' cargo run --example seed -- sqlite://ticketing.db
//! ```
//!
//! The superadmin's email comes from `TICKETING_SUPERADMIN_EMAIL` (default `admin@example.org`).
//! Without `TICKETING_SUPERADMIN_PASSWORD` a password is generated and printed this once; it is
//! stored only as an Argon2id hash.

use std::sync::Arc;

use ticketing::core::engine::{SeedConfig, SuperadminSeed};
use ticketing::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "sqlite://ticketing.db".into());
    let redis = std::env::var("REDIS_URL").ok();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = ticketing::storage::open(&url, redis.as_deref(), clock.clone()).await?;
    // Seeding signs nothing: an empty keyring.
    let engine = Ticketing::new(store, Keyring::new(), clock, Arc::new(OsRandomness), Config::default());
    let email = std::env::var("TICKETING_SUPERADMIN_EMAIL").unwrap_or_else(|_| "admin@example.org".into());
    let report = engine
        .seed(&SeedConfig {
            superadmin_email: email.clone(),
            superadmin_name: "Superadmin".into(),
            superadmin_password: std::env::var("TICKETING_SUPERADMIN_PASSWORD").ok(),
        })
        .await?;
    println!("roles added: {}", report.roles_added);
    match report.superadmin {
        SuperadminSeed::Existing(id) => println!("superadmin exists: {id} (unchanged)"),
        SuperadminSeed::Created { id, generated_password: Some(password) } => {
            println!("superadmin created: {email} ({id})");
            println!("password (shown once, not stored): {password}");
        }
        SuperadminSeed::Created { id, generated_password: None } => {
            println!("superadmin created: {email} ({id}) with the configured password");
        }
    }
    Ok(())
}
