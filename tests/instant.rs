//! Instant evaluation of window units: service points, one ticket one rating under any
//! concurrency, expiry, the bad-review state machine and its deadlines in working days,
//! appeals decided from above, monthly figures counted by hand, rankings, the roll-in
//! beside campaign results, and what the stored data does not hold.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::common::fixtures::{
    admin_token, campaign_around_today, campaign_step, create_org, create_org_with,
    create_user_with_grant, today,
};
use crate::common::{assert_field_error, tokio_block, Backend, Reply, TestApp};
use crate::db_test;

/// A college with a service desk (a window unit) and the people around it.
struct Desk {
    admin: String,
    city: i64,
    college: i64,
    unit: i64,
    /// Another window unit of the college, never rated.
    quiet_unit: i64,
    /// A branch that is not a window unit.
    branch: i64,
    /// An org admin of the unit (keeps its records).
    unit_admin: String,
    /// Counter staff: a member of the unit.
    staff: String,
    /// An org admin of the college (decides appeals).
    college_admin: String,
    /// An observer of the college.
    observer: String,
    point: i64,
}

impl Desk {
    async fn set_up(app: &TestApp) -> Desk {
        let admin = admin_token(app).await;
        let city = create_org(app, &admin, None, "大连市委", "committee").await;
        let college = create_org(app, &admin, Some(city), "职业技术学院党委", "committee").await;
        let unit = create_org_with(
            app,
            &admin,
            college,
            "后勤服务中心党支部",
            "branch",
            "institution",
            true,
        )
        .await;
        let quiet_unit = create_org_with(
            app,
            &admin,
            college,
            "图书馆党支部",
            "branch",
            "institution",
            true,
        )
        .await;
        let branch = create_org(app, &admin, Some(college), "机电学院党支部", "branch").await;
        let (_, unit_admin) =
            create_user_with_grant(app, &admin, "desk.admin", unit, "org_admin").await;
        let (_, staff) = create_user_with_grant(app, &admin, "desk.staff", unit, "member").await;
        let (_, college_admin) =
            create_user_with_grant(app, &admin, "college.admin", college, "org_admin").await;
        let (_, observer) =
            create_user_with_grant(app, &admin, "college.observer", college, "observer").await;
        let point = app
            .post(
                &format!("/api/v1/orgs/{unit}/service-points"),
                Some(&unit_admin),
                json!({"name": "1号窗口", "location": "行政楼一楼"}),
            )
            .await
            .assert_status(201)["id"]
            .as_i64()
            .unwrap();
        Desk {
            admin,
            city,
            college,
            unit,
            quiet_unit,
            branch,
            unit_admin,
            staff,
            college_admin,
            observer,
            point,
        }
    }

    /// Issues `count` tickets at `point` as the counter staff.
    async fn tickets(&self, app: &TestApp, point: i64, count: u32) -> Vec<String> {
        app.post(
            &format!("/api/v1/service-points/{point}/tickets"),
            Some(&self.staff),
            json!({"count": count}),
        )
        .await
        .assert_status(201)["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["ticket"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Rates one service at `point` with a fresh ticket: the rating's answer and the ticket.
    async fn rate(&self, app: &TestApp, point: i64, body: Value) -> (Value, String) {
        let ticket = self.tickets(app, point, 1).await.remove(0);
        let mut body = body;
        body["ticket"] = json!(ticket);
        let reply = app.post("/api/v1/instant-ratings", None, body).await;
        (reply.assert_status(201), ticket)
    }

    /// The newest case of the unit.
    async fn newest_case(&self, app: &TestApp) -> Value {
        let page = app
            .get(
                &format!("/api/v1/instant-cases?org_id={}", self.unit),
                Some(&self.unit_admin),
            )
            .await
            .assert_status(200);
        page["items"][0].clone()
    }

    async fn step(&self, app: &TestApp, token: &str, case: i64, step: &str, body: Value) -> Reply {
        app.post(
            &format!("/api/v1/instant-cases/{case}/{step}"),
            Some(token),
            body,
        )
        .await
    }
}

/// The case counters agree with the cases they count, row for row (both ways).
async fn assert_case_counters_agree(app: &TestApp) {
    let pool = app.pool.clone();
    let differing = tokio_block(move || {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        use diesel::RunQueryDsl;
        let recount = pingyi::instant::queries::RECOUNT_CASES_SQL;
        let from_cases = &recount[recount.find("SELECT").unwrap()..recount.rfind(';').unwrap()];
        let counters = "SELECT point_id, opened_on, status, due_on, on_time, org_id, cases FROM instant_case_counts WHERE cases <> 0";
        let mut conn = pool.get().unwrap();
        let mut differing = 0;
        for (a, b) in [(counters, from_cases), (from_cases, counters)] {
            differing += diesel::sql_query(format!(
                "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ({a} EXCEPT {b}) d"
            ))
            .get_result::<N>(&mut *conn)
            .unwrap()
            .n;
        }
        differing
    })
    .await;
    assert_eq!(differing, 0, "case counters differ from the cases");
}

async fn execute(app: &TestApp, sql: String) {
    let pool = app.pool.clone();
    tokio_block(move || {
        use diesel::connection::SimpleConnection;
        use diesel::RunQueryDsl;
        let mut conn = pool.get().unwrap();
        diesel::sql_query(sql).execute(&mut *conn).unwrap();
        // The statement went around the queries: count the cases again.
        conn.batch_execute(pingyi::instant::queries::RECOUNT_CASES_SQL)
            .unwrap();
    })
    .await;
}

/// The column names of a table.
async fn columns(app: &TestApp, table: &'static str) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Column {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let sql = match app.backend {
        Backend::Sqlite => format!("SELECT name FROM pragma_table_info('{table}')"),
        Backend::Postgres => format!(
            "SELECT column_name AS name FROM information_schema.columns WHERE table_name = '{table}'"
        ),
    };
    let pool = app.pool.clone();
    let mut names = tokio_block(move || {
        use diesel::RunQueryDsl;
        let mut conn = pool.get().unwrap();
        diesel::sql_query(sql)
            .load::<Column>(&mut *conn)
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
    })
    .await;
    names.sort();
    names
}

fn month_now() -> String {
    format!("{:04}-{:02}", today().year(), today().month())
}

db_test!(
    service_points_belong_to_window_units_and_print_a_poster,
    |app| {
        let d = Desk::set_up(&app).await;
        // Only window units have service points.
        app.post(
            &format!("/api/v1/orgs/{}/service-points", d.branch),
            Some(&d.admin),
            json!({"name": "窗口"}),
        )
        .await
        .assert_problem(409, "not_window_unit");
        // The counter staff run the counter, not the unit's points.
        app.post(
            &format!("/api/v1/orgs/{}/service-points", d.unit),
            Some(&d.staff),
            json!({"name": "2号窗口"}),
        )
        .await
        .assert_problem(403, "forbidden");
        // Blank names are refused; nothing is written.
        let blank = app
            .post(
                &format!("/api/v1/orgs/{}/service-points", d.unit),
                Some(&d.unit_admin),
                json!({"name": "   "}),
            )
            .await;
        assert_field_error(&blank, "name");
        let created = app
            .post(
                &format!("/api/v1/orgs/{}/service-points", d.unit),
                Some(&d.unit_admin),
                json!({"name": "2号窗口", "open_rating": true}),
            )
            .await;
        let point = created.assert_status(201);
        assert_eq!(
            created.header("location"),
            Some(format!("/api/v1/service-points/{}", point["id"]).as_str())
        );
        let link = point["rate_link"].as_str().unwrap();
        assert!(link.contains("/rate#point="), "{link}");
        let list = app
            .get(
                &format!("/api/v1/orgs/{}/service-points", d.unit),
                Some(&d.staff),
            )
            .await
            .assert_status(200);
        assert_eq!(list["total"], 2);
        // The poster carries the point's link in a QR code.
        let poster = app
            .get(
                &format!("/api/v1/service-points/{}/poster", point["id"]),
                Some(&d.unit_admin),
            )
            .await;
        assert_eq!(poster.status, 200);
        assert!(poster.content_type().starts_with("text/html"));
        assert!(poster.text.contains("2号窗口") && poster.text.contains("<svg"));
        // Tickets as printable slips.
        let slips = app
            .post(
                &format!("/api/v1/service-points/{}/tickets?format=html", d.point),
                Some(&d.staff),
                json!({"count": 3}),
            )
            .await;
        assert_eq!(slips.status, 201);
        assert_eq!(slips.header("cache-control"), Some("no-store"));
        assert_eq!(slips.text.matches("class=\"slip\"").count(), 3);
        // An org out of sight: 404, as if missing.
        let (_, outsider) =
            create_user_with_grant(&app, &d.admin, "outsider", d.branch, "org_admin").await;
        app.get(
            &format!("/api/v1/service-points/{}", d.point),
            Some(&outsider),
        )
        .await
        .assert_problem(404, "not_found");
        app.post(
            &format!("/api/v1/service-points/{}/tickets", d.point),
            Some(&outsider),
            json!({}),
        )
        .await
        .assert_problem(404, "not_found");
        // An observer reads but issues no tickets.
        app.post(
            &format!("/api/v1/service-points/{}/tickets", d.point),
            Some(&d.observer),
            json!({}),
        )
        .await
        .assert_problem(403, "forbidden");
    }
);

/// The ratings the counter rows hold, per level, as `level:count` sorted.
async fn counted_levels(app: &TestApp) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Counted {
        #[diesel(sql_type = diesel::sql_types::Text)]
        level: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let pool = app.pool.clone();
    tokio_block(move || {
        use diesel::RunQueryDsl;
        let mut conn = pool.get().unwrap();
        diesel::sql_query(
            "SELECT level, CAST(SUM(ratings) AS BIGINT) AS n FROM instant_counts \
             GROUP BY level ORDER BY level",
        )
        .load::<Counted>(&mut *conn)
        .unwrap()
        .into_iter()
        .map(|c| format!("{}:{}", c.level, c.n))
        .collect()
    })
    .await
}

db_test!(
    a_burst_of_mixed_ratings_is_recorded_rating_by_rating,
    |app| {
        // Ratings arriving together are written together (one statement per table for the
        // plain ones); each still gets its own answer: a ticket sent twice rates once, a
        // bad review opens its case, the counters hold every rating once.
        let d = Desk::set_up(&app).await;
        let tickets = d.tickets(&app, d.point, 40).await;
        let mut bodies = Vec::new();
        for (n, ticket) in tickets.iter().enumerate() {
            let level = match n % 8 {
                0 => "very_dissatisfied",
                1 | 2 => "basically_satisfied",
                _ => "very_satisfied",
            };
            let mut body = json!({"ticket": ticket, "level": level, "comment": format!("第{n}次")});
            if n % 8 == 0 {
                body["contact"] = json!("13800000000");
            }
            if n % 3 == 0 {
                body["items"] = json!([{"criterion_id": 1, "level": "satisfied"}, {"criterion_id": 2, "level": level}]);
            }
            bodies.push(body.clone());
            if n < 10 {
                bodies.push(body);
            }
        }
        let replies = join_all(
            bodies
                .iter()
                .map(|body| app.post("/api/v1/instant-ratings", None, body.clone())),
        )
        .await;
        let count = |status: u16| replies.iter().filter(|r| r.status == status).count();
        assert_eq!((count(201), count(409)), (40, 10));
        for reply in replies.iter().filter(|r| r.status == 409) {
            reply.assert_problem(409, "ticket_used");
        }
        let opened = replies
            .iter()
            .filter(|r| r.status == 201 && r.json()["case_opened"] == true)
            .count();
        assert_eq!(opened, 5);
        assert!(replies
            .iter()
            .filter(|r| r.status == 201)
            .all(|r| r.json()["verified"] == true));
        assert_eq!(app.count("instant_ratings").await, 40);
        assert_eq!(app.count("instant_rating_items").await, 2 * 14);
        assert_eq!(app.count("instant_cases").await, 5);
        assert_eq!(
            counted_levels(&app).await,
            [
                "basically_satisfied:10",
                "very_dissatisfied:5",
                "very_satisfied:25"
            ]
        );
        assert_case_counters_agree(&app).await;
        // Every ticket is used now.
        app.post(
            "/api/v1/instant-ratings",
            None,
            json!({"ticket": tickets[39], "level": "satisfied"}),
        )
        .await
        .assert_problem(409, "ticket_used");
    }
);

db_test!(fifty_clients_racing_one_ticket_rate_exactly_once, |app| {
    let d = Desk::set_up(&app).await;
    let ticket = d.tickets(&app, d.point, 1).await.remove(0);
    let form = app
        .post(
            "/api/v1/instant-rating-forms",
            None,
            json!({"ticket": ticket.to_lowercase().replace('-', "")}),
        )
        .await
        .assert_status(200);
    assert_eq!(form["point"]["name"], "1号窗口");
    assert_eq!(form["verified"], true);
    assert_eq!(form["levels"].as_array().unwrap().len(), 5);
    let body = json!({"ticket": ticket, "level": "satisfied", "items": [{"criterion_id": 1, "level": "very_satisfied"}]});
    let replies =
        join_all((0..50).map(|_| app.post("/api/v1/instant-ratings", None, body.clone()))).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, r.text.clone()))
            .collect::<Vec<_>>()
    );
    for reply in replies.iter().filter(|r| r.status != 201) {
        reply.assert_problem(409, "ticket_used");
    }
    assert_eq!(app.count("instant_ratings").await, 1);
    assert_eq!(app.count("instant_rating_items").await, 1);
    // The page is told "already rated" before anything is typed.
    app.post(
        "/api/v1/instant-rating-forms",
        None,
        json!({"ticket": ticket}),
    )
    .await
    .assert_problem(409, "ticket_used");
    // Nothing links a rating to the staff member or its ticket; a rating keeps its day only.
    assert_eq!(
        columns(&app, "instant_ratings").await,
        ["comment", "excluded", "id", "level", "org_id", "point_id", "rated_on", "verified"]
    );
    assert_eq!(
        columns(&app, "service_tickets").await,
        ["expires_at", "org_id", "point_id", "state", "ticket_hash"]
    );
});

db_test!(
    tickets_expire_and_unknown_or_voided_ones_are_refused,
    |app| {
        let d = Desk::set_up(&app).await;
        let tickets = d.tickets(&app, d.point, 3).await;
        execute(
            &app,
            "UPDATE service_tickets SET expires_at = '2000-01-01 00:00:00'".to_owned(),
        )
        .await;
        for ticket in &tickets {
            app.post(
                "/api/v1/instant-ratings",
                None,
                json!({"ticket": ticket, "level": "satisfied"}),
            )
            .await
            .assert_problem(409, "ticket_expired");
        }
        // Unknown and malformed tickets.
        app.post(
            "/api/v1/instant-ratings",
            None,
            json!({"ticket": "0000-0000-0000", "level": "satisfied"}),
        )
        .await
        .assert_problem(404, "invalid_ticket");
        app.post(
            "/api/v1/instant-rating-forms",
            None,
            json!({"ticket": "不是评价码"}),
        )
        .await
        .assert_problem(404, "invalid_ticket");
        // Neither or both of ticket and point: a field error.
        assert_field_error(
            &app.post(
                "/api/v1/instant-ratings",
                None,
                json!({"level": "satisfied"}),
            )
            .await,
            "ticket",
        );
        // An unknown criterion: nothing is used up.
        let fresh = d.tickets(&app, d.point, 1).await.remove(0);
        let bad_item = app
        .post(
            "/api/v1/instant-ratings",
            None,
            json!({"ticket": fresh, "level": "satisfied", "items": [{"criterion_id": 99, "level": "satisfied"}]}),
        )
        .await;
        assert_field_error(&bad_item, "items[0].criterion_id");
        // Deactivating the point voids its unused tickets, and it issues no more.
        app.patch(
            &format!("/api/v1/service-points/{}", d.point),
            Some(&d.unit_admin),
            json!({"active": false}),
        )
        .await
        .assert_status(200);
        app.post(
            "/api/v1/instant-ratings",
            None,
            json!({"ticket": fresh, "level": "satisfied"}),
        )
        .await
        .assert_problem(409, "point_closed");
        app.post(
            &format!("/api/v1/service-points/{}/tickets", d.point),
            Some(&d.staff),
            json!({}),
        )
        .await
        .assert_problem(409, "point_closed");
        assert_eq!(app.count("instant_ratings").await, 0);
    }
);

db_test!(
    open_qr_ratings_are_unverified_counted_apart_and_throttled,
    |app| {
        let d = Desk::set_up(&app).await;
        let point = app
            .get(
                &format!("/api/v1/service-points/{}", d.point),
                Some(&d.unit_admin),
            )
            .await
            .assert_status(200);
        let key = point["rate_link"]
            .as_str()
            .unwrap()
            .split("#point=")
            .nth(1)
            .unwrap()
            .to_owned();
        // Off by default.
        app.post(
            "/api/v1/instant-ratings",
            None,
            json!({"point": key, "level": "satisfied"}),
        )
        .await
        .assert_problem(409, "point_closed");
        app.post(
            "/api/v1/instant-ratings",
            None,
            json!({"point": "no-such-key", "level": "satisfied"}),
        )
        .await
        .assert_problem(404, "invalid_point");
        app.patch(
            &format!("/api/v1/service-points/{}", d.point),
            Some(&d.unit_admin),
            json!({"open_rating": true}),
        )
        .await
        .assert_status(200);
        let form = app
            .post("/api/v1/instant-rating-forms", None, json!({"point": key}))
            .await
            .assert_status(200);
        assert_eq!(form["verified"], false);
        for _ in 0..10 {
            let recorded = app
                .post(
                    "/api/v1/instant-ratings",
                    None,
                    json!({"point": key, "level": "satisfied"}),
                )
                .await
                .assert_status(201);
            assert_eq!(recorded["verified"], false);
        }
        let flood = app
            .post(
                "/api/v1/instant-ratings",
                None,
                json!({"point": key, "level": "satisfied"}),
            )
            .await;
        flood.assert_problem(429, "rate_limited");
        assert!(flood.header("retry-after").is_some());
        let figures = app
            .get(
                &format!(
                    "/api/v1/orgs/{}/instant-figures?month={}",
                    d.unit,
                    month_now()
                ),
                Some(&d.unit_admin),
            )
            .await
            .assert_status(200);
        assert_eq!(figures["total"]["verified"]["ratings"], 0);
        assert_eq!(figures["total"]["unverified"]["ratings"], 10);
        assert_eq!(figures["total"]["unverified"]["levels"]["satisfied"], 10);
    }
);

/// The next `n` weekdays after today (China Standard Time).
fn weekdays_after(n: usize) -> Vec<NaiveDate> {
    let mut days = Vec::new();
    let mut day = today();
    while days.len() < n {
        day += Duration::days(1);
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            days.push(day);
        }
    }
    days
}

/// The `n`-th weekday after today that is not one of `holidays`.
fn working_days_after(n: usize, holidays: &[NaiveDate]) -> NaiveDate {
    let mut day = today();
    let mut left = n;
    while left > 0 {
        day += Duration::days(1);
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !holidays.contains(&day) {
            left -= 1;
        }
    }
    day
}

/// Puts `holidays` in the calendar, year by year.
async fn put_holidays(app: &TestApp, admin: &str, holidays: &[NaiveDate]) {
    let mut years: Vec<i32> = holidays.iter().map(|d| d.year()).collect();
    years.dedup();
    for year in years {
        let of_year: Vec<String> = holidays
            .iter()
            .filter(|d| d.year() == year)
            .map(|d| d.to_string())
            .collect();
        app.send_json(
            awc::http::Method::PUT,
            &format!("/api/v1/calendar/{year}"),
            Some(admin),
            json!({"holidays": of_year, "workdays": []}),
        )
        .await
        .assert_status(200);
    }
}

db_test!(
    a_bad_review_is_followed_up_resolved_and_answered_across_a_holiday,
    |app| {
        let d = Desk::set_up(&app).await;
        // The next two weekdays are holidays.
        let holidays = weekdays_after(2);
        put_holidays(&app, &d.admin, &holidays).await;
        let (recorded, ticket) = d
        .rate(
            &app,
            d.point,
            json!({"level": "very_dissatisfied", "comment": "排队一个小时，只开一个窗口", "contact": "13812345678"}),
        )
        .await;
        assert_eq!(
            recorded,
            json!({"verified": true, "case_opened": true, "reply_available": true})
        );
        let case = d.newest_case(&app).await;
        let id = case["id"].as_i64().unwrap();
        assert_eq!(case["status"], "awaiting_follow_up");
        assert_eq!(case["opened_on"], today().to_string());
        assert_eq!(
            case["follow_up_due_on"],
            working_days_after(1, &holidays).to_string()
        );
        assert_eq!(
            case["resolve_due_on"],
            working_days_after(5, &holidays).to_string()
        );
        assert_eq!(
            case["contact"], "13812345678",
            "the handler sees the whole contact"
        );
        assert_eq!(case["overdue"], false);
        // An observer from above reads it masked.
        let seen = app
            .get(&format!("/api/v1/instant-cases/{id}"), Some(&d.observer))
            .await
            .assert_status(200);
        assert_eq!(seen["contact"], "138****5678");
        // Counter staff neither see nor handle cases.
        app.get(&format!("/api/v1/instant-cases/{id}"), Some(&d.staff))
            .await
            .assert_problem(404, "not_found");
        // Resolving before the follow-up call: the wrong step.
        d.step(
            &app,
            &d.unit_admin,
            id,
            "resolve",
            json!({"measures": "增开窗口", "reply": "已增开"}),
        )
        .await
        .assert_problem(409, "invalid_transition");
        // The reply is not there yet, but the rater sees where the case stands.
        let early = app
            .post("/api/v1/instant-replies", None, json!({"ticket": ticket}))
            .await
            .assert_status(200);
        assert_eq!(early["status"], "awaiting_follow_up");
        assert_eq!(early["reply"], Value::Null);
        d.step(
            &app,
            &d.unit_admin,
            id,
            "follow-up",
            json!({"result": "confirmed", "note": "已电话回访，情况属实"}),
        )
        .await
        .assert_status(200);
        let resolved = d
        .step(
            &app,
            &d.unit_admin,
            id,
            "resolve",
            json!({"measures": "高峰时段增开两个窗口", "reply": "感谢您的意见，我们已在高峰时段增开窗口。"}),
        )
        .await
        .assert_status(200);
        assert_eq!(resolved["status"], "resolved");
        assert_eq!(resolved["resolved_on_time"], true);
        // The rater reads the reply with the ticket, typed any way.
        let reply = app
            .post(
                "/api/v1/instant-replies",
                None,
                json!({"ticket": ticket.to_lowercase().replace('-', "")}),
            )
            .await
            .assert_status(200);
        assert_eq!(reply["status"], "resolved");
        assert_eq!(reply["reply"], "感谢您的意见，我们已在高峰时段增开窗口。");
        assert_eq!(reply["followed_up"], true);
        // A closed case takes no more steps.
        d.step(&app, &d.unit_admin, id, "appeal", json!({"reason": "x"}))
            .await
            .assert_problem(409, "invalid_transition");
        // Every step is audited.
        let audit = app
            .get("/api/v1/audit-events?per_page=100", Some(&d.admin))
            .await
            .assert_status(200);
        let actions: Vec<&str> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        assert!(
            actions.contains(&"instant_case.follow_up")
                && actions.contains(&"instant_case.resolve"),
            "{actions:?}"
        );

        // A bad review without a contact goes straight to handling; past its due day it is
        // overdue, in the case, the list filter and the figures.
        let (recorded, _) = d
            .rate(&app, d.point, json!({"level": "dissatisfied"}))
            .await;
        assert_eq!(recorded["reply_available"], false);
        let late = d.newest_case(&app).await;
        assert_eq!(late["status"], "in_handling");
        assert_eq!(late["follow_up_due_on"], Value::Null);
        let late_id = late["id"].as_i64().unwrap();
        execute(
            &app,
            format!(
                "UPDATE instant_cases SET resolve_due_on = '{}' WHERE id = {late_id}",
                today() - Duration::days(1)
            ),
        )
        .await;
        let late = app
            .get(
                &format!("/api/v1/instant-cases/{late_id}"),
                Some(&d.unit_admin),
            )
            .await
            .assert_status(200);
        assert_eq!(late["overdue"], true);
        let overdue = app
            .get(
                &format!("/api/v1/instant-cases?org_id={}&overdue=true", d.unit),
                Some(&d.unit_admin),
            )
            .await
            .assert_status(200);
        assert_eq!(overdue["total"], 1);
        assert_eq!(overdue["items"][0]["id"], late_id);
        let figures = app
            .get(
                &format!("/api/v1/orgs/{}/instant-figures", d.unit),
                Some(&d.unit_admin),
            )
            .await
            .assert_status(200);
        assert_eq!(
            figures["bad_reviews"],
            json!({"opened": 2, "awaiting_follow_up": 0, "in_handling": 1, "appealed": 0, "resolved": 1, "resolved_on_time": 1, "overdue": 1, "upheld": 0})
        );
        // A contact left and never called back: overdue once its follow-up day has passed.
        d.rate(
            &app,
            d.point,
            json!({"level": "very_dissatisfied", "contact": "13900000000"}),
        )
        .await;
        let waiting = d.newest_case(&app).await;
        assert_eq!(
            (waiting["status"].clone(), waiting["overdue"].clone()),
            (json!("awaiting_follow_up"), json!(false))
        );
        let waiting_id = waiting["id"].as_i64().unwrap();
        execute(
            &app,
            format!(
                "UPDATE instant_cases SET follow_up_due_on = '{}' WHERE id = {waiting_id}",
                today() - Duration::days(1)
            ),
        )
        .await;
        let waiting = app
            .get(
                &format!("/api/v1/instant-cases/{waiting_id}"),
                Some(&d.unit_admin),
            )
            .await
            .assert_status(200);
        assert_eq!(waiting["overdue"], true);
        let overdue = app
            .get(
                &format!("/api/v1/instant-cases?org_id={}&overdue=true", d.unit),
                Some(&d.unit_admin),
            )
            .await
            .assert_status(200);
        assert_eq!(overdue["total"], 2);
        // A case may open a rectification item in a campaign of its tree.
        let campaign = campaign_around_today(&app, &d.admin, d.city, 1).await;
        campaign_step(&app, &d.admin, campaign, "activate").await;
        let linked = d
            .step(
                &app,
                &d.unit_admin,
                late_id,
                "rectification",
                json!({"campaign_id": campaign, "due_on": today().to_string()}),
            )
            .await
            .assert_status(200);
        let item = linked["rectification_id"].as_i64().unwrap();
        let item = app
            .get(
                &format!("/api/v1/rectifications/{item}"),
                Some(&d.unit_admin),
            )
            .await
            .assert_status(200);
        assert_eq!(item["org_id"], d.unit);
        assert!(item["problem"].as_str().unwrap().contains("不满意"));
        d.step(
            &app,
            &d.unit_admin,
            late_id,
            "rectification",
            json!({"campaign_id": campaign, "due_on": today().to_string()}),
        )
        .await
        .assert_problem(409, "invalid_transition");
        assert_field_error(
            &d.step(
                &app,
                &d.unit_admin,
                id,
                "rectification",
                json!({"campaign_id": 999999, "due_on": today().to_string()}),
            )
            .await,
            "campaign_id",
        );
    }
);

db_test!(appeals_are_decided_by_an_org_admin_from_above, |app| {
    let d = Desk::set_up(&app).await;
    for level in ["very_satisfied", "very_satisfied", "very_satisfied"] {
        d.rate(&app, d.point, json!({"level": level})).await;
    }
    d.rate(&app, d.point, json!({"level": "very_dissatisfied"}))
        .await;
    let case = d.newest_case(&app).await["id"].as_i64().unwrap();
    // The counter staff cannot appeal; the unit can.
    d.step(
        &app,
        &d.staff,
        case,
        "appeal",
        json!({"reason": "当日未办理此业务"}),
    )
    .await
    .assert_problem(404, "not_found");
    d.step(
        &app,
        &d.unit_admin,
        case,
        "appeal",
        json!({"reason": "当日未办理此业务"}),
    )
    .await
    .assert_status(200);
    let decide = |token: &str, decision: &str| {
        let token = token.to_owned();
        let decision = decision.to_owned();
        let app = &app;
        async move {
            app.post(
                &format!("/api/v1/instant-cases/{case}/appeal-decision"),
                Some(&token),
                json!({"decision": decision, "note": "经核查"}),
            )
            .await
        }
    };
    // Never the unit itself, nor an observer.
    decide(&d.unit_admin, "upheld")
        .await
        .assert_problem(403, "forbidden");
    decide(&d.observer, "upheld")
        .await
        .assert_problem(403, "forbidden");
    // Kept: back to handling, and no second appeal.
    let kept = decide(&d.college_admin, "kept").await.assert_status(200);
    assert_eq!(kept["status"], "in_handling");
    assert_eq!(kept["appeal_decision"], "kept");
    d.step(
        &app,
        &d.unit_admin,
        case,
        "appeal",
        json!({"reason": "再次申诉"}),
    )
    .await
    .assert_problem(409, "invalid_transition");

    // Another bad review, appealed and upheld: it no longer counts.
    d.rate(&app, d.point, json!({"level": "dissatisfied"}))
        .await;
    let second = d.newest_case(&app).await["id"].as_i64().unwrap();
    let before = app
        .get(
            &format!("/api/v1/service-points/{}/figures", d.point),
            Some(&d.unit_admin),
        )
        .await
        .assert_status(200);
    assert_eq!(before["total"]["verified"]["ratings"], 5);
    assert_eq!(before["total"]["verified"]["levels"]["dissatisfied"], 1);
    d.step(
        &app,
        &d.unit_admin,
        second,
        "appeal",
        json!({"reason": "恶意差评"}),
    )
    .await
    .assert_status(200);
    let upheld = app
        .post(
            &format!("/api/v1/instant-cases/{second}/appeal-decision"),
            Some(&d.college_admin),
            json!({"decision": "upheld", "note": "申诉成立"}),
        )
        .await
        .assert_status(200);
    assert_eq!(upheld["status"], "upheld");
    let after = app
        .get(
            &format!("/api/v1/service-points/{}/figures", d.point),
            Some(&d.unit_admin),
        )
        .await
        .assert_status(200);
    assert_eq!(after["total"]["verified"]["ratings"], 4);
    assert_eq!(after["total"]["verified"]["levels"]["dissatisfied"], 0);
    assert_eq!(after["bad_reviews"]["upheld"], 1);
    assert_eq!(after["bad_reviews"]["in_handling"], 1);
    assert_case_counters_agree(&app).await;
});

db_test!(monthly_figures_match_a_hand_count, |app| {
    let d = Desk::set_up(&app).await;
    let other = app
        .post(
            &format!("/api/v1/orgs/{}/service-points", d.unit),
            Some(&d.unit_admin),
            json!({"name": "2号窗口"}),
        )
        .await
        .assert_status(201)["id"]
        .as_i64()
        .unwrap();
    // Point 1: 4 非常满意, 1 满意, 1 基本满意, 1 不满意. Point 2: 2 满意 (under k).
    for level in [
        "very_satisfied",
        "very_satisfied",
        "very_satisfied",
        "very_satisfied",
        "satisfied",
        "basically_satisfied",
        "dissatisfied",
    ] {
        d.rate(&app, d.point, json!({"level": level})).await;
    }
    for _ in 0..2 {
        d.rate(&app, other, json!({"level": "satisfied"})).await;
    }
    let month = month_now();
    let unit = app
        .get(
            &format!("/api/v1/orgs/{}/instant-figures?month={month}", d.unit),
            Some(&d.unit_admin),
        )
        .await
        .assert_status(200);
    let total = &unit["total"]["verified"];
    assert_eq!(total["ratings"], 9);
    assert_eq!(
        total["levels"],
        json!({"very_satisfied": 4, "satisfied": 3, "basically_satisfied": 1, "dissatisfied": 1, "very_dissatisfied": 0})
    );
    // 8 of 9 satisfied; (4·100 + 3·80 + 60 + 40) / 9 = 82.2222.
    assert_eq!(total["satisfaction_rate"], json!(0.8889));
    assert_eq!(total["score"], json!(82.2222));
    assert_eq!(unit["days"].as_array().unwrap().len(), 1);
    assert_eq!(unit["days"][0]["verified"]["ratings"], 9);
    // Point 2 has 2 ratings: withheld, and point 1 with it (else 9 − 7 would show them).
    let points = unit["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    for p in points {
        assert_eq!(p["verified"]["withheld"], true, "{p}");
        assert_eq!(p["verified"]["levels"], Value::Null);
    }
    // Point 1 alone: its own month is shown.
    let point = app
        .get(
            &format!("/api/v1/service-points/{}/figures?month={month}", d.point),
            Some(&d.unit_admin),
        )
        .await
        .assert_status(200);
    assert_eq!(point["total"]["verified"]["ratings"], 7);
    assert_eq!(
        point["total"]["verified"]["satisfaction_rate"],
        json!(0.8571)
    );
    assert_eq!(point["bad_reviews"]["opened"], 1);
    // Ranking of the college's window units: the quiet one is unranked, last.
    let ranking = app
        .get(
            &format!("/api/v1/orgs/{}/instant-rankings?month={month}", d.college),
            Some(&d.college_admin),
        )
        .await
        .assert_status(200);
    assert_eq!(ranking["total"], 2);
    assert_eq!(ranking["items"][0]["org_id"], d.unit);
    assert_eq!(ranking["items"][0]["rank"], 1);
    assert_eq!(ranking["items"][0]["bad_reviews"], 1);
    assert_eq!(ranking["items"][1]["org_id"], d.quiet_unit);
    assert_eq!(ranking["items"][1]["rank"], Value::Null);
    // Another month is empty; a malformed one is a field error.
    let empty = app
        .get(
            &format!("/api/v1/orgs/{}/instant-figures?month=2011-12", d.unit),
            Some(&d.unit_admin),
        )
        .await
        .assert_status(200);
    assert_eq!(empty["total"]["verified"]["ratings"], 0);
    assert_field_error(
        &app.get(
            &format!("/api/v1/orgs/{}/instant-figures?month=2026-13", d.unit),
            Some(&d.unit_admin),
        )
        .await,
        "month",
    );
    // Members of the unit do not read its figures.
    app.get(
        &format!("/api/v1/orgs/{}/instant-figures", d.unit),
        Some(&d.staff),
    )
    .await
    .assert_problem(403, "forbidden");
});

db_test!(
    a_window_units_ratings_roll_into_its_campaign_results,
    |app| {
        let d = Desk::set_up(&app).await;
        let campaign = campaign_around_today(&app, &d.admin, d.city, 1).await;
        campaign_step(&app, &d.admin, campaign, "activate").await;
        for level in [
            "very_satisfied",
            "satisfied",
            "satisfied",
            "dissatisfied",
            "satisfied",
        ] {
            d.rate(&app, d.point, json!({"level": level})).await;
        }
        let results = app
            .get(
                &format!("/api/v1/campaigns/{campaign}/results?org_id={}", d.college),
                Some(&d.admin),
            )
            .await
            .assert_status(200);
        let children = results["children"].as_array().unwrap();
        let unit = children.iter().find(|c| c["org_id"] == d.unit).unwrap();
        // No meeting yet: no meeting figures, the instant ones beside them.
        assert_eq!(unit["own"], Value::Null);
        let instant = &unit["instant"];
        assert_eq!(instant["figures"]["verified"]["ratings"], 5);
        assert_eq!(
            instant["figures"]["verified"]["satisfaction_rate"],
            json!(0.8)
        );
        assert_eq!(instant["bad_reviews"]["opened"], 1);
        let quiet = children
            .iter()
            .find(|c| c["org_id"] == d.quiet_unit)
            .unwrap();
        assert_eq!(quiet["instant"]["figures"]["verified"]["ratings"], 0);
        let branch = children.iter().find(|c| c["org_id"] == d.branch).unwrap();
        assert_eq!(branch["instant"], Value::Null);
        // At the unit itself.
        let at_unit = app
            .get(
                &format!("/api/v1/campaigns/{campaign}/results?org_id={}", d.unit),
                Some(&d.unit_admin),
            )
            .await
            .assert_status(200);
        assert_eq!(
            at_unit["org"]["instant"]["figures"]["verified"]["ratings"],
            5
        );
        // Coverage counts the rated window unit as evaluated, without a meeting.
        let coverage = app
            .get(
                &format!("/api/v1/campaigns/{campaign}/coverage?org_id={}", d.college),
                Some(&d.admin),
            )
            .await
            .assert_status(200);
        assert_eq!(coverage["window_units_rated"], 1);
        assert_eq!(coverage["orgs_evaluated"], 1);
        let missing: Vec<i64> = coverage["missing_orgs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_i64().unwrap())
            .collect();
        assert!(
            !missing.contains(&d.unit) && missing.contains(&d.quiet_unit),
            "{missing:?}"
        );
    }
);

db_test!(the_calendar_is_kept_by_administrators, |app| {
    let d = Desk::set_up(&app).await;
    let put = |token: String, year: i32, body: Value| {
        let app = &app;
        async move {
            app.send_json(
                awc::http::Method::PUT,
                &format!("/api/v1/calendar/{year}"),
                Some(&token),
                body,
            )
            .await
        }
    };
    let body =
        json!({"holidays": ["2027-01-01", "2027-02-08", "2027-02-09"], "workdays": ["2027-02-06"]});
    put(d.college_admin.clone(), 2027, body.clone())
        .await
        .assert_problem(403, "forbidden");
    let wrong = put(
        d.admin.clone(),
        2027,
        json!({"holidays": ["2028-01-03"], "workdays": ["2027-02-08"]}),
    )
    .await;
    assert_field_error(&wrong, "holidays[0]");
    assert_field_error(&wrong, "workdays[0]");
    assert_field_error(&put(d.admin.clone(), 1999, body.clone()).await, "year");
    let stored = put(d.admin.clone(), 2027, body).await.assert_status(200);
    assert_eq!(stored["defined"], true);
    assert_eq!(
        stored["holidays"],
        json!(["2027-01-01", "2027-02-08", "2027-02-09"])
    );
    assert_eq!(stored["workdays"], json!(["2027-02-06"]));
    assert_eq!(stored["working_days"], 261 - 3 + 1);
    let read = app
        .get("/api/v1/calendar/2027", Some(&d.staff))
        .await
        .assert_status(200);
    assert_eq!(read["holidays"], stored["holidays"]);
    let undefined = app
        .get("/api/v1/calendar/2030", Some(&d.staff))
        .await
        .assert_status(200);
    assert_eq!(undefined["defined"], false);
    assert_eq!(undefined["holidays"], json!([]));
});

db_test!(
    the_demo_service_desk_has_a_month_of_ratings_and_its_bad_reviews,
    |app| {
        let pool = app.pool.clone();
        tokio_block(move || {
            let mut conn = pool.get().unwrap();
            pingyi::demo::load(&mut conn).unwrap();
        })
        .await;
        assert_case_counters_agree(&app).await;
        let desk =
            crate::common::fixtures::login(&app, "demo.desk", pingyi::demo::DEMO_PASSWORD).await;
        let college =
            crate::common::fixtures::login(&app, "demo.college", pingyi::demo::DEMO_PASSWORD).await;
        let cases = app
            .get("/api/v1/instant-cases", Some(&desk))
            .await
            .assert_status(200);
        let items = cases["items"].as_array().unwrap();
        let mut statuses: Vec<(&str, bool)> = items
            .iter()
            .map(|c| {
                (
                    c["status"].as_str().unwrap(),
                    c["overdue"].as_bool().unwrap(),
                )
            })
            .collect();
        statuses.sort();
        assert_eq!(
            statuses,
            [
                ("in_handling", true),
                ("resolved", false),
                ("upheld", false)
            ]
        );
        let resolved = items.iter().find(|c| c["status"] == "resolved").unwrap();
        assert_eq!(resolved["resolved_on_time"], true);
        let unit = resolved["org_id"].as_i64().unwrap();
        // The month's figures and the college's ranking.
        let figures = app
            .get(
                &format!("/api/v1/orgs/{unit}/instant-figures?month=2012-01"),
                Some(&desk),
            )
            .await
            .assert_status(200);
        assert!(
            figures["total"]["verified"]["ratings"].as_i64().unwrap() > 40,
            "{figures}"
        );
        assert!(figures["total"]["unverified"]["ratings"].as_i64().unwrap() > 0);
        assert_eq!(figures["points"].as_array().unwrap().len(), 2);
        // The campaign's results at the desk: the meeting's figures and, beside them, the
        // instant ones of the campaign's dates (the upheld appeal no longer counts).
        let campaign = app
            .get("/api/v1/campaigns", Some(&college))
            .await
            .assert_status(200)["items"][0]["id"]
            .as_i64()
            .unwrap();
        let results = app
            .get(
                &format!("/api/v1/campaigns/{campaign}/results?org_id={unit}"),
                Some(&college),
            )
            .await
            .assert_status(200);
        assert!(
            results["org"]["own"]["ballots"].as_i64().unwrap() > 0,
            "{results}"
        );
        let instant = &results["org"]["instant"];
        assert_eq!(instant["bad_reviews"]["opened"], 3);
        assert_eq!(instant["bad_reviews"]["upheld"], 1);
        assert_eq!(
            instant["figures"]["verified"]["levels"]["very_dissatisfied"],
            2
        );
    }
);
