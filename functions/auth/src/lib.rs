//! The `auth` function: first-admin setup, login, bootstrap users and dev tokens, so a new
//! deployment can be set up and used without an external identity provider.

pub mod model;
pub mod password;
pub use gobi_domain::users::store;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use gobi_domain::tenants::model::CreateTenant;
use gobi_domain::tenants::store::{TenantStore, domain_exists};
use gobi_shared::api_routes;
use gobi_shared::auth::{Claims, JwtIssuer, require_header_key};
use gobi_shared::dynamo::{self, Backoff};
use gobi_shared::error::{ApiError, ApiResult, ErrorBody, Problems};
use gobi_shared::extract::{ApiJson, SourceAddress};
use gobi_shared::idempotency::{IdempotencyStore, honour_keys};
use gobi_shared::ids::{Email, PLATFORM_ACCOUNT, TenantId};
use gobi_shared::response::DataResponse;
use gobi_shared::routing::ApiRouter;
use gobi_shared::{Config, time};
use secrecy::{ExposeSecret, SecretString};

use crate::model::{
    BootstrapUser, CreatedUser, DevToken, Login, Membership, MembershipRole, RegisterFirstAdmin,
    TokenGrant, display_name, new_password, parse_expires_in,
};
use crate::store::{User, UserStore, email_exists, membership, slot};

pub const AUTH_BOOTSTRAP_HEADER: &str = "x-auth-bootstrap-key";
pub const DEV_BOOTSTRAP_HEADER: &str = "x-dev-bootstrap-key";

#[derive(Clone)]
pub struct AuthState {
    /// `Idempotency-Key` records of the create routes.
    pub idempotency: IdempotencyStore,
    pub users: UserStore,
    pub tenants: TenantStore,
    pub issuer: Arc<JwtIssuer>,
    pub token_ttl_seconds: i64,
    pub auth_bootstrap_key: Option<SecretString>,
    pub dev_bootstrap_key: Option<SecretString>,
    /// Production answers 404 on the dev token route, whatever the key.
    pub production: bool,
    /// `NODE_ENV=local|test`: first-admin setup needs no key while no user exists. Elsewhere it
    /// needs `x-auth-bootstrap-key`, and answers 404 when `AUTH_BOOTSTRAP_KEY` is not set.
    pub open_first_admin: bool,
}

impl AuthState {
    pub fn new(config: &Config, dynamodb: aws_sdk_dynamodb::Client) -> anyhow::Result<Self> {
        Ok(Self {
            idempotency: IdempotencyStore::new(dynamodb.clone(), &config.tables.idempotency),
            users: UserStore::new(dynamodb.clone(), &config.tables.users),
            tenants: TenantStore::new(dynamodb.clone(), &config.tables.tenants),
            issuer: Arc::new(JwtIssuer::new(&config.jwt)?),
            token_ttl_seconds: config.token_ttl_seconds,
            auth_bootstrap_key: config.auth_bootstrap_key.clone(),
            dev_bootstrap_key: config.dev_bootstrap_key.clone(),
            production: config.environment.is_production(),
            open_first_admin: config.environment.allows_local_network(),
        })
    }

    /// A token for `user` in `tenant_id`; `platform` adds the platform account (`acct`), which
    /// only memberships of the platform tenant get.
    fn grant(
        &self,
        user: Option<&User>,
        tenant_id: Option<String>,
        role: MembershipRole,
        platform: bool,
        memberships: Vec<Membership>,
        ttl: i64,
    ) -> ApiResult<TokenGrant> {
        let acct = platform.then(|| PLATFORM_ACCOUNT.to_string());
        let claims = Claims {
            sub: Some(user.map(|u| u.id.to_string()).unwrap_or_default()),
            tenant_id: tenant_id.clone(),
            role: Some(role.as_str().to_owned()),
            is_internal: Some(role.is_internal()),
            acct: acct.clone(),
            email: user.map(|u| u.email.as_str().to_owned()),
            name: user.and_then(|u| u.name.clone()),
            ..Claims::default()
        };
        let token = self.issuer.issue(claims, chrono::Duration::seconds(ttl))?;
        Ok(TokenGrant {
            token,
            token_type: "Bearer",
            expires_in: ttl,
            user: user.map(User::view),
            tenant_id,
            role,
            acct,
            memberships,
        })
    }
}

fn routes() -> ApiRouter<AuthState> {
    ApiRouter::default()
        .routes(api_routes!(register_first_admin))
        .routes(api_routes!(login))
        .routes(api_routes!(bootstrap_user))
        .routes(api_routes!(dev_token))
}

pub fn router(state: AuthState) -> axum::Router {
    let keys = state.idempotency.clone();
    honour_keys(routes().with_state(state), keys)
}

/// The function's part of the OpenAPI document.
#[cfg(feature = "openapi")]
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().openapi()
}

fn route_not_found() -> ApiError {
    ApiError::not_found("ROUTE_NOT_FOUND", "No route matches this path")
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized {
        code: "INVALID_CREDENTIALS",
        message: "E-mail or password is wrong".into(),
    }
}

/// One-time setup while no user exists: creates a tenant, its first `internal_admin` and the
/// membership in one transaction, marks that tenant as the platform tenant (its members' tokens
/// carry the platform account), and returns a token. Afterwards: 409, nothing written. Outside
/// `NODE_ENV=local|test` it needs `x-auth-bootstrap-key` and answers 404 when
/// `AUTH_BOOTSTRAP_KEY` is not configured.
#[utoipa::path(
    post,
    path = "/auth/register-first-admin",
    tag = "Auth",
    request_body = RegisterFirstAdmin,
    security((), ("authBootstrapKey" = [])),
    responses(
        (status = 201, description = "The first admin, with a platform token", body = DataResponse<TokenGrant>),
        (status = 401, description = "INVALID_BOOTSTRAP_KEY (outside local and test)", body = ErrorBody),
        (status = 404, description = "ROUTE_NOT_FOUND: outside local and test without AUTH_BOOTSTRAP_KEY", body = ErrorBody),
        (status = 409, description = "ALREADY_INITIALIZED or DOMAIN_EXISTS", body = ErrorBody),
        (status = 503, description = "SETUP_BUSY: the setup raced with itself; try again", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
async fn register_first_admin(
    State(state): State<AuthState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterFirstAdmin>,
) -> ApiResult<(StatusCode, Json<DataResponse<TokenGrant>>)> {
    if !state.open_first_admin {
        if state.auth_bootstrap_key.is_none() {
            return Err(route_not_found());
        }
        require_header_key(
            &headers,
            AUTH_BOOTSTRAP_HEADER,
            state.auth_bootstrap_key.as_ref(),
        )?;
    }
    let mut p = Problems::default();
    let email = p.check("email", Email::parse(&body.email));
    p.check("password", new_password(&body.password));
    let name = p.check("name", display_name(body.name.as_deref()));
    let tenant =
        CreateTenant::from_name_and_domain(body.tenant_name, body.tenant_domain).validate();
    if let Err(ApiError::Validation(fields)) = &tenant {
        for f in fields {
            p.push(format!("tenant_{}", f.field), f.message.clone());
        }
    }
    p.finish()?;
    let (email, name, tenant) = (email.expect("checked"), name.expect("checked"), tenant?);

    let already = || {
        ApiError::conflict(
            "ALREADY_INITIALIZED",
            "GOBI is already set up: an admin exists",
        )
    };
    // Cheap early answer; the transaction below is what actually guarantees one admin.
    if state.users.users_exist().await? {
        return Err(already());
    }
    let now = time::now();
    let tenant = tenant.into_tenant(TenantId::new(), now);
    let user = User {
        id: uuid::Uuid::now_v7(),
        email,
        name,
        password_hash: password::hash(body.password).await?,
        created_at: now,
    };
    let memberships = vec![membership(tenant.id, MembershipRole::InternalAdmin, now)];
    let mut items = state.users.new_user_items(&user, &memberships, true)?;
    let tenant_slot = items.len();
    items.extend(state.tenants.create_items(&tenant)?);
    items.push(state.users.platform_tenant_item(tenant.id)?);

    if let Err(e) = dynamo::transact(
        state.users.client(),
        items,
        Backoff::new(12, Duration::from_millis(20)),
    )
    .await
    {
        let reasons = dynamo::cancellation_reasons(&e).unwrap_or_default();
        if dynamo::item_condition_failed(&reasons, slot::USERS_EXIST) {
            return Err(already());
        }
        if dynamo::item_condition_failed(&reasons, slot::EMAIL) {
            return Err(email_exists(&user.email).into());
        }
        if dynamo::item_condition_failed(&reasons, tenant_slot + 1) {
            return Err(domain_exists(&tenant.domain).into());
        }
        if dynamo::is_transaction_conflict(&e) {
            return Err(if state.users.users_exist().await? {
                already()
            } else {
                ApiError::Unavailable {
                    code: "SETUP_BUSY",
                    message: "Setup is busy; try again".into(),
                }
            });
        }
        return Err(ApiError::Internal(
            anyhow::Error::new(e).context("registering the first admin"),
        ));
    }
    tracing::info!(tenant_id = %tenant.id, user_id = %user.id, "first admin registered");
    let grant = state.grant(
        Some(&user),
        Some(tenant.id.to_string()),
        MembershipRole::InternalAdmin,
        true,
        memberships,
        state.token_ttl_seconds,
    )?;
    Ok((
        StatusCode::CREATED,
        Json(DataResponse::with_message(grant, "First admin registered")),
    ))
}

/// E-mail and password login. With `tenant_id` the token is scoped to that tenant (the user
/// must be a member); without, to the user's first membership. Failed attempts per e-mail and
/// source address are limited (429 with `Retry-After`), so failures from one place do not lock
/// the account out elsewhere.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "Auth",
    request_body = Login,
    responses(
        (status = 200, description = "A token and the user's memberships", body = DataResponse<TokenGrant>),
        (status = 401, description = "INVALID_CREDENTIALS: unknown e-mail or wrong password", body = ErrorBody),
        (status = 403, description = "NOT_A_MEMBER of the tenant asked for, or NO_MEMBERSHIP", body = ErrorBody),
        (status = 429, description = "TOO_MANY_LOGIN_ATTEMPTS; see Retry-After", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
async fn login(
    State(state): State<AuthState>,
    SourceAddress(source): SourceAddress,
    ApiJson(body): ApiJson<Login>,
) -> ApiResult<Json<DataResponse<TokenGrant>>> {
    let mut p = Problems::default();
    p.check(
        "email",
        if body.email.trim().is_empty() {
            Err("is required")
        } else {
            Ok(())
        },
    );
    p.check(
        "password",
        if body.password.expose_secret().is_empty() {
            Err("is required")
        } else {
            Ok(())
        },
    );
    p.finish()?;

    state
        .users
        .take_login_attempt(&body.email, &source, time::now())
        .await?;
    let found = state.users.find_by_email(&body.email).await?;
    let (user, memberships) = match found {
        Some((user, memberships)) => (Some(user), memberships),
        None => (None, Vec::new()),
    };
    let matches = password::verify(
        body.password,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    let Some(user) = user.filter(|_| matches) else {
        return Err(invalid_credentials());
    };
    let chosen = match body.tenant_id {
        Some(tenant_id) => memberships
            .iter()
            .find(|m| m.tenant_id == tenant_id)
            .cloned()
            .ok_or_else(|| ApiError::Forbidden {
                code: "NOT_A_MEMBER",
                message: format!("You are not a member of tenant {tenant_id}"),
            })?,
        None => memberships
            .first()
            .cloned()
            .ok_or_else(|| ApiError::Forbidden {
                code: "NO_MEMBERSHIP",
                message: "This user belongs to no tenant".into(),
            })?,
    };
    state
        .users
        .clear_login_attempts(&body.email, &source)
        .await?;
    let platform = state.users.platform_tenant().await? == Some(chosen.tenant_id);
    tracing::info!(user_id = %user.id, tenant_id = %chosen.tenant_id, platform, "login");
    let grant = state.grant(
        Some(&user),
        Some(chosen.tenant_id.to_string()),
        chosen.role,
        platform,
        memberships,
        state.token_ttl_seconds,
    )?;
    Ok(Json(DataResponse::new(grant)))
}

/// Creates a further user and their memberships; guarded by `x-auth-bootstrap-key`.
#[utoipa::path(
    post,
    path = "/auth/bootstrap/user",
    tag = "Auth",
    request_body = BootstrapUser,
    security(("authBootstrapKey" = [])),
    responses(
        (status = 201, description = "The user and memberships", body = DataResponse<CreatedUser>),
        (status = 404, description = "TENANT_NOT_FOUND: a membership names no tenant", body = ErrorBody),
        (status = 409, description = "EMAIL_EXISTS", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
async fn bootstrap_user(
    State(state): State<AuthState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<BootstrapUser>,
) -> ApiResult<(StatusCode, Json<DataResponse<CreatedUser>>)> {
    require_header_key(
        &headers,
        AUTH_BOOTSTRAP_HEADER,
        state.auth_bootstrap_key.as_ref(),
    )?;
    let mut p = Problems::default();
    let email = p.check("email", Email::parse(&body.email));
    p.check("password", new_password(&body.password));
    let name = p.check("name", display_name(body.name.as_deref()));
    let mut tenants: Vec<TenantId> = body.memberships.iter().map(|m| m.tenant_id).collect();
    tenants.sort();
    tenants.dedup();
    p.check(
        "memberships",
        match body.memberships.len() {
            0 => Err("needs at least one tenant"),
            n if n > 20 => Err("at most 20 tenants"),
            n if n != tenants.len() => Err("names a tenant twice"),
            _ => Ok(()),
        },
    );
    p.finish()?;
    let (email, name) = (email.expect("checked"), name.expect("checked"));

    let now = time::now();
    let user = User {
        id: uuid::Uuid::now_v7(),
        email,
        name,
        password_hash: password::hash(body.password).await?,
        created_at: now,
    };
    let memberships: Vec<Membership> = body
        .memberships
        .iter()
        .map(|m| membership(m.tenant_id, m.role, now))
        .collect();
    let mut items = state.users.new_user_items(&user, &memberships, false)?;
    let checks_from = items.len();
    for m in &memberships {
        items.push(state.tenants.exists_check(m.tenant_id)?);
    }
    if let Err(e) = dynamo::transact(state.users.client(), items, Backoff::default()).await {
        let reasons = dynamo::cancellation_reasons(&e).unwrap_or_default();
        if dynamo::item_condition_failed(&reasons, slot::EMAIL) {
            return Err(email_exists(&user.email).into());
        }
        if let Some(i) = (0..memberships.len())
            .find(|i| dynamo::item_condition_failed(&reasons, checks_from + i))
        {
            let id = memberships[i].tenant_id;
            return Err(ApiError::not_found(
                "TENANT_NOT_FOUND",
                format!("Tenant {id} not found"),
            ));
        }
        return Err(ApiError::Internal(
            anyhow::Error::new(e).context("creating a user"),
        ));
    }
    tracing::info!(user_id = %user.id, "user created by bootstrap key");
    Ok((
        StatusCode::CREATED,
        Json(DataResponse::with_message(
            CreatedUser {
                user: user.view(),
                memberships,
            },
            "User created",
        )),
    ))
}

/// A token for local and staging use, guarded by `x-dev-bootstrap-key`; 404 in production.
#[utoipa::path(
    post,
    path = "/internal/dev/token",
    tag = "Auth",
    request_body = DevToken,
    security(("devBootstrapKey" = [])),
    responses(
        (status = 200, description = "A token with the claims asked for", body = DataResponse<TokenGrant>),
        (status = 404, description = "ROUTE_NOT_FOUND in production", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
async fn dev_token(
    State(state): State<AuthState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<DevToken>,
) -> ApiResult<Json<DataResponse<TokenGrant>>> {
    if state.production {
        return Err(route_not_found());
    }
    require_header_key(
        &headers,
        DEV_BOOTSTRAP_HEADER,
        state.dev_bootstrap_key.as_ref(),
    )?;
    let mut p = Problems::default();
    let user_id = p.check("user_id", gobi_shared::text::required(&body.user_id, 200));
    let ttl = p.check(
        "expires_in",
        parse_expires_in(body.expires_in.as_deref().unwrap_or("1h")),
    );
    p.check(
        "acct",
        match body.acct.as_deref() {
            Some(a) if a.trim().parse::<uuid::Uuid>().is_err() => Err("must be a UUID"),
            _ => Ok(()),
        },
    );
    p.finish()?;
    let acct = body.acct.as_deref().map(|a| a.trim().to_owned());
    let tenant_id = body.tenant_id.map(|t| t.to_string());
    let claims = Claims {
        sub: user_id,
        tenant_id: tenant_id.clone(),
        role: Some(body.role.as_str().to_owned()),
        is_internal: Some(body.is_internal),
        acct: acct.clone(),
        ..Claims::default()
    };
    let ttl = ttl.expect("checked");
    let token = state.issuer.issue(claims, chrono::Duration::seconds(ttl))?;
    Ok(Json(DataResponse::new(TokenGrant {
        token,
        token_type: "Bearer",
        expires_in: ttl,
        user: None,
        tenant_id,
        role: body.role,
        acct,
        memberships: Vec::new(),
    })))
}
