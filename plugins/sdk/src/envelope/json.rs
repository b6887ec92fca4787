//! The JSON envelope read in one pass, straight into the caller's item type: no tree of the
//! whole body is built. Every level keeps what it did not expect (a string where an object
//! should be, an array of numbers) as a JSON value, and the checks run afterwards in the same
//! order as on a parsed tree, so the errors and their messages do not depend on where in the
//! body the keys come.

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

use crate::fields::Row;

/// What one level of the envelope makes of an object, an array and any other value.
trait Level<'de>: Sized {
    type Out;
    fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error>;
    fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Out, A::Error> {
        Ok(self.other(Value::deserialize(SeqAccessDeserializer::new(seq))?))
    }
    fn other(self, value: Value) -> Self::Out;
}

/// Reads one JSON value at a [`Level`].
struct Read<L>(L);

impl<'de, L: Level<'de>> DeserializeSeed<'de> for Read<L> {
    type Value = L::Out;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<L::Out, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, L: Level<'de>> Visitor<'de> for Read<L> {
    type Value = L::Out;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<L::Out, A::Error> {
        self.0.map(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<L::Out, A::Error> {
        self.0.seq(seq)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<L::Out, E> {
        Ok(self.0.other(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<L::Out, E> {
        Ok(self.0.other(Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<L::Out, E> {
        Ok(self.0.other(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<L::Out, E> {
        Ok(self.0.other(Number::from_f64(v).map_or(Value::Null, Value::Number)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<L::Out, E> {
        Ok(self.0.other(Value::String(v.to_string())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<L::Out, E> {
        Ok(self.0.other(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<L::Out, E> {
        Ok(self.0.other(Value::Null))
    }
}

/// The whole body.
pub(super) enum Root<T> {
    /// The body is not an object.
    NotAnObject(Value),
    Object {
        /// `OpenAPI_ServiceResponse`: a gateway error rendered as JSON.
        gateway: Option<Value>,
        /// `response`; an empty [`Response`] when it is not an object.
        response: Option<Response<T>>,
    },
}

/// `response`.
pub(super) struct Response<T> {
    pub header: Option<Value>,
    /// `body` when it is an object.
    pub body: Option<Body<T>>,
}

impl<T> Default for Response<T> {
    fn default() -> Self {
        Response { header: None, body: None }
    }
}

/// `response.body`.
pub(super) struct Body<T> {
    pub items: Items<T>,
    pub total_count: Option<Value>,
    pub page_no: Option<Value>,
    pub num_of_rows: Option<Value>,
}

/// `response.body.items`.
pub(super) enum Items<T> {
    None,
    Rows(Vec<Row<T>>),
    /// Something else where the items should be, at that path.
    Unexpected(String, Value),
}

/// Reads the body with `seed` reading each item object.
pub(super) fn read<'de, D>(body: &'de str, seed: D) -> Result<Root<D::Value>, serde_json::Error>
where
    D: DeserializeSeed<'de> + Clone,
{
    let mut deserializer = serde_json::Deserializer::from_str(body);
    let root = Read(RootLevel(seed)).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(root)
}

/// The key of an object entry, borrowed when the body has it without escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = KeyText<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<KeyText<'de>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

enum KeyText<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl KeyText<'_> {
    fn as_str(&self) -> &str {
        match self {
            KeyText::Borrowed(s) => s,
            KeyText::Owned(s) => s,
        }
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = KeyText<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<KeyText<'de>, E> {
        Ok(KeyText::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText<'de>, E> {
        Ok(KeyText::Owned(v.to_string()))
    }
}

/// Calls `f` with each key of `map`; `f` reads the value or skips it. A repeated key
/// overwrites what an earlier one gave, as in a parsed tree.
fn each_key<'de, A, F>(mut map: A, mut f: F) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    F: FnMut(&str, &mut A) -> Result<(), A::Error>,
{
    while let Some(key) = map.next_key_seed(Key)? {
        f(key.as_str(), &mut map)?;
    }
    Ok(())
}

fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

struct RootLevel<D>(D);

impl<'de, D: DeserializeSeed<'de> + Clone> Level<'de> for RootLevel<D> {
    type Out = Root<D::Value>;
    fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        let (mut gateway, mut response) = (None, None);
        each_key(map, |key, map| {
            match key {
                "OpenAPI_ServiceResponse" => gateway = Some(map.next_value::<Value>()?),
                "response" => response = Some(map.next_value_seed(Read(ResponseLevel(self.0.clone())))?),
                _ => skip(map)?,
            }
            Ok(())
        })?;
        Ok(Root::Object { gateway, response })
    }
    fn other(self, value: Value) -> Self::Out {
        Root::NotAnObject(value)
    }
}

struct ResponseLevel<D>(D);

impl<'de, D: DeserializeSeed<'de> + Clone> Level<'de> for ResponseLevel<D> {
    type Out = Response<D::Value>;
    fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        let mut response = Response::default();
        each_key(map, |key, map| {
            match key {
                "header" => response.header = Some(map.next_value::<Value>()?),
                "body" => response.body = map.next_value_seed(Read(BodyLevel(self.0.clone())))?,
                _ => skip(map)?,
            }
            Ok(())
        })?;
        Ok(response)
    }
    fn other(self, _: Value) -> Self::Out {
        Response::default()
    }
}

struct BodyLevel<D>(D);

impl<'de, D: DeserializeSeed<'de> + Clone> Level<'de> for BodyLevel<D> {
    type Out = Option<Body<D::Value>>;
    fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        let mut body = Body { items: Items::None, total_count: None, page_no: None, num_of_rows: None };
        each_key(map, |key, map| {
            match key {
                "items" => body.items = map.next_value_seed(Read(ItemsLevel(self.0.clone())))?,
                "totalCount" => body.total_count = Some(map.next_value::<Value>()?),
                "pageNo" => body.page_no = Some(map.next_value::<Value>()?),
                "numOfRows" => body.num_of_rows = Some(map.next_value::<Value>()?),
                _ => skip(map)?,
            }
            Ok(())
        })?;
        Ok(Some(body))
    }
    fn other(self, _: Value) -> Self::Out {
        None
    }
}

/// `items`: an object holding `item`, or `""`/null for none.
struct ItemsLevel<D>(D);

impl<'de, D: DeserializeSeed<'de> + Clone> Level<'de> for ItemsLevel<D> {
    type Out = Items<D::Value>;
    fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        let mut items = Items::None;
        each_key(map, |key, map| {
            match key {
                "item" => items = map.next_value_seed(Read(ItemLevel(self.0.clone())))?,
                _ => skip(map)?,
            }
            Ok(())
        })?;
        Ok(items)
    }
    fn other(self, value: Value) -> Self::Out {
        match value {
            Value::Null => Items::None,
            Value::String(s) if s.trim().is_empty() => Items::None,
            other => Items::Unexpected("response.body.items".to_string(), other),
        }
    }
}

/// `items.item`: one object, or an array of them.
struct ItemLevel<D>(D);

impl<'de, D: DeserializeSeed<'de> + Clone> Level<'de> for ItemLevel<D> {
    type Out = Items<D::Value>;
    fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        Ok(Items::Rows(vec![Row::new(0, self.0.deserialize(MapAccessDeserializer::new(map))?)]))
    }
    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(element) = seq.next_element_seed(Read(ElementLevel(self.0.clone())))? {
            match element {
                Ok(fields) => rows.push(Row::new(rows.len(), fields)),
                Err(other) => {
                    // The first element that is not an object is the error; the rest is only
                    // checked to be JSON.
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    return Ok(Items::Unexpected(format!("response.body.items.item[{}]", rows.len()), other));
                }
            }
        }
        Ok(Items::Rows(rows))
    }
    fn other(self, value: Value) -> Self::Out {
        match value {
            Value::Null => Items::None,
            other => Items::Unexpected("response.body.items.item".to_string(), other),
        }
    }
}

/// One element of the `item` array: an item object, or what stood there instead.
struct ElementLevel<D>(D);

impl<'de, D: DeserializeSeed<'de>> Level<'de> for ElementLevel<D> {
    type Out = Result<D::Value, Value>;
    fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        self.0.deserialize(MapAccessDeserializer::new(map)).map(Ok)
    }
    fn other(self, value: Value) -> Self::Out {
        Err(value)
    }
}
