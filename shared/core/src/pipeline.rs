//! One entry point for "which classifier understands this event?", used by the replay CLI so
//! that it runs exactly the classification each function runs. Each function calls its own
//! classifier directly; this only dispatches.

use serde_json::Value;

use crate::config::{ConfigClassifier, ConfigEventError};
use crate::finding::Finding;

/// The kind of event, as recognised from its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// AWS Config compliance change (EventBridge, or the SNS notification body).
    ConfigCompliance,
    /// Anything triage has no classifier for.
    Unknown,
}

impl EventKind {
    pub fn of(event: &Value) -> EventKind {
        if ConfigClassifier::accepts(event) {
            EventKind::ConfigCompliance
        } else {
            EventKind::Unknown
        }
    }

    /// The function that handles this kind in AWS.
    pub fn function(self) -> Option<&'static str> {
        match self {
            EventKind::ConfigCompliance => Some("config-classifier"),
            EventKind::Unknown => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    #[error(transparent)]
    Config(#[from] ConfigEventError),
    #[error("no classifier understands this event")]
    Unrecognised,
}

/// Every classifier, for callers that see every kind of event (the replay CLI).
#[derive(Debug, Clone)]
pub struct Classifiers {
    pub config: ConfigClassifier,
}

impl Classifiers {
    pub fn classify(&self, event: &Value) -> Result<Vec<Finding>, ClassifyError> {
        match EventKind::of(event) {
            EventKind::ConfigCompliance => Ok(self.config.findings(event)?),
            EventKind::Unknown => Err(ClassifyError::Unrecognised),
        }
    }
}
