//! The do-not-contact list (R-IN-4): admins add, remove, list and import numbers; a DNC number is
//! shown as `dnc` in quotes and is never texted by anyone.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::store;
use crate::accounts::Admin;
use crate::clock::Clock;
use crate::db::{Db, millis};
use crate::domain::phone;
use crate::error::{ApiError, ApiResult};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/admin/dnc", web::get().to(list))
        .route("/v1/admin/dnc", web::post().to(add))
        .service(
            web::resource("/v1/admin/dnc/import")
                .app_data(web::PayloadConfig::new(8 * 1024 * 1024))
                .route(web::post().to(import)),
        )
        .route("/v1/admin/dnc/{number}", web::delete().to(remove));
}

/// A number in any format, read with the admin's country as the default region; valid only.
fn parse(number: &str, region: phone::Id) -> Result<String, String> {
    let p = phone::parse(number, phone::Label::Other, region);
    match (p.valid, p.e164) {
        (true, Some(e164)) => Ok(e164),
        _ => Err(format!("`{}` is not a valid phone number", number.trim())),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    number: String,
    #[serde(default)]
    reason: String,
}

async fn add(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    Admin(me): Admin,
    body: web::Json<Entry>,
) -> ApiResult<HttpResponse> {
    let number = parse(&body.number, me.country.id())
        .map_err(|m| ApiError::invalid("invalid_number", format!("{m}.")))?;
    if body.reason.chars().count() > 500 {
        return Err(ApiError::invalid_field("reason", "reason is at most 500 characters."));
    }
    let (n, reason, now) = (number.clone(), body.reason.trim().to_owned(), millis(clock.now()));
    let added = db.write(move |tx| Ok(store::add_dnc(tx, &[(n, reason)], me.id, now)? == 1)).await?;
    let status = if added { actix_web::http::StatusCode::CREATED } else { actix_web::http::StatusCode::OK };
    Ok(HttpResponse::build(status).json(json!({"number": number, "added": added})))
}

async fn remove(db: web::Data<Db>, Admin(me): Admin, number: web::Path<String>) -> ApiResult<HttpResponse> {
    let number = parse(&number, me.country.id()).map_err(|_| ApiError::not_found("number on the list"))?;
    let gone = db.write(move |tx| store::remove_dnc(tx, &number)).await?;
    if gone { Ok(HttpResponse::NoContent().finish()) } else { Err(ApiError::not_found("number on the list")) }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    cursor: Option<String>,
    limit: Option<usize>,
}

async fn list(db: web::Data<Db>, _admin: Admin, q: web::Query<Page>) -> ApiResult<HttpResponse> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "limit is between 1 and 1000."));
    }
    let after = q.cursor.clone().unwrap_or_default();
    let items = db.read(move |c| store::dnc_page(c, &after, limit + 1)).await?;
    let more = items.len() > limit;
    let items: Vec<_> = items.into_iter().take(limit).collect();
    let next = if more { items.last().and_then(|i| i["number"].as_str()).map(str::to_owned) } else { None };
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next_cursor": next })))
}

/// `number[,reason]` lines, a header first (`number` and optionally `reason`). Good lines are
/// added, bad ones reported with their line; numbers already listed are counted, not repeated.
async fn import(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    Admin(me): Admin,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let text = std::str::from_utf8(&body).map_err(|e| {
        let line = 1 + body[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count();
        ApiError::invalid("csv_not_utf8", format!("Line {line} is not UTF-8 text.")).with("line", line)
    })?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| ApiError::invalid("csv_unreadable", e.to_string()))?.clone();
    let col = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let number_col = col("number").or_else(|| col("phone")).ok_or_else(|| {
        ApiError::invalid(
            "csv_no_usable_column",
            "The header needs a `number` column (and may have `reason`).",
        )
    })?;
    let reason_col = col("reason");
    let mut good = Vec::new();
    let mut rejected = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| ApiError::invalid("csv_unreadable", e.to_string()))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let raw = rec.get(number_col).unwrap_or("").trim();
        if raw.is_empty() {
            continue;
        }
        match parse(raw, me.country.id()) {
            Ok(n) => good.push((n, reason_col.and_then(|i| rec.get(i)).unwrap_or("").trim().to_owned())),
            Err(reason) => rejected.push(json!({"line": line, "reason": reason})),
        }
    }
    if good.is_empty() && rejected.is_empty() {
        return Err(ApiError::invalid("csv_empty", "The file has no numbers."));
    }
    let now = millis(clock.now());
    let total = good.len();
    let added = db.write(move |tx| store::add_dnc(tx, &good, me.id, now)).await?;
    Ok(HttpResponse::Ok()
        .json(json!({"added": added, "already_listed": total - added, "rejected": rejected})))
}
