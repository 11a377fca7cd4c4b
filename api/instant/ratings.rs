//! The public side: the rating form for a ticket or a point, the rating itself (one ticket,
//! one rating, under any concurrency), and the reply a rater who left a contact reads with
//! their ticket.

use super::model::*;
use super::queries::{self, NewCase, NewRating};
use super::rules::{self, Refusal, FOLLOW_UP_WORKING_DAYS};
use crate::db::{claim_once, Claims, DbConn, SetWrite};
use crate::error::ApiResult;
use crate::types::{local_today, now};

/// A ticket or a point key, as the database knows it: the ticket's hash (and the key of
/// the reply it may get), or the point's key.
pub enum Credential {
    Ticket { hash: String, reply_key: String },
    Point(String),
}

/// The form for a credential; the ticket stays unused.
pub fn form(conn: &mut DbConn, credential: &Credential) -> ApiResult<Result<RatingForm, Refusal>> {
    let (point_id, verified) = match credential {
        Credential::Ticket { hash, .. } => match queries::ticket(conn, hash, now())? {
            Some((TicketState::Unused, false, point)) => (point, true),
            found => {
                return Ok(Err(Refusal::of_ticket(
                    found.map(|(s, expired, _)| (s, expired)),
                )))
            }
        },
        Credential::Point(key) => match rules::open_point(queries::point_by_key(conn, key)?) {
            Ok((point, _)) => (point, false),
            Err(refusal) => return Ok(Err(refusal)),
        },
    };
    Ok(Ok(RatingForm {
        point: queries::form_point(conn, point_id)?,
        verified,
        levels: rules::form_levels(),
        criteria: rules::form_criteria(),
    }))
}

/// Records a rating in the caller's transaction: consumes the ticket with a conditional
/// update (or checks the open point), writes the rating by day only, and for a bad review
/// opens a case with its deadlines in working days. An error rolls everything back: the
/// ticket stays unused.
pub fn rate(
    conn: &mut DbConn,
    credential: &Credential,
    body: &SubmitRating,
) -> ApiResult<Result<RatingRecorded, Refusal>> {
    let (point_id, org_id, reply_key) = match credential {
        Credential::Ticket { hash, reply_key } => {
            match queries::consume_tickets(conn, &[hash], now())?.remove(hash) {
                Some((point, org)) => (point, org, Some(reply_key)),
                None => {
                    let found = queries::ticket(conn, hash, now())?;
                    return Ok(Err(Refusal::of_ticket(
                        found.map(|(s, expired, _)| (s, expired)),
                    )));
                }
            }
        }
        Credential::Point(key) => match rules::open_point(queries::point_by_key(conn, key)?) {
            Ok((point, org)) => (point, org, None),
            Err(refusal) => return Ok(Err(refusal)),
        },
    };
    let comment = body.comment.as_deref().and_then(crate::types::non_blank);
    let rating = NewRating {
        point_id,
        org_id,
        day: local_today(),
        level: body.level,
        verified: reply_key.is_some(),
        comment: comment.as_deref(),
        items: &body.items,
    };
    let rating_id = queries::write_rating(conn, &rating)?;
    if !body.level.is_bad() {
        return Ok(Ok(RatingRecorded {
            verified: rating.verified,
            case_opened: false,
            reply_available: false,
        }));
    }
    let contact = rules::kept_contact(body.level, body.contact.as_deref());
    let settings = queries::settings(conn, org_id)?;
    let resolve_days = u32::try_from(settings.resolve_working_days).unwrap_or(1);
    let follow_up_due_on = match contact {
        Some(_) => Some(crate::calendar::queries::deadline(
            conn,
            rating.day,
            FOLLOW_UP_WORKING_DAYS,
        )?),
        None => None,
    };
    let reply_key = reply_key.filter(|_| contact.is_some()).cloned();
    let reply_available = reply_key.is_some();
    let resolve_due_on = crate::calendar::queries::deadline(conn, rating.day, resolve_days)?;
    let case_id = queries::insert_case(
        conn,
        &NewCase {
            rating_id: &rating_id,
            rating: &rating,
            contact,
            reply_key,
            follow_up_due_on,
            resolve_due_on,
        },
    )?;
    // Ids, the level and the deadlines: never the comment or the contact.
    let data = serde_json::json!({
        "case_id": case_id,
        "point_id": point_id,
        "org_id": org_id,
        "level": rating.level,
        "verified": rating.verified,
        "opened_on": rating.day,
        "follow_up_due_on": follow_up_due_on,
        "resolve_due_on": resolve_due_on,
    });
    crate::webhooks::outbox::emit(
        conn,
        crate::webhooks::outbox::Outgoing {
            event_type: crate::webhooks::EventType::InstantCaseOpened,
            org_id,
            resource: format!("instant_case:{case_id}"),
            data,
        },
    )?;
    Ok(Ok(RatingRecorded {
        verified: rating.verified,
        case_opened: true,
        reply_available,
    }))
}

/// A rating waiting for its batch (see `db::SetWrite`).
pub struct Rate {
    pub credential: Credential,
    pub body: SubmitRating,
}

impl Rate {
    /// The ticket's hash of a good or middling review with a ticket: one ticket, one row,
    /// one count, nothing else, so a batch writes all such ratings together.
    fn plain_ticket(&self) -> Option<&str> {
        match &self.credential {
            Credential::Ticket { hash, .. } if !self.body.level.is_bad() => Some(hash),
            _ => None,
        }
    }
}

impl SetWrite for Rate {
    type Output = Result<RatingRecorded, Refusal>;

    /// The batch's plain ratings together: their tickets consumed in one statement (a
    /// ticket used twice in one batch counts for its first rating, the second is
    /// `ticket_used`), their rows and counts written in one statement per table. The others
    /// (an open point's ratings, bad reviews that open a case) one by one, as [`rate`].
    fn run_set(conn: &mut DbConn, rates: &[&Self]) -> ApiResult<Vec<Self::Output>> {
        let now = now();
        let keys: Vec<Option<&str>> = rates.iter().map(|rate| rate.plain_ticket()).collect();
        let Claims {
            claims,
            consumed: used,
            unconsumed,
        } = claim_once(&keys, |hashes| queries::consume_tickets(conn, hashes, now))?;
        let states = match unconsumed.is_empty() {
            true => Default::default(),
            false => queries::ticket_states(conn, &unconsumed, now)?,
        };
        let comments: Vec<Option<String>> = rates
            .iter()
            .map(|rate| {
                rate.body
                    .comment
                    .as_deref()
                    .and_then(crate::types::non_blank)
            })
            .collect();
        let day = local_today();
        let new: Vec<NewRating<'_>> = rates
            .iter()
            .zip(&claims)
            .zip(&comments)
            .filter_map(|((rate, claim), comment)| {
                let (point_id, org_id) = (*claim)?;
                Some(NewRating {
                    point_id,
                    org_id,
                    day,
                    level: rate.body.level,
                    verified: true,
                    comment: comment.as_deref(),
                    items: &rate.body.items,
                })
            })
            .collect();
        queries::write_ratings(conn, &new)?;
        let mut outcomes = Vec::with_capacity(rates.len());
        for (one, claim) in rates.iter().zip(&claims) {
            outcomes.push(match (one.plain_ticket(), claim) {
                (Some(_), Some(_)) => Ok(RatingRecorded {
                    verified: true,
                    case_opened: false,
                    reply_available: false,
                }),
                (Some(hash), None) if used.contains(hash) => Err(Refusal::Used),
                (Some(hash), None) => Err(Refusal::of_ticket(states.get(hash).copied())),
                (None, _) => rate(conn, &one.credential, &one.body)?,
            });
        }
        Ok(outcomes)
    }
}

/// The reply to the bad review left with a ticket, if one was left with a contact.
pub fn reply(conn: &mut DbConn, reply_key: &str) -> ApiResult<Option<CaseReply>> {
    Ok(
        queries::case_by_reply_key(conn, reply_key)?.map(|case| CaseReply {
            status: case.status,
            opened_on: case.opened_on,
            follow_up_due_on: case.follow_up_due_on,
            resolve_due_on: case.resolve_due_on,
            followed_up: case.followed_up_on.is_some(),
            measures: case.measures,
            reply: case.reply,
            resolved_on: case.resolved_on,
        }),
    )
}
