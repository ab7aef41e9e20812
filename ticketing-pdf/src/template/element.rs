//! Reading an [`Element`] by its `"type"`, keeping the path of a refused field.
//!
//! serde's internally tagged enums buffer the object and lose track of where inside it a value
//! was refused, so `elements[3].color` would be reported as `elements[3]`. This reads the
//! object, picks the kind by `"type"`, reads the rest with its own path tracking, and passes the
//! inner path out in the error message for [`Template::from_json`](super::Template::from_json)
//! to join back.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::Element;

/// Brackets an inner path at the start of an error message.
const MARK: char = '\u{1}';

/// The kinds of element, as `"type"` names them.
const KINDS: &[&str] = &["rect", "line", "text", "image", "qr"];

impl<'de> Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut object = Map::<String, Value>::deserialize(deserializer)?;
        let kind = match object.remove("type") {
            Some(Value::String(kind)) => kind,
            Some(_) => return Err(D::Error::custom("`type` must be a string")),
            None => return Err(D::Error::missing_field("type")),
        };
        let body = Value::Object(object);
        let element = match kind.as_str() {
            "rect" => read(body).map(Element::Rect),
            "line" => read(body).map(Element::Line),
            "text" => read(body).map(Element::Text),
            "image" => read(body).map(Element::Image),
            "qr" => read(body).map(Element::Qr),
            other => return Err(D::Error::unknown_variant(other, KINDS)),
        };
        element.map_err(D::Error::custom)
    }
}

fn read<T: DeserializeOwned>(body: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        if path == "." { message } else { format!("{MARK}{path}{MARK}{message}") }
    })
}

/// Splits a message made by [`read`] into the inner path and the message proper.
pub(super) fn split_inner_path(message: &str) -> Option<(&str, &str)> {
    let rest = message.strip_prefix(MARK)?;
    rest.split_once(MARK)
}
