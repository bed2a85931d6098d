//! AWS adapters for triage's ports, and [`Aws`], the backend that hands them to a function:
//! [`SqsTicketSink`] (FIFO ticket queue), [`SqsPackedDigestSink`] (digest queue),
//! [`SnsAlertPublisher`] (alert topic), [`DynamoDbDedupStore`] (dedup state), the flap state,
//! and for the digest function [`SqsDigestSource`] and [`SnsDigestPublisher`]. The mapping from
//! domain types to SDK requests is pure and tested on its own; the adapters are tested with
//! aws-smithy-mocks here and end to end against moto server in the functions' tests.

mod backend;
mod batch;
mod digest;
mod dynamodb;
mod events;
pub mod flap;
mod sns;
mod sqs;

pub use backend::Aws;
pub use batch::BatchPolicy;
pub use digest::{
    MAX_PACKED_MESSAGE_BYTES, SnsDigestPublisher, SqsDigestSource, SqsPackedDigestSink,
    delete_entries, digest_request, pack_digest_entries,
};
pub use dynamodb::{
    DynamoDbDedupStore, PARTITION_KEY, TTL_ATTRIBUTE, Update, WRITE_TOKEN_ATTRIBUTE,
    WRITE_TOKEN_PREFIX, item_from_attributes, item_to_attributes, update_for,
};
pub use events::{EventBridgePublisher, event_entry};
pub use sns::{ALERT_ID_ATTRIBUTE, SnsAlertPublisher, alert_request};
pub use sqs::{SqsTicketSink, ticket_entries};
