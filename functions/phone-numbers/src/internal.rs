//! The platform's routes: numbers for routing, registering a number the Twilio account owns, and
//! pointing a number at an agent.

use super::*;

pub(crate) fn routes() -> ApiRouter<PhoneNumbersState> {
    ApiRouter::default()
        .routes(api_routes!(internal_list, internal_register))
        .routes(api_routes!(internal_assign_agent))
}

/// A tenant's numbers for routing (platform staff), cursor-paged.
#[utoipa::path(
    get,
    path = "/internal/phone-numbers",
    tag = "Phone numbers",
    params(InternalListQuery),
    security(("bearerAuth" = [])),
    responses((status = 200, description = "One page of the tenant's numbers", body = InternalPage))
)]
async fn internal_list(
    principal: Principal,
    State(state): State<PhoneNumbersState>,
    ApiQuery(query): ApiQuery<InternalListQuery>,
) -> ApiResult<Json<InternalPage>> {
    principal.authorize(Access::write(
        query.tenant_id,
        tenant_not_found(query.tenant_id),
    ))?;
    let limit = count_up_to(500, query.limit, 200).map_err(|e| ApiError::validation("limit", e))?;
    let (numbers, next_cursor) = state
        .numbers
        .page(query.tenant_id, limit, query.cursor.as_deref())
        .await?;
    Ok(Json(InternalPage {
        data: numbers.iter().map(PhoneNumber::internal_view).collect(),
        next_cursor,
    }))
}

/// Register a number the Twilio account already owns, with its route, for a tenant.
#[utoipa::path(
    post,
    path = "/internal/phone-numbers",
    tag = "Phone numbers",
    request_body = RegisterNumber,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Registered", body = DataResponse<InternalPhoneNumber>),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "NUMBER_ALREADY_CLAIMED", body = ErrorBody),
    )
)]
async fn internal_register(
    principal: Principal,
    State(state): State<PhoneNumbersState>,
    ApiJson(body): ApiJson<RegisterNumber>,
) -> ApiResult<(StatusCode, Json<DataResponse<InternalPhoneNumber>>)> {
    principal.authorize(Access::write(
        body.tenant_id,
        tenant_not_found(body.tenant_id),
    ))?;
    let mut p = Problems::default();
    let e164 = p.check("e164", E164::parse_dialable(&body.e164));
    let sid = p.check("twilio_sid", twilio_sid(&body.twilio_sid));
    p.finish()?;
    check_agent(&state, body.tenant_id, body.agent_id).await?;
    let now = time::now();
    let e164 = e164.expect("checked");
    let number = PhoneNumber {
        id: PhoneNumberId::new(),
        tenant_id: body.tenant_id,
        display: Some(e164.display()),
        e164,
        number_type: NumberType::Local,
        label: None,
        provider: Provider::Twilio,
        status: match body.status {
            Some(RegisterStatus::Inactive) => NumberStatus::Inactive,
            _ => NumberStatus::Active,
        },
        agent_id: body.agent_id,
        twilio_sid: sid,
        twilio_status: None,
        twilio_date_created: None,
        sip: None,
        created_at: now,
        updated_at: now,
    };
    let mut items = state.numbers.create_items(&number)?;
    items.push(state.tenants.exists_check(body.tenant_id)?);
    if let Err(e) = gobi_shared::dynamo::transact(
        state.tenants.client(),
        items,
        gobi_shared::dynamo::Backoff::default(),
    )
    .await
    {
        let reasons = gobi_shared::dynamo::cancellation_reasons(&e).unwrap_or_default();
        if gobi_shared::dynamo::item_condition_failed(&reasons, 2) {
            return Err(tenant_not_found(body.tenant_id).into());
        }
        if gobi_shared::dynamo::item_condition_failed(&reasons, 0) {
            return Err(number_taken(&number.e164).into());
        }
        return Err(ApiError::Internal(
            anyhow::Error::new(e).context("registering a phone number"),
        ));
    }
    Ok((
        StatusCode::CREATED,
        Json(DataResponse::with_message(
            number.internal_view(),
            "Phone number registered",
        )),
    ))
}

/// Point a number's calls at an agent, or at none.
#[utoipa::path(
    patch,
    path = "/internal/phone-numbers/{phoneNumberId}/agent",
    tag = "Phone numbers",
    params(("phoneNumberId" = PhoneNumberId, Path, description = "Phone number id")),
    request_body = AssignAgent,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Assigned", body = DataResponse<InternalPhoneNumber>),
        (status = 404, description = "PHONE_NUMBER_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "PHONE_NUMBER_PROVISIONING or CONCURRENT_MODIFICATION", body = ErrorBody),
    )
)]
async fn internal_assign_agent(
    principal: Principal,
    State(state): State<PhoneNumbersState>,
    ApiPath(phone_id): ApiPath<PhoneNumberId>,
    ApiJson(body): ApiJson<AssignAgent>,
) -> ApiResult<Json<DataResponse<InternalPhoneNumber>>> {
    principal.authorize(Access::INTERNAL)?;
    let agent = body
        .agent_id
        .ok_or_else(|| ApiError::validation("agent_id", "is required (an agent id, or null)"))?;
    let current = state
        .numbers
        .find(phone_id)
        .await?
        .ok_or_else(|| number_not_found(phone_id))?;
    principal.authorize(Access::read(
        current.number.tenant_id,
        number_not_found(phone_id),
    ))?;
    let mut next = current.number.clone();
    next.agent_id = agent;
    let saved = change_number(&state, current, next).await?;
    Ok(Json(DataResponse::with_message(
        saved.internal_view(),
        "Agent assigned",
    )))
}
