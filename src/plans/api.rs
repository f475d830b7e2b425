//! `/v1/plans` (R-PLAN-1..3): plans, enrollments, pause and resume.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use rusqlite::Connection;
use serde::Deserialize;
use serde_json::json;

use super::model::{PlanInput, Window, step_at};
use super::store::{self, NewEnrollment, Plan};
use crate::accounts::Authenticated;
use crate::accounts::model::Agent;
use crate::error::{ApiError, ApiResult};
use crate::geo::recipient_zone;
use crate::idempotency::{self, Key};
use crate::outbox::send::Sending;
use crate::scripts::Kind;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/plans", web::get().to(list))
        .route("/v1/plans", web::post().to(create))
        .route("/v1/plans/{id}", web::get().to(read))
        .route("/v1/plans/{id}", web::put().to(update))
        .route("/v1/plans/{id}", web::delete().to(delete))
        .route("/v1/plans/{id}/pause", web::post().to(pause))
        .route("/v1/plans/{id}/resume", web::post().to(resume))
        .route("/v1/plans/{id}/enrollments", web::get().to(enrollments))
        .route("/v1/plans/{id}/enrollments", web::post().to(enroll))
        .route("/v1/plans/{id}/enrollments/{enrollment}", web::get().to(enrollment))
        .route("/v1/plans/{id}/enrollments/{enrollment}", web::delete().to(remove));
}

/// A plan, validated, with its templates compiled and its scripts and media checked to exist and
/// be the agent's.
fn checked(
    state: &Sending,
    conn: &Connection,
    me: &Agent,
    mut input: PlanInput,
) -> anyhow::Result<PlanInput> {
    input.validate().map_err(|e| ApiError::invalid_field(&e.field, e.reason))?;
    for (i, s) in input.steps.iter().enumerate() {
        if let Some(body) = &s.body {
            if body.chars().count() > crate::scripts::MAX_TEXT_CHARS {
                return Err(ApiError::invalid_field(
                    &format!("steps[{i}].body"),
                    "A text is at most 1600 characters.",
                )
                .into());
            }
            state.scripts.compile_inline(body).map_err(|e| {
                crate::scripts::api::compile_error(e).with("field", format!("steps[{i}].body"))
            })?;
        }
        if let Some(id) = s.template_script {
            crate::compose::quote::load_script(conn, id, Kind::Template).map_err(|e| {
                ApiError::invalid_field(&format!("steps[{i}].template_script"), format!("{e}"))
            })?;
        }
        if let Some(m) = crate::media::store::first_unknown(conn, me.id, &s.media_ids)? {
            return Err(ApiError::invalid_field(
                &format!("steps[{i}].media_ids"),
                format!("There is no media `{m}`."),
            )
            .into());
        }
    }
    Ok(input)
}

fn view(plan: &Plan, active: Option<i64>) -> serde_json::Value {
    let mut v = serde_json::to_value(plan).unwrap_or_default();
    if let Some(n) = active {
        v["active_enrollments"] = json!(n);
    }
    v
}

/// The plan if the caller owns it (admins reach any).
fn owned(conn: &Connection, me: &Agent, id: i64) -> anyhow::Result<Plan> {
    let scope = (!me.is_admin()).then_some(me.id);
    Ok(store::get(conn, scope, id)?.ok_or_else(|| ApiError::not_found("plan"))?)
}

async fn list(state: web::Data<Sending>, Authenticated(me): Authenticated) -> ApiResult<HttpResponse> {
    let items = state.db.read(move |c| store::list(c, me.id)).await?;
    let items: Vec<_> = items.iter().map(|(p, n)| view(p, Some(*n))).collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

async fn create(
    state: web::Data<Sending>,
    Authenticated(me): Authenticated,
    body: web::Json<PlanInput>,
) -> ApiResult<HttpResponse> {
    let (now, worker) = (state.clock.now(), state.clone());
    let plan = state
        .db
        .write(move |tx| {
            let p = checked(&worker, tx, &me, body.into_inner())?;
            let id = store::insert(tx, me.id, &p.name, &p.steps, p.stop_on_reply, now)?;
            store::get(tx, None, id)
        })
        .await?;
    Ok(HttpResponse::Created().json(plan))
}

async fn read(
    state: web::Data<Sending>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().0;
    let plan = state.db.read(move |c| owned(c, &me, id)).await?;
    Ok(HttpResponse::Ok().json(view(&plan, None)))
}

/// Live enrollments keep their place (the next step by position) and their day 0; their next
/// step's time is worked out again from the new steps; past the new last step they complete.
async fn update(
    state: web::Data<Sending>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
    body: web::Json<PlanInput>,
) -> ApiResult<HttpResponse> {
    let (id, now, window, worker) =
        (id.into_inner().0, state.clock.now(), state.settings.plans.window(), state.clone());
    let plan = state
        .db
        .write(move |tx| {
            owned(tx, &me, id)?;
            let p = checked(&worker, tx, &me, body.into_inner())?;
            store::update(tx, id, &p.name, &p.steps, p.stop_on_reply, now)?;
            for e in store::live_of_plan(tx, id)? {
                let tz = jiff::tz::TimeZone::get(&e.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
                let next = match (p.steps.get(e.step), e.enrolled_on.parse()) {
                    (Some(step), Ok(day)) => Some((e.step, step_at(day, step, &tz, &window))),
                    _ => None,
                };
                store::advance(tx, e.id, next, false, None, now)?;
            }
            store::get(tx, None, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(plan))
}

async fn delete(
    state: web::Data<Sending>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().0;
    state
        .db
        .write(move |tx| {
            owned(tx, &me, id)?;
            store::delete(tx, id)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn set_paused(state: web::Data<Sending>, me: Agent, id: i64, paused: bool) -> ApiResult<HttpResponse> {
    let now = state.clock.now();
    let plan = state
        .db
        .write(move |tx| {
            owned(tx, &me, id)?;
            store::set_paused(tx, id, paused, now)?;
            store::get(tx, None, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(plan))
}

/// Paused: no step goes out. Resumed: steps that fell due meanwhile go at once (quiet hours and
/// limits still apply), later ones at their times.
async fn pause(
    state: web::Data<Sending>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    set_paused(state, me, id.into_inner().0, true).await
}

async fn resume(
    state: web::Data<Sending>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    set_paused(state, me, id.into_inner().0, false).await
}

#[derive(Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    #[serde(default)]
    pub contact_ids: Vec<i64>,
    #[serde(default)]
    pub filter_script: Option<i64>,
}

/// Enrolls contacts by id, by filter script, or ids narrowed by a filter (as sends choose).
async fn enroll(
    state: web::Data<Sending>,
    http: actix_web::HttpRequest,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
    body: web::Json<EnrollRequest>,
) -> ApiResult<HttpResponse> {
    let key = Key::from_json(&http, &*body)?;
    let (id, req) = (id.into_inner().0, body.into_inner());
    if req.contact_ids.is_empty() && req.filter_script.is_none() {
        return Err(ApiError::invalid("no_recipients", "Give `contact_ids` or a `filter_script`."));
    }
    if req.contact_ids.len() > crate::compose::quote::MAX_RECIPIENTS {
        return Err(ApiError::invalid("too_many_recipients", "Enroll at most 10000 contacts by id at once."));
    }
    let worker = state.clone();
    let now = state.clock.now();
    let (agent, db) = (me.id, state.db.clone());
    idempotency::once(&db, agent, key, |key| async move {
        let body = state
            .db
            .write(move |tx| {
                let (enrolled, chosen) = enroll_in(&worker, tx, &me, id, &req, now)?;
                let body = json!({"enrolled": enrolled, "already_enrolled": chosen - enrolled});
                idempotency::keep(tx, me.id, key.as_ref(), StatusCode::CREATED, &body, now)?;
                Ok(body)
            })
            .await?;
        Ok((StatusCode::CREATED, body))
    })
    .await
}

/// Enrolls the chosen contacts of the agent in a plan; (enrolled, chosen).
pub fn enroll_in(
    state: &Sending,
    tx: &Connection,
    me: &Agent,
    plan_id: i64,
    req: &EnrollRequest,
    now: jiff::Timestamp,
) -> anyhow::Result<(usize, usize)> {
    let plan = owned(tx, me, plan_id)?;
    // An admin enrolls the owner's contacts: the plan texts as its owner.
    let owner = if plan.agent_id == me.id {
        me.clone()
    } else {
        crate::accounts::store::agent_by_id(tx, plan.agent_id)?.ok_or_else(|| ApiError::not_found("plan"))?
    };
    let me = &owner;
    let explicit = !req.contact_ids.is_empty();
    let ids = if explicit { req.contact_ids.clone() } else { crate::contacts::store::all_ids(tx, me.id)? };
    let mut contacts = crate::contacts::store::get_many(tx, me.id, &ids)?;
    if explicit
        && contacts.len() != {
            let mut d = ids.clone();
            d.sort_unstable();
            d.dedup();
            d.len()
        }
    {
        let have: std::collections::HashSet<i64> = contacts.iter().map(|c| c.id).collect();
        let missing: Vec<i64> = ids.iter().filter(|i| !have.contains(i)).copied().collect();
        return Err(ApiError::invalid("unknown_contacts", "Some contacts do not exist.")
            .with("contact_ids", missing)
            .into());
    }
    if let Some(filter) = req.filter_script {
        let s = crate::compose::quote::load_script(tx, filter, Kind::Filter)?;
        let compiled = state
            .scripts
            .compile(Kind::Filter, &s.source)
            .map_err(|e| anyhow::Error::from(crate::scripts::api::compile_error(e)))?;
        let values: Vec<_> = contacts.iter().map(|c| crate::scripts::context::contact(c, None)).collect();
        let agent = crate::scripts::context::agent(me);
        let at = crate::scripts::context::agent_now(me, now);
        let verdicts = state.scripts.filter_all(&compiled, &values, &agent, &at);
        contacts = contacts
            .into_iter()
            .zip(verdicts)
            .filter(|(_, v)| matches!(v, Ok(true)))
            .map(|(c, _)| c)
            .collect();
    }
    let window: Window = state.settings.plans.window();
    let first = &plan.steps[0];
    let zones: Vec<(jiff::tz::TimeZone, &'static str, i64)> = contacts
        .iter()
        .map(|c| {
            let number = crate::scripts::context::resolved_number(&c.phones);
            let (tz, how) = recipient_zone(&c.whereabouts(number), me.time_zone.as_str());
            (tz, how, c.id)
        })
        .collect();
    let names: Vec<String> =
        zones.iter().map(|(tz, ..)| tz.iana_name().unwrap_or("UTC").to_owned()).collect();
    let items: Vec<NewEnrollment> = zones
        .iter()
        .zip(&names)
        .map(|((tz, how, id), name)| {
            let day = now.to_zoned_datetime(tz.clone()).date();
            // A first step whose time has passed today goes now (in the window).
            let due = step_at(day, first, tz, &window).max(window.next_open(now, tz));
            NewEnrollment {
                contact_id: *id,
                due_at: due,
                time_zone: name,
                zone_source: how,
                enrolled_on: day.to_string(),
            }
        })
        .collect();
    let n = store::enroll(tx, plan.id, me.id, &items, now)?;
    Ok((n, items.len()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    #[serde(default)]
    after: i64,
    #[serde(default)]
    limit: Option<usize>,
}

async fn enrollments(
    state: web::Data<Sending>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    let (id, after, limit) = (id.into_inner().0, page.after, page.limit.unwrap_or(100).clamp(1, 500));
    let items = state
        .db
        .read(move |c| {
            owned(c, &me, id)?;
            store::enrollments(c, id, after, limit)
        })
        .await?;
    let next = (items.len() == limit).then(|| items.last().map(|e| e.id)).flatten();
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_after": next})))
}

async fn enrollment(
    state: web::Data<Sending>,
    Authenticated(me): Authenticated,
    path: web::Path<(crate::error::PathId, crate::error::PathId)>,
) -> ApiResult<HttpResponse> {
    let (crate::error::PathId(id), crate::error::PathId(eid)) = path.into_inner();
    let e = state
        .db
        .read(move |c| {
            owned(c, &me, id)?;
            store::enrollment(c, id, eid)
        })
        .await?
        .ok_or_else(|| ApiError::not_found("enrollment"))?;
    Ok(HttpResponse::Ok().json(e))
}

/// Removes a contact from the plan: its enrollment stops (kept, with the reason `removed`).
async fn remove(
    state: web::Data<Sending>,
    Authenticated(me): Authenticated,
    path: web::Path<(crate::error::PathId, crate::error::PathId)>,
) -> ApiResult<HttpResponse> {
    let (crate::error::PathId(id), crate::error::PathId(eid)) = path.into_inner();
    let now = state.clock.now();
    state
        .db
        .write(move |tx| {
            owned(tx, &me, id)?;
            if store::enrollment(tx, id, eid)?.is_none() {
                return Err(ApiError::not_found("enrollment").into());
            }
            store::stop(tx, eid, "removed", now)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
