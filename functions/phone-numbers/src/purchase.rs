//! Buying numbers: Twilio's offer, the purchase (voice URL, LiveKit trunk and rule), and undoing a
//! purchase LiveKit could not finish.

use super::*;

pub(crate) fn routes() -> ApiRouter<PhoneNumbersState> {
    ApiRouter::default()
        .routes(api_routes!(available_numbers))
        .routes(api_routes!(purchase_number))
}

/// Search the numbers Twilio offers.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/phone-numbers/available",
    tag = "Phone numbers",
    params(("id" = TenantId, Path, description = "Tenant id"), AvailableQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Numbers Twilio offers now", body = DataResponse<Vec<AvailableNumberView>>),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
        (status = 502, description = "TWILIO_UNAVAILABLE or TWILIO_AUTH_FAILED", body = ErrorBody),
        (status = 503, description = "TWILIO_NOT_CONFIGURED", body = ErrorBody),
    )
)]
async fn available_numbers(
    principal: Principal,
    State(state): State<PhoneNumbersState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiQuery(query): ApiQuery<AvailableQuery>,
) -> ApiResult<Json<DataResponse<Vec<AvailableNumberView>>>> {
    authorized_tenant(&state.tenants, &principal, id, Role::Operator).await?;
    let mut p = Problems::default();
    let area_code = p.check(
        "areaCode",
        match query.area_code {
            Some(a) if a.len() != 3 || !a.bytes().all(|b| b.is_ascii_digit()) => {
                Err("must be three digits")
            }
            other => Ok(other),
        },
    );
    let contains = p.check(
        "contains",
        match query.contains {
            Some(c)
                if c.is_empty()
                    || c.len() > 16
                    || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'*') =>
            {
                Err("1 to 16 digits, letters or *")
            }
            other => Ok(other),
        },
    );
    let country = p.check(
        "country",
        match query.country.as_deref().unwrap_or("US") {
            c if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Ok(c.to_ascii_uppercase())
            }
            _ => Err("must be a two-letter country code"),
        },
    );
    let limit = p.check("limit", count_up_to(50, query.limit, 20));
    p.finish()?;
    let twilio = state
        .twilio
        .as_ref()
        .ok_or_else(|| not_configured("Searching numbers"))?;
    let kind = query.number_type.unwrap_or(NumberType::Local);
    let search = NumberSearch {
        country: country.expect("checked"),
        kind,
        area_code: area_code.expect("checked"),
        contains: contains.expect("checked"),
        limit: limit.expect("checked"),
    };
    let offered = twilio
        .available(&search)
        .await
        .map_err(twilio::TwilioError::into_api_error)?;
    let numbers = offered
        .into_iter()
        .filter_map(|n| {
            let e164 = E164::parse(&n.phone_number).ok()?;
            let caps = n.capabilities.clone();
            Some(AvailableNumberView {
                number: e164.display(),
                phone_number: e164,
                friendly_name: n.friendly_name,
                locality: n.locality,
                region: n.region,
                iso_country: n.iso_country,
                number_type: kind,
                capabilities: CapabilitiesView {
                    voice: caps.as_ref().is_some_and(|c| c.voice),
                    sms: caps.as_ref().is_some_and(|c| c.sms),
                    mms: caps.as_ref().is_some_and(|c| c.mms),
                },
            })
        })
        .collect();
    Ok(Json(DataResponse::new(numbers)))
}

/// Buy a number from Twilio (voice URL set to GOBI's webhook), provision LiveKit when it is
/// configured, and store it. Posting a number this tenant left mid-purchase finishes it.
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/phone-numbers",
    tag = "Phone numbers",
    params(("id" = TenantId, Path, description = "Tenant id")),
    request_body = PurchaseNumber,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Purchased and stored", body = PurchaseResponse),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "NUMBER_NOT_AVAILABLE (with twilioCode), NUMBER_ALREADY_CLAIMED, PHONE_NUMBER_EXISTS or TENANT_INACTIVE", body = ErrorBody),
        (status = 502, description = "TWILIO_UNAVAILABLE, TWILIO_AUTH_FAILED or LIVEKIT_PROVISIONING_FAILED (details say whether the purchase was released or kept for a retry)", body = ErrorBody),
        (status = 503, description = "TWILIO_NOT_CONFIGURED", body = ErrorBody),
    )
)]
async fn purchase_number(
    principal: Principal,
    State(state): State<PhoneNumbersState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(body): ApiJson<PurchaseNumber>,
) -> ApiResult<(StatusCode, Json<PurchaseResponse>)> {
    let tenant = authorized_tenant(&state.tenants, &principal, id, Role::Operator).await?;
    let mut p = Problems::default();
    let e164 = p.check("number", E164::parse_dialable(&body.number));
    let label = p.check("label", label(body.label.as_deref()));
    p.finish()?;
    let (e164, label) = (e164.expect("checked"), label.expect("checked"));
    check_agent(&state, id, body.agent_id).await?;
    if !tenant.is_active {
        return Err(ApiError::conflict(
            "TENANT_INACTIVE",
            format!("Tenant {id} is deactivated"),
        ));
    }
    let (Some(twilio), Some(base)) = (state.twilio.as_ref(), state.webhook_base.as_ref()) else {
        return Err(not_configured("Buying numbers"));
    };

    let now = time::now();
    let wanted = PhoneNumber {
        id: PhoneNumberId::new(),
        tenant_id: id,
        display: Some(e164.display()),
        e164: e164.clone(),
        number_type: body.number_type.unwrap_or(NumberType::Local),
        label,
        provider: body.provider.unwrap_or_default(),
        status: NumberStatus::Purchasing,
        agent_id: body.agent_id,
        twilio_sid: None,
        twilio_status: None,
        twilio_date_created: None,
        sip: None,
        created_at: now,
        updated_at: now,
    };
    let (mut current, resumed) = match state.numbers.claim(&wanted).await? {
        Claim::Reserved(reserved) => (reserved, false),
        Claim::Ours(existing) if existing.number.status.is_pending() => {
            tracing::info!(tenant_id = %id, phone_number_id = %existing.number.id, "finishing an earlier purchase");
            (existing, true)
        }
        Claim::Ours(_) => {
            return Err(ApiError::conflict(
                "PHONE_NUMBER_EXISTS",
                format!("{e164} is already one of this tenant's numbers"),
            ));
        }
        Claim::Taken => return Err(number_taken(&e164).into()),
    };

    if current.number.status == NumberStatus::Purchasing {
        // A purchase that died half-way may have bought the number already; a fresh
        // reservation has no such past.
        let owned = if resumed {
            twilio
                .find_owned(&e164)
                .await
                .map_err(twilio::TwilioError::into_api_error)?
        } else {
            None
        };
        let bought = match owned {
            Some(owned) => owned,
            None => match twilio
                .purchase(
                    &e164,
                    &webhook(base, "/twilio/webhook/inbound")?,
                    &webhook(base, "/twilio/webhook/status")?,
                )
                .await
            {
                Ok(bought) => bought,
                Err(e) => {
                    state
                        .numbers
                        .remove(&current.number, current.version)
                        .await?;
                    return Err(e.into_api_error());
                }
            },
        };
        let mut next = current.number.clone();
        next.twilio_sid = Some(bought.sid);
        next.twilio_status = bought.status;
        next.twilio_date_created = parse_twilio_date(bought.date_created.as_deref());
        next.status = if state.sip.is_some() {
            NumberStatus::SipPending
        } else {
            NumberStatus::Active
        };
        next.updated_at = time::now();
        current = state.numbers.save(&next, current.version).await?;
    }

    if current.number.status == NumberStatus::SipPending {
        let sip = state
            .sip
            .as_ref()
            .expect("only pending while LiveKit is configured");
        let target = CallTarget {
            tenant_id: id,
            phone_number_id: current.number.id,
            e164: &e164,
            agent_id: current.number.agent_id,
        };
        match sip.provision(target).await {
            Ok(route) => {
                let mut next = current.number.clone();
                next.sip = Some(route);
                next.status = NumberStatus::Active;
                next.updated_at = time::now();
                current = state.numbers.save(&next, current.version).await?;
            }
            Err(provisioning) => {
                return Err(undo_purchase(&state, twilio, current, provisioning).await);
            }
        }
    }

    let number = current.number;
    tracing::info!(tenant_id = %id, phone_number_id = %number.id, "phone number purchased");
    let twilio_block = TwilioPurchase {
        sid: number.twilio_sid.clone().unwrap_or_default(),
        status: number.twilio_status.clone(),
        date_created: number.twilio_date_created,
    };
    Ok((
        StatusCode::CREATED,
        Json(PurchaseResponse {
            data: number.view(),
            message: "Phone number purchased and created successfully".into(),
            twilio: twilio_block,
        }),
    ))
}

/// LiveKit failed after the purchase: give the number back and forget it; if Twilio will not
/// take it back, keep it as `sip_pending` so posting it again finishes the job. The answer says which.
async fn undo_purchase(
    state: &PhoneNumbersState,
    twilio: &TwilioClient,
    current: Versioned,
    provisioning: ApiError,
) -> ApiError {
    let ApiError::Dependency {
        status,
        code,
        message,
        ..
    } = provisioning
    else {
        return provisioning;
    };
    let sid = current.number.twilio_sid.clone().unwrap_or_default();
    let details = match twilio.release(&sid).await {
        Ok(()) => match state.numbers.remove(&current.number, current.version).await {
            Ok(()) => {
                serde_json::json!({"purchase": "released", "message": "The number was given back to Twilio; nothing was stored"})
            }
            Err(e) => return e.into(),
        },
        Err(release) => {
            tracing::error!(error = %release, phone_number_id = %current.number.id, "could not release after LiveKit failed");
            serde_json::json!({
                "purchase": "kept",
                "phoneNumberId": current.number.id,
                "status": "sip_pending",
                "message": "The number is bought and stored as sip_pending; POST the same number again to finish provisioning"
            })
        }
    };
    ApiError::Dependency {
        status,
        code,
        message,
        details: Some(details),
        twilio_code: None,
    }
}
