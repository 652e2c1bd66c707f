//! The table definition, read from `template.yaml` itself.
//!
//! Local tables (albumctl, tests, `make demo`) are created from the very
//! `AWS::DynamoDB::Table` resource that CloudFormation deploys, embedded at
//! compile time, so the key schema and indexes cannot drift between the
//! emulator and production.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use serde::Deserialize;

use album_api::store::{StoreError, describe};

/// The SAM template, as shipped.
pub const TEMPLATE: &str = include_str!("../../template.yaml");
/// Logical id of the table resource in the template.
pub const TABLE_LOGICAL_ID: &str = "AlbumsTable";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Properties {
    attribute_definitions: Vec<AttrDef>,
    key_schema: Vec<KeyDef>,
    #[serde(default)]
    global_secondary_indexes: Vec<IndexDef>,
}
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttrDef {
    attribute_name: String,
    attribute_type: String,
}
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyDef {
    attribute_name: String,
    key_type: String,
}
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IndexDef {
    index_name: String,
    key_schema: Vec<KeyDef>,
    projection: ProjectionDef,
}
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProjectionDef {
    projection_type: String,
    #[serde(default)]
    non_key_attributes: Vec<String>,
}

/// The table's definition in SDK types.
#[derive(Clone, Debug)]
pub struct TableDefinition {
    /// Attribute definitions.
    pub attributes: Vec<AttributeDefinition>,
    /// Primary key.
    pub key_schema: Vec<KeySchemaElement>,
    /// Global secondary indexes.
    pub indexes: Vec<GlobalSecondaryIndex>,
}

fn bad(msg: impl Into<String>) -> StoreError {
    StoreError::Corrupt(format!("template.yaml {TABLE_LOGICAL_ID}: {}", msg.into()))
}

fn keys(defs: &[KeyDef]) -> Result<Vec<KeySchemaElement>, StoreError> {
    defs.iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
                .map_err(|e| bad(e.to_string()))
        })
        .collect()
}

/// Parses the table resource of `template`.
pub fn table_definition_from(template: &str) -> Result<TableDefinition, StoreError> {
    let doc: serde_norway::Value =
        serde_norway::from_str(template).map_err(|e| bad(e.to_string()))?;
    let props = doc
        .get("Resources")
        .and_then(|r| r.get(TABLE_LOGICAL_ID))
        .and_then(|t| t.get("Properties"))
        .ok_or_else(|| bad("resource not found"))?;
    let props: Properties =
        serde_norway::from_value(props.clone()).map_err(|e| bad(e.to_string()))?;
    let attributes = props
        .attribute_definitions
        .iter()
        .map(|a| {
            AttributeDefinition::builder()
                .attribute_name(&a.attribute_name)
                .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                .build()
                .map_err(|e| bad(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    let mut indexes = Vec::new();
    for ix in &props.global_secondary_indexes {
        let projection = Projection::builder()
            .projection_type(ProjectionType::from(ix.projection.projection_type.as_str()))
            .set_non_key_attributes(
                (!ix.projection.non_key_attributes.is_empty())
                    .then(|| ix.projection.non_key_attributes.clone()),
            )
            .build();
        indexes.push(
            GlobalSecondaryIndex::builder()
                .index_name(&ix.index_name)
                .set_key_schema(Some(keys(&ix.key_schema)?))
                .projection(projection)
                .build()
                .map_err(|e| bad(e.to_string()))?,
        );
    }
    Ok(TableDefinition {
        attributes,
        key_schema: keys(&props.key_schema)?,
        indexes,
    })
}

/// The shipped template's table definition.
pub fn table_definition() -> Result<TableDefinition, StoreError> {
    table_definition_from(TEMPLATE)
}

/// Creates `table` (on-demand billing) from the template's definition.
/// Returns `false` when it already exists.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<bool, StoreError> {
    let def = table_definition()?;
    let res = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(def.attributes))
        .set_key_schema(Some(def.key_schema))
        .set_global_secondary_indexes((!def.indexes.is_empty()).then_some(def.indexes))
        .send()
        .await;
    match res {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_in_use_exception()) =>
        {
            return Ok(false);
        }
        Err(e) => return Err(StoreError::Dynamo(describe(&e))),
    }
    // Wait until ACTIVE (emulators may take a moment).
    for _ in 0..200 {
        let d = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| StoreError::Dynamo(describe(&e)))?;
        let status = d
            .table()
            .and_then(|t| t.table_status())
            .map(|s| s.as_str().to_string());
        if status.as_deref() == Some("ACTIVE") {
            return Ok(true);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Err(StoreError::Dynamo(format!(
        "table {table} did not become ACTIVE"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use album_api::store::keys;

    #[test]
    fn template_table_matches_the_key_scheme() {
        let def = table_definition().unwrap();
        let key_names: Vec<_> = def.key_schema.iter().map(|k| k.attribute_name()).collect();
        assert_eq!(key_names, [keys::PK, keys::SK]);
        let index_names: Vec<_> = def.indexes.iter().map(|i| i.index_name()).collect();
        assert!(index_names.contains(&keys::BY_IMAGE_INDEX));
        assert!(index_names.contains(&keys::BY_ORGANIZATION_INDEX));
        let attrs: Vec<_> = def.attributes.iter().map(|a| a.attribute_name()).collect();
        assert!(attrs.contains(&keys::IMAGE_ID) && attrs.contains(&keys::ORGANIZATION_ID));
    }
}
