//! Small shared pieces: string-backed enums, nullable-field patches, time.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};

/// An enum exchanged as a snake_case JSON string and stored as text.
///
/// The wire value is written once, beside the variant: serde, the OpenAPI schema, `FromStr`,
/// `Display` and diesel (`ToSql`/`FromSql` for `Text` on every backend) all use it. A stored
/// value that names no variant is a deserialization error (a 500 with a log line), never a
/// silent default. The values are taken as `tt` so that utoipa sees the string literals
/// themselves (as `literal` fragments they reach its derive wrapped, and it falls back to
/// the Rust variant names).
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:tt),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!("must be one of: {}", [$($text),+].join(", "))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let stored = <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(bytes)?;
                stored.parse().map_err(|why: String| {
                    format!("stored {} {stored:?} is unknown: {why}", stringify!($name)).into()
                })
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(self.as_str(), out)
            }
        }
    };
}

/// For PATCH bodies: absent → `None` (leave as is), `null` → `Some(None)` (clear),
/// a value → `Some(Some(v))`. Use with `#[serde(default, deserialize_with = "patch")]`.
pub fn patch<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Now, in UTC, to the microsecond (what both databases store).
pub fn now() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now.checked_sub_signed(chrono::Duration::nanoseconds(i64::from(
        now.and_utc().timestamp_subsec_nanos() % 1000,
    )))
    .unwrap_or(now)
}

/// Campaign dates are calendar dates where the campaigns run: China Standard Time (UTC+8).
/// A meeting at 07:30 on the first day is on that day, though it is still the day before
/// in UTC.
const LOCAL_OFFSET_SECONDS: i32 = 8 * 3600;

pub fn local_date(t: DateTime<Utc>) -> chrono::NaiveDate {
    local_time(t).date_naive()
}

/// A time as the clocks where the campaigns run show it (China Standard Time).
pub fn local_time(t: DateTime<Utc>) -> DateTime<chrono::FixedOffset> {
    let offset = chrono::FixedOffset::east_opt(LOCAL_OFFSET_SECONDS).expect("a valid offset");
    // At the very end of chrono's range the local clock would overflow (chrono panics);
    // such a time is refused before it gets here, and never panics if it does.
    if t.naive_utc()
        .checked_add_signed(chrono::Duration::seconds(i64::from(LOCAL_OFFSET_SECONDS)))
        .is_none()
    {
        return t.fixed_offset();
    }
    t.with_timezone(&offset)
}

pub fn local_today() -> chrono::NaiveDate {
    local_date(Utc::now())
}

/// A stored UTC time as an RFC 3339 time.
pub fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// `13812345678` → `138****5678`: lists never show whole phone numbers.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let keep_start = if chars.len() >= 11 { 3 } else { 0 };
    let keep_end = 4;
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < keep_start || i >= chars.len() - keep_end {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// The longest text a list's `q` searches for: the longest name (an org's, 200
/// characters); a longer LIKE pattern only costs (SQLite refuses one over 50,000 bytes).
pub const MAX_SEARCH_CHARS: usize = 200;

/// A list's `q`: refused when longer than [`MAX_SEARCH_CHARS`] characters. Use with
/// `#[serde(default, deserialize_with = "crate::types::search_text")]`.
pub fn search_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    match text {
        Some(t) if t.chars().count() > MAX_SEARCH_CHARS => Err(serde::de::Error::custom(format!(
            "q must be at most {MAX_SEARCH_CHARS} characters"
        ))),
        text => Ok(text),
    }
}

/// Trims a text field and refuses empty ones.
pub fn non_blank(value: &str) -> Option<String> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Serializes a stored UTC time as RFC 3339 with a `Z`.
pub fn serialize_utc<S: serde::Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(
        &t.and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    )
}

pub fn serialize_utc_opt<S: serde::Serializer>(
    t: &Option<NaiveDateTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize_utc(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_dates_are_china_standard_time() {
        let early = DateTime::parse_from_rfc3339("2012-01-08T23:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(local_date(early).to_string(), "2012-01-09");
        let late = DateTime::parse_from_rfc3339("2012-01-09T15:59:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(local_date(late).to_string(), "2012-01-09");
    }

    #[test]
    fn the_last_instant_chrono_holds_has_a_local_date() {
        let last = DateTime::<Utc>::MAX_UTC;
        assert_eq!(local_date(last), last.date_naive());
    }

    #[test]
    fn masks_phones() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("84512345"), "****2345");
        assert_eq!(mask_phone("123"), "***");
    }

    #[test]
    fn patch_tells_absent_from_null() {
        #[derive(Deserialize)]
        struct P {
            #[serde(default, deserialize_with = "patch")]
            x: Option<Option<i64>>,
        }
        let absent: P = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.x, None);
        let null: P = serde_json::from_str(r#"{"x": null}"#).unwrap();
        assert_eq!(null.x, Some(None));
        let value: P = serde_json::from_str(r#"{"x": 3}"#).unwrap();
        assert_eq!(value.x, Some(Some(3)));
    }
}
