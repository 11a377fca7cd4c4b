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
        token_version -> BigInt,
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

diesel::table! {
    templates (id) {
        id -> BigInt,
        owner_org_id -> Nullable<BigInt>,
        name -> Text,
        builtin -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    template_criteria (id) {
        id -> BigInt,
        template_id -> BigInt,
        subject_type -> Text,
        position -> Integer,
        label_zh -> Text,
        label_en -> Text,
    }
}

diesel::table! {
    template_levels (id) {
        id -> BigInt,
        template_id -> BigInt,
        position -> Integer,
        level -> Text,
        label_zh -> Text,
        label_en -> Text,
        score -> Integer,
        satisfied -> Bool,
    }
}

diesel::table! {
    campaigns (id) {
        id -> BigInt,
        owner_org_id -> BigInt,
        title -> Text,
        starts_on -> Date,
        ends_on -> Date,
        template_id -> BigInt,
        domain_templates -> Text,
        min_category_ballots -> Integer,
        low_satisfaction_threshold -> Double,
        status -> Text,
        frozen_templates -> Nullable<Text>,
        publish_scope -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        commendation_share -> Double,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        campaign_id -> BigInt,
        org_id -> BigInt,
        domain -> Text,
        kind -> Text,
        status -> Text,
        scheduled_at -> Timestamp,
        location -> Nullable<Text>,
        observer_user_id -> Nullable<BigInt>,
        opened_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        expected_voters -> Nullable<Integer>,
        paper_forms -> Nullable<Integer>,
    }
}

diesel::table! {
    session_subjects (id) {
        id -> BigInt,
        session_id -> BigInt,
        subject_type -> Text,
        org_id -> Nullable<BigInt>,
        person_id -> Nullable<BigInt>,
        name -> Text,
        position -> Integer,
    }
}

diesel::table! {
    voting_code_batches (id) {
        id -> BigInt,
        session_id -> BigInt,
        category -> Text,
        count -> Integer,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        voided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    voting_codes (code_hash) {
        code_hash -> Text,
        session_id -> BigInt,
        batch_id -> BigInt,
        category -> Text,
        state -> Text,
    }
}

diesel::table! {
    ballots (id) {
        id -> Text,
        session_id -> BigInt,
        category -> Text,
        paper -> Bool,
        cast_on -> Date,
        /// JSON `[[subject_id, criterion_id, level], …]`, sorted: `ballots::rules::pack_ratings`.
        ratings -> Text,
    }
}

diesel::table! {
    opinions (id) {
        id -> Text,
        session_id -> BigInt,
        content -> Text,
        cast_on -> Date,
        source -> Text,
        category -> Nullable<Text>,
        recorded_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    documents (id) {
        id -> BigInt,
        session_id -> BigInt,
        kind -> Text,
        person_id -> Nullable<BigInt>,
        slot -> Text,
        title -> Text,
        body -> Text,
        achievements -> Text,
        shortcomings -> Text,
        measures -> Text,
        version -> Integer,
        author_id -> BigInt,
        updated_by -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    document_versions (document_id, version) {
        document_id -> BigInt,
        version -> Integer,
        title -> Text,
        body -> Text,
        achievements -> Text,
        shortcomings -> Text,
        measures -> Text,
        written_by -> BigInt,
        written_at -> Timestamp,
    }
}

diesel::table! {
    leader_comments (id) {
        id -> BigInt,
        session_id -> BigInt,
        subject_id -> Nullable<BigInt>,
        body -> Text,
        author_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    commitments (id) {
        id -> BigInt,
        campaign_id -> BigInt,
        org_id -> BigInt,
        person_id -> Nullable<BigInt>,
        content -> Text,
        status -> Text,
        evidence -> Text,
        created_by -> BigInt,
        checked_by -> Nullable<BigInt>,
        checked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    report_requests (id) {
        id -> BigInt,
        campaign_id -> BigInt,
        from_org_id -> BigInt,
        title -> Text,
        body -> Text,
        due_on -> Date,
        created_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    report_submissions (id) {
        id -> BigInt,
        request_id -> BigInt,
        org_id -> BigInt,
        body -> Text,
        version -> Integer,
        submitted_by -> BigInt,
        submitted_at -> Timestamp,
    }
}

diesel::table! {
    report_submission_versions (submission_id, version) {
        submission_id -> BigInt,
        version -> Integer,
        body -> Text,
        written_by -> BigInt,
        written_at -> Timestamp,
    }
}

diesel::table! {
    attachments (id) {
        id -> BigInt,
        document_id -> Nullable<BigInt>,
        submission_id -> Nullable<BigInt>,
        file_name -> Text,
        media_type -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        content -> Binary,
        uploaded_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    tallies (subject_id, criterion_id, level) {
        session_id -> BigInt,
        subject_id -> BigInt,
        criterion_id -> BigInt,
        level -> Text,
        count -> BigInt,
    }
}

diesel::table! {
    category_tallies (subject_id, category) {
        session_id -> BigInt,
        subject_id -> BigInt,
        category -> Text,
        ballots -> BigInt,
        valid -> BigInt,
        satisfied -> BigInt,
        points -> BigInt,
    }
}

diesel::table! {
    subject_tallies (subject_id) {
        subject_id -> BigInt,
        session_id -> BigInt,
        campaign_id -> BigInt,
        org_id -> BigInt,
        subject_type -> Text,
        person_id -> Nullable<BigInt>,
        ballots -> BigInt,
        valid -> BigInt,
        satisfied -> BigInt,
        points -> BigInt,
    }
}

diesel::table! {
    rectifications (id) {
        id -> BigInt,
        campaign_id -> BigInt,
        org_id -> BigInt,
        session_id -> Nullable<BigInt>,
        subject_id -> Nullable<BigInt>,
        subject_type -> Nullable<Text>,
        person_id -> Nullable<BigInt>,
        problem -> Text,
        cause -> Text,
        measures -> Text,
        owner_person_id -> Nullable<BigInt>,
        due_on -> Date,
        status -> Text,
        submitted_once -> Bool,
        created_by -> Nullable<BigInt>,
        verified_by -> Nullable<BigInt>,
        verified_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    rectification_notes (id) {
        id -> BigInt,
        rectification_id -> BigInt,
        kind -> Text,
        note -> Text,
        author_id -> Nullable<BigInt>,
        at -> Timestamp,
    }
}

diesel::table! {
    rectification_opinions (rectification_id, opinion_id) {
        rectification_id -> BigInt,
        opinion_id -> Text,
    }
}

diesel::joinable!(people -> orgs (org_id));
diesel::joinable!(rectifications -> orgs (org_id));
diesel::joinable!(rectification_notes -> rectifications (rectification_id));
diesel::joinable!(subject_tallies -> session_subjects (subject_id));
diesel::joinable!(subject_tallies -> sessions (session_id));
diesel::joinable!(subject_tallies -> orgs (org_id));
diesel::joinable!(sessions -> campaigns (campaign_id));
diesel::joinable!(sessions -> orgs (org_id));
diesel::joinable!(session_subjects -> sessions (session_id));
diesel::joinable!(voting_codes -> sessions (session_id));
diesel::joinable!(ballots -> sessions (session_id));
diesel::joinable!(memberships -> people (person_id));
diesel::joinable!(grants -> users (user_id));
diesel::joinable!(refresh_tokens -> users (user_id));

diesel::table! {
    service_points (id) {
        id -> BigInt,
        org_id -> BigInt,
        name -> Text,
        location -> Text,
        point_key -> Text,
        open_rating -> Bool,
        active -> Bool,
        created_by -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    instant_settings (org_id) {
        org_id -> BigInt,
        resolve_working_days -> Integer,
        ticket_valid_days -> Integer,
        updated_by -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    service_tickets (ticket_hash) {
        ticket_hash -> Text,
        point_id -> BigInt,
        org_id -> BigInt,
        state -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    instant_ratings (id) {
        id -> Text,
        point_id -> BigInt,
        org_id -> BigInt,
        rated_on -> Date,
        level -> Text,
        verified -> Bool,
        comment -> Nullable<Text>,
        excluded -> Bool,
    }
}

diesel::table! {
    instant_rating_items (rating_id, criterion_id) {
        rating_id -> Text,
        criterion_id -> Integer,
        level -> Text,
    }
}

diesel::table! {
    instant_counts (point_id, rated_on, level, verified) {
        point_id -> BigInt,
        rated_on -> Date,
        level -> Text,
        verified -> Bool,
        org_id -> BigInt,
        ratings -> BigInt,
    }
}

diesel::table! {
    instant_cases (id) {
        id -> BigInt,
        rating_id -> Text,
        point_id -> BigInt,
        org_id -> BigInt,
        level -> Text,
        verified -> Bool,
        comment -> Nullable<Text>,
        contact -> Nullable<Text>,
        reply_key -> Nullable<Text>,
        status -> Text,
        opened_on -> Date,
        follow_up_due_on -> Nullable<Date>,
        resolve_due_on -> Date,
        follow_up_result -> Nullable<Text>,
        follow_up_note -> Nullable<Text>,
        followed_up_on -> Nullable<Date>,
        measures -> Nullable<Text>,
        reply -> Nullable<Text>,
        resolved_on -> Nullable<Date>,
        appeal_reason -> Nullable<Text>,
        appealed_on -> Nullable<Date>,
        appeal_decision -> Nullable<Text>,
        decision_note -> Nullable<Text>,
        decided_on -> Nullable<Date>,
        rectification_id -> Nullable<BigInt>,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    calendar_years (year) {
        year -> Integer,
        updated_by -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    calendar_days (day) {
        day -> Date,
        working -> Bool,
    }
}

diesel::table! {
    instant_case_counts (point_id, opened_on, status, due_on, on_time) {
        point_id -> BigInt,
        opened_on -> Date,
        status -> Text,
        due_on -> Date,
        on_time -> Bool,
        org_id -> BigInt,
        cases -> BigInt,
    }
}

diesel::table! {
    jobs (id) {
        id -> BigInt,
        kind -> Text,
        state -> Text,
        dry_run -> Bool,
        rows_done -> BigInt,
        rows_total -> Nullable<BigInt>,
        result -> Nullable<Text>,
        errors -> Nullable<Text>,
        created_by -> BigInt,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    job_journal (job_id, slice) {
        job_id -> BigInt,
        slice -> Integer,
        undo -> Text,
    }
}

diesel::table! {
    webhooks (id) {
        id -> BigInt,
        org_id -> BigInt,
        url -> Text,
        events -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        failing_since -> Nullable<Timestamp>,
        created_by -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Text,
        #[sql_name = "type"]
        event_type -> Text,
        org_id -> BigInt,
        resource -> Text,
        once_key -> Nullable<Text>,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_messages (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        event_id -> Text,
        resource -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        message_id -> BigInt,
        event_id -> Text,
        #[sql_name = "type"]
        event_type -> Text,
        attempt -> Integer,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    orgs,
    people,
    memberships,
    users,
    grants,
    refresh_tokens,
    audit_events,
    templates,
    template_criteria,
    template_levels,
    campaigns,
    sessions,
    session_subjects,
    voting_code_batches,
    voting_codes,
    ballots,
    opinions,
    tallies,
    category_tallies,
    subject_tallies,
    rectifications,
    rectification_notes,
    rectification_opinions,
    documents,
    document_versions,
    leader_comments,
    commitments,
    report_requests,
    report_submissions,
    report_submission_versions,
    attachments,
    service_points,
    instant_settings,
    service_tickets,
    instant_ratings,
    instant_rating_items,
    instant_counts,
    instant_case_counts,
    instant_cases,
    calendar_years,
    calendar_days,
    webhooks,
    webhook_events,
    webhook_messages,
    webhook_deliveries,
);

diesel::joinable!(grants -> orgs (org_id));
diesel::joinable!(webhooks -> orgs (org_id));
diesel::joinable!(webhook_messages -> webhooks (webhook_id));
diesel::joinable!(webhook_messages -> webhook_events (event_id));
diesel::joinable!(webhook_deliveries -> webhook_messages (message_id));

diesel::allow_columns_to_appear_in_same_group_by_clause!(
    rectifications::org_id,
    rectifications::status,
    rectifications::due_on,
    orgs::path,
);

diesel::joinable!(documents -> sessions (session_id));
diesel::joinable!(leader_comments -> sessions (session_id));
diesel::joinable!(report_submissions -> orgs (org_id));
diesel::joinable!(report_submissions -> report_requests (request_id));
diesel::joinable!(commitments -> orgs (org_id));
diesel::joinable!(service_points -> orgs (org_id));
diesel::joinable!(instant_cases -> service_points (point_id));
