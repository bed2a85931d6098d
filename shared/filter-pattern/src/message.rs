//! A log event message, with its JSON parsed at most once and only if a pattern needs it.

use std::cell::OnceCell;
use std::fmt;

use crate::document::{Document, Kind};

/// One log event message (the raw `message` string of a CloudWatch Logs event).
///
/// The JSON parse happens lazily, on the first JSON pattern evaluated against the message (or
/// the first call to [`Message::json`]), and is then shared by every later evaluation. Build a
/// `Message` once per log event and evaluate all patterns against it:
///
/// ```
/// use triage_filter_pattern::{FilterPattern, Message};
///
/// let record = r#"{"eventName":"ConsoleLogin","userIdentity":{"type":"Root"}}"#;
/// let message = Message::new(record);
/// let root = FilterPattern::parse(r#"{ $.userIdentity.type = "Root" }"#)?;
/// let login = FilterPattern::parse("{ $.eventName = ConsoleLogin }")?;
/// assert!(root.matches_message(&message) && login.matches_message(&message));
/// # Ok::<(), triage_filter_pattern::PatternError>(())
/// ```
pub struct Message<'a> {
    text: &'a str,
    document: OnceCell<Option<Document<'a>>>,
}

impl<'a> Message<'a> {
    /// Wraps a message; nothing is parsed yet.
    #[must_use]
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            document: OnceCell::new(),
        }
    }

    /// The raw message text.
    #[must_use]
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The parsed document, if the message is a JSON object (the only messages JSON patterns
    /// can match).
    pub(crate) fn document(&self) -> Option<&Document<'a>> {
        self.document
            .get_or_init(|| {
                Document::parse(self.text).filter(|d| d.kind(Document::ROOT) == Kind::Object)
            })
            .as_ref()
    }

    /// Whether the JSON parse has already happened (then a prefilter cannot save it).
    pub(crate) fn is_parsed(&self) -> bool {
        self.document.get().is_some()
    }

    /// Whether the message is a JSON object. Parses it if that has not happened yet.
    #[must_use]
    pub fn is_json_object(&self) -> bool {
        self.document().is_some()
    }

    /// The message's top-level JSON object, for reading fields without a second parse.
    /// `None` if the message is not a JSON object.
    ///
    /// ```
    /// use triage_filter_pattern::Message;
    ///
    /// let message = Message::new(r#"{"userIdentity":{"arn":"arn:aws:iam::111122223333:root"}}"#);
    /// let arn = message.json().and_then(|r| r.get("userIdentity")?.get("arn")?.as_str());
    /// assert_eq!(arn, Some("arn:aws:iam::111122223333:root"));
    /// ```
    #[must_use]
    pub fn json(&self) -> Option<JsonValue<'_>> {
        self.document().map(|doc| JsonValue {
            doc,
            index: Document::ROOT,
        })
    }
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("text", &self.text)
            .field("parsed", &self.document.get().is_some())
            .finish()
    }
}

/// The type of a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonKind {
    /// `null`
    Null,
    /// `true` or `false`
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

/// A read-only view of one value inside a parsed [`Message`].
#[derive(Clone, Copy)]
pub struct JsonValue<'m> {
    doc: &'m Document<'m>,
    index: u32,
}

impl<'m> JsonValue<'m> {
    /// The value's type.
    pub fn kind(&self) -> JsonKind {
        match self.doc.kind(self.index) {
            Kind::Null => JsonKind::Null,
            Kind::True | Kind::False => JsonKind::Bool,
            Kind::Number => JsonKind::Number,
            Kind::String => JsonKind::String,
            Kind::Array => JsonKind::Array,
            Kind::Object => JsonKind::Object,
        }
    }

    /// The member `key` of an object (the last one if the key repeats).
    pub fn get(&self, key: &str) -> Option<JsonValue<'m>> {
        self.doc.member(self.index, key).map(|index| self.at(index))
    }

    /// Element `i` of an array.
    pub fn index(&self, i: usize) -> Option<JsonValue<'m>> {
        self.doc.element(self.index, i).map(|index| self.at(index))
    }

    /// A string's contents (escapes decoded).
    pub fn as_str(&self) -> Option<&'m str> {
        match self.doc.kind(self.index) {
            Kind::String => self.doc.scalar_text(self.index),
            _ => None,
        }
    }

    /// A boolean's value.
    pub fn as_bool(&self) -> Option<bool> {
        match self.doc.kind(self.index) {
            Kind::True => Some(true),
            Kind::False => Some(false),
            _ => None,
        }
    }

    /// A number's text exactly as it appears in the message.
    pub fn number_text(&self) -> Option<&'m str> {
        match self.doc.kind(self.index) {
            Kind::Number => self.doc.scalar_text(self.index),
            _ => None,
        }
    }

    /// The text a filter pattern compares for a scalar: string contents, number text, or
    /// `true` / `false`. `None` for `null`, arrays and objects.
    pub fn scalar_text(&self) -> Option<&'m str> {
        self.doc.scalar_text(self.index)
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        self.doc.kind(self.index) == Kind::Null
    }

    /// An object's members in document order (empty for other values).
    pub fn members(&self) -> impl Iterator<Item = (&'m str, JsonValue<'m>)> + 'm {
        let this = *self;
        let children = match self.kind() {
            JsonKind::Object => Some(self.doc.children(self.index)),
            _ => None,
        };
        children
            .into_iter()
            .flatten()
            .map(move |i| (this.doc.key(i), this.at(i)))
    }

    /// An array's elements (empty for other values).
    pub fn elements(&self) -> impl Iterator<Item = JsonValue<'m>> + 'm {
        let this = *self;
        let children = match self.kind() {
            JsonKind::Array => Some(self.doc.children(self.index)),
            _ => None,
        };
        children.into_iter().flatten().map(move |i| this.at(i))
    }

    fn at(&self, index: u32) -> JsonValue<'m> {
        JsonValue {
            doc: self.doc,
            index,
        }
    }
}

impl fmt::Debug for JsonValue<'_> {
    /// Scalars print as JSON; containers print their size only (so that printing can never
    /// recurse through a deeply nested message).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            JsonKind::Object => write!(f, "{{…{} members}}", self.members().count()),
            JsonKind::Array => write!(f, "[…{} elements]", self.elements().count()),
            JsonKind::Null => f.write_str("null"),
            JsonKind::String => write!(f, "{:?}", self.as_str().unwrap_or_default()),
            JsonKind::Bool | JsonKind::Number => {
                f.write_str(self.scalar_text().unwrap_or_default())
            }
        }
    }
}
