//! `POST /oauth/token` (RFC 6749) and `POST /oauth/revoke` (RFC 7009).
//!
//! Grants: `password` for staff users, `client_credentials` for API clients (their credentials
//! in HTTP Basic or in the form, §2.3.1), and `refresh_token`, which rotates: each refresh token
//! buys one new pair, and presenting a spent one revokes the whole sign-in. Errors are the §5.2
//! JSON body (`error`, `error_description`), 400, or 401 for a client that failed to
//! authenticate. Answers carry `Cache-Control: no-store`.

use std::net::IpAddr;

use axum::extract::{FromRequest, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use ticketing_core::credential::{Rotation, StoredToken, Subject, TokenKind};
use ticketing_core::fleet::Revoked;
use ticketing_core::ids::TokenFamilyId;
use ticketing_core::secret_token::SecretToken;
use utoipa::ToSchema;

use super::caller::{TOKEN_BYTES, revoked, subject_caller};
use crate::client::ClientIp;
use crate::problem::ApiError;
use crate::state::Shared;

/// A token request, form-encoded.
// No `Debug`: it holds secrets.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"grant_type": "password", "username": "admin@ticketing.local", "password": "the password printed at the first start"}))]
pub struct TokenRequest {
    /// `password`, `client_credentials` or `refresh_token`.
    #[schema(schema_with = crate::schema::grant_type)]
    pub grant_type: String,
    /// The user's email (password grant).
    pub username: Option<String>,
    /// The user's password (password grant).
    pub password: Option<String>,
    /// The client's id (client-credentials grant, when not in HTTP Basic).
    pub client_id: Option<String>,
    /// The client's secret (client-credentials grant, when not in HTTP Basic).
    pub client_secret: Option<String>,
    /// The refresh token (refresh grant).
    pub refresh_token: Option<String>,
    /// Ignored: a token carries its holder's role (RFC 6749 §3.3 lets a server fix the scope).
    #[expect(dead_code, reason = "accepted as RFC 6749 allows, and ignored")]
    pub scope: Option<String>,
}

/// Tokens issued (RFC 6749 §5.1).
// No `Debug`: it holds secrets.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// The bearer token for API calls.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// A token that buys one new pair (password and refresh grants).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The holder's role.
    pub scope: String,
}

/// A refusal (RFC 6749 §5.2).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unsupported_grant_type`…
    pub error: String,
    /// For people.
    pub error_description: String,
}

/// A §5.2 refusal, or a problem (rate limit, storage down).
#[derive(Debug)]
pub enum TokenError {
    /// An OAuth error.
    OAuth {
        /// 400, or 401 for `invalid_client`.
        status: StatusCode,
        /// The body.
        body: OAuthError,
        /// Whether the client authenticated with HTTP Basic (then 401 carries a challenge).
        basic: bool,
    },
    /// Not an OAuth matter.
    Api(ApiError),
}

impl From<ApiError> for TokenError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

fn oauth(error: &str, description: &str) -> TokenError {
    TokenError::OAuth {
        status: StatusCode::BAD_REQUEST,
        body: OAuthError { error: error.into(), error_description: description.into() },
        basic: false,
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        match self {
            Self::OAuth { status, body, basic } => {
                let mut response = (status, no_store(), Json(body)).into_response();
                if basic {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"ticketing\""));
                }
                response
            }
            Self::Api(e) => e.into_response(),
        }
    }
}

fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// The form, or `invalid_request`.
async fn form<T: serde::de::DeserializeOwned>(
    state: &Shared,
    request: axum::extract::Request,
) -> Result<T, TokenError> {
    match Form::<T>::from_request(request, state).await {
        Ok(Form(value)) => Ok(value),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::too_large().into()),
        Err(e) => Err(oauth("invalid_request", &e.body_text())),
    }
}

fn limited(wait: std::time::Duration) -> TokenError {
    ApiError::retry_in(wait).into()
}

/// Counts a request from the client `peer` against the token limit.
async fn limit_peer(state: &Shared, peer: IpAddr) -> Result<(), TokenError> {
    state.limits.token.check(&client_key(peer)).await.map_err(limited)
}

/// The rate-limit key of a client address ([`ClientIp`]): the address for IPv4, its /64 for
/// IPv6 (one host holds a whole /64, and would otherwise rotate through it).
pub fn client_key(peer: IpAddr) -> String {
    match peer {
        std::net::IpAddr::V4(ip) => format!("ip:{ip}"),
        std::net::IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let s = ip.segments();
                format!("ip6:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Text from a form field that can be looked up: no control characters (Postgres refuses a NUL
/// in text, and no id or email holds one).
pub(crate) fn lookup_text(value: &str) -> Option<&str> {
    (!value.chars().any(char::is_control)).then_some(value)
}

/// Percent-decodes a Basic credential part (RFC 6749 §2.3.1 form-encodes them first).
fn form_decode(part: &str) -> Option<String> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let mut byte = [0u8; 1];
                hex::decode_to_slice(part.get(i + 1..i + 3)?, &mut byte).ok()?;
                out.push(byte[0]);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Client credentials from HTTP Basic: `Ok(None)` when the request has no Basic header, `Err`
/// when it has one that cannot be read (RFC 6749 §5.2: 401 `invalid_client` with a challenge).
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, TokenError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let Ok(value) = value.to_str() else { return Err(malformed_basic()) };
    let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let pair = (|| {
        let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        Some((form_decode(id)?, form_decode(secret)?))
    })();
    pair.map(Some).ok_or_else(malformed_basic)
}

fn malformed_basic() -> TokenError {
    TokenError::OAuth {
        status: StatusCode::UNAUTHORIZED,
        body: OAuthError {
            error: "invalid_client".into(),
            error_description: "the Basic Authorization header cannot be read".into(),
        },
        basic: true,
    }
}

/// Issues tokens.
#[utoipa::path(
    post,
    operation_id = "token",
    path = "/oauth/token",
    tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens issued", body = TokenResponse),
        (status = 400, description = "Refused (RFC 6749 §5.2)", body = OAuthError),
        (status = 401, description = "The client failed to authenticate", body = OAuthError),
        (status = 429, description = "Too many requests", body = crate::problem::Problem),
    )
)]
pub async fn token(
    State(state): State<Shared>,
    ClientIp(peer): ClientIp,
    request: axum::extract::Request,
) -> Result<Response, TokenError> {
    limit_peer(&state, peer).await?;
    let basic = basic_credentials(request.headers())?;
    let req: TokenRequest = form(&state, request).await?;
    let issued = match req.grant_type.as_str() {
        "password" => password_grant(&state, &req).await?,
        "client_credentials" => client_grant(&state, &req, basic).await?,
        "refresh_token" => refresh_grant(&state, &req).await?,
        "" => return Err(oauth("invalid_request", "grant_type is required")),
        _ => return Err(oauth("unsupported_grant_type", "use password, client_credentials or refresh_token")),
    };
    Ok((StatusCode::OK, no_store(), Json(issued)).into_response())
}

async fn password_grant(state: &Shared, req: &TokenRequest) -> Result<TokenResponse, TokenError> {
    let (Some(username), Some(password)) = (&req.username, &req.password) else {
        return Err(oauth("invalid_request", "username and password are required"));
    };
    let refused = || oauth("invalid_grant", "the email or password is wrong, or the account is inactive");
    let Some(username) = lookup_text(username) else { return Err(refused()) };
    // Failed attempts on one account are limited too (whatever the address); a success costs
    // nothing, so an attacker's failures cannot use up the owner's own sign-ins faster.
    let account = format!("user:{}", username.trim().to_lowercase());
    state.limits.token.peek(&account).await.map_err(limited)?;
    let user = state.store().user_by_email(username).await.map_err(ApiError::from)?;
    let hash = user.as_ref().filter(|u| u.active).map(|u| u.password_hash.clone());
    let ok = state.passwords.verify(hash, password.clone()).await?;
    match user {
        Some(user) if ok => issue(state, Subject::User(user.id), user.role.as_str(), true).await,
        _ => {
            let _ = state.limits.token.check(&account).await;
            Err(refused())
        }
    }
}

async fn client_grant(
    state: &Shared,
    req: &TokenRequest,
    basic: Option<(String, String)>,
) -> Result<TokenResponse, TokenError> {
    // RFC 6749 §5.2: 401 with a challenge when the client used HTTP Basic, else 400.
    let used_basic = basic.is_some();
    let refused = |description: &str| TokenError::OAuth {
        status: if used_basic { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST },
        body: OAuthError { error: "invalid_client".into(), error_description: description.into() },
        basic: used_basic,
    };
    let (id, secret) = match (basic, &req.client_id, &req.client_secret) {
        (Some(pair), None, None) => pair,
        (None, Some(id), Some(secret)) => (id.clone(), secret.clone()),
        (Some(_), _, _) => return Err(oauth("invalid_request", "client credentials given twice")),
        _ => return Err(refused("client authentication is required")),
    };
    let Some(id) = lookup_text(&id) else { return Err(refused("unknown client, wrong secret, or revoked")) };
    let client = state.store().api_client(id).await.map_err(ApiError::from)?;
    let presented = SecretToken::<TOKEN_BYTES>::parse(&secret).map(|s| s.hash());
    let client =
        client.filter(|c| c.revoked_at.is_none() && presented.is_some_and(|p| bool::from(p.0.ct_eq(&c.secret_hash.0))));
    let Some(client) = client else { return Err(refused("unknown client, wrong secret, or revoked")) };
    if subject_caller(state, Subject::Client(client.id)).await?.is_none() {
        return Err(refused("the client's owner is inactive or no longer holds its role"));
    }
    issue(state, Subject::Client(client.id), client.role.as_str(), false).await
}

async fn refresh_grant(state: &Shared, req: &TokenRequest) -> Result<TokenResponse, TokenError> {
    let invalid = || oauth("invalid_grant", "the refresh token is invalid, expired, revoked or already used");
    let presented =
        req.refresh_token.as_deref().ok_or_else(|| oauth("invalid_request", "refresh_token is required"))?;
    let hash = SecretToken::<TOKEN_BYTES>::parse(presented).ok_or_else(invalid)?.hash();
    let stored = state.store().token(&hash).await.map_err(ApiError::from)?;
    let Some(stored) = stored.filter(|t| t.kind == TokenKind::Refresh) else { return Err(invalid()) };
    let Some(caller) = subject_caller(state, stored.subject).await? else { return Err(invalid()) };
    let (pair, response) = new_pair(state, stored.subject, stored.family, caller.role.as_str(), true);
    match state.store().rotate_refresh(&hash, &pair, state.clock.now()).await.map_err(ApiError::from)? {
        Rotation::Rotated(_) => Ok(response),
        Rotation::Reused => {
            revoked(state, Revoked::Family(stored.family)).await;
            tracing::warn!(family = %stored.family, "a spent or revoked refresh token was presented; its sign-in is revoked");
            Err(oauth("invalid_grant", "the refresh token was already used or revoked; the sign-in is revoked"))
        }
        Rotation::Invalid => Err(invalid()),
    }
}

/// Stores and returns a new token pair in a new family.
async fn issue(state: &Shared, subject: Subject, scope: &str, refresh: bool) -> Result<TokenResponse, TokenError> {
    let family = TokenFamilyId::generate(&*state.clock, &*state.rng);
    let (tokens, response) = new_pair(state, subject, family, scope, refresh);
    state.store().insert_tokens(&tokens).await.map_err(ApiError::from)?;
    Ok(response)
}

fn new_pair(
    state: &Shared,
    subject: Subject,
    family: TokenFamilyId,
    scope: &str,
    refresh: bool,
) -> (Vec<StoredToken>, TokenResponse) {
    let now = state.clock.now();
    let ttl = |d: std::time::Duration| Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 1_000_000));
    let (access_ttl, refresh_ttl) = (ttl(state.config.access_token_ttl), ttl(state.config.refresh_token_ttl));
    let access = SecretToken::<TOKEN_BYTES>::generate(&*state.rng);
    let stored = |token: &SecretToken<TOKEN_BYTES>, kind, ttl| StoredToken {
        hash: token.hash(),
        kind,
        family,
        subject,
        issued_at: now,
        expires_at: now + ttl,
        revoked_at: None,
    };
    let mut tokens = vec![stored(&access, TokenKind::Access, access_ttl)];
    let refresh_token = refresh.then(|| {
        let token = SecretToken::<TOKEN_BYTES>::generate(&*state.rng);
        tokens.push(stored(&token, TokenKind::Refresh, refresh_ttl));
        token.as_text()
    });
    let response = TokenResponse {
        access_token: access.as_text(),
        token_type: "Bearer".into(),
        expires_in: access_ttl.num_seconds(),
        refresh_token,
        scope: scope.to_owned(),
    };
    (tokens, response)
}

/// A revocation request (RFC 7009 §2.1).
// No `Debug`: it holds a secret.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"token": "k3Vq0aZ8r1JmT5yWcXe2LgQ1nB7sD4fH9uI6oP0aZ8r1"}))]
pub struct RevokeRequest {
    /// The access or refresh token.
    pub token: String,
    /// `access_token` or `refresh_token`; a hint only.
    #[expect(dead_code, reason = "a hint RFC 7009 lets a server ignore: every token is looked up by its hash alone")]
    pub token_type_hint: Option<String>,
}

/// Revokes a token: an access token alone, a refresh token with its whole sign-in. Answers 200
/// whether or not the token was known (RFC 7009 §2.2). No client authentication is asked: the
/// tokens are bearer tokens of public clients (staff sign-ins) or of clients whose secret buys
/// them anyway, so holding the token is the authorisation to end it; the answer says nothing
/// about which tokens exist.
#[utoipa::path(
    post,
    operation_id = "revoke",
    path = "/oauth/revoke",
    tag = "auth",
    request_body(content = RevokeRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or was never valid"),
        (status = 400, description = "No token given", body = OAuthError),
        (status = 429, description = "Too many requests", body = crate::problem::Problem),
    )
)]
pub async fn revoke(
    State(state): State<Shared>,
    ClientIp(peer): ClientIp,
    request: axum::extract::Request,
) -> Result<Response, TokenError> {
    limit_peer(&state, peer).await?;
    let req: RevokeRequest = form(&state, request).await?;
    if req.token.is_empty() {
        return Err(oauth("invalid_request", "token is required"));
    }
    if let Some(token) = SecretToken::<TOKEN_BYTES>::parse(&req.token) {
        let hash = token.hash();
        if let Some(stored) = state.store().token(&hash).await.map_err(ApiError::from)? {
            state.store().revoke_token(&hash, state.clock.now()).await.map_err(ApiError::from)?;
            let news = match stored.kind {
                TokenKind::Refresh => Revoked::Family(stored.family),
                TokenKind::Access => Revoked::Token(hash),
            };
            revoked(&state, news).await;
        }
    }
    Ok((StatusCode::OK, no_store()).into_response())
}
