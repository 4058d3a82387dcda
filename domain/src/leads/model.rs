//! Lead lists, leads and the do-not-call list, as stored and as the API shows them (camelCase,
//! the first seed's family).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use gobi_shared::ids::TenantId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::timezones::LeadTimezone;

/// A tenant's list of people to call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadList {
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    pub description: Option<String>,
    /// ISO 3166 country for numbers written without a country code (`US`, `GB`).
    pub default_country: Option<String>,
    /// The header of the time zone column of its files, when they have one.
    pub timezone_column: Option<String>,
    /// The header of the phone column, when detection is not wanted.
    pub phone_column: Option<String>,
    pub counts: ListCounts,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A list's leads, kept by counters as leads come and go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListCounts {
    pub total: u64,
    /// Leads that may be called (not suppressed).
    pub valid: u64,
    /// Leads on the tenant's do-not-call list when they were added.
    pub suppressed: u64,
}

/// What a lead is, for dialing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum LeadState {
    Valid,
    /// Its number is on the tenant's do-not-call list (checked again before every dial).
    Suppressed,
}

/// The kind of consent a lead gave to be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ConsentType {
    Written,
    Express,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    #[serde(rename = "type")]
    pub kind: ConsentType,
    pub captured_at: Option<DateTime<Utc>>,
    /// Where it was captured (a form, a call, a contract).
    pub source: Option<String>,
}

impl Default for Consent {
    fn default() -> Self {
        Self {
            kind: ConsentType::None,
            captured_at: None,
            source: None,
        }
    }
}

/// One person on a list; the list holds each number once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Lead {
    /// The number's digits (E.164 without `+`): a lead's id within its list.
    pub id: String,
    pub list_id: uuid::Uuid,
    pub tenant_id: TenantId,
    /// E.164.
    pub phone_number: String,
    pub name: Option<String>,
    pub external_id: Option<String>,
    /// Every other column of its row.
    pub variables: BTreeMap<String, String>,
    pub timezone: LeadTimezone,
    pub consent: Consent,
    pub tags: Vec<String>,
    pub state: LeadState,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Lead {
    /// A lead's id for an E.164 number.
    pub fn id_of(e164: &str) -> String {
        e164.trim_start_matches('+').to_owned()
    }
}

/// Why a number is on the do-not-call list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum SuppressionReason {
    /// The person asked not to be called (on a call, by mail, ...).
    OptOut,
    Manual,
    Complaint,
    Invalid,
}

/// A number the tenant never calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Suppression {
    pub tenant_id: TenantId,
    /// E.164.
    pub phone_number: String,
    pub reason: SuppressionReason,
    /// Who or what added it (`api`, `call:<id>`, `import:<id>`).
    pub source: String,
    pub created_at: DateTime<Utc>,
}

/// Where an import stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ImportState {
    /// Created with an upload URL; waiting for the file and `start`.
    AwaitingUpload,
    Queued,
    Importing,
    Completed,
    /// Done; some rows were rejected (see the error report).
    CompletedWithErrors,
    /// The file could not be read (encoding, no phone column); the list is unchanged.
    Failed,
}

impl ImportState {
    pub fn finished(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::CompletedWithErrors | Self::Failed
        )
    }
}

/// What a file is imported into.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ImportKind {
    /// Leads into a list.
    #[default]
    Leads,
    /// Numbers onto the tenant's do-not-call list.
    Suppressions,
}

/// One file imported into a list, or onto the do-not-call list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadImport {
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    #[serde(default)]
    pub kind: ImportKind,
    /// The list it fills (lead imports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_id: Option<uuid::Uuid>,
    /// Why its numbers are suppressed (do-not-call imports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<SuppressionReason>,
    /// For numbers written without a country code (do-not-call imports; a lead import takes
    /// its list's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_country: Option<String>,
    pub state: ImportState,
    /// Validate and count, write no lead.
    pub dry_run: bool,
    /// What a row whose number the list has does: `skip` or `update`.
    pub on_duplicate: crate::leads::store::OnDuplicate,
    /// The file in the imports bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub object_key: Option<String>,
    pub size_bytes: Option<u64>,
    /// Why the import failed, when it did.
    pub failure: Option<String>,
    /// Rows by outcome, live while it runs.
    #[serde(default)]
    pub counters: crate::leads::import::Counters,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl LeadImport {
    /// A new import into `list` (or, without one, onto the do-not-call list): queued, nothing
    /// counted, its file not yet placed; duplicates skipped.
    pub fn new(
        tenant_id: TenantId,
        list_id: Option<uuid::Uuid>,
        dry_run: bool,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: uuid::Uuid::now_v7(),
            tenant_id,
            kind: if list_id.is_some() {
                ImportKind::Leads
            } else {
                ImportKind::Suppressions
            },
            list_id,
            reason: None,
            default_country: None,
            state: ImportState::Queued,
            dry_run,
            on_duplicate: crate::leads::store::OnDuplicate::Skip,
            object_key: None,
            size_bytes: None,
            failure: None,
            counters: Default::default(),
            created_at: now,
            updated_at: now,
            completed_at: None,
        }
    }

    /// Where its record lives.
    pub fn scope(&self) -> crate::leads::store::ImportScope {
        use crate::leads::store::ImportScope;
        match self.list_id {
            Some(list) => ImportScope::List(list),
            None => ImportScope::Suppressions(self.tenant_id),
        }
    }
}

/// The work the `lead-import` worker is asked to do (the data of the queue's messages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum LeadJob {
    /// Run an import: of a list's leads (`listId`), or of do-not-call numbers (none).
    Import {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        list_id: Option<uuid::Uuid>,
        import_id: uuid::Uuid,
    },
    /// Empty a list marked deleted, a round at a time.
    DeleteList { list_id: uuid::Uuid },
}

impl LeadJob {
    pub fn import(import: &LeadImport) -> Self {
        Self::Import {
            list_id: import.list_id,
            import_id: import.id,
        }
    }
}
