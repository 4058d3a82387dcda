//! Events and webhook delivery attempts go onto SQS in batches (issue 16: requests per hot
//! path): the events of one change, a fan-out's attempts, the tick's backlog of retries and the
//! agents that went quiet together, whatever their tenants, ten to a request; what SQS refuses
//! is named, event by event.

use chrono::Duration;
use gobi_infra::aws_requests::counted;
use gobi_tests::fakes::webhook_receiver::WebhookReceiver;
use gobi_tests::{TestApp, tokens};
use http::StatusCode;
use serde_json::{Value, json};

use crate::webhooks::{add_endpoint, receiver};

/// An app with a tenant (`label`) whose one endpoint, a receiver failing its first `failures`
/// requests, subscribes to `events`.
async fn subscribed(
    label: &str,
    failures: usize,
    events: Value,
) -> (TestApp, String, WebhookReceiver) {
    let app = gobi_tests::spawn_app().await;
    let tenant = app.new_tenant(label, label).await;
    let (receiver, url) = receiver(failures).await;
    add_endpoint(&app, &tenant, &url, events).await;
    (app, tenant, receiver)
}

/// The SQS requests among `sent` (as `aws_requests::counted` names them).
fn sqs_only(sent: &[String]) -> Vec<&str> {
    sent.iter()
        .map(String::as_str)
        .filter(|s| s.starts_with("sqs:"))
        .collect()
}

#[tokio::test]
async fn events_go_ten_to_a_request_and_a_refused_batch_names_every_event_it_held() {
    let app = gobi_tests::spawn_app().await;
    let queue_url = app
        .config
        .webhook_queue_url
        .clone()
        .expect("a webhook queue");
    let publisher = gobi_shared::events::Publisher::new(app.sqs.clone(), &queue_url);
    let tenant = gobi_shared::ids::TenantId::new();
    let now = app.clock.now();
    let envelopes = |sizes: &[usize]| -> Vec<_> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, size)| {
                let data = json!({"n": i, "pad": "x".repeat(*size)});
                gobi_shared::events::Envelope::new("test.batch", now, tenant, None, data)
            })
            .collect()
    };
    let queued = || async {
        let mut numbers: Vec<u64> = app
            .take_messages(&queue_url)
            .await
            .iter()
            .map(|body| {
                serde_json::from_str::<Value>(body).unwrap()["data"]["n"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        numbers.sort_unstable();
        numbers
    };

    // Twelve small events: two requests, every event queued.
    let (unsent, sent) = counted(publisher.send_all(&envelopes(&[10; 12]))).await;
    assert!(unsent.is_empty(), "{unsent:?}");
    assert_eq!(sent, ["sqs:SendMessageBatch", "sqs:SendMessageBatch"]);
    assert_eq!(queued().await, (0..12).collect::<Vec<u64>>());

    // Ten events over SQS's 1 MiB a batch, then one more: the first batch is refused whole
    // and each of its events reported; the eleventh is queued.
    let unsent = publisher
        .send_all(&envelopes(&[[110_000; 10].as_slice(), &[10]].concat()))
        .await;
    let indexes: Vec<usize> = unsent.iter().map(|(i, _)| *i).collect();
    assert_eq!(indexes, (0..10).collect::<Vec<usize>>());
    assert!(
        format!("{:#}", unsent[0].1).contains("BatchRequestTooLong"),
        "{:#}",
        unsent[0].1
    );
    assert_eq!(queued().await, [10]);
}

#[tokio::test]
async fn a_backlog_of_retries_is_queued_ten_to_a_request() {
    let (app, tenant, receiver) = subscribed("backlog", 12, json!(["call.started"])).await;

    // Twelve events of one change: two requests.
    let sink = gobi_domain::webhooks::EventSink::from_config(&app.config, app.sqs.clone());
    let events = (0..12).map(|n| {
        (
            gobi_domain::webhooks::EventType::CallStarted,
            json!({"n": n}),
        )
    });
    let ((), sent) = counted(sink.emit_all(tenant.parse().unwrap(), events, app.clock.now())).await;
    assert_eq!(sent, ["sqs:SendMessageBatch", "sqs:SendMessageBatch"]);
    // Each is fanned out to the endpoint and tried at once: all twelve fail.
    app.drain_webhooks().await;
    assert_eq!(receiver.received().len(), 12);

    // Their retries come due together: the tick queues them in two requests, and they land.
    app.clock.advance(Duration::minutes(10));
    let (_, sent) = counted(app.tick()).await;
    assert_eq!(
        sqs_only(&sent),
        ["sqs:SendMessageBatch", "sqs:SendMessageBatch"]
    );
    app.drain_webhooks().await;
    let received = receiver.received();
    assert_eq!(received.len(), 24);
    let mut numbers: Vec<i64> = received[12..]
        .iter()
        .map(|r| r.json()["data"]["n"].as_i64().unwrap())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..12).collect::<Vec<i64>>());
}

#[tokio::test]
async fn agents_that_go_quiet_together_are_told_in_one_request_whatever_their_tenant() {
    let (app, first, first_receiver) = subscribed("fleet", 0, json!(["agent.offline"])).await;
    let second = app.new_tenant("fleet-two", "fleet-two").await;
    let (second_receiver, url) = receiver(0).await;
    add_endpoint(&app, &second, &url, json!(["agent.offline"])).await;
    let mut agents = Vec::new();
    for (tenant, name) in [
        (&first, "Front desk"),
        (&first, "After hours"),
        (&second, "Reception"),
    ] {
        let (agent, _) = app.published_agent(tenant, name).await;
        let beat = app
            .post(
                "/internal/runtime/heartbeat",
                &tokens::internal("internal_operator", tenant),
                json!({"agent_id": agent, "worker_id": "w1", "status": "available", "active_calls": 0, "capacity": 4}),
            )
            .await;
        assert_eq!(beat.status, StatusCode::OK, "{}", beat.text);
        agents.push(agent);
    }
    app.clock
        .advance(Duration::seconds(app.config.heartbeat_timeout_seconds + 5));
    let (report, sent) = counted(app.tick()).await;
    assert_eq!(report.heartbeats.marked_offline, 3);
    assert_eq!(sqs_only(&sent), ["sqs:SendMessageBatch"]);
    app.drain_webhooks().await;
    let told = |receiver: &WebhookReceiver| -> Vec<String> {
        let mut agents: Vec<String> = receiver
            .received()
            .iter()
            .map(|r| r.json()["data"]["agentId"].as_str().unwrap().to_owned())
            .collect();
        agents.sort();
        agents
    };
    let mut first_agents = agents[..2].to_vec();
    first_agents.sort();
    assert_eq!(told(&first_receiver), first_agents);
    assert_eq!(told(&second_receiver), agents[2..]);
}
