//! PostgreSQL's `unnest`, typed for diesel: a set-based statement takes one array per
//! column (`INSERT … SELECT unnest($1), unnest($2), …`), so its text is the same for any
//! number of rows and it stays prepared, where a multi-row `VALUES` would be parsed and
//! planned anew for every size.

use diesel::sql_types::{Array, BigInt, Bool, Date, Integer, Nullable, Text};

diesel::define_sql_function! {
    #[sql_name = "unnest"]
    fn unnest_bigint(values: Array<BigInt>) -> BigInt;
}

diesel::define_sql_function! {
    #[sql_name = "unnest"]
    fn unnest_integer(values: Array<Integer>) -> Integer;
}

diesel::define_sql_function! {
    #[sql_name = "unnest"]
    fn unnest_text(values: Array<Text>) -> Text;
}

diesel::define_sql_function! {
    #[sql_name = "unnest"]
    fn unnest_nullable_text(values: Array<Nullable<Text>>) -> Nullable<Text>;
}

diesel::define_sql_function! {
    #[sql_name = "unnest"]
    fn unnest_bool(values: Array<Bool>) -> Bool;
}

diesel::define_sql_function! {
    #[sql_name = "unnest"]
    fn unnest_date(values: Array<Date>) -> Date;
}
