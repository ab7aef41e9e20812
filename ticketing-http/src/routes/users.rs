//! Staff users (superadmin only, but anyone reads themselves at `/me`) and API clients
//! (superadmins for anyone, organizers for themselves).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::Serialize;
use ticketing_core::audit::Actor;
use ticketing_core::credential::ApiClient;
use ticketing_core::field::Email;
use ticketing_core::fleet::Revoked;
use ticketing_core::ids::{ApiClientId, UserId};
use ticketing_core::secret_token::SecretToken;
use ticketing_core::user::{Role, User};
use utoipa::IntoParams;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::auth::caller::TOKEN_BYTES;
use crate::extract::{Body, Id, Params};
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// Paging of the user list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// The page, from 1.
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// Items per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
}

/// A person's or a client's name: trimmed, 1 to 200 characters on one line.
fn name(text: &str) -> Result<&str, ApiError> {
    let name = text.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::field("name", "must be 1 to 200 characters on one line"));
    }
    Ok(name)
}

fn email(text: &str) -> Result<Email, ApiError> {
    Email::parse(text).map_err(|e| ApiError::field("email", e.to_string()))
}

/// The signed-in user (for an API client: its owner).
#[utoipa::path(
    get,
    operation_id = "users_me",
    path = "/me",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "You", body = UserView),
        (status = 401, description = "Not signed in", body = Problem),
    )
)]
pub async fn me(State(state): State<Shared>, caller: Caller) -> Result<Json<UserView>, ApiError> {
    let user = state.store().user(caller.user).await?.ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(UserView::from(&user)))
}

/// Lists users, oldest first.
#[utoipa::path(
    get,
    operation_id = "users_list",
    path = "/users",
    tag = "users",
    params(UserQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of users", body = [UserView]),
        (status = 403, description = "Superadmins only", body = Problem),
    )
)]
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    Params(query): Params<UserQuery>,
) -> Result<Json<Vec<UserView>>, ApiError> {
    caller.require(&[Role::Superadmin])?;
    let per_page = query.per_page.unwrap_or(50);
    if !(1..=100).contains(&per_page) {
        return Err(ApiError::field("per_page", "must be from 1 to 100"));
    }
    let page = query.page.unwrap_or(1);
    let offset = page
        .checked_sub(1)
        .and_then(|p| p.checked_mul(per_page))
        .ok_or_else(|| ApiError::field("page", "pages count from 1"))?;
    let users = state.store().users(per_page, offset).await?;
    Ok(Json(users.iter().map(UserView::from).collect()))
}

/// Creates a user.
#[utoipa::path(
    post,
    operation_id = "users_create",
    path = "/users",
    tag = "users",
    request_body = NewUserBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 403, description = "Superadmins only", body = Problem),
        (status = 409, description = "The email is taken", body = Problem),
        (status = 422, description = "A field is invalid", body = Problem),
    )
)]
pub async fn create(
    State(state): State<Shared>,
    caller: Caller,
    Body(body): Body<NewUserBody>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    caller.require(&[Role::Superadmin])?;
    let role = parse_role("role", &body.role)?;
    let email = email(&body.email)?;
    let name = name(&body.name)?;
    let password_hash = state.passwords.hash(body.password, state.rng.clone()).await?;
    let user = User {
        id: UserId::generate(&*state.clock, &*state.rng),
        email,
        name: name.to_owned(),
        role,
        password_hash,
        active: true,
        created_at: state.clock.now(),
    };
    let view = UserView::from(&user);
    let entry = Entry::by(&state, &caller, "user.create", format!("user:{}", user.id), None).after(&view);
    audit::run(entry.ready(), state.store().insert_user(&user)).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// A user.
#[utoipa::path(
    get,
    operation_id = "users_get",
    path = "/users/{id}",
    tag = "users",
    params(("id" = Uuid, Path, description = "The user")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 403, description = "Superadmins only", body = Problem),
        (status = 404, description = "No such user", body = Problem),
    )
)]
pub async fn get(State(state): State<Shared>, caller: Caller, Id(id): Id<Uuid>) -> Result<Json<UserView>, ApiError> {
    caller.require(&[Role::Superadmin])?;
    let user = state.store().user(UserId::from_uuid(id)).await?.ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(UserView::from(&user)))
}

/// Changes a user. Deactivating them, changing their role or their password revokes every token
/// they and their API clients hold. (A deactivated user's clients sign in no more; an active
/// user's clients can sign in again with their secret: revoke the clients to stop them.)
#[utoipa::path(
    patch,
    operation_id = "users_update",
    path = "/users/{id}",
    tag = "users",
    params(("id" = Uuid, Path, description = "The user")),
    request_body = UserPatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changed", body = UserView),
        (status = 403, description = "Superadmins only", body = Problem),
        (status = 404, description = "No such user", body = Problem),
        (status = 409, description = "The email is taken, or the last superadmin would go", body = Problem),
        (status = 422, description = "A field is invalid", body = Problem),
    )
)]
pub async fn update(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(patch): Body<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    caller.require(&[Role::Superadmin])?;
    let store = state.store();
    let before = store.user(UserId::from_uuid(id)).await?.ok_or_else(|| ApiError::not_found("user"))?;
    let mut after = before.clone();
    if let Some(e) = &patch.email {
        after.email = email(e)?;
    }
    if let Some(given) = &patch.name {
        after.name = name(given)?.to_owned();
    }
    if let Some(role) = &patch.role {
        after.role = parse_role("role", role)?;
    }
    if let Some(active) = patch.active {
        after.active = active;
    }
    if let Some(password) = patch.password {
        after.password_hash = state.passwords.hash(password, state.rng.clone()).await?;
    }
    // The store refuses, atomically, a change that would leave no active superadmin.
    let view = UserView::from(&after);
    let entry = Entry::by(&state, &caller, "user.update", format!("user:{}", after.id), None)
        .before(&UserView::from(&before))
        .after(&view);
    audit::run(entry.ready(), store.update_user(&after)).await?;
    let signs_out = !after.active || after.password_hash != before.password_hash || after.role != before.role;
    if signs_out {
        store.revoke_user_tokens(after.id, state.clock.now()).await?;
        crate::auth::caller::revoked(&state, Revoked::User(after.id)).await;
    }
    Ok(Json(view))
}

/// API clients are managed by people: a client's token cannot list, make or revoke clients
/// (else one leaked secret could leave others behind, or one narrowed client widen itself).
fn not_a_client(caller: &Caller) -> Result<(), ApiError> {
    match caller.actor {
        Actor::Client(_) => Err(ApiError::forbidden("API clients are managed by users, not by clients")),
        _ => Ok(()),
    }
}

/// Lists API clients: all for a superadmin, one's own for an organizer.
#[utoipa::path(
    get,
    operation_id = "users_list_clients",
    path = "/clients",
    tag = "clients",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The clients", body = [ClientView]),
        (status = 403, description = "Superadmins and organizers only", body = Problem),
    )
)]
pub async fn list_clients(State(state): State<Shared>, caller: Caller) -> Result<Json<Vec<ClientView>>, ApiError> {
    caller.require(&[Role::Superadmin, Role::Organizer])?;
    not_a_client(&caller)?;
    let owner = (!caller.is_superadmin()).then_some(caller.user);
    let clients = state.store().api_clients(owner).await?;
    Ok(Json(clients.iter().map(ClientView::from).collect()))
}

/// Creates an API client for the client-credentials grant. Its secret is in this answer only.
#[utoipa::path(
    post,
    operation_id = "users_create_client",
    path = "/clients",
    tag = "clients",
    request_body = NewClientBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; keep the secret", body = NewClientView),
        (status = 403, description = "Superadmins and organizers only", body = Problem),
        (status = 422, description = "A field is invalid", body = Problem),
    )
)]
pub async fn create_client(
    State(state): State<Shared>,
    caller: Caller,
    Body(body): Body<NewClientBody>,
) -> Result<(StatusCode, Json<NewClientView>), ApiError> {
    caller.require(&[Role::Superadmin, Role::Organizer])?;
    not_a_client(&caller)?;
    let owner = match body.owner {
        Some(id) if caller.is_superadmin() => {
            state.store().user(UserId::from_uuid(id)).await?.ok_or_else(|| ApiError::field("owner", "no such user"))?
        }
        Some(_) => return Err(ApiError::field("owner", "only a superadmin makes clients for others")),
        None => state.store().user(caller.user).await?.ok_or_else(|| ApiError::not_found("user"))?,
    };
    if !owner.active {
        return Err(ApiError::field("owner", "the owner is inactive"));
    }
    let role = match &body.role {
        Some(role) => parse_role("role", role)?,
        None => owner.role,
    };
    // The owner must hold the role (a superadmin holds them all), and the caller may hand out
    // only their own role unless they are a superadmin.
    if owner.role != Role::Superadmin && role != owner.role {
        return Err(ApiError::field("role", format!("a client of a {} acts as a {}", owner.role, owner.role)));
    }
    if !caller.is_superadmin() && role != caller.role {
        return Err(ApiError::field("role", format!("a {} makes clients that act as a {}", caller.role, caller.role)));
    }
    let name = name(&body.name)?;
    let secret = SecretToken::<TOKEN_BYTES>::generate(&*state.rng);
    let client = ApiClient {
        id: ApiClientId::generate(&*state.clock, &*state.rng),
        client_id: format!("cli_{}", SecretToken::<12>::generate(&*state.rng).as_text()),
        secret_hash: secret.hash(),
        name: name.to_owned(),
        role,
        owner: owner.id,
        created_at: state.clock.now(),
        revoked_at: None,
    };
    let view = ClientView::from(&client);
    let entry = Entry::by(&state, &caller, "client.create", format!("client:{}", client.client_id), None).after(&view);
    audit::run(entry.ready(), state.store().insert_api_client(&client)).await?;
    Ok((StatusCode::CREATED, Json(NewClientView { client: view, client_secret: secret.as_text() })))
}

/// Revokes an API client and every token it holds.
#[utoipa::path(
    delete,
    operation_id = "users_revoke_client",
    path = "/clients/{id}",
    tag = "clients",
    params(("id" = Uuid, Path, description = "The client")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such client of yours", body = Problem),
    )
)]
pub async fn revoke_client(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller.require(&[Role::Superadmin, Role::Organizer])?;
    not_a_client(&caller)?;
    let client = state
        .store()
        .api_client_by_id(ApiClientId::from_uuid(id))
        .await?
        .filter(|c| caller.is_superadmin() || c.owner == caller.user)
        .ok_or_else(|| ApiError::not_found("API client"))?;
    let entry = Entry::by(&state, &caller, "client.revoke", format!("client:{}", client.client_id), None)
        .before(&ClientView::from(&client));
    audit::run(entry.ready(), state.store().revoke_api_client(client.id, state.clock.now())).await?;
    crate::auth::caller::revoked(&state, Revoked::Client(client.client_id.clone())).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A staff user.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// The id.
    pub id: Uuid,
    /// Their sign-in email.
    pub email: String,
    /// Their name.
    pub name: String,
    /// `superadmin`, `organizer`, `cashier` or `agent`.
    pub role: String,
    /// Whether they may sign in.
    pub active: bool,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: *u.id.as_uuid(),
            email: u.email.as_str().to_owned(),
            name: u.name.clone(),
            role: u.role.as_str().to_owned(),
            active: u.active,
            created_at: u.created_at,
        }
    }
}

/// A new user.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "camille@example.org", "name": "Camille Martin", "role": "cashier", "password": "a long passphrase"}))]
pub struct NewUserBody {
    /// Sign-in email, unique.
    pub email: String,
    /// Their name.
    pub name: String,
    /// `superadmin`, `organizer`, `cashier` or `agent`.
    #[schema(schema_with = crate::schema::role)]
    pub role: String,
    /// At least 12 characters.
    #[schema(min_length = 12)]
    pub password: String,
}

/// Changes to a user; absent fields stay.
#[derive(Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Camille Martin-Durand"}))]
pub struct UserPatch {
    /// A new email.
    pub email: Option<String>,
    /// A new name.
    pub name: Option<String>,
    /// A new role.
    #[schema(schema_with = crate::schema::role)]
    pub role: Option<String>,
    /// Deactivating signs the user out everywhere.
    pub active: Option<bool>,
    /// A new password; signs the user out everywhere.
    #[schema(min_length = 12)]
    pub password: Option<String>,
}

/// Parses a role name, naming `field` when it is not one.
pub fn parse_role(field: &str, name: &str) -> Result<Role, crate::problem::ApiError> {
    name.parse().map_err(|_| crate::problem::ApiError::field(field, "must be superadmin, organizer, cashier or agent"))
}

/// An API client.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ClientView {
    /// The id.
    pub id: Uuid,
    /// What it signs in with.
    pub client_id: String,
    /// A label.
    pub name: String,
    /// Its role.
    pub role: String,
    /// The user it acts for.
    pub owner: Uuid,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&ApiClient> for ClientView {
    fn from(c: &ApiClient) -> Self {
        Self {
            id: *c.id.as_uuid(),
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            role: c.role.as_str().to_owned(),
            owner: *c.owner.as_uuid(),
            created_at: c.created_at,
            revoked_at: c.revoked_at,
        }
    }
}

/// A new API client.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Box office till"}))]
pub struct NewClientBody {
    /// A label.
    pub name: String,
    /// Its role; at most the owner's (default: the owner's).
    #[serde(default)]
    #[schema(schema_with = crate::schema::role)]
    pub role: Option<String>,
    /// The user it acts for (superadmins only; default: the caller).
    #[serde(default)]
    pub owner: Option<Uuid>,
}

/// A new API client with its secret, shown this once.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct NewClientView {
    /// The client.
    #[serde(flatten)]
    pub client: ClientView,
    /// The secret for the client-credentials grant; not kept, shown once.
    pub client_secret: String,
}
