//! One JSON object as written, deserialised so a key given twice and a value's kind are seen.

use crate::domain::limits::IMPORT_COLUMNS_MAX;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// One JSON object as written: its keys in order with the kind of each value, and the first
/// key written twice. serde_json's own maps would keep the last of two equal keys silently.
pub(super) struct JsonObject {
    pub(super) fields: Vec<(String, JsonValue)>,
    pub(super) duplicate: Option<String>,
    /// More keys than a record may have (only the first [`IMPORT_COLUMNS_MAX`] are kept).
    pub(super) too_many: bool,
}

/// A field's value: text is kept, anything else only for its kind.
pub(super) enum JsonValue {
    Null,
    Bool(bool),
    Text(String),
    Number,
    Array,
    Object,
}

impl JsonValue {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            JsonValue::Null => "null",
            JsonValue::Bool(_) => "a boolean",
            JsonValue::Text(_) => "a string",
            JsonValue::Number => "a number",
            JsonValue::Array => "an array",
            JsonValue::Object => "an object",
        }
    }
}

impl<'de> Deserialize<'de> for JsonObject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = JsonObject;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonObject, A::Error> {
        let mut object = JsonObject {
            fields: Vec::with_capacity(8),
            duplicate: None,
            too_many: false,
        };
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<JsonValue>()?;
            if object.fields.iter().any(|(k, _)| *k == key) {
                object.duplicate.get_or_insert(key);
            } else if object.fields.len() < IMPORT_COLUMNS_MAX {
                object.fields.push((key, value));
            } else {
                object.too_many = true;
            }
        }
        Ok(object)
    }
}

impl<'de> Deserialize<'de> for JsonValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = JsonValue;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<JsonValue, E> {
        Ok(JsonValue::Null)
    }

    fn visit_none<E>(self) -> Result<JsonValue, E> {
        Ok(JsonValue::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<JsonValue, E> {
        Ok(JsonValue::Bool(b))
    }

    fn visit_i64<E>(self, _: i64) -> Result<JsonValue, E> {
        Ok(JsonValue::Number)
    }

    fn visit_u64<E>(self, _: u64) -> Result<JsonValue, E> {
        Ok(JsonValue::Number)
    }

    fn visit_f64<E>(self, _: f64) -> Result<JsonValue, E> {
        Ok(JsonValue::Number)
    }

    fn visit_str<E>(self, s: &str) -> Result<JsonValue, E> {
        Ok(JsonValue::Text(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<JsonValue, E> {
        Ok(JsonValue::Text(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonValue, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(JsonValue::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonValue, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(JsonValue::Object)
    }
}
