//! A campaign's results at one org, as the actor may see them: which org (asked for, or
//! the highest the actor reads), what the policy lets them see there, and the reads and
//! reports every campaign-level endpoint shares.

use super::model::{
    self, Coverage, ExportQuery, ExportReport, OrgSums, RankingItem, RankingQuery, ScopeOrg,
};
use super::queries::{self, RankingFilter};
use super::{rules, spreadsheet};
use crate::auth::{Actor, CampaignResultsView};
use crate::campaigns::model::CampaignRow;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::http::PageQuery;
use crate::orgs::model::OrgRow;
use crate::templates::model::SubjectType;

/// A campaign's results at one org of it, as the actor may see them.
pub struct ResultsAt {
    pub campaign: CampaignRow,
    owner: OrgRow,
    org: OrgRow,
    view: CampaignResultsView,
}

impl ResultsAt {
    /// The campaign (404 when the actor cannot see it), the org asked about (by default the
    /// highest the actor reads results at; 404 outside the campaign's tree) and what the
    /// actor sees there (403 when nothing).
    pub fn resolve(
        conn: &mut DbConn,
        actor: &Actor,
        campaign_id: i64,
        org_id: Option<i64>,
    ) -> ApiResult<ResultsAt> {
        let (campaign, owner) =
            crate::campaigns::authorized(conn, actor, campaign_id, crate::auth::Action::Read)?;
        let org = match org_id {
            Some(id) => crate::orgs::queries::find(conn, id)?,
            None => match actor.results_root(&owner.path) {
                Some(path) if path != owner.path => {
                    let id = crate::auth::policy::path_ids(&path)
                        .last()
                        .unwrap_or(owner.id);
                    crate::orgs::queries::find(conn, id)?
                }
                _ => owner.clone(),
            },
        };
        if !crate::auth::policy::covers(&owner.path, &org.path) {
            return Err(ApiError::not_found());
        }
        let published_to = match (campaign.status, campaign.publish_scope()?) {
            (crate::campaigns::rules::CampaignStatus::Published, Some(ids)) => Some(
                crate::campaigns::queries::org_paths(conn, &ids)?
                    .into_values()
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        };
        let view = actor.campaign_results_view(&org.path, &owner.path, published_to.as_deref())?;
        Ok(ResultsAt {
            campaign,
            owner,
            org,
            view,
        })
    }

    pub fn require_full(&self) -> ApiResult<()> {
        if self.view != CampaignResultsView::Full {
            return Err(ApiError::forbidden_because(
                "Coverage and the rectification ledger are for those who read results in this subtree.",
            ));
        }
        Ok(())
    }

    pub fn k(&self) -> i64 {
        i64::from(self.campaign.min_category_ballots)
    }

    pub fn threshold(&self) -> f64 {
        self.campaign.low_satisfaction_threshold
    }

    /// The subtree's orgs with their units in scope, and the org asked about among them.
    pub fn scope(
        &self,
        conn: &mut DbConn,
        subject_type: SubjectType,
    ) -> ApiResult<(Vec<ScopeOrg>, ScopeOrg)> {
        let orgs = queries::scope_orgs(conn, &self.org.path, self.owner.id, subject_type)?;
        let root = orgs
            .iter()
            .find(|o| o.id == self.org.id)
            .cloned()
            .ok_or_else(ApiError::not_found)?;
        Ok((orgs, root))
    }

    pub fn sums(&self, conn: &mut DbConn, subject_type: SubjectType) -> ApiResult<Vec<OrgSums>> {
        queries::org_sums(
            conn,
            self.campaign.id,
            subject_type,
            &self.org.path,
            self.k(),
            self.threshold(),
        )
    }

    /// The roll-up at the org: its own unit and each direct child's subtree, summed per
    /// child in the database (one row per child however large the tree).
    pub fn roll_up(
        &self,
        conn: &mut DbConn,
        subject_type: SubjectType,
    ) -> ApiResult<(model::OrgResults, Vec<model::OrgResults>)> {
        let (campaign, org, k, threshold) =
            (self.campaign.id, &self.org, self.k(), self.threshold());
        let root = ScopeOrg {
            id: org.id,
            parent_id: org.parent_id,
            name: org.name.clone(),
            path: org.path.clone(),
            active: org.is_active(),
            units_in_scope: queries::own_units(conn, org, self.owner.id, subject_type)?,
        };
        let mut sums = queries::child_sums(conn, campaign, subject_type, org.id, k, threshold)?;
        let orgs: Vec<ScopeOrg> = std::iter::once(root.clone())
            .chain(queries::children_in_scope(
                conn,
                org.id,
                subject_type,
                &sums,
            )?)
            .collect();
        sums.extend(queries::own_sums(
            conn,
            campaign,
            subject_type,
            org.id,
            k,
            threshold,
        )?);
        let (mut results, mut children) =
            rules::roll_up(&root, &orgs, &sums, subject_type, k, threshold);
        self.attach_rectifications(
            conn,
            &sums,
            std::iter::once(&mut results).chain(&mut children),
        )?;
        if subject_type == SubjectType::Org {
            self.attach_instant(conn, std::iter::once(&mut results).chain(&mut children))?;
        }
        Ok((results, children))
    }

    /// Each window unit's instant ratings inside the campaign's dates, under its k.
    fn attach_instant<'r>(
        &self,
        conn: &mut DbConn,
        results: impl Iterator<Item = &'r mut model::OrgResults>,
    ) -> ApiResult<()> {
        let mut results: Vec<&mut model::OrgResults> = results.collect();
        let ids: Vec<i64> = results.iter().map(|r| r.org_id).collect();
        let units = crate::orgs::queries::window_units_among(conn, &ids)?;
        let today = crate::types::local_today();
        for r in results.iter_mut().filter(|r| units.contains(&r.org_id)) {
            r.instant = Some(crate::instant::figures::roll_in(
                conn,
                r.org_id,
                self.campaign.starts_on,
                self.campaign.ends_on,
                self.k(),
                today,
            )?);
        }
        Ok(())
    }

    /// Each org's own unit's newest rectification item, where there is one.
    pub fn attach_rectifications<'r>(
        &self,
        conn: &mut DbConn,
        sums: &[OrgSums],
        results: impl Iterator<Item = &'r mut model::OrgResults>,
    ) -> ApiResult<()> {
        let subject_of: std::collections::HashMap<i64, i64> = sums
            .iter()
            .filter_map(|s| Some((s.org_id, s.own_subject_id?)))
            .collect();
        let ids: Vec<i64> = subject_of.values().copied().collect();
        let mut refs = crate::rectifications::queries::by_subject(conn, &ids)?;
        for r in results {
            if let (Some(own), Some(subject)) = (r.own.as_mut(), subject_of.get(&r.org_id)) {
                own.rectification = refs.remove(subject);
            }
        }
        Ok(())
    }

    pub fn ranking_filter<'a>(&'a self, query: &RankingQuery) -> RankingFilter<'a> {
        RankingFilter {
            campaign_id: self.campaign.id,
            subject_type: query.subject_type.unwrap_or(SubjectType::Org),
            root_path: &self.org.path,
            domain: query.domain,
            kind: query.kind,
        }
    }

    pub fn ranking(
        &self,
        conn: &mut DbConn,
        filter: &RankingFilter<'_>,
        limit: i64,
        offset: i64,
    ) -> ApiResult<(Vec<RankingItem>, i64)> {
        let (rows, total, _) = queries::ranking(conn, filter, self.k(), limit, offset)?;
        let mut items = rules::ranking_items(
            rows,
            self.k(),
            self.threshold(),
            self.campaign.commendation_share,
        );
        let ids: Vec<i64> = items.iter().map(|i| i.subject_id).collect();
        let mut refs = crate::rectifications::queries::by_subject(conn, &ids)?;
        for item in &mut items {
            item.rectification = refs.remove(&item.subject_id);
        }
        Ok((items, total))
    }

    pub fn coverage(
        &self,
        conn: &mut DbConn,
        limit: i64,
        offset: i64,
        page: &PageQuery,
    ) -> ApiResult<Coverage> {
        let (campaign_id, path, owner) = (self.campaign.id, self.org.path.as_str(), self.owner.id);
        let (orgs_in_scope, orgs_evaluated, window_units_rated) =
            queries::org_coverage(conn, &self.campaign, path, owner)?;
        let (members_in_scope, members_evaluated) =
            queries::member_coverage(conn, campaign_id, path, owner)?;
        let records = crate::records::queries::session_records(conn, campaign_id, path)?;
        let count = |f: fn(&crate::records::queries::SessionRecordRow) -> i64| {
            records.iter().map(f).sum::<i64>()
        };
        let sessions_with_self_inspection = count(|r| i64::from(r.3));
        let sessions_with_duty_report = count(|r| i64::from(r.4));
        let member_summaries = count(|r| r.5);
        let session_records = records
            .into_iter()
            .skip(offset.max(0) as usize)
            .take(limit.max(0) as usize)
            .map(
                |(session_id, org_id, name, self_inspection, duty_report, member_summaries)| {
                    model::SessionRecords {
                        session_id,
                        org_id,
                        name,
                        self_inspection,
                        duty_report,
                        member_summaries,
                    }
                },
            )
            .collect();
        let report_requests = crate::records::reports::missing_children(conn, campaign_id, path)?
            .into_iter()
            .map(|(request, missing)| model::RequestCoverage {
                id: request.id,
                from_org_id: request.from_org_id,
                title: request.title,
                due_on: request.due_on,
                missing: missing
                    .into_iter()
                    .map(|(id, name)| model::OrgRef { id, name })
                    .collect(),
            })
            .collect();
        Ok(Coverage {
            campaign_id,
            org: model::OrgRef {
                id: self.org.id,
                name: self.org.name.clone(),
            },
            orgs_in_scope,
            orgs_evaluated,
            window_units_rated,
            members_in_scope,
            members_evaluated,
            sessions: queries::sessions_by_status(conn, campaign_id, path)?,
            missing_orgs: queries::missing_orgs(conn, &self.campaign, path, owner, limit, offset)?,
            missing_members: queries::missing_members(
                conn,
                campaign_id,
                path,
                owner,
                limit,
                offset,
            )?,
            sessions_with_self_inspection,
            sessions_with_duty_report,
            member_summaries,
            session_records,
            report_requests,
            page: page.page(),
            per_page: page.per_page(),
        })
    }

    /// The report's table, whole (no pages).
    pub fn report_table(
        &self,
        conn: &mut DbConn,
        query: &ExportQuery,
    ) -> ApiResult<spreadsheet::Table> {
        let subject_type = query.subject_type.unwrap_or(SubjectType::Org);
        match query.report {
            ExportReport::Results => {
                let (orgs, root) = self.scope(conn, subject_type)?;
                let sums = self.sums(conn, subject_type)?;
                let mut all = rules::roll_up_all(
                    &root,
                    &orgs,
                    &sums,
                    subject_type,
                    self.k(),
                    self.threshold(),
                );
                // Tree order; archived orgs only where they hold figures.
                let paths: std::collections::HashMap<i64, (&str, bool)> = orgs
                    .iter()
                    .map(|o| (o.id, (o.path.as_str(), o.active)))
                    .collect();
                all.retain(|r| {
                    paths.get(&r.org_id).is_some_and(|(_, active)| *active)
                        || r.subtree.units_evaluated > 0
                });
                all.sort_by_key(|r| paths.get(&r.org_id).map(|(p, _)| *p));
                Ok(spreadsheet::results_table(subject_type, &all))
            }
            ExportReport::Rankings => {
                let filter = RankingFilter {
                    campaign_id: self.campaign.id,
                    subject_type,
                    root_path: &self.org.path,
                    domain: None,
                    kind: None,
                };
                let (items, _) = self.ranking(conn, &filter, i64::MAX, 0)?;
                Ok(spreadsheet::rankings_table(&items))
            }
            ExportReport::Coverage => {
                self.require_full()?;
                let (campaign_id, path, owner) =
                    (self.campaign.id, self.org.path.as_str(), self.owner.id);
                let orgs = queries::missing_orgs(conn, &self.campaign, path, owner, i64::MAX, 0)?;
                let members =
                    queries::missing_members(conn, campaign_id, path, owner, i64::MAX, 0)?;
                Ok(spreadsheet::coverage_table(&orgs, &members))
            }
            ExportReport::Rectifications => {
                self.require_full()?;
                let rows =
                    crate::rectifications::queries::ledger(conn, self.campaign.id, &self.org.path)?;
                Ok(spreadsheet::ledger_table(
                    &rows,
                    crate::types::local_today(),
                ))
            }
        }
    }
}
