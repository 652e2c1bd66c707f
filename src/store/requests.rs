//! Request builders with the table, and the item's key or the query's
//! partition, already set: what every store method starts from.

use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder as Delete;
use aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder as Get;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder as Put;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder as Query;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder as Update;

use super::Store;
use super::item::{Item, s};
use super::keys::{BY_ORGANIZATION_INDEX, PK, SK};

/// The key of the item at (`pk`, `sk`).
fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    Item::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

/// A builder of operation `$op` on the item at (`pk`, `sk`).
macro_rules! on_item {
    ($(#[$doc:meta])* $name:ident, $op:ident, $builder:ty) => {
        $(#[$doc])*
        pub(super) fn $name(&self, pk: impl Into<String>, sk: impl Into<String>) -> $builder {
            self.client.$op().table_name(&self.table).set_key(Some(key(pk, sk)))
        }
    };
}

impl Store {
    on_item!(
        /// An `UpdateItem` of the item at (`pk`, `sk`).
        update_at, update_item, Update
    );
    on_item!(
        /// A `DeleteItem` of the item at (`pk`, `sk`).
        delete_at, delete_item, Delete
    );
    on_item!(
        /// A `GetItem` of the item at (`pk`, `sk`).
        get_at, get_item, Get
    );

    /// A `PutItem` of `item`.
    pub(super) fn put_of(&self, item: Item) -> Put {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
    }

    /// A `Query` of the organization index: the items of kind `sk` (albums,
    /// API secrets) of organization `organization_id`.
    pub(super) fn organization_query(&self, organization_id: &str, sk: &str) -> Query {
        self.index_query(BY_ORGANIZATION_INDEX, "organization_id = :o AND sk = :k")
            .expression_attribute_values(":o", s(organization_id))
            .expression_attribute_values(":k", s(sk))
    }

    /// A `Query` of global secondary index `index` whose key meets
    /// `condition` (its values are the caller's to add).
    pub(super) fn index_query(&self, index: &str, condition: &str) -> Query {
        let query = self.client.query().table_name(&self.table);
        query.index_name(index).key_condition_expression(condition)
    }

    /// A strongly consistent `Query` of partition `pk` whose sort keys meet
    /// `sk_condition` (its values are the caller's to add).
    pub(super) fn partition_query(&self, pk: &str, sk_condition: &str) -> Query {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true);
        query
            .key_condition_expression(format!("pk = :pk AND {sk_condition}"))
            .expression_attribute_values(":pk", s(pk))
    }
}
