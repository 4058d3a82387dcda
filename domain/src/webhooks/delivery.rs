//! Fanning an event out to endpoints, one signed attempt at a time, the retry schedule, and
//! endpoints that keep failing.

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use gobi_shared::events::Envelope;
use gobi_shared::ids::TenantId;
use gobi_shared::outbound::{Reach, check_url};
use gobi_shared::secrets::{SealedFor, SecretBox};
use secrecy::{ExposeSecret, SecretString};

use super::model::{
    Delivery, DeliveryAttempt, DeliveryStatus, Endpoint, EventType, MAX_ATTEMPTS_KEPT, WebhookEvent,
};
use super::store::WebhookStore;
use super::{DeliveryDue, EventSink, WEBHOOK_DELIVERY};
use crate::error::StoreResult;

/// How long one attempt may take before it counts as failed.
const ATTEMPT_TIMEOUT: StdDuration = StdDuration::from_secs(10);
/// A claim lasts this long; a worker that dies mid-attempt leaves it to the tick after.
const CLAIM_SECONDS: i64 = 60;
/// Characters of the receiver's answer kept with an attempt.
const SNIPPET_CHARS: usize = 256;
/// Due deliveries one tick queues, at most.
const REQUEUE_LIMIT: i32 = 500;

/// A new signing secret: `whsec_` and 32 random bytes in base64, as Standard Webhooks gives them.
pub fn new_secret() -> anyhow::Result<SecretString> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(SecretString::from(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )))
}

/// What a secret may show of itself.
pub fn hint_of(secret: &SecretString) -> String {
    secret.expose_secret().chars().take(10).collect()
}

/// The `webhook-signature` of `body` sent as message `id` at `timestamp`.
pub fn sign(
    secret: &SecretString,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> anyhow::Result<String> {
    let signer = standardwebhooks::Webhook::new(secret.expose_secret())
        .map_err(|e| anyhow::anyhow!("a signing secret that is not base64: {e}"))?;
    signer
        .sign(id, timestamp, body)
        .map_err(|e| anyhow::anyhow!("signing: {e}"))
}

/// The wait before retry `round` (0-based) on `schedule`, jittered by up to a fifth either way
/// (from the delivery's id, so it is the same however often it is worked out); `None` when the
/// schedule is done.
pub fn retry_delay(schedule: &[u64], round: u32, delivery: uuid::Uuid) -> Option<Duration> {
    let base = *schedule.get(usize::try_from(round).ok()?)?;
    let seed = delivery.as_bytes().iter().fold(u64::from(round), |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u64::from(*b))
    });
    // -20 % … +20 % in steps of 1 %.
    let percent = i64::try_from(seed % 41).unwrap_or(20) - 20;
    let millis = i64::try_from(base.saturating_mul(1000)).unwrap_or(i64::MAX / 2);
    Some(Duration::milliseconds(millis + millis * percent / 100))
}

/// What one attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempted {
    Succeeded,
    /// Failed; retried at this time.
    RetryAt(DateTime<Utc>),
    /// Failed, and the schedule (or the endpoint) is done.
    GaveUp,
    /// Not due, taken by another attempt, finished, or its endpoint is gone.
    Moot,
}

/// What the webhook worker and the scheduler need.
#[derive(Clone)]
pub struct Deliverer {
    pub store: WebhookStore,
    pub secrets: Option<SecretBox>,
    /// The webhook queue: deliveries' attempts and `endpoint.disabled` events go on it.
    pub events: EventSink,
    pub schedule: Vec<u64>,
    pub disable_after: Duration,
    pub reach: Reach,
}

impl Deliverer {
    pub fn from_config(
        config: &gobi_shared::Config,
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        kms: Option<aws_sdk_kms::Client>,
    ) -> Self {
        Self {
            store: WebhookStore::new(dynamodb, &config.tables.webhooks),
            secrets: match (kms, &config.kms_key_id) {
                (Some(kms), Some(key)) => Some(SecretBox::new(kms, key)),
                _ => None,
            },
            events: EventSink::from_config(config, sqs),
            schedule: config.webhook_retry_schedule.clone(),
            disable_after: Duration::seconds(
                i64::try_from(config.webhook_disable_after_seconds).unwrap_or(i64::MAX / 1000),
            ),
            reach: if config.environment.allows_local_network() {
                Reach::Loopback
            } else {
                Reach::Public
            },
        }
    }

    /// Queues an attempt of each delivery, as few requests as SQS allows (ten a request).
    async fn queue_attempts(&self, attempts: &[(TenantId, DeliveryDue)], now: DateTime<Utc>) {
        let Some(queue) = &self.events.queue else {
            return;
        };
        let envelopes: Vec<_> = attempts
            .iter()
            .map(|(tenant, due)| Envelope::new(WEBHOOK_DELIVERY, now, *tenant, None, *due))
            .collect();
        for (index, e) in queue.send_all(&envelopes).await {
            // The delivery is due in the index: the next tick queues it.
            let (tenant, due) = &attempts[index];
            tracing::warn!(tenant_id = %tenant, delivery_id = %due.delivery_id, error = format!("{e:#}"), "delivery not queued; the tick will");
        }
    }

    /// One delivery of `event` for each of the tenant's active endpoints that subscribe to it
    /// (a repeated event adds none), each numbered and queued for its first attempt.
    pub async fn fan_out(&self, tenant: TenantId, event: &WebhookEvent) -> StoreResult<usize> {
        let mut made = 0;
        let mut attempts = Vec::new();
        for endpoint in self.store.endpoints(tenant).await? {
            if !endpoint.active || !endpoint.event_types.contains(&event.kind) {
                continue;
            }
            let delivery = Delivery {
                id: event.id,
                tenant_id: tenant,
                endpoint_id: endpoint.id,
                event_type: event.kind,
                sequence: None,
                status: DeliveryStatus::Pending,
                next_attempt_at: Some(event.occurred_at),
                round: 0,
                attempts: Vec::new(),
                payload: serde_json::json!({
                    "type": event.kind.name(),
                    "timestamp": event.occurred_at,
                    "data": event.data,
                }),
                created_at: event.occurred_at,
                updated_at: event.occurred_at,
            };
            let new = self.store.add_delivery(&delivery).await?;
            let numbered = match new {
                true => None,
                false => self
                    .store
                    .delivery(endpoint.id, event.id)
                    .await?
                    .and_then(|d| d.sequence),
            };
            if numbered.is_none() {
                let Some(sequence) = self.store.next_sequence(tenant, endpoint.id).await? else {
                    // Deleted meanwhile: its deliveries expire with it.
                    continue;
                };
                self.store
                    .set_sequence(endpoint.id, event.id, sequence)
                    .await?;
            }
            made += usize::from(new);
            let due = DeliveryDue {
                endpoint_id: endpoint.id,
                delivery_id: event.id,
            };
            attempts.push((tenant, due));
        }
        // A failure above leaves the deliveries made so far unqueued: they are due in the
        // index from the event's time, so the tick queues them.
        self.queue_attempts(&attempts, event.occurred_at).await;
        Ok(made)
    }

    /// One attempt of a due delivery: claimed, signed, posted, recorded, and the next retry
    /// scheduled or the endpoint's health noted.
    pub async fn attempt(
        &self,
        tenant: TenantId,
        due: DeliveryDue,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Attempted> {
        let Some((endpoint, sealed)) = self.store.endpoint(tenant, due.endpoint_id).await? else {
            return Ok(Attempted::Moot);
        };
        let lease = now + Duration::seconds(CLAIM_SECONDS);
        let Some(claimed) = self
            .store
            .claim(tenant, due.endpoint_id, due.delivery_id, now, lease)
            .await?
        else {
            return Ok(Attempted::Moot);
        };
        let mut delivery = claimed.delivery.clone();
        let number = delivery.attempts.last().map_or(1, |a| a.number + 1);
        let started = Instant::now();
        let answer = if endpoint.active {
            self.post(&endpoint, &sealed, &delivery, now).await
        } else {
            Err(format!(
                "endpoint disabled: {}",
                endpoint
                    .disabled_reason
                    .as_deref()
                    .unwrap_or("by its owner")
            ))
        };
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (status_code, snippet, succeeded) = match answer {
            Ok((code, body)) => (Some(code), body, (200..300).contains(&code)),
            Err(reason) => (None, reason, false),
        };
        delivery.attempts.push(DeliveryAttempt {
            number,
            at: now,
            status_code,
            duration_ms,
            response_snippet: snippet.chars().take(SNIPPET_CHARS).collect(),
            succeeded,
        });
        let excess = delivery.attempts.len().saturating_sub(MAX_ATTEMPTS_KEPT);
        delivery.attempts.drain(..excess);
        delivery.updated_at = now;
        let retry = match (succeeded, endpoint.active) {
            (false, true) => retry_delay(&self.schedule, delivery.round, delivery.id),
            _ => None,
        };
        let outcome = match (succeeded, retry) {
            (true, _) => {
                delivery.status = DeliveryStatus::Succeeded;
                delivery.next_attempt_at = None;
                Attempted::Succeeded
            }
            (false, Some(wait)) => {
                delivery.status = DeliveryStatus::Pending;
                delivery.round += 1;
                delivery.next_attempt_at = Some(now + wait);
                Attempted::RetryAt(now + wait)
            }
            (false, None) => {
                delivery.status = DeliveryStatus::Failed;
                delivery.next_attempt_at = None;
                Attempted::GaveUp
            }
        };
        if !self
            .store
            .finish_attempt(&claimed, &delivery, delivery.next_attempt_at)
            .await?
        {
            // The claim lapsed and another attempt took it over: that one records.
            return Ok(Attempted::Moot);
        }
        tracing::info!(tenant_id = %tenant, endpoint_id = %endpoint.id, delivery_id = %delivery.id, attempt = number, status_code, succeeded, "webhook delivery attempt");
        if endpoint.active {
            self.note_health(&endpoint, succeeded, now).await?;
        }
        Ok(outcome)
    }

    /// Posts the delivery's payload, signed; the receiver's status and answer, or why none.
    async fn post(
        &self,
        endpoint: &Endpoint,
        sealed: &str,
        delivery: &Delivery,
        now: DateTime<Utc>,
    ) -> Result<(u16, String), String> {
        let secrets = self
            .secrets
            .as_ref()
            .ok_or("no KMS key is configured to open the signing secret")?;
        let secret = secrets
            .open(
                endpoint.tenant_id,
                SealedFor::WebhookEndpoint(endpoint.id),
                sealed,
            )
            .await
            .map_err(|e| format!("the signing secret did not open: {e:#}"))?;
        // Checked again at each attempt, and connected to the addresses checked.
        let target = check_url(&endpoint.url, "url", self.reach)
            .await
            .map_err(|e| format!("refused: {e}"))?;
        let mut payload = delivery.payload.clone();
        if let (Some(object), Some(sequence)) = (payload.as_object_mut(), delivery.sequence) {
            object.insert("sequence".into(), sequence.into());
        }
        let body = serde_json::to_vec(&payload).map_err(|e| e.to_string())?;
        let id = format!("msg_{}", delivery.id.simple());
        let timestamp = now.timestamp();
        let signature = sign(&secret, &id, timestamp, &body).map_err(|e| format!("{e:#}"))?;
        let mut client = gobi_shared::https::client_builder()
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(host) = target.url.host_str() {
            client = client.resolve_to_addrs(host, &target.addresses);
        }
        let client = client.build().map_err(|e| e.to_string())?;
        let response = client
            .post(target.url.clone())
            .header("content-type", "application/json")
            .header("user-agent", "GOBI-Webhooks/1")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, &id)
            .header(
                standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
                timestamp.to_string(),
            )
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let code = response.status().as_u16();
        // The answer's start is all that is kept: read no more than that from the receiver.
        let mut response = response;
        let mut body = Vec::new();
        while body.len() < SNIPPET_CHARS * 4 {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        Ok((code, String::from_utf8_lossy(&body).into_owned()))
    }

    /// A success clears the endpoint's failing mark; a failure sets it, and one that has lasted
    /// `disable_after` disables the endpoint and tells the tenant's other endpoints.
    async fn note_health(
        &self,
        endpoint: &Endpoint,
        succeeded: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let tenant = endpoint.tenant_id;
        if succeeded {
            return self.store.endpoint_succeeded(tenant, endpoint.id).await;
        }
        let Some(since) = self.store.endpoint_failed(tenant, endpoint.id, now).await? else {
            return Ok(());
        };
        if now - since < self.disable_after {
            return Ok(());
        }
        let reason = format!("every delivery failed since {}", since.to_rfc3339());
        if self
            .store
            .disable(tenant, endpoint.id, &reason, now)
            .await?
        {
            tracing::warn!(tenant_id = %tenant, endpoint_id = %endpoint.id, %reason, "webhook endpoint disabled");
            self.events
                .emit(
                    tenant,
                    EventType::EndpointDisabled,
                    serde_json::json!({
                        "endpointId": endpoint.id,
                        "url": endpoint.url,
                        "reason": reason,
                    }),
                    now,
                )
                .await;
        }
        Ok(())
    }

    /// Queues every delivery that fell due (retries, and attempts whose claim lapsed).
    pub async fn requeue_due(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let due = self.store.due(now, REQUEUE_LIMIT).await?;
        let attempts: Vec<_> = due
            .iter()
            .map(|d| {
                let message = DeliveryDue {
                    endpoint_id: d.endpoint,
                    delivery_id: d.delivery,
                };
                (d.tenant, message)
            })
            .collect();
        self.queue_attempts(&attempts, now).await;
        Ok(due.len())
    }

    /// Starts a delivery over now and queues its attempt; `None` while an attempt runs.
    pub async fn redeliver(
        &self,
        tenant: TenantId,
        endpoint: uuid::Uuid,
        delivery: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Delivery>> {
        let Some(restarted) = self.store.redeliver(endpoint, delivery, now).await? else {
            return Ok(None);
        };
        let due = DeliveryDue {
            endpoint_id: endpoint,
            delivery_id: delivery,
        };
        self.queue_attempts(&[(tenant, due)], now).await;
        Ok(Some(restarted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_schedule_with_a_fifth_of_jitter() {
        let schedule = [5, 60, 300];
        let id = uuid::Uuid::now_v7();
        for (round, base) in schedule.iter().enumerate() {
            let wait = retry_delay(&schedule, round as u32, id).expect("scheduled");
            let base = i64::try_from(*base).unwrap() * 1000;
            assert!(
                (base * 8 / 10..=base * 12 / 10).contains(&wait.num_milliseconds()),
                "{round}: {wait}"
            );
            assert_eq!(retry_delay(&schedule, round as u32, id), Some(wait));
        }
        assert_eq!(retry_delay(&schedule, 3, id), None);
    }

    #[test]
    fn signatures_are_standard_webhooks_ones() {
        // The Standard Webhooks specification's example secret, id, timestamp and payload.
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
        let signature = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        )
        .expect("signed");
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let fresh = new_secret().expect("random");
        assert!(fresh.expose_secret().starts_with("whsec_"));
        assert_eq!(hint_of(&fresh).len(), 10);
    }
}
