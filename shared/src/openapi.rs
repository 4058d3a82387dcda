//! OpenAPI assembly: every function contributes its paths; this module adds what all share
//! (info, the bearer scheme, the error schema and the standard error responses).

use utoipa::Modify;
use utoipa::OpenApi as _;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

use crate::error::{ErrorBody, ErrorDetail, FieldError};

/// The security scheme name handlers use in `security(("bearerAuth" = []))`.
pub const BEARER: &str = "bearerAuth";
/// `x-auth-bootstrap-key`, for `POST /auth/bootstrap/user`.
pub const AUTH_BOOTSTRAP_KEY: &str = "authBootstrapKey";
/// `x-dev-bootstrap-key`, for `POST /internal/dev/token`.
pub const DEV_BOOTSTRAP_KEY: &str = "devBootstrapKey";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "GOBI API",
        description = "Control plane for AI voice agents: tenants, agents, phone numbers, campaigns, tools and calls.\n\n\
**Authority.** A bearer token acts across tenants only when it carries `acct` = the platform account \
`00000000-0000-0000-0000-000000000000` (in either claim vocabulary). Every other token acts for its own \
`tenant_id` alone, whatever its role and `is_internal`: `internal_admin` / `internal_operator` \
(`admin` / `tenant-manager`) write inside that tenant, `client_viewer` (`user`) reads it. Another \
tenant's object answers as if it did not exist (404 with the route's code), and so does a `tenant_id` \
query or body field naming another tenant. Tenant management (`/api/tenants` list, create, update, \
delete, activate), legal holds and call deletion need the platform account (403 \
`ACCOUNT_NOT_AUTHORIZED`). Every `/internal/*` route needs an internal role (403 \
`INSUFFICIENT_PERMISSIONS` for `client_viewer`). A `tenant_id` claim that is not a UUID is refused \
(401 `INVALID_TOKEN`); a token with neither the platform account nor a tenant reaches no tenant.",
        license(name = "UNLICENSED", identifier = "UNLICENSED"),
    ),
    components(schemas(ErrorBody, ErrorDetail, FieldError)),
    modifiers(&BearerScheme),
    tags(
        (name = "System", description = "Health and documentation"),
        (name = "Auth", description = "First admin, login, bootstrap users and dev tokens"),
        (name = "Tenants", description = "Tenant management (the platform account); a tenant-bound token reads its own tenant"),
        (name = "Agents", description = "AI voice agents, their versions, tool allowlists and live status"),
        (name = "Runtime", description = "What the voice runtime does: heartbeats, dispatch claims"),
        (name = "Automation", description = "n8n integrations, tools, the tool catalog and guarded tool execution"),
        (name = "Client", description = "A tenant's read-only view: calls, transcripts, recordings, KPIs"),
        (name = "Twilio", description = "Twilio's webhooks (a Lambda Function URL in AWS)"),
        (name = "Phone numbers", description = "Twilio numbers, LiveKit SIP routing and the inbound route index"),
    )
)]
struct BaseDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        for (name, header) in [
            (AUTH_BOOTSTRAP_KEY, "x-auth-bootstrap-key"),
            (DEV_BOOTSTRAP_KEY, "x-dev-bootstrap-key"),
        ] {
            components.add_security_scheme(
                name,
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(header))),
            );
        }
    }
}

/// One document for every route of every function.
pub fn assemble(parts: impl IntoIterator<Item = OpenApi>) -> OpenApi {
    let mut document = BaseDoc::openapi();
    for part in parts {
        document.merge(part);
    }
    for item in document.paths.paths.values_mut() {
        for operation in [
            item.get.as_mut(),
            item.put.as_mut(),
            item.post.as_mut(),
            item.delete.as_mut(),
            item.patch.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            add_standard_errors(operation);
        }
        if let Some(create) = item
            .post
            .as_mut()
            .filter(|o| o.responses.responses.contains_key("201"))
        {
            add_idempotency_key(create);
        }
    }
    document
}

/// Every create (a POST answering 201) honours `Idempotency-Key` (`crate::idempotency`).
fn add_idempotency_key(operation: &mut Operation) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let parameter = ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(utoipa::openapi::Required::False)
        .description(Some(
            "Makes a retry safe: a repeat with the same key (same caller, route and body) within \
             24 hours returns the first answer (header `Idempotent-Replayed: true`) and creates \
             nothing twice.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some(r"^[!-~]+$")),
        ))
        .build();
    operation
        .parameters
        .get_or_insert_with(Vec::new)
        .push(RefOr::T(parameter));
    let responses = &mut operation.responses.responses;
    responses.entry("409".to_owned()).or_insert_with(|| {
        error_response("IDEMPOTENCY_IN_PROGRESS: the first request with this key is still running")
    });
    responses.entry("422".to_owned()).or_insert_with(|| {
        error_response("IDEMPOTENCY_KEY_REUSED: the key was used with another body")
    });
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

/// Adds the errors any operation can answer with, unless the operation documents its own.
fn add_standard_errors(operation: &mut Operation) {
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = operation.request_body.is_some();
    let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let mut add = |status: &str, description: &str| {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(description));
    };
    if secured {
        add(
            "401",
            "MISSING_TOKEN, INVALID_TOKEN, TOKEN_EXPIRED or INVALID_BOOTSTRAP_KEY",
        );
        add(
            "403",
            "The caller may not call this route (ACCOUNT_NOT_AUTHORIZED, INSUFFICIENT_PERMISSIONS, BOOTSTRAP_DISABLED)",
        );
    }
    if has_body || has_parameters {
        add("400", "VALIDATION_ERROR, with per-field details");
    }
    if has_body {
        add("413", "PAYLOAD_TOO_LARGE");
        add(
            "415",
            "UNSUPPORTED_MEDIA_TYPE: the body must be application/json",
        );
    }
    add(
        "500",
        "INTERNAL_ERROR; the cause is logged with the request id",
    );
    add(
        "503",
        "DEPENDENCY_UNAVAILABLE: a service GOBI depends on timed out or throttled; retry after Retry-After seconds",
    );
}

/// Every (method, path) the document describes, for checks against `template.yaml`.
pub fn routes(document: &OpenApi) -> Vec<(String, String)> {
    let mut routes = Vec::new();
    for (path, item) in &document.paths.paths {
        for (method, operation) in [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("DELETE", &item.delete),
            ("PATCH", &item.patch),
        ] {
            if operation.is_some() {
                routes.push((method.to_owned(), path.clone()));
            }
        }
    }
    routes.sort();
    routes
}
