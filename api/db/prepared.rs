//! Keeping hot statements prepared. diesel caches a statement only when it can prove the
//! SQL text never varies, and it never proves that for an `UPDATE` (the set of columns
//! could vary) or an `ON CONFLICT … DO UPDATE` (the changeset could be empty), nor for
//! `sql_query`. Those statements are then parsed and planned again on every run: on
//! PostgreSQL that was most of a rating's or a ballot's server time beside pgbench running
//! the same statements prepared. [`Prepared`] vouches for a statement whose text is fixed
//! (its columns and clauses do not depend on its values), so diesel caches it by its text.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::QueryResult;

/// A statement whose SQL text is the same on every run, cached by that text on each
/// connection. Only wrap a statement whose text cannot vary with its values: no `IN`
/// lists, no optional columns, no batch of rows.
#[derive(Debug, Clone, Copy)]
pub struct Prepared<Q>(pub Q);

/// Wraps `statement` so that the connection keeps it prepared (see [`Prepared`]).
pub fn prepared<Q>(statement: Q) -> Prepared<Q> {
    Prepared(statement)
}

impl<Q, DB> QueryFragment<DB> for Prepared<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

// No static id: the cache keys the statement by its SQL text and bind types.
impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> diesel::RunQueryDsl<Conn> for Prepared<Q> {}

#[cfg(test)]
mod tests {
    use diesel::pg::Pg;
    use diesel::prelude::*;
    use diesel::query_builder::QueryFragment;
    use diesel::sqlite::Sqlite;

    use super::prepared;
    use crate::db::schema::{instant_counts, voting_codes};

    #[test]
    fn an_update_and_an_upsert_are_cached_once_vouched_for() {
        let update = || {
            diesel::update(voting_codes::table)
                .filter(voting_codes::code_hash.eq("hash"))
                .set(voting_codes::state.eq("used"))
                .returning(voting_codes::session_id)
        };
        let upsert = || {
            diesel::insert_into(instant_counts::table)
                .values((
                    instant_counts::point_id.eq(1),
                    instant_counts::ratings.eq(1),
                ))
                .on_conflict(instant_counts::point_id)
                .do_update()
                .set(instant_counts::ratings.eq(instant_counts::ratings + 1))
        };
        // What diesel decides alone: parsed and planned on every run.
        assert!(!update().is_safe_to_cache_prepared(&Pg).unwrap());
        assert!(!upsert().is_safe_to_cache_prepared(&Pg).unwrap());
        assert!(!update().is_safe_to_cache_prepared(&Sqlite).unwrap());
        assert!(prepared(update()).is_safe_to_cache_prepared(&Pg).unwrap());
        assert!(prepared(upsert()).is_safe_to_cache_prepared(&Pg).unwrap());
        assert!(prepared(update())
            .is_safe_to_cache_prepared(&Sqlite)
            .unwrap());
    }
}
