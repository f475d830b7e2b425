//! Script endpoints: stored scripts and their versions (admins write, agents list and use), and
//! dry runs over chosen contacts.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Scripts;
use super::{Compiled, Inputs, Kind, ScriptError, context, store};
use crate::accounts::model::Agent;
use crate::accounts::{Admin, Authenticated};
use crate::clock::Clock;
use crate::config::Settings;
use crate::contacts::model::Contact;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};

pub const MAX_SOURCE_BYTES: usize = 64 * 1024;
const MAX_PREVIEW: usize = 100;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/scripts/preview", web::post().to(preview_unsaved))
        .route("/v1/scripts", web::get().to(list))
        .route("/v1/scripts", web::post().to(create))
        .route("/v1/scripts/{id}", web::get().to(get))
        .route("/v1/scripts/{id}", web::patch().to(update))
        .route("/v1/scripts/{id}", web::delete().to(delete))
        .route("/v1/scripts/{id}/versions", web::get().to(versions))
        .route("/v1/scripts/{id}/preview", web::post().to(preview_saved));
}

/// A compile error as clients see it (R-SCR-3).
pub fn compile_error(e: ScriptError) -> ApiError {
    ApiError::invalid("script_compile_error", format!("The script does not compile: {e}."))
        .with("message", e.message)
        .with("line", e.line)
        .with("column", e.column)
}

/// A filter is run once on a sample contact before it is saved: one that gives anything but true
/// or false, or runs past its limits, would fail every contact, so it is refused with the reason.
async fn check_filter(
    settings: &web::Data<Settings>,
    scripts: &web::Data<Scripts>,
    kind: Kind,
    compiled: Compiled,
) -> ApiResult<()> {
    if kind != Kind::Filter {
        return Ok(());
    }
    let (settings, scripts) = (settings.clone(), scripts.clone());
    let verdict = web::block(move || -> anyhow::Result<Result<bool, ScriptError>> {
        let (inputs, now) = super::sample::inputs(&settings, super::sample::contact())?;
        Ok(scripts.matches(&compiled, inputs, &now))
    })
    .await
    .map_err(|e| ApiError::internal(anyhow::anyhow!("the sample run stopped: {e}")))??;
    verdict.map(|_| ()).map_err(|e| {
        ApiError::invalid("script_rejected", format!("The filter fails on a sample contact: {e}."))
            .with("message", e.message)
            .with("line", e.line)
            .with("column", e.column)
    })
}

fn check_text(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if value.len() > max {
        return Err(ApiError::invalid_field(field, format!("{field} is at most {max} bytes.")));
    }
    Ok(())
}

fn name_taken(name: &str) -> anyhow::Error {
    ApiError::conflict("script_name_taken", format!("A script named {name} exists.")).into()
}

fn check_name(name: &str) -> ApiResult<String> {
    crate::accounts::model::parse_name(name).map_err(|m| ApiError::invalid_field("name", format!("{m}.")))
}

/// A live script, or 404.
pub async fn load(db: &Db, id: i64) -> ApiResult<store::Script> {
    db.read(move |c| store::get(c, id)).await?.ok_or_else(|| ApiError::not_found("script"))
}

async fn list(db: web::Data<Db>, _me: Authenticated) -> ApiResult<HttpResponse> {
    let items = db.read(store::list).await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

async fn get(
    db: web::Data<Db>,
    _me: Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(load(&db, id.into_inner().0).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateScript {
    name: String,
    kind: Kind,
    source: String,
    #[serde(default)]
    description: String,
}

async fn create(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    settings: web::Data<Settings>,
    scripts: web::Data<Scripts>,
    Admin(me): Admin,
    body: web::Json<CreateScript>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let name = check_name(&b.name)?;
    check_text("source", &b.source, MAX_SOURCE_BYTES)?;
    check_text("description", &b.description, 1_000)?;
    let compiled = scripts.compile(b.kind, &b.source).map_err(compile_error)?;
    check_filter(&settings, &scripts, b.kind, compiled).await?;
    let now = clock.now();
    let script = db
        .write(move |tx| {
            let Some(id) = store::insert(tx, &name, b.kind, &b.description, &b.source, me.id, now)? else {
                return Err(name_taken(&name));
            };
            store::get(tx, id)?.ok_or_else(|| anyhow::anyhow!("script {id} vanished"))
        })
        .await?;
    Ok(HttpResponse::Created().json(script))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateScript {
    name: Option<String>,
    source: Option<String>,
    description: Option<String>,
}

async fn update(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    settings: web::Data<Settings>,
    scripts: web::Data<Scripts>,
    Admin(me): Admin,
    id: web::Path<crate::error::PathId>,
    body: web::Json<UpdateScript>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().0;
    let b = body.into_inner();
    let current = load(&db, id).await?;
    let name = match &b.name {
        Some(n) => check_name(n)?,
        None => current.name.clone(),
    };
    let source = b.source.unwrap_or_else(|| current.source.clone());
    let description = b.description.unwrap_or_else(|| current.description.clone());
    check_text("source", &source, MAX_SOURCE_BYTES)?;
    check_text("description", &description, 1_000)?;
    let compiled = scripts.compile(current.kind, &source).map_err(compile_error)?;
    check_filter(&settings, &scripts, current.kind, compiled).await?;
    let now = clock.now();
    let script = db
        .write(move |tx| {
            // Read again inside the transaction: two saves never make the same version.
            let Some(current) = store::get(tx, id)? else { return Err(ApiError::not_found("script").into()) };
            if !store::save(tx, &current, &name, &description, &source, me.id, now)? {
                return Err(name_taken(&name));
            }
            store::get(tx, id)?.ok_or_else(|| anyhow::anyhow!("script {id} vanished"))
        })
        .await?;
    Ok(HttpResponse::Ok().json(script))
}

async fn delete(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    _admin: Admin,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().0;
    let now = clock.now();
    if db.write(move |tx| store::delete(tx, id, now)).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("script"))
    }
}

async fn versions(
    db: web::Data<Db>,
    _me: Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let script = load(&db, id.into_inner().0).await?;
    let items = db.read(move |c| store::versions(c, script.id)).await?;
    Ok(HttpResponse::Ok().json(json!({ "id": script.id, "name": script.name, "items": items })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Selection {
    /// The caller's contacts to try; without them, the first `limit` contacts in list order.
    #[serde(default)]
    contact_ids: Vec<i64>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Unsaved {
    kind: Kind,
    source: String,
    /// The source is a message body (`Hi ${contact.first_name}`), not a script (R-SCR-1).
    #[serde(default)]
    inline: bool,
    #[serde(default)]
    contact_ids: Vec<i64>,
    #[serde(default)]
    limit: Option<usize>,
}

async fn preview_saved(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    scripts: web::Data<Scripts>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
    body: Option<web::Json<Selection>>,
) -> ApiResult<HttpResponse> {
    let script = load(&db, id.into_inner().0).await?;
    let compiled = scripts.compile(script.kind, &script.source).map_err(compile_error)?;
    let sel = body.map(web::Json::into_inner).unwrap_or_default();
    let results = preview(&db, &clock, &scripts, me, compiled, sel.contact_ids, sel.limit).await?;
    Ok(HttpResponse::Ok().json(json!({
        "script": {"id": script.id, "name": script.name, "kind": script.kind, "version": script.version},
        "results": results,
    })))
}

async fn preview_unsaved(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    scripts: web::Data<Scripts>,
    Authenticated(me): Authenticated,
    body: web::Json<Unsaved>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    check_text("source", &b.source, MAX_SOURCE_BYTES)?;
    let compiled = match (b.inline, b.kind) {
        (false, kind) => scripts.compile(kind, &b.source),
        (true, Kind::Template) => scripts.compile_inline(&b.source),
        (true, Kind::Filter) => {
            return Err(ApiError::invalid_field("inline", "Only templates can be inline."));
        }
    }
    .map_err(compile_error)?;
    let results = preview(&db, &clock, &scripts, me, compiled, b.contact_ids, b.limit).await?;
    Ok(HttpResponse::Ok().json(json!({ "script": {"kind": b.kind, "inline": b.inline}, "results": results })))
}

/// Runs a script for chosen contacts of `me`; a runtime error is that contact's result.
async fn preview(
    db: &Db,
    clock: &web::Data<dyn Clock>,
    scripts: &web::Data<Scripts>,
    me: Agent,
    compiled: Compiled,
    ids: Vec<i64>,
    limit: Option<usize>,
) -> ApiResult<Vec<Value>> {
    if ids.len() > MAX_PREVIEW || limit.is_some_and(|l| !(1..=MAX_PREVIEW).contains(&l)) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("A preview takes 1 to {MAX_PREVIEW} contacts."),
        ));
    }
    let agent_id = me.id;
    let contacts: Vec<Contact> = db
        .read(move |c| {
            if ids.is_empty() {
                let search = crate::contacts::store::Search::default();
                return Ok(crate::contacts::store::list(c, agent_id, &search, None, limit.unwrap_or(10))?.0);
            }
            let mut found = Vec::with_capacity(ids.len());
            let mut missing = Vec::new();
            for id in ids {
                match crate::contacts::store::get(c, agent_id, id)? {
                    Some(contact) => found.push(contact),
                    None => missing.push(id),
                }
            }
            if !missing.is_empty() {
                return Err(ApiError::invalid("unknown_contacts", "Some contacts do not exist.")
                    .with("contact_ids", missing)
                    .into());
            }
            Ok(found)
        })
        .await?;
    let scripts = scripts.clone();
    let now = context::agent_now(&me, clock.now());
    let results = web::block(move || {
        let inputs_base = (context::agent(&me), context::now(&now));
        contacts
            .iter()
            .map(|c| {
                let inputs =
                    Inputs { contact: context::contact(c, None), agent: inputs_base.0.clone(), now: inputs_base.1.clone() };
                let name = format!("{} {}", c.first_name, c.last_name).trim().to_owned();
                let outcome = match compiled.kind {
                    Kind::Template => scripts.render(&compiled, inputs, &now).map(|t| {
                        // What it costs as a domestic SMS (R-SCR-3); the quote prices the rest.
                        let seg = crate::domain::segments::segment(&t);
                        json!({"text": t, "encoding": seg.encoding, "segments": seg.segments, "credits": seg.segments})
                    }),
                    Kind::Filter => scripts.matches(&compiled, inputs, &now).map(|m| json!({"matches": m})),
                };
                match outcome {
                    Ok(Value::Object(mut ok)) => {
                        ok.insert("contact_id".into(), c.id.into());
                        ok.insert("contact_name".into(), name.into());
                        ok.insert("status".into(), "ok".into());
                        Value::Object(ok)
                    }
                    Ok(other) => other,
                    Err(e) => json!({"contact_id": c.id, "contact_name": name, "status": "script_error", "error": e}),
                }
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| ApiError::internal(e.into()))?;
    Ok(results)
}
