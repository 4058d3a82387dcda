//! A stand-in for LiveKit's SIP service (Twirp over protobuf, as `livekit-api` speaks it).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use livekit_protocol as proto;
use prost::Message;
use serde_json::json;

#[derive(Debug, Default)]
pub struct LiveKitState {
    /// Trunk id → the trunk as created.
    pub trunks: BTreeMap<String, proto::SipInboundTrunkInfo>,
    /// Rule id → the rule as created.
    pub rules: BTreeMap<String, proto::SipDispatchRuleInfo>,
    /// Every method called, in order.
    pub calls: Vec<String>,
    pub fail_trunk: bool,
    pub fail_rule: bool,
    /// Agent dispatches, as created.
    pub agent_dispatches: Vec<proto::AgentDispatch>,
    pub fail_agent_dispatch: bool,
    /// Outbound trunks that exist (set up in LiveKit beforehand, as an operator would).
    pub outbound_trunks: BTreeSet<String>,
    /// `CreateSIPParticipant` requests accepted: the calls LiveKit placed.
    pub sip_participants: Vec<proto::CreateSipParticipantRequest>,
    next_id: u64,
}

#[derive(Clone)]
pub struct FakeLiveKit {
    pub api_key: String,
    pub api_secret: String,
    pub state: Arc<Mutex<LiveKitState>>,
}

fn twirp_error(status: StatusCode, code: &str, msg: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"code": code, "msg": msg}).to_string(),
    )
        .into_response()
}

fn protobuf(message: impl Message) -> Response {
    (
        [(header::CONTENT_TYPE, "application/protobuf")],
        message.encode_to_vec(),
    )
        .into_response()
}

impl FakeLiveKit {
    pub fn new(api_key: &str, api_secret: &str) -> Self {
        Self {
            api_key: api_key.into(),
            api_secret: api_secret.into(),
            state: Arc::default(),
        }
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/twirp/livekit.SIP/{method}", post(call))
            .route(
                "/twirp/livekit.AgentDispatchService/{method}",
                post(agent_dispatch),
            )
            .with_state(self.clone())
    }

    /// The request's token must be signed with the API secret, issued by the API key, and grant
    /// the SIP permission the method needs (`call` to place calls, `admin` for the rest).
    fn refusal(&self, headers: &HeaderMap, grant: &str) -> Option<Response> {
        let Some(token) = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return Some(twirp_error(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "no token",
            ));
        };
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.validate_aud = false;
        let key = jsonwebtoken::DecodingKey::from_secret(self.api_secret.as_bytes());
        let Ok(data) = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation) else {
            return Some(twirp_error(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "invalid token",
            ));
        };
        if data.claims["iss"] != self.api_key.as_str() || data.claims["sip"][grant] != true {
            return Some(twirp_error(
                StatusCode::FORBIDDEN,
                "permission_denied",
                "needs the sip grant for this method",
            ));
        }
        None
    }
}

async fn call(
    State(fake): State<FakeLiveKit>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let grant = if method == "CreateSIPParticipant" {
        "call"
    } else {
        "admin"
    };
    if let Some(r) = fake.refusal(&headers, grant) {
        return r;
    }
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some("application/protobuf")
    {
        return twirp_error(StatusCode::BAD_REQUEST, "malformed", "expected protobuf");
    }
    let mut state = fake.state.lock().unwrap();
    state.calls.push(method.clone());
    state.next_id += 1;
    let id = state.next_id;
    match method.as_str() {
        "CreateSIPInboundTrunk" => {
            let Ok(request) = proto::CreateSipInboundTrunkRequest::decode(body) else {
                return twirp_error(StatusCode::BAD_REQUEST, "malformed", "bad body");
            };
            if state.fail_trunk {
                return twirp_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "trunk store unavailable",
                );
            }
            let mut trunk = request.trunk.unwrap_or_default();
            if trunk.numbers.is_empty() {
                return twirp_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_argument",
                    "a trunk needs numbers",
                );
            }
            trunk.sip_trunk_id = format!("ST_{id:08}");
            state
                .trunks
                .insert(trunk.sip_trunk_id.clone(), trunk.clone());
            protobuf(trunk)
        }
        "CreateSIPDispatchRule" => {
            let Ok(request) = proto::CreateSipDispatchRuleRequest::decode(body) else {
                return twirp_error(StatusCode::BAD_REQUEST, "malformed", "bad body");
            };
            if state.fail_rule {
                return twirp_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "rule store unavailable",
                );
            }
            let mut rule = request.dispatch_rule.unwrap_or_default();
            if let Some(missing) = rule
                .trunk_ids
                .iter()
                .find(|t| !state.trunks.contains_key(*t))
            {
                return twirp_error(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    &format!("trunk {missing} not found"),
                );
            }
            rule.sip_dispatch_rule_id = format!("SDR_{id:08}");
            state
                .rules
                .insert(rule.sip_dispatch_rule_id.clone(), rule.clone());
            protobuf(rule)
        }
        "CreateSIPParticipant" => {
            let Ok(request) = proto::CreateSipParticipantRequest::decode(body) else {
                return twirp_error(StatusCode::BAD_REQUEST, "malformed", "bad body");
            };
            if !state.outbound_trunks.contains(&request.sip_trunk_id) {
                return twirp_error(StatusCode::NOT_FOUND, "not_found", "no such outbound trunk");
            }
            if request.sip_call_to.is_empty() || request.room_name.is_empty() {
                return twirp_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_argument",
                    "sip_call_to and room_name are required",
                );
            }
            let info = proto::SipParticipantInfo {
                participant_id: format!("PA_{id:08}"),
                participant_identity: request.participant_identity.clone(),
                room_name: request.room_name.clone(),
                sip_call_id: format!("SCL_{id:08}"),
            };
            state.sip_participants.push(request);
            protobuf(info)
        }
        "DeleteSIPDispatchRule" => {
            let Ok(request) = proto::DeleteSipDispatchRuleRequest::decode(body) else {
                return twirp_error(StatusCode::BAD_REQUEST, "malformed", "bad body");
            };
            match state.rules.remove(&request.sip_dispatch_rule_id) {
                Some(rule) => protobuf(rule),
                None => twirp_error(StatusCode::NOT_FOUND, "not_found", "no such rule"),
            }
        }
        "DeleteSIPTrunk" => {
            let Ok(request) = proto::DeleteSipTrunkRequest::decode(body) else {
                return twirp_error(StatusCode::BAD_REQUEST, "malformed", "bad body");
            };
            match state.trunks.remove(&request.sip_trunk_id) {
                Some(trunk) => protobuf(proto::SipTrunkInfo {
                    sip_trunk_id: trunk.sip_trunk_id,
                    ..Default::default()
                }),
                None => twirp_error(StatusCode::NOT_FOUND, "not_found", "no such trunk"),
            }
        }
        other => twirp_error(
            StatusCode::NOT_FOUND,
            "bad_route",
            &format!("no method {other}"),
        ),
    }
}

/// `AgentDispatchService`: the token must carry a room-admin grant for the request's room.
async fn agent_dispatch(
    State(fake): State<FakeLiveKit>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    let key = jsonwebtoken::DecodingKey::from_secret(fake.api_secret.as_bytes());
    let Some(claims) = token
        .and_then(|t| jsonwebtoken::decode::<serde_json::Value>(t, &key, &validation).ok())
        .map(|d| d.claims)
    else {
        return twirp_error(StatusCode::UNAUTHORIZED, "unauthenticated", "invalid token");
    };
    if method != "CreateDispatch" {
        return twirp_error(
            StatusCode::NOT_FOUND,
            "bad_route",
            &format!("no method {method}"),
        );
    }
    let Ok(request) = proto::CreateAgentDispatchRequest::decode(body) else {
        return twirp_error(StatusCode::BAD_REQUEST, "malformed", "bad body");
    };
    if claims["iss"] != fake.api_key.as_str()
        || claims["video"]["roomAdmin"] != true
        || claims["video"]["room"] != request.room.as_str()
    {
        return twirp_error(
            StatusCode::FORBIDDEN,
            "permission_denied",
            "needs roomAdmin on the room",
        );
    }
    let mut state = fake.state.lock().unwrap();
    state.calls.push(method);
    if state.fail_agent_dispatch {
        return twirp_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "dispatch service down",
        );
    }
    state.next_id += 1;
    let dispatch = proto::AgentDispatch {
        id: format!("AD_{:08}", state.next_id),
        agent_name: request.agent_name.clone(),
        room: request.room.clone(),
        metadata: request.metadata.clone(),
        ..Default::default()
    };
    state.agent_dispatches.push(dispatch.clone());
    protobuf(dispatch)
}
