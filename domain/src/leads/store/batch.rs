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
    /// Written and counted: the import's progress now, and the rows of the batch the store
    /// refused (already there, suppressed), by line.
    Committed {
        progress: Progress,
        refused: Vec<(u64, Outcome)>,
    },
    /// An earlier delivery already committed it: nothing was written.
    AlreadyCommitted,
}

/// One batch of an import's rows: the candidates the reader accepted, the outcomes of the rows
/// it refused (counted with the batch), and the batch's last line.
#[derive(Debug, Clone, Copy)]
pub struct BatchRows<'a> {
    pub candidates: &'a [Candidate],
    pub rejected: &'a [Outcome],
    pub through_line: u64,
}

impl BatchRows<'_> {
    fn numbers(&self) -> Vec<&str> {
        self.candidates.iter().map(|c| c.e164.as_str()).collect()
    }

    /// The import's counters with the reader's refusals of this batch counted.
    fn counted_from(&self, from: &Progress) -> Counters {
        let mut counters = from.counters;
        for outcome in self.rejected {
            counters.count(*outcome);
        }
        counters
    }

    fn check_size(&self) -> StoreResult<()> {
        if self.candidates.len() > BATCH {
            return Err(anyhow::anyhow!(
                "a batch of {} rows is over {BATCH}",
                self.candidates.len()
            )
            .into());
        }
        Ok(())
    }
}

/// How an import writes: for real or as a dry run (counted, nothing written but its progress),
/// and the time its rows carry.
#[derive(Debug, Clone, Copy)]
pub struct Writing {
    pub dry_run: bool,
    pub now: DateTime<Utc>,
}

/// Where an import lives: beside its list, or beside the tenant's do-not-call list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportScope {
    List(uuid::Uuid),
    Suppressions(TenantId),
}

impl ImportScope {
    pub(crate) fn pk(self) -> String {
        match self {
            Self::List(list) => keys::list(list),
            Self::Suppressions(tenant) => keys::tenant(tenant),
        }
    }
}

/// A batch's transaction: the rows' writes, then the progress, then what else it keeps.
struct BatchWrites {
    writes: Vec<TransactWriteItem>,
    /// The index of the progress update (its condition failing means "already committed").
    progress_at: usize,
    /// The index of the list's count update, when there is one (failing: the list is going).
    counts_at: Option<usize>,
}

enum Submitted {
    Written,
    AlreadyCommitted,
    ListGone,
    /// A row written meanwhile (an API add): read again and redo the batch.
    Raced,
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

    /// The items of one partition with these sort keys.
    pub(crate) async fn batch_get(
        &self,
        pk: String,
        sort_keys: &[String],
    ) -> StoreResult<Vec<HashMap<String, AttributeValue>>> {
        let keys = sort_keys
            .iter()
            .map(|sk| dynamo::key(pk.clone(), sk.clone()))
            .collect();
        Ok(dynamo::batch_get(&self.client, &self.table, keys, "reading a batch").await?)
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

    /// Where an import stands (`IMPORT_NOT_FOUND` when its record is gone: its list was
    /// deleted).
    pub async fn progress(&self, scope: ImportScope, import: uuid::Uuid) -> StoreResult<Progress> {
        let item = dynamo::read_item(
            &self.client,
            &self.table,
            scope.pk(),
            keys::import(import),
            "reading an import's progress",
        )
        .await?
        .ok_or_else(|| import_not_found(import))?;
        let mut item = item;
        Ok(item
            .remove("progress")
            .map(serde_dynamo::from_attribute_value::<_, Progress>)
            .transpose()
            .map_err(anyhow::Error::new)?
            .unwrap_or_default())
    }

    /// The rows committed batches of an import refused in the store, by line (for the error
    /// report of a run that resumes).
    pub async fn refusals(
        &self,
        scope: ImportScope,
        import: uuid::Uuid,
    ) -> StoreResult<HashMap<u64, Outcome>> {
        let items = dynamo::query_prefix(
            &self.client,
            &self.table,
            scope.pk(),
            keys::refusals_prefix(import),
            "reading an import's refused rows",
        )
        .await?;
        let mut refused = HashMap::new();
        for mut item in items {
            let rows: Vec<(u64, Outcome)> = item
                .remove("refused")
                .map(serde_dynamo::from_attribute_value)
                .transpose()
                .map_err(anyhow::Error::new)?
                .unwrap_or_default();
            refused.extend(rows);
        }
        Ok(refused)
    }

    /// Writes one batch of a lead import: its new leads (and, with `Update`, the changed ones),
    /// its counts, the rows the store refused, and the import's progress, in one transaction that
    /// holds only while the progress is still `from`.
    pub async fn commit_batch(
        &self,
        list: &LeadList,
        import: uuid::Uuid,
        from: &Progress,
        rows: BatchRows<'_>,
        on_duplicate: OnDuplicate,
        writing: Writing,
    ) -> StoreResult<BatchCommit> {
        let Writing { dry_run, now } = writing;
        rows.check_size()?;
        let scope = ImportScope::List(list.id);
        let mut backoff = Backoff::default();
        loop {
            let numbers = rows.numbers();
            let suppressed = self.suppressed_among(list.tenant_id, &numbers).await?;
            let existing = self.existing_leads(list.id, &numbers).await?;
            let mut counters = rows.counted_from(from);
            let mut writes = Vec::new();
            let mut refused = Vec::new();
            let mut counts = (0u64, 0u64, 0u64); // total, valid, suppressed
            for candidate in rows.candidates {
                let is_suppressed = suppressed.contains(&candidate.e164);
                let known = existing.get(&candidate.e164);
                let outcome = match (is_suppressed, known, on_duplicate) {
                    (true, _, _) => Outcome::Suppressed,
                    (false, Some(_), OnDuplicate::Skip) => Outcome::AlreadyInList,
                    (false, Some(_), OnDuplicate::Update) => Outcome::Updated,
                    (false, None, _) => Outcome::Accepted,
                };
                counters.count(outcome);
                if outcome.rejects() {
                    refused.push((candidate.line, outcome));
                }
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
                committed_line: rows.through_line,
                counters,
            };
            let counts = (counts.0 > 0).then(|| {
                let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                self.count_update(list, (signed(counts.0), signed(counts.1), signed(counts.2)))
            });
            let batch = self.batch_writes(
                scope,
                import,
                from,
                &progress,
                &refused,
                writes,
                counts.transpose()?,
            )?;
            match self.submit(batch).await? {
                Submitted::Written => return Ok(BatchCommit::Committed { progress, refused }),
                Submitted::AlreadyCommitted => return Ok(BatchCommit::AlreadyCommitted),
                Submitted::ListGone => return Err(list_not_found(list.id)),
                Submitted::Raced if backoff.wait().await => {}
                Submitted::Raced => {
                    return Err(anyhow::anyhow!("an import batch kept racing other writes").into());
                }
            }
        }
    }

    /// Writes one batch of a do-not-call import: the numbers the list does not have yet, the
    /// rows it already had (`alreadyInList`), and the import's progress, in one transaction that
    /// holds only while the progress is still `from`.
    pub async fn commit_suppressions(
        &self,
        tenant: TenantId,
        import: uuid::Uuid,
        from: &Progress,
        rows: BatchRows<'_>,
        reason: SuppressionReason,
        writing: Writing,
    ) -> StoreResult<BatchCommit> {
        let Writing { dry_run, now } = writing;
        rows.check_size()?;
        let scope = ImportScope::Suppressions(tenant);
        let mut backoff = Backoff::default();
        loop {
            let already = self.suppressed_among(tenant, &rows.numbers()).await?;
            let mut counters = rows.counted_from(from);
            let mut writes = Vec::new();
            let mut refused = Vec::new();
            for candidate in rows.candidates {
                if already.contains(&candidate.e164) {
                    counters.count(Outcome::AlreadyInList);
                    refused.push((candidate.line, Outcome::AlreadyInList));
                    continue;
                }
                counters.count(Outcome::Accepted);
                if dry_run {
                    continue;
                }
                let item = SuppressionItem {
                    pk: keys::tenant(tenant),
                    sk: keys::suppression(&candidate.e164),
                    suppression: Suppression {
                        tenant_id: tenant,
                        phone_number: candidate.e164.clone(),
                        reason,
                        source: format!("import:{import}"),
                        created_at: now,
                    },
                };
                writes.push(self.put(dynamo::to_item(&item)?, "attribute_not_exists(pk)")?);
            }
            let progress = Progress {
                committed_line: rows.through_line,
                counters,
            };
            let batch =
                self.batch_writes(scope, import, from, &progress, &refused, writes, None)?;
            match self.submit(batch).await? {
                Submitted::Written => return Ok(BatchCommit::Committed { progress, refused }),
                Submitted::AlreadyCommitted => return Ok(BatchCommit::AlreadyCommitted),
                Submitted::ListGone => return Err(import_not_found(import)),
                Submitted::Raced if backoff.wait().await => {}
                Submitted::Raced => {
                    return Err(anyhow::anyhow!("an import batch kept racing other writes").into());
                }
            }
        }
    }

    /// A batch's transaction around the rows' `writes`.
    #[allow(clippy::too_many_arguments)]
    fn batch_writes(
        &self,
        scope: ImportScope,
        import: uuid::Uuid,
        from: &Progress,
        to: &Progress,
        refused: &[(u64, Outcome)],
        mut writes: Vec<TransactWriteItem>,
        counts: Option<TransactWriteItem>,
    ) -> anyhow::Result<BatchWrites> {
        let progress_at = writes.len();
        writes.push(self.progress_update(scope, import, from, to)?);
        if !refused.is_empty() {
            let mut item = dynamo::key(scope.pk(), keys::refusals(import, to.committed_line));
            item.insert("refused".into(), serde_dynamo::to_attribute_value(refused)?);
            writes.push(self.put(item, "attribute_not_exists(pk)")?);
        }
        let counts_at = counts.map(|update| {
            writes.push(update);
            writes.len() - 1
        });
        Ok(BatchWrites {
            writes,
            progress_at,
            counts_at,
        })
    }

    async fn submit(&self, batch: BatchWrites) -> StoreResult<Submitted> {
        let BatchWrites {
            writes,
            progress_at,
            counts_at,
        } = batch;
        match dynamo::transact(&self.client, writes, Backoff::default()).await {
            Ok(()) => Ok(Submitted::Written),
            Err(e) => match dynamo::cancellation_reasons(&e) {
                Some(reasons) if dynamo::item_condition_failed(&reasons, progress_at) => {
                    Ok(Submitted::AlreadyCommitted)
                }
                Some(reasons)
                    if counts_at.is_some_and(|at| dynamo::item_condition_failed(&reasons, at)) =>
                {
                    Ok(Submitted::ListGone)
                }
                Some(_) => Ok(Submitted::Raced),
                None => Err(anyhow::Error::new(e)
                    .context("committing an import batch")
                    .into()),
            },
        }
    }

    pub(crate) fn progress_update(
        &self,
        scope: ImportScope,
        import: uuid::Uuid,
        from: &Progress,
        to: &Progress,
    ) -> anyhow::Result<TransactWriteItem> {
        // The import's record must be there: a list deleted meanwhile takes it away, and a
        // batch must not bring a stray item back.
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(scope.pk(), keys::import(import))))
            .update_expression("SET progress = :to")
            .condition_expression(if from.committed_line == 0 {
                "attribute_exists(pk) AND (attribute_not_exists(progress) OR progress.committedLine = :from)"
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
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deletingAt)")
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
