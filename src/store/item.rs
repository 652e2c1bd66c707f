//! Items: the map DynamoDB stores, and reading and writing its attributes.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use super::StoreError;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} missing or not a string"
        ))),
    }
}
pub(crate) fn get_n(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        None => Ok(0),
        Some(AttributeValue::N(v)) => v
            .parse::<i64>()
            .map(|x| x.max(0) as u64)
            .map_err(|_| StoreError::Corrupt(format!("attribute {name} is not an integer"))),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} is not a number"
        ))),
    }
}

/// DynamoDB's size of an item: attribute names plus values (strings and
/// numbers as their text), as billed.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(k, v)| {
            k.len()
                + match v {
                    AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                    AttributeValue::B(b) => b.as_ref().len(),
                    _ => 8,
                }
        })
        .sum()
}

/// Where a listing or a copy goes on: a key of the table, opaque outside
/// the store. A cursor signs its fields and a job stores them; neither
/// needs to know which attributes a key has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageKey(BTreeMap<String, String>);

impl PageKey {
    /// A key of the given string fields (what [`PageKey::fields`] gave).
    pub fn from_fields<K: Into<String>, V: Into<String>>(
        fields: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self(
            fields
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// Its fields by name (every key attribute of this table is a string).
    pub fn fields(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// One field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The key as the SDK takes it.
    pub(crate) fn to_item(&self) -> Item {
        self.0
            .iter()
            .map(|(k, v)| (k.clone(), AttributeValue::S(v.clone())))
            .collect()
    }
}
