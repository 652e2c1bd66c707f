//! The key attributes that decide which partition an item, a key or a
//! query belongs to, read from the table's definition.

use crate::schema::{self, TableDefinition};

/// What an index projects, so what its entries weigh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Projection {
    /// The table's keys and the index's.
    KeysOnly,
    /// Those and the listed attributes.
    Include(Vec<String>),
    /// The whole item.
    All,
}

/// One global secondary index.
#[derive(Clone, Debug)]
pub(crate) struct IndexSchema {
    /// Its name (`IndexName` in requests).
    pub(crate) name: String,
    /// Its partition key attribute.
    pub(crate) hash_key: String,
    /// Its sort key attribute, if any.
    pub(crate) range_key: Option<String>,
    /// What its entries hold.
    pub(crate) projection: Projection,
}

/// The key attributes of the table and of its indexes: every table behind
/// the simulator is taken to have them.
#[derive(Clone, Debug)]
pub struct Schema {
    /// The table's partition key attribute.
    pub(crate) hash_key: String,
    /// The table's sort key attribute, if any.
    pub(crate) range_key: Option<String>,
    /// Its global secondary indexes.
    pub(crate) indexes: Vec<IndexSchema>,
}

fn hash_and_range(
    keys: &[aws_sdk_dynamodb::types::KeySchemaElement],
) -> Result<(String, Option<String>), String> {
    use aws_sdk_dynamodb::types::KeyType;
    let hash = keys
        .iter()
        .find(|k| *k.key_type() == KeyType::Hash)
        .ok_or("a key schema without a HASH key")?;
    let range = keys.iter().find(|k| *k.key_type() == KeyType::Range);
    Ok((
        hash.attribute_name().to_string(),
        range.map(|r| r.attribute_name().to_string()),
    ))
}

impl Schema {
    /// From a table definition read from a template.
    fn from_definition(def: &TableDefinition) -> Result<Self, String> {
        use aws_sdk_dynamodb::types::ProjectionType;
        let (hash_key, range_key) = hash_and_range(&def.key_schema)?;
        let mut indexes = Vec::new();
        for ix in &def.indexes {
            let (hash, range) = hash_and_range(ix.key_schema())
                .map_err(|e| format!("index {}: {e}", ix.index_name()))?;
            let projection = match ix.projection().and_then(|p| p.projection_type()) {
                Some(ProjectionType::All) => Projection::All,
                Some(ProjectionType::Include) => Projection::Include(
                    ix.projection()
                        .map(|p| p.non_key_attributes().to_vec())
                        .unwrap_or_default(),
                ),
                _ => Projection::KeysOnly,
            };
            indexes.push(IndexSchema {
                name: ix.index_name().to_string(),
                hash_key: hash,
                range_key: range,
                projection,
            });
        }
        Ok(Self {
            hash_key,
            range_key,
            indexes,
        })
    }

    /// The table resource of a SAM template's text.
    pub(crate) fn from_template(template: &str) -> Result<Self, String> {
        let def = schema::table_definition_from(template).map_err(|e| e.to_string())?;
        Self::from_definition(&def)
    }

    /// The shipped `template.yaml`'s table.
    pub fn shipped() -> Result<Self, String> {
        Self::from_template(schema::TEMPLATE)
    }

    pub(super) fn index(&self, name: &str) -> Option<&IndexSchema> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// The table's key attribute names.
    pub(super) fn table_keys(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.hash_key.as_str()).chain(self.range_key.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_has_its_indexes_and_their_keys() {
        let s = Schema::shipped().unwrap();
        assert_eq!(
            (s.hash_key.as_str(), s.range_key.as_deref()),
            ("pk", Some("sk"))
        );
        for (name, hash, range) in [
            ("by_image", "iid", None),
            ("by_organization", "organization_id", Some("sk")),
            ("by_tag", "tg", Some("sk")),
        ] {
            let index = s.index(name).unwrap();
            let keys = (index.hash_key.as_str(), index.range_key.as_deref());
            assert_eq!(keys, (hash, range), "{name}");
        }
        assert_eq!(
            s.index("by_image").unwrap().projection,
            Projection::KeysOnly
        );
    }
}
