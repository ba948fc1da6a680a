//! An item's body as the store keeps it: JSON text. Readers decode it straight into their typed
//! model (no intermediate `serde_json::Value`), writers serialise their model once, and the
//! DynamoDB adapter stores the same text as its `body` attribute.

use std::collections::HashMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::kernel::error::{Error, Result};

#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Body(Box<RawValue>);

impl Body {
    /// `value` serialised once.
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Result<Self> {
        serde_json::value::to_raw_value(value).map(Self).map_err(Error::internal)
    }

    /// Stored text, checked to be one JSON value.
    pub fn from_json(text: String) -> serde_json::Result<Self> {
        RawValue::from_string(text).map(Self)
    }

    /// The body as the model `T`, parsed from the text.
    pub fn decode<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(self.0.get())
    }

    /// The body as an untyped value, for the few readers that keep or edit unknown fields
    /// (export, residency copy, tests).
    pub fn to_value(&self) -> Result<Value> {
        self.decode().map_err(Error::internal)
    }

    /// One top-level field as `T`; `None` when the body is no object, lacks it, or it is no `T`.
    /// For the small bookkeeping items (markers, indexes) read for one field.
    pub fn field<T: DeserializeOwned>(&self, name: &str) -> Option<T> {
        let fields: HashMap<String, &RawValue> = serde_json::from_str(self.json()).ok()?;
        serde_json::from_str(fields.get(name)?.get()).ok()
    }

    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// Size of the stored text in bytes (the store's item bound counts this).
    pub fn len(&self) -> usize {
        self.0.get().len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.get().is_empty()
    }
}

impl From<Value> for Body {
    fn from(value: Value) -> Self {
        Self(serde_json::value::to_raw_value(&value).expect("a Value serialises: string keys, finite numbers"))
    }
}

/// Equal when the stored text is: both adapters keep a body's text byte for byte.
impl PartialEq for Body {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

impl fmt::Display for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json())
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json())
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Named {
        name: String,
    }

    #[test]
    fn a_body_decodes_into_its_model_and_keeps_its_text() {
        let body = Body::from_json(r#"{"name": "Intranet", "extra": [1, 2]}"#.to_owned()).expect("json");
        assert_eq!(body.decode::<Named>().expect("decode"), Named { name: "Intranet".into() });
        assert_eq!(body.json(), r#"{"name": "Intranet", "extra": [1, 2]}"#);
        assert_eq!(body.len(), 37, "bytes of the text as written");
        assert_eq!(body.to_value().expect("value"), json!({"name": "Intranet", "extra": [1, 2]}));
    }

    #[test]
    fn text_that_is_not_one_json_value_is_refused() {
        for text in ["", "{", r#"{"a": 1} {"b": 2}"#, "{\"a\": 1,}"] {
            assert!(Body::from_json(text.to_owned()).is_err(), "{text:?}");
        }
    }

    #[test]
    fn a_field_is_read_without_a_model() {
        let body = Body::from(json!({"state": "ready", "count": 3}));
        assert_eq!(body.field::<String>("state").as_deref(), Some("ready"));
        assert_eq!(body.field::<u64>("count"), Some(3));
        assert_eq!(body.field::<String>("count"), None, "another type");
        assert_eq!(body.field::<String>("missing"), None);
        assert_eq!(Body::from(json!([1])).field::<u64>("state"), None, "not an object");
    }

    #[test]
    fn a_model_is_serialised_once_in_field_order() {
        #[derive(Serialize)]
        struct Site<'a> {
            zeta: u8,
            alpha: &'a str,
        }
        assert_eq!(Body::of(&Site { zeta: 1, alpha: "a" }).expect("body").json(), r#"{"zeta":1,"alpha":"a"}"#);
    }
}
