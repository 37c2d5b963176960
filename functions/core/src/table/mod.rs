//! The single DynamoDB table: its schema, its typed items, and every access pattern as a
//! function. Presign, persist, the query API and the CLI all go through [`Table`]; nothing
//! else builds a DynamoDB request for it.
//!
//! | access pattern | request |
//! |---|---|
//! | one image | GetItem `PK = IMAGE#<id>, SK = IMAGE` |
//! | create the PENDING record | PutItem, condition `attribute_not_exists(PK)` |
//! | claim an upload (first state) | UpdateItem, condition `status = PENDING` and unclaimed or claimed by the same execution |
//! | store an outcome | TransactWriteItems: the image item (conditional on what was read) + label items |
//! | images with a label at >= N% | Query `PK = OWNER#<o>#LABEL#<label>, SK >= C#<N>`, descending |
//! | an owner's recent images | Query GSI1 `GSI1PK = OWNER#<o>`, descending |
//! | PENDING uploads created before T (reconciler) | Query GSI2 `GSI2PK = PENDING, GSI2SK < T`, oldest first |
//! | hand a stuck upload to a new execution (reconciler) | UpdateItem, condition: PENDING, unchanged since read, same claimer |
//! | re-claim a final record for a re-process execution | UpdateItem, condition: final and unchanged since read |

pub mod attr;
mod claim;
pub mod keys;
mod reclaim;
pub mod record;
pub mod schema;

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use crate::error::{classify_sdk_error, StepError};
pub use claim::{compare_sequencers, Claim, ClaimOutcome, Handover};
use keys::{image_pk, label_pk, label_sk_floor, owner_pk, GSI1, GSI1PK, GSI2, IMAGE_SK, PENDING_PARTITION, PK, SK};
pub use reclaim::Reclaim;
pub use record::{FailureReason, ImageRecord, ItemKey, LabelHit};
use schema::build_error;

/// DynamoDB's limit on the items of one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// Where a page of a Query starts: the previous page's LastEvaluatedKey (string attributes only).
pub type PageKey = BTreeMap<String, String>;

/// One page of a Query.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<PageKey>,
}

/// An outcome to store: the new image item, its label items, and the label items of the previous
/// outcome that are no longer current.
pub struct OutcomeWrite<'a> {
    pub record: &'a ImageRecord,
    /// `updatedAt` of the record as it was read; the write succeeds only if it is unchanged
    /// (`None`: only if there is no record at all).
    pub seen_updated_at: Option<&'a str>,
    pub labels: &'a [LabelHit],
    pub stale: &'a [ItemKey],
}

/// Why an outcome was not stored.
#[derive(Debug)]
pub enum WriteError {
    /// Someone else changed the record since it was read.
    Conflict,
    Failed(StepError),
}

/// The table and the client that reaches it.
#[derive(Clone, Debug)]
pub struct Table {
    client: aws_sdk_dynamodb::Client,
    name: String,
}

impl Table {
    /// The table `name` through `client`.
    pub fn new(client: aws_sdk_dynamodb::Client, name: impl Into<String>) -> Table {
        Table { client, name: name.into() }
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Creates the table from the schema unless it exists.
    pub async fn ensure_exists(&self) -> Result<(), StepError> {
        schema::ensure_table(&self.client, &self.name).await
    }

    /// One image's record; `consistent` for a strongly consistent read.
    pub async fn get_image(&self, id: &str, consistent: bool) -> Result<Option<ImageRecord>, StepError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key(PK, AttributeValue::S(image_pk(id)))
            .key(SK, AttributeValue::S(IMAGE_SK.into()))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| classify_sdk_error("reading an image record", &e))?;
        out.item.as_ref().map(ImageRecord::from_item).transpose()
    }

    /// Creates a PENDING record; fails if the id is taken.
    pub async fn put_pending(&self, record: &ImageRecord) -> Result<(), StepError> {
        self.client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(record.to_item()?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(|e| classify_sdk_error("creating the pending record", &e))?;
        Ok(())
    }

    /// Deletes an image item and the label items it lists, in one transaction, if the item is
    /// still as `record` shows it (same owner, same `updatedAt`), so that no label item written
    /// since is left behind. `Ok(false)`: the item changed or is gone; read it again.
    pub async fn delete_image(&self, record: &ImageRecord) -> Result<bool, StepError> {
        let mut seen = std::collections::HashSet::new();
        let label_keys: Vec<&ItemKey> = record.label_keys.iter().filter(|k| seen.insert(*k)).collect();
        if 1 + label_keys.len() > MAX_TRANSACTION_ITEMS {
            return Err(StepError::Internal(format!(
                "image {} lists {} label items, more than one transaction deletes",
                record.image_id,
                label_keys.len()
            )));
        }
        let key = ImageRecord::key_of(&record.image_id);
        let image = Delete::builder()
            .table_name(&self.name)
            .key(PK, AttributeValue::S(key.pk))
            .key(SK, AttributeValue::S(key.sk))
            .condition_expression("#owner = :owner AND updatedAt = :seen")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", AttributeValue::S(record.owner.clone()))
            .expression_attribute_values(":seen", AttributeValue::S(record.updated_at.clone()))
            .build()
            .map_err(build_error)?;
        let mut writes = vec![TransactWriteItem::builder().delete(image).build()];
        for key in label_keys {
            let delete = Delete::builder()
                .table_name(&self.name)
                .key(PK, AttributeValue::S(key.pk.clone()))
                .key(SK, AttributeValue::S(key.sk.clone()))
                .build()
                .map_err(build_error)?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
        }
        match self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_conflict(&e) => Ok(false),
            Err(e) => Err(classify_sdk_error("deleting an image record", &e)),
        }
    }

    /// Stores an outcome in one transaction: all of it, or nothing.
    pub async fn write_outcome(&self, write: OutcomeWrite<'_>) -> Result<(), WriteError> {
        let items = 1 + write.labels.len() + write.stale.len();
        if items > MAX_TRANSACTION_ITEMS {
            return Err(WriteError::Failed(StepError::Internal(format!(
                "an outcome of {items} items does not fit one transaction ({MAX_TRANSACTION_ITEMS})"
            ))));
        }
        let writes = self.outcome_items(&write).map_err(WriteError::Failed)?;
        match self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_condition_conflict(&e) => Err(WriteError::Conflict),
            Err(e) => Err(WriteError::Failed(classify_sdk_error("writing the image record", &e))),
        }
    }

    fn outcome_items(&self, write: &OutcomeWrite<'_>) -> Result<Vec<TransactWriteItem>, StepError> {
        let put = Put::builder().table_name(&self.name).set_item(Some(write.record.to_item()?));
        let put = match write.seen_updated_at {
            Some(seen) => put
                .condition_expression("updatedAt = :seen")
                .expression_attribute_values(":seen", AttributeValue::S(seen.into())),
            None => put.condition_expression("attribute_not_exists(PK)"),
        };
        let mut writes = vec![TransactWriteItem::builder().put(put.build().map_err(build_error)?).build()];
        for hit in write.labels {
            let put = Put::builder().table_name(&self.name).set_item(Some(hit.to_item()?)).build();
            writes.push(TransactWriteItem::builder().put(put.map_err(build_error)?).build());
        }
        for key in write.stale {
            let delete = Delete::builder()
                .table_name(&self.name)
                .key(PK, AttributeValue::S(key.pk.clone()))
                .key(SK, AttributeValue::S(key.sk.clone()))
                .build();
            writes.push(TransactWriteItem::builder().delete(delete.map_err(build_error)?).build());
        }
        Ok(writes)
    }

    /// An owner's images with `label` at or above `min_confidence`, highest first.
    pub async fn query_label(
        &self,
        owner: &str,
        label: &str,
        min_confidence: f32,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<LabelHit>, StepError> {
        let out = self
            .client
            .query()
            .table_name(&self.name)
            .key_condition_expression("PK = :pk AND SK >= :floor")
            .expression_attribute_values(":pk", AttributeValue::S(label_pk(owner, label)))
            .expression_attribute_values(":floor", AttributeValue::S(label_sk_floor(min_confidence)))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start.map(to_start_key))
            .send()
            .await
            .map_err(|e| classify_sdk_error("querying a label", &e))?;
        let items = out.items().iter().map(LabelHit::from_item).collect::<Result<_, _>>()?;
        Ok(Page { items, next: out.last_evaluated_key().map(page_key) })
    }

    /// An owner's images, newest first.
    pub async fn query_recent(
        &self,
        owner: &str,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<ImageRecord>, StepError> {
        let out = self
            .client
            .query()
            .table_name(&self.name)
            .index_name(GSI1)
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(owner_pk(owner)))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start.map(to_start_key))
            .send()
            .await
            .map_err(|e| classify_sdk_error("listing recent images", &e))?;
        let items = out.items().iter().map(ImageRecord::from_item).collect::<Result<_, _>>()?;
        Ok(Page { items, next: out.last_evaluated_key().map(page_key) })
    }
}

impl Table {
    /// Ids of PENDING uploads created before `created_before` (RFC 3339, as records store it),
    /// oldest first, from the sparse pending index.
    pub async fn query_pending(
        &self,
        created_before: &str,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<String>, StepError> {
        let out = self
            .client
            .query()
            .table_name(&self.name)
            .index_name(GSI2)
            .key_condition_expression("GSI2PK = :pk AND GSI2SK < :before")
            .expression_attribute_values(":pk", AttributeValue::S(PENDING_PARTITION.into()))
            .expression_attribute_values(":before", AttributeValue::S(created_before.into()))
            .limit(limit)
            .set_exclusive_start_key(start.map(to_start_key))
            .send()
            .await
            .map_err(|e| classify_sdk_error("listing pending uploads", &e))?;
        let items = out
            .items()
            .iter()
            .filter_map(|item| attr::get_s(item, PK)?.strip_prefix("IMAGE#").map(str::to_string))
            .collect();
        Ok(Page { items, next: out.last_evaluated_key().map(page_key) })
    }
}

/// The partition a label query reads, for checking that a page key belongs to it.
pub fn label_partition(owner: &str, label: &str) -> (&'static str, String) {
    (PK, label_pk(owner, label))
}

/// The partition a recent-images query reads, for checking that a page key belongs to it.
pub fn recent_partition(owner: &str) -> (&'static str, String) {
    (GSI1PK, owner_pk(owner))
}

fn to_start_key(key: PageKey) -> std::collections::HashMap<String, AttributeValue> {
    key.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect()
}

fn page_key(key: &std::collections::HashMap<String, AttributeValue>) -> PageKey {
    key.iter().filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone()))).collect()
}

fn is_condition_conflict<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error().is_some_and(|se| {
        se.code() == Some("TransactionCanceledException")
            && se.message().unwrap_or_default().contains("ConditionalCheckFailed")
    })
}
