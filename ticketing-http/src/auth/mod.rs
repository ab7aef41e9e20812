//! Signing in and who may do what: OAuth2 tokens ([`token`]), the bearer-token caller and the
//! tenancy rules ([`caller`]), and password hashing off the async threads ([`password`]).

pub mod caller;
pub mod password;
pub mod token;

pub use caller::{Caller, Reach};
