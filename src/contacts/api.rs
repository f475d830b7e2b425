//! Contact endpoints: create, read, update, delete, list/search, CSV import.

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::json;

use super::model::{ContactInput, ContactPatch, Source};
use super::store;
use crate::accounts::Authenticated;
use crate::clock::Clock;
use crate::db::Db;
use crate::domain::phone;
use crate::error::{ApiError, ApiResult};

/// The largest CSV file accepted by the API.
pub const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/contacts", web::get().to(list))
        .route("/v1/contacts", web::post().to(create))
        .service(
            web::resource("/v1/contacts/import")
                .app_data(web::PayloadConfig::new(MAX_IMPORT_BYTES))
                .route(web::post().to(import_csv)),
        )
        .route("/v1/contacts/{id}", web::get().to(get))
        .route("/v1/contacts/{id}", web::patch().to(update))
        .route("/v1/contacts/{id}", web::delete().to(delete));
}

async fn create(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    Authenticated(me): Authenticated,
    body: web::Json<ContactInput>,
) -> ApiResult<HttpResponse> {
    let new = body.validate(&me.country, Source::Manual)?;
    let now = clock.now();
    let contact = db
        .write(move |tx| {
            let id = store::insert(tx, me.id, &new, now)?;
            store::get(tx, me.id, id)?.ok_or_else(|| anyhow::anyhow!("contact {id} vanished"))
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/contacts/{}", contact.id)))
        .json(contact))
}

async fn get(
    db: web::Data<Db>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().0;
    let contact =
        db.read(move |c| store::get(c, me.id, id)).await?.ok_or_else(|| ApiError::not_found("contact"))?;
    Ok(HttpResponse::Ok().json(contact))
}

async fn update(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
    body: web::Json<ContactPatch>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().0;
    let patch = body.into_inner();
    let now = clock.now();
    let contact = db
        .write(move |tx| {
            let Some(current) = store::get(tx, me.id, id)? else {
                return Err(ApiError::not_found("contact").into());
            };
            let source = current.source;
            let new = patch.apply(&current).validate(&me.country, source).map_err(ApiError::from)?;
            store::replace(tx, me.id, id, &new, now)?;
            store::get(tx, me.id, id)?.ok_or_else(|| anyhow::anyhow!("contact {id} vanished"))
        })
        .await?;
    Ok(HttpResponse::Ok().json(contact))
}

async fn delete(
    db: web::Data<Db>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().0;
    if db.write(move |tx| store::delete(tx, me.id, id)).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("contact"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Name or email words, or a number in any format.
    q: Option<String>,
    tag: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
    /// A filter script's id: only the contacts it matches (R-SCR-2).
    filter_script: Option<i64>,
}

fn encode_cursor(c: &store::Cursor) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(c).unwrap_or_default())
}

fn decode_cursor(s: &str) -> ApiResult<store::Cursor> {
    URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| ApiError::bad_request("invalid_cursor", "The cursor is not one this API gave out."))
}

/// One word with an `@`, or a dot inside it ("example.net"); "J. Smith" is two name words.
fn looks_like_email_part(text: &str) -> bool {
    !text.contains(char::is_whitespace) && (text.contains('@') || text.trim_matches('.').contains('.'))
}

async fn list(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    filters: web::Data<dyn super::Filter>,
    Authenticated(me): Authenticated,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "limit is between 1 and 200."));
    }
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let region = me.country.id();
    let mut search = store::Search {
        tag: q.tag.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()),
        email: q.email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()),
        ..Default::default()
    };
    let mut number_term = |term: &str| match phone::search_form(term, region) {
        Some(e164) => search.e164 = Some(e164),
        None => search.digits = Some(phone::digits(term)),
    };
    if let Some(p) = q.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        if phone::digits(p).is_empty() {
            return Err(ApiError::invalid_field("phone", "phone needs at least one digit."));
        }
        number_term(p);
    }
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        if text.chars().count() > 200 {
            return Err(ApiError::invalid_field("q", "q is at most 200 characters."));
        }
        if phone::looks_like_number(text) {
            number_term(text);
        } else if looks_like_email_part(text) {
            // An email or a part of one ("example.net", "jane.doe@"): found in the whole address.
            search.email_part = Some(text.to_owned());
        } else {
            search.words = super::model::search_words(text).take(8).collect();
            if search.words.is_empty() {
                // Only punctuation: nothing can match.
                return Ok(HttpResponse::Ok().json(json!({ "items": [], "next_cursor": null })));
            }
        }
    }
    let (items, next) = match q.filter_script {
        None => db.read(move |c| store::list(c, me.id, &search, after.as_ref(), limit)).await?,
        Some(id) => {
            let now = clock.now();
            db.read(move |c| {
                let keep = filters.prepare(c, id)?;
                filtered_page(&keep, now, c, &me, &search, after, limit)
            })
            .await?
        }
    };
    Ok(HttpResponse::Ok().json(json!({
        "items": items,
        "next_cursor": next.as_ref().map(encode_cursor),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    /// Import the good rows and report the bad ones, instead of refusing the file.
    #[serde(default)]
    skip_invalid: bool,
    /// What a row matching an existing contact does: `skip` (default), `update` or `create`.
    #[serde(default)]
    mode: super::Matching,
}

async fn import_csv(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    Authenticated(me): Authenticated,
    query: web::Query<ImportQuery>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let now = clock.now();
    let options = super::ImportOptions { skip_invalid: query.skip_invalid, matching: query.mode };
    let outcome = db
        .write(move |tx| super::import_csv(tx, me.id, &body[..], &me.country, options, now, |_, _| {}))
        .await
        .map_err(|e| match e.downcast::<super::ImportError>() {
            Ok(failure) => ApiError::from(failure),
            Err(other) => ApiError::from(other),
        })?;
    tracing::info!(
        agent_id = me.id,
        imported = outcome.imported,
        updated = outcome.updated,
        skipped = outcome.skipped,
        rejected = outcome.rejected.len(),
        "contacts imported"
    );
    Ok(HttpResponse::Created().json(json!({
        "imported": outcome.imported, "updated": outcome.updated, "skipped": outcome.skipped,
        "matches": outcome.matches, "rejected": outcome.rejected,
    })))
}

/// A page of the contacts a filter script matches, walking the list in batches from the cursor
/// until the page is full. Runs on the database's blocking thread.
fn filtered_page(
    keep: &super::Verdicts<'_>,
    now: jiff::Timestamp,
    conn: &rusqlite::Connection,
    me: &crate::accounts::model::Agent,
    search: &store::Search,
    mut after: Option<store::Cursor>,
    limit: usize,
) -> anyhow::Result<(Vec<super::model::Contact>, Option<store::Cursor>)> {
    let mut page = Vec::with_capacity(limit + 1);
    loop {
        let (batch, next) = store::list(conn, me.id, search, after.as_ref(), 1_000)?;
        let verdicts = keep(&batch, me, now);
        page.extend(batch.into_iter().zip(verdicts).filter(|(_, v)| *v).map(|(c, _)| c));
        if page.len() > limit || next.is_none() {
            break;
        }
        after = next;
    }
    let more = page.len() > limit;
    page.truncate(limit);
    let next = if more { page.last().map(|c| (c.sort_key(), c.id)) } else { None };
    Ok((page, next))
}
