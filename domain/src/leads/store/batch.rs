//! Import batches: each written with its progress and the list's counters in one transaction.

use super::*;

/// What to do with a row whose number the list already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum OnDuplicate {
    Skip,
    Update,
}

/// Where an import's committed work stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// The last line of the file whose row is counted.
    pub committed_line: u64,
    pub counters: Counters,
}

/// How a batch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchCommit {
    /// Written and counted: the import's progress now.
    Committed(Progress),
    /// An earlier delivery already committed it: nothing was written.
    AlreadyCommitted,
}

impl LeadStore {
    /// Which of `numbers` are on the tenant's do-not-call list (BatchGetItem, 100 at a time).
    pub async fn suppressed_among(
        &self,
        tenant: TenantId,
        numbers: &[&str],
    ) -> StoreResult<HashSet<String>> {
        let mut found = HashSet::new();
        let wanted: Vec<String> = numbers
            .iter()
            .map(|e164| keys::suppression(e164))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for chunk in wanted.chunks(100) {
            for item in self.batch_get(keys::tenant(tenant), chunk).await? {
                if let Some(number) = item.get("phoneNumber").and_then(|v| v.as_s().ok()) {
                    found.insert(number.clone());
                }
            }
        }
        Ok(found)
    }

    /// The items of one partition with these sort keys (unprocessed keys retried with backoff).
    pub(crate) async fn batch_get(
        &self,
        pk: String,
        sort_keys: &[String],
    ) -> StoreResult<Vec<HashMap<String, AttributeValue>>> {
        let mut keys_left: Vec<HashMap<String, AttributeValue>> = sort_keys
            .iter()
            .map(|sk| dynamo::key(pk.clone(), sk.clone()))
            .collect();
        let mut items = Vec::new();
        let mut backoff = Backoff::default();
        while !keys_left.is_empty() {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys_left)))
                .consistent_read(true)
                .build()
                .map_err(anyhow::Error::new)?;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| anyhow::Error::new(e).context("reading a batch"))?;
            items.extend(
                output
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default(),
            );
            keys_left = output
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if !keys_left.is_empty() && !backoff.wait().await {
                return Err(
                    anyhow::anyhow!("DynamoDB kept keys of a batch read unprocessed").into(),
                );
            }
        }
        Ok(items)
    }

    /// The leads of `list` among `numbers`, by number.
    pub(crate) async fn existing_leads(
        &self,
        list: uuid::Uuid,
        numbers: &[&str],
    ) -> StoreResult<HashMap<String, Lead>> {
        let sort_keys: Vec<String> = numbers.iter().map(|e164| keys::lead(e164)).collect();
        self.batch_get(keys::list(list), &sort_keys)
            .await?
            .into_iter()
            .map(|item| {
                let lead = dynamo::from_item::<LeadItem>(item)?.lead;
                Ok((lead.phone_number.clone(), lead))
            })
            .collect()
    }

    /// Where import `import` of `list` stands (`None` before its first batch).
    pub async fn progress(&self, list: uuid::Uuid, import: uuid::Uuid) -> StoreResult<Progress> {
        let item = dynamo::read_item(
            &self.client,
            &self.table,
            keys::list(list),
            keys::import(import),
            "reading an import's progress",
        )
        .await?;
        Ok(item
            .and_then(|mut item| item.remove("progress"))
            .map(serde_dynamo::from_attribute_value::<_, Progress>)
            .transpose()
            .map_err(anyhow::Error::new)?
            .unwrap_or_default())
    }

    /// Writes one batch of an import: its new leads (and, with `Update`, the changed ones), its
    /// counts, and the import's progress, in one transaction that holds only while the progress
    /// is still `from`. `rejected` are the rows the reader refused before this batch's last line,
    /// counted with it. `through_line` is the batch's last line.
    #[allow(clippy::too_many_arguments)]
    pub async fn commit_batch(
        &self,
        list: &LeadList,
        import: uuid::Uuid,
        from: &Progress,
        candidates: &[Candidate],
        rejected: &[Outcome],
        through_line: u64,
        on_duplicate: OnDuplicate,
        dry_run: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<BatchCommit> {
        if candidates.len() > BATCH {
            return Err(
                anyhow::anyhow!("a batch of {} leads is over {BATCH}", candidates.len()).into(),
            );
        }
        let mut backoff = Backoff::default();
        loop {
            let numbers: Vec<&str> = candidates.iter().map(|c| c.e164.as_str()).collect();
            let suppressed = self.suppressed_among(list.tenant_id, &numbers).await?;
            let existing = self.existing_leads(list.id, &numbers).await?;
            let mut counters = from.counters;
            for outcome in rejected {
                counters.count(*outcome);
            }
            let mut writes = Vec::new();
            let mut counts = (0u64, 0u64, 0u64); // total, valid, suppressed
            for candidate in candidates {
                let is_suppressed = suppressed.contains(&candidate.e164);
                let known = existing.get(&candidate.e164);
                let outcome = match (is_suppressed, known, on_duplicate) {
                    (true, _, _) => Outcome::Suppressed,
                    (false, Some(_), OnDuplicate::Skip) => Outcome::AlreadyInList,
                    (false, Some(_), OnDuplicate::Update) => Outcome::Updated,
                    (false, None, _) => Outcome::Accepted,
                };
                counters.count(outcome);
                if dry_run {
                    continue;
                }
                match (outcome, known) {
                    (Outcome::Accepted, _) | (Outcome::Suppressed, None) => {
                        let state = if outcome == Outcome::Suppressed {
                            LeadState::Suppressed
                        } else {
                            LeadState::Valid
                        };
                        let lead = lead_of(list, candidate, state, None, now);
                        counts.0 += 1;
                        if state == LeadState::Valid {
                            counts.1 += 1;
                        } else {
                            counts.2 += 1;
                        }
                        writes.push(self.put(
                            dynamo::to_item(&LeadItem {
                                pk: keys::list(list.id),
                                sk: keys::lead(&lead.phone_number),
                                lead,
                            })?,
                            "attribute_not_exists(pk)",
                        )?);
                    }
                    (Outcome::Updated, _) => {
                        let lead = lead_of(list, candidate, LeadState::Valid, known, now);
                        writes.push(self.put(
                            dynamo::to_item(&LeadItem {
                                pk: keys::list(list.id),
                                sk: keys::lead(&lead.phone_number),
                                lead,
                            })?,
                            "attribute_exists(pk)",
                        )?);
                    }
                    _ => {}
                }
            }
            let progress = Progress {
                committed_line: through_line,
                counters,
            };
            writes.push(self.progress_update(list.id, import, from, &progress)?);
            if counts.0 > 0 {
                let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                writes.push(
                    self.count_update(
                        list,
                        (signed(counts.0), signed(counts.1), signed(counts.2)),
                    )?,
                );
            }
            let guard = writes.len() - 1 - usize::from(counts.0 > 0);
            match dynamo::transact(&self.client, writes, Backoff::default()).await {
                Ok(()) => return Ok(BatchCommit::Committed(progress)),
                Err(e) => {
                    let reasons = dynamo::cancellation_reasons(&e);
                    if reasons
                        .as_ref()
                        .is_some_and(|r| dynamo::item_condition_failed(r, guard))
                    {
                        return Ok(BatchCommit::AlreadyCommitted);
                    }
                    // A lead written meanwhile (an API add): read again and redo the batch.
                    if reasons.is_some() && backoff.wait().await {
                        continue;
                    }
                    return Err(anyhow::Error::new(e)
                        .context("committing an import batch")
                        .into());
                }
            }
        }
    }

    pub(crate) fn progress_update(
        &self,
        list: uuid::Uuid,
        import: uuid::Uuid,
        from: &Progress,
        to: &Progress,
    ) -> anyhow::Result<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::list(list), keys::import(import))))
            .update_expression("SET progress = :to")
            .condition_expression(if from.committed_line == 0 {
                "attribute_not_exists(progress) OR progress.committedLine = :from"
            } else {
                "progress.committedLine = :from"
            })
            .expression_attribute_values(":to", serde_dynamo::to_attribute_value(to)?)
            .expression_attribute_values(":from", n(from.committed_line))
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    pub(crate) fn count_update(
        &self,
        list: &LeadList,
        (total, valid, suppressed): (i64, i64, i64),
    ) -> anyhow::Result<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(list.tenant_id),
                keys::list(list.id),
            )))
            .update_expression("ADD #c.#t :total, #c.#v :valid, #c.#s :suppressed")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#c", "counts")
            .expression_attribute_names("#t", "total")
            .expression_attribute_names("#v", "valid")
            .expression_attribute_names("#s", "suppressed")
            .expression_attribute_values(":total", n(total))
            .expression_attribute_values(":valid", n(valid))
            .expression_attribute_values(":suppressed", n(suppressed))
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

/// The lead a candidate row makes (keeping what an earlier lead had that the row does not say).
pub(crate) fn lead_of(
    list: &LeadList,
    candidate: &Candidate,
    state: LeadState,
    earlier: Option<&Lead>,
    now: DateTime<Utc>,
) -> Lead {
    Lead {
        id: Lead::id_of(&candidate.e164),
        list_id: list.id,
        tenant_id: list.tenant_id,
        phone_number: candidate.e164.clone(),
        name: candidate
            .name
            .clone()
            .or_else(|| earlier.and_then(|l| l.name.clone())),
        external_id: candidate
            .external_id
            .clone()
            .or_else(|| earlier.and_then(|l| l.external_id.clone())),
        variables: if candidate.variables.is_empty() {
            earlier.map(|l| l.variables.clone()).unwrap_or_default()
        } else {
            candidate.variables.clone()
        },
        timezone: candidate.timezone.clone(),
        consent: earlier.map(|l| l.consent.clone()).unwrap_or_default(),
        tags: earlier.map(|l| l.tags.clone()).unwrap_or_default(),
        state,
        created_at: earlier.map_or(now, |l| l.created_at),
        updated_at: now,
    }
}
