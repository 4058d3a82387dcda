//! The test kit's workers and scheduler: each run as Lambda would run it, on the app's queues
//! and clock, and as its function (so its AWS requests are checked against its policy).

use gobi_infra::aws_requests::as_function;
use gobi_shared::sqs::PollReport;

use crate::TestApp;

/// Polls a queue a round at a time (each round as `function`) until a round receives nothing;
/// the messages received. With `failures` set, a message that failed fails the test with it.
async fn drain<F, Fut>(function: &'static str, failures: Option<&str>, poll: F) -> usize
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<PollReport>>,
{
    let mut handled = 0;
    loop {
        let report = as_function(function, poll())
            .await
            .unwrap_or_else(|e| panic!("polling as {function}: {e:#}"));
        if let Some(message) = failures {
            assert_eq!(report.failed, 0, "{message}");
        }
        if report.received == 0 {
            return handled;
        }
        handled += report.received;
    }
}

impl TestApp {
    /// The dialer worker on the app's configuration and clock.
    fn dialer_worker(&self) -> gobi_dialer::WorkerState {
        gobi_dialer::WorkerState::new(
            &self.config,
            self.dynamodb.clone(),
            self.sqs.clone(),
            self.clock.clone(),
        )
        .expect("dialer worker")
    }

    /// Runs the legal-hold worker on the app's job queue until it is empty (as Lambda would);
    /// the number of messages it handled.
    pub async fn drain_legal_hold_jobs(&self) -> usize {
        let state = gobi_legal_hold_worker::WorkerState::new(
            &self.config,
            self.dynamodb.clone(),
            self.sqs.clone(),
            self.clock.clone(),
        )
        .expect("legal-hold worker");
        let queue = self.config.legal_hold_queue_url.clone().expect("queue");
        drain(
            "LegalHoldWorkerFunction",
            Some("legal-hold batches failed"),
            || gobi_legal_hold_worker::poll_once(&state, &self.sqs, &queue, 0),
        )
        .await
    }

    /// Runs the webhook worker on the app's queue until it is empty (events fanned out, each
    /// delivery attempted once); the messages handled.
    pub async fn drain_webhooks(&self) -> usize {
        let state = gobi_webhook_worker::WorkerState::new(
            &self.config,
            self.dynamodb.clone(),
            self.sqs.clone(),
            self.kms.clone(),
            self.clock.clone(),
        );
        let queue = self.config.webhook_queue_url.clone().expect("queue");
        drain(
            "WebhookWorkerFunction",
            Some("webhook messages failed"),
            || gobi_webhook_worker::poll_once(&state, &self.sqs, &queue, 0),
        )
        .await
    }

    /// Runs the dialer worker on the app's queue until it is empty; the messages handled.
    pub async fn drain_dialer(&self) -> usize {
        let state = self.dialer_worker();
        let queue = self.config.dialer_queue_url.clone().expect("queue");
        drain("DialerFunction", Some("dialer jobs failed"), || {
            gobi_dialer::poll_once(&state, &self.sqs, &queue, 0)
        })
        .await
    }

    /// One run of the scheduler (heartbeats, dispatch expiry, the campaign tick) at the app's
    /// clock, as EventBridge would trigger it.
    pub async fn tick(&self) -> gobi_scheduler::SchedulerReport {
        let dialer = gobi_domain::campaigns::dialer::Dialer::from_config(
            &self.config,
            self.dynamodb.clone(),
            self.sqs.clone(),
        );
        let state = gobi_scheduler::SchedulerState::new(
            &self.config,
            self.dynamodb.clone(),
            self.clock.clone(),
        )
        .with_dialer(dialer)
        .with_webhooks(gobi_domain::webhooks::delivery::Deliverer::from_config(
            &self.config,
            self.dynamodb.clone(),
            self.sqs.clone(),
            None,
        ));
        as_function("SchedulerFunction", gobi_scheduler::run(&state))
            .await
            .expect("scheduler run")
    }

    /// Runs the lead-import worker on the app's queue until it is empty; the messages handled.
    pub async fn drain_lead_imports(&self) -> usize {
        let state = gobi_lead_import::WorkerState::new(
            &self.config,
            gobi_lead_import::Clients {
                dynamodb: self.dynamodb.clone(),
                s3: self.s3.clone(),
                sqs: self.sqs.clone(),
            },
            self.clock.clone(),
        )
        .expect("lead-import worker");
        let queue = self.config.lead_import_queue_url.clone().expect("queue");
        drain(
            "LeadImportWorkerFunction",
            Some("lead imports failed"),
            || gobi_lead_import::poll_once(&state, &self.sqs, &queue, 0),
        )
        .await
    }

    /// Runs the handoff worker on the app's queue until it is empty; the messages handled.
    pub async fn drain_handoffs(&self) -> usize {
        let state = gobi_handoff_worker::WorkerState::new(
            &self.config,
            self.dynamodb.clone(),
            self.sqs.clone(),
            self.clock.clone(),
        );
        let queue = self.config.handoff_queue_url.clone().expect("queue");
        drain("HandoffWorkerFunction", None, || {
            gobi_handoff_worker::poll_once(&state, &self.sqs, &queue, 0)
        })
        .await
    }

    /// Like [`TestApp::drain_dialer`], but every job is handled twice, as a redelivery would:
    /// the jobs handled (each counted once).
    pub async fn drain_dialer_twice(&self) -> usize {
        let state = self.dialer_worker();
        let queue = self.config.dialer_queue_url.clone().expect("queue");
        let mut handled = 0;
        loop {
            let bodies = self.take_messages(&queue).await;
            if bodies.is_empty() {
                return handled;
            }
            for body in &bodies {
                for _ in 0..2 {
                    as_function("DialerFunction", gobi_dialer::handle_message(&state, body))
                        .await
                        .expect("a dialer job");
                }
            }
            handled += bodies.len();
        }
    }

    /// Receives and deletes every message on `queue` until a receive finds none: their bodies,
    /// in the order received.
    pub async fn take_messages(&self, queue: &str) -> Vec<String> {
        let mut bodies = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(queue)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receiving messages");
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                return bodies;
            }
            for message in messages {
                self.sqs
                    .delete_message()
                    .queue_url(queue)
                    .set_receipt_handle(message.receipt_handle)
                    .send()
                    .await
                    .expect("deleting a message");
                bodies.push(message.body.unwrap_or_default());
            }
        }
    }
}
