//! A campaign's version split: calls spread over versions of its agent by weight, each lead's
//! dispatch pinned to one; a split of one version, or beside a pinned version, is refused.

use gobi_tests::tokens;
use http::StatusCode;
use serde_json::json;

use crate::dialing::{started, to_monday};

#[tokio::test]
async fn a_version_split_spreads_leads_over_the_versions() {
    let numbers: Vec<String> = (0..20)
        .map(|i| format!("+1212555{:04}", 8800 + i))
        .collect();
    let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let d = started(
        &refs,
        json!({"pacing": {"maxConcurrency": 20, "maxCallsPerSecond": 20}}),
        412,
    )
    .await;
    let base = format!("/api/tenants/{}/campaigns/{}", d.tenant, d.campaign);
    let agent = d.campaign().await["agentId"].as_str().unwrap().to_owned();
    let second = d
        .app
        .post(
            &format!("/internal/agents/{agent}/versions"),
            &tokens::admin(),
            json!({}),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    let listed = d
        .app
        .get(
            &format!("/internal/agents/{agent}/versions"),
            &tokens::admin(),
        )
        .await;
    let versions: Vec<String> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(versions.len(), 2, "{}", listed.text);
    let put = |body: serde_json::Value| {
        let d = &d;
        let base = base.clone();
        async move {
            d.app
                .call(http::Method::PUT, &base, Some(&tokens::admin()), Some(body))
                .await
        }
    };
    // Paused to change it; a split of one version, or a split beside a pinned one, is refused.
    assert_eq!(
        d.app
            .post(&format!("{base}/pause"), &tokens::admin(), json!({}))
            .await
            .status,
        StatusCode::OK
    );
    let one = put(json!({"versionSplit": [{"agentVersionId": versions[0], "weight": 1}]})).await;
    assert_eq!(one.status, StatusCode::BAD_REQUEST, "{}", one.text);
    let both = put(json!({"agentVersionId": versions[0], "versionSplit": [
        {"agentVersionId": versions[0], "weight": 1}, {"agentVersionId": versions[1], "weight": 1}]}))
    .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST, "{}", both.text);
    let split = put(json!({"versionSplit": [
        {"agentVersionId": versions[0], "weight": 1}, {"agentVersionId": versions[1], "weight": 1}]}))
    .await;
    assert_eq!(split.status, StatusCode::OK, "{}", split.text);
    assert_eq!(
        d.app
            .post(&format!("{base}/resume"), &tokens::admin(), json!({}))
            .await
            .status,
        StatusCode::OK
    );
    to_monday(&d.app, 15, 0);
    d.app.tick().await;
    d.app.drain_dialer().await;
    d.telephony.twilio.answer_calls(&d.base).await;
    assert_eq!(d.app.drain_handoffs().await, 20);
    let mut by_version = std::collections::BTreeMap::<String, usize>::new();
    for call in d.app.calls_of(&d.tenant).await {
        let dispatch = d.app.dispatch_of(call["id"].as_str().unwrap()).await;
        let version = dispatch["agent_version_id"].as_str().unwrap().to_owned();
        assert!(versions.contains(&version), "{dispatch}");
        *by_version.entry(version).or_default() += 1;
    }
    // Both versions get leads (each lead one version: a dispatch per call).
    assert_eq!(by_version.len(), 2, "{by_version:?}");
    assert_eq!(by_version.values().sum::<usize>(), 20);
}
