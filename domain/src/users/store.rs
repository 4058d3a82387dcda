//! The users table: users, one marker per e-mail (unique case-insensitively), memberships,
//! the "users exist" singleton that closes first-admin setup, and login throttles.

use crate::error::{StoreError, StoreResult};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use chrono::{DateTime, Utc};
use gobi_shared::dynamo::{self, Backoff};
use gobi_shared::ids::{Email, TenantId};
use serde::{Deserialize, Serialize};

use super::model::{Membership, UserView};

/// Key formats of the users table.
mod keys {
    use gobi_shared::ids::TenantId;

    pub const PROFILE: &str = "PROFILE";
    pub const EMAIL: &str = "EMAIL";
    pub const THROTTLE: &str = "THROTTLE";
    pub const MEMBERSHIP_PREFIX: &str = "MEMBERSHIP#";
    /// Exists once any user does; first-admin setup requires its absence.
    pub const USERS_EXIST: (&str, &str) = ("SYSTEM#USERS", "EXIST");
    /// The platform tenant: the first admin's. Its memberships get the platform account.
    pub const PLATFORM_TENANT: (&str, &str) = ("SYSTEM#PLATFORM", "TENANT");

    pub fn user(id: uuid::Uuid) -> String {
        format!("USER#{id}")
    }

    pub fn membership(tenant: TenantId) -> String {
        format!("{MEMBERSHIP_PREFIX}{tenant}")
    }

    /// E-mails are unique case-insensitively.
    pub fn email(email: &str) -> String {
        format!("EMAIL#{}", email.to_lowercase())
    }

    /// Failed logins are counted per e-mail and source address, so failures from one place
    /// cannot lock the account out everywhere.
    pub fn login(email: &str, source: &str) -> String {
        format!("LOGIN#{}#{source}", email.trim().to_lowercase())
    }
}

/// Failed-login limit: this many attempts per window, per e-mail and source address.
pub const LOGIN_ATTEMPTS: u32 = 5;
pub const LOGIN_WINDOW_SECONDS: i64 = 15 * 60;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: uuid::Uuid,
    pub email: Email,
    pub name: Option<String>,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id,
            email: self.email.clone(),
            name: self.name.clone(),
            created_at: self.created_at,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct UserItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    user: User,
}

#[derive(Serialize, Deserialize)]
struct MembershipItem {
    pk: String,
    sk: String,
    user_id: uuid::Uuid,
    #[serde(flatten)]
    membership: Membership,
}

#[derive(Serialize, Deserialize)]
struct EmailMarker {
    pk: String,
    sk: String,
    user_id: uuid::Uuid,
}

#[derive(Serialize, Deserialize)]
struct PlatformTenant {
    pk: String,
    sk: String,
    tenant_id: TenantId,
}

#[derive(Serialize)]
struct Singleton {
    pk: String,
    sk: String,
    first_user_id: uuid::Uuid,
}

/// Where the items of [`UserStore::new_user_items`] stand in a transaction.
pub mod slot {
    pub const USERS_EXIST: usize = 0;
    pub const EMAIL: usize = 1;
}

pub fn email_exists(email: &Email) -> StoreError {
    StoreError::conflict(
        "EMAIL_EXISTS",
        format!("A user with e-mail {} already exists", email.as_str()),
    )
}

#[derive(Clone, Debug)]
pub struct UserStore {
    client: Client,
    table: String,
}

impl UserStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn put<T: Serialize>(
        &self,
        item: &T,
        condition: Option<&str>,
    ) -> anyhow::Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(item)?));
        let put = match condition {
            Some(c) => put.condition_expression(c),
            None => put,
        };
        Ok(TransactWriteItem::builder().put(put.build()?).build())
    }

    /// The writes that create a user: `[USERS_EXIST]` the singleton (conditional on its absence
    /// when `first` is set, else overwritten), `[EMAIL]` the e-mail claim, then the user and one
    /// item per membership.
    pub fn new_user_items(
        &self,
        user: &User,
        memberships: &[Membership],
        first: bool,
    ) -> anyhow::Result<Vec<TransactWriteItem>> {
        let singleton = Singleton {
            pk: keys::USERS_EXIST.0.into(),
            sk: keys::USERS_EXIST.1.into(),
            first_user_id: user.id,
        };
        let marker = EmailMarker {
            pk: keys::email(user.email.as_str()),
            sk: keys::EMAIL.into(),
            user_id: user.id,
        };
        let mut items = vec![
            self.put(&singleton, first.then_some("attribute_not_exists(pk)"))?,
            self.put(&marker, Some("attribute_not_exists(pk)"))?,
            self.put(
                &UserItem {
                    pk: keys::user(user.id),
                    sk: keys::PROFILE.into(),
                    user: user.clone(),
                },
                Some("attribute_not_exists(pk)"),
            )?,
        ];
        for membership in memberships {
            items.push(self.put(
                &MembershipItem {
                    pk: keys::user(user.id),
                    sk: keys::membership(membership.tenant_id),
                    user_id: user.id,
                    membership: membership.clone(),
                },
                None,
            )?);
        }
        Ok(items)
    }

    /// Marks `tenant` as the platform tenant, once (first-admin setup writes it).
    pub fn platform_tenant_item(&self, tenant: TenantId) -> anyhow::Result<TransactWriteItem> {
        self.put(
            &PlatformTenant {
                pk: keys::PLATFORM_TENANT.0.into(),
                sk: keys::PLATFORM_TENANT.1.into(),
                tenant_id: tenant,
            },
            Some("attribute_not_exists(pk)"),
        )
    }

    /// The platform tenant, once first-admin setup has run.
    pub async fn platform_tenant(&self) -> StoreResult<Option<TenantId>> {
        let item = dynamo::read_item(
            &self.client,
            &self.table,
            keys::PLATFORM_TENANT.0,
            keys::PLATFORM_TENANT.1,
            "reading the platform tenant",
        )
        .await?;
        Ok(match item {
            Some(item) => Some(
                dynamo::from_item::<PlatformTenant>(item)
                    .map_err(|e| e.context("reading the platform tenant"))?
                    .tenant_id,
            ),
            None => None,
        })
    }

    /// Whether any user exists (the first-admin singleton is there).
    pub async fn users_exist(&self) -> StoreResult<bool> {
        let output = dynamo::read_item(
            &self.client,
            &self.table,
            keys::USERS_EXIST.0,
            keys::USERS_EXIST.1,
            "reading the users singleton",
        )
        .await?;
        Ok(output.is_some())
    }

    /// The user with this e-mail (any case), with their memberships.
    #[tracing::instrument(skip_all)]
    pub async fn find_by_email(&self, email: &str) -> StoreResult<Option<(User, Vec<Membership>)>> {
        let marker = dynamo::read_item(
            &self.client,
            &self.table,
            keys::email(email.trim()),
            keys::EMAIL,
            "reading an e-mail marker",
        )
        .await?;
        let Some(marker) = marker else {
            return Ok(None);
        };
        let marker: EmailMarker = dynamo::from_item(marker)?;
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::user(marker.user_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("reading a user"))?;
        let mut user = None;
        let mut memberships = Vec::new();
        for item in output.items.unwrap_or_default() {
            let sk = item
                .get("sk")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            if sk == keys::PROFILE {
                user = Some(dynamo::from_item::<UserItem>(item)?.user);
            } else if sk.starts_with(keys::MEMBERSHIP_PREFIX) {
                memberships.push(dynamo::from_item::<MembershipItem>(item)?.membership);
            }
        }
        memberships.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then(a.tenant_id.cmp(&b.tenant_id))
        });
        Ok(user.map(|u| (u, memberships)))
    }

    /// Takes one login attempt for `email` from its window's allowance, atomically, so the limit
    /// holds under concurrent attempts. Refused with 429 and `Retry-After` once it is spent.
    #[tracing::instrument(skip_all)]
    pub async fn take_login_attempt(
        &self,
        email: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let now_s = now.timestamp();
        let window_end = now_s + LOGIN_WINDOW_SECONDS;
        let n = |v: i64| AttributeValue::N(v.to_string());
        let mut backoff = Backoff::default();
        loop {
            // Counts within an open window; a missing or closed window starts a new one.
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(dynamo::key(keys::login(email, source), keys::THROTTLE)))
                .update_expression(
                    "SET attempts = if_not_exists(attempts, :zero) + :one, windowEnds = if_not_exists(windowEnds, :end), expiresAt = :end",
                )
                .condition_expression("attribute_not_exists(pk) OR (windowEnds > :now AND attempts < :max)")
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":end", n(window_end))
                .expression_attribute_values(":now", n(now_s))
                .expression_attribute_values(":max", n(i64::from(LOGIN_ATTEMPTS)))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(()),
                Err(e) if dynamo::is_condition_failed(&e) => e,
                Err(e) => {
                    return Err(StoreError::Dynamo(
                        anyhow::Error::new(e).context("counting a login attempt"),
                    ));
                }
            };
            let old_end = error
                .as_service_error()
                .and_then(|e| match e {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => c.item(),
                    _ => None,
                })
                .and_then(|item| item.get("windowEnds"))
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(now_s);
            if old_end > now_s {
                return Err(StoreError::Throttled {
                    code: "TOO_MANY_LOGIN_ATTEMPTS",
                    message:
                        "Too many login attempts for this e-mail from this address; try again later"
                            .into(),
                    retry_after_seconds: u64::try_from(old_end - now_s).unwrap_or(1),
                });
            }
            // The window closed: start a new one, unless a concurrent attempt just did.
            let reset = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", AttributeValue::S(keys::login(email, source)))
                .item("sk", AttributeValue::S(keys::THROTTLE.into()))
                .item("attempts", n(1))
                .item("windowEnds", n(window_end))
                .item("expiresAt", n(window_end))
                .condition_expression("windowEnds <= :now")
                .expression_attribute_values(":now", n(now_s))
                .send()
                .await;
            match reset {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.code() == Some("ConditionalCheckFailedException")
                        && backoff.wait().await =>
                {
                    continue;
                }
                Err(e) => {
                    return Err(StoreError::Dynamo(
                        anyhow::Error::new(e).context("opening a login window"),
                    ));
                }
            }
        }
    }

    /// A successful login clears the e-mail's count.
    pub async fn clear_login_attempts(&self, email: &str, source: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::login(email, source),
                keys::THROTTLE,
            )))
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("clearing login attempts"))?;
        Ok(())
    }
}

/// A membership that starts now.
pub fn membership(
    tenant_id: TenantId,
    role: super::model::MembershipRole,
    now: DateTime<Utc>,
) -> Membership {
    Membership {
        tenant_id,
        role,
        created_at: now,
    }
}
