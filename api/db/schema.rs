// The tables, in portable types only (BigInt, Integer, Text, Bool, Timestamp in UTC, Date),
// so that one schema serves both backends through the MultiConnection.

diesel::table! {
    orgs (id) {
        id -> BigInt,
        parent_id -> Nullable<BigInt>,
        name -> Text,
        kind -> Text,
        domain -> Text,
        window_unit -> Bool,
        external_id -> Nullable<Text>,
        secretary_id -> Nullable<BigInt>,
        status -> Text,
        path -> Text,
        depth -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    people (id) {
        id -> BigInt,
        org_id -> BigInt,
        name -> Text,
        member_type -> Text,
        position -> Nullable<Text>,
        joined_on -> Nullable<Date>,
        external_id -> Nullable<Text>,
        phone -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    memberships (id) {
        id -> BigInt,
        person_id -> BigInt,
        org_id -> BigInt,
        started_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        person_id -> Nullable<BigInt>,
        org_id -> Nullable<BigInt>,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    grants (id) {
        id -> BigInt,
        user_id -> BigInt,
        org_id -> Nullable<BigInt>,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        family -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        actor_id -> Nullable<BigInt>,
        action -> Text,
        target_type -> Text,
        target_id -> Nullable<Text>,
        org_id -> Nullable<BigInt>,
        at -> Timestamp,
        request_id -> Nullable<Text>,
        summary -> Text,
    }
}

diesel::joinable!(people -> orgs (org_id));
diesel::joinable!(memberships -> people (person_id));
diesel::joinable!(grants -> users (user_id));
diesel::joinable!(refresh_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    orgs,
    people,
    memberships,
    users,
    grants,
    refresh_tokens,
    audit_events,
);

diesel::joinable!(grants -> orgs (org_id));
