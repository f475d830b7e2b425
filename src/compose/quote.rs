//! Quotes (R-COST-5): recipients resolved (R-REC), each text rendered and priced (R-SEG, R-COST),
//! totals, advice and the limits after this send (R-LIM). Runs on a blocking thread.

use std::collections::{HashMap, HashSet};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::cost::{self, CostError, Price};
use crate::accounts::model::Agent;
use crate::clock::Clock;
use crate::config::Settings;
use crate::contacts::model::Contact;
use crate::domain::segments::{self, Culprit, Encoding};
use crate::error::ApiError;
use crate::limits::{self, Counters};
use crate::scripts::Scripts;
use crate::scripts::{self, Compiled, Kind, ScriptError, context};

/// The built-in transparent image that turns an SMS into an MMS recipients do not see (R-COST-3).
pub use crate::media::CLEAR_PNG;
/// Explicit recipients in one quote.
pub const MAX_RECIPIENTS: usize = 10_000;
/// How long a quote stays good for Send.
pub const QUOTE_TTL_MINUTES: i64 = 15;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientInput {
    pub contact_id: i64,
    /// The number the sender picked for this contact, in any format; must be one of its numbers.
    #[serde(default)]
    pub number: Option<String>,
}

/// What "Calculate cost" and "Verify & Send" take.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    #[serde(default)]
    pub contact_ids: Vec<i64>,
    #[serde(default)]
    pub recipients: Vec<RecipientInput>,
    /// A filter script: alone, every contact it matches; with ids, it narrows them.
    #[serde(default)]
    pub filter_script: Option<i64>,
    /// Contacts removed from the list.
    #[serde(default)]
    pub exclude: Vec<i64>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub template_script: Option<i64>,
    #[serde(default)]
    pub media_ids: Vec<String>,
    /// A one-off send for later: queued then, under the rules of automated texts (quiet hours,
    /// limits checked when it goes out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_at: Option<jiff::Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    NoNumber,
    InvalidNumber,
    OptedOut,
    Dnc,
    Duplicate,
    FilteredOut,
    ScriptError,
    TooLong,
}

#[derive(Debug, Clone, Serialize)]
pub struct OtherNumber {
    pub number: String,
    pub e164: Option<String>,
    pub label: &'static str,
    pub valid: bool,
}

/// One recipient of a quote.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub contact_id: i64,
    pub contact_name: String,
    /// E.164; `null` with `number_display: "N/A"` when there is none to text.
    pub number: Option<String>,
    pub number_display: String,
    pub other_numbers: Vec<OtherNumber>,
    pub status: Status,
    pub reason: Option<String>,
    pub international: bool,
    pub body: Option<String>,
    pub kind: Option<cost::Kind>,
    pub encoding: Option<Encoding>,
    pub segments: u32,
    pub credits: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub culprits: Vec<Culprit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ScriptError>,
    /// What sending it as MMS would save, when it would and the text fits an MMS body.
    #[serde(skip)]
    pub mms_saving: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    pub recipients: usize,
    pub sendable: usize,
    pub skipped: usize,
    pub sms: usize,
    pub mms: usize,
    pub international: usize,
    pub segments: u32,
    pub credits: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    pub code: &'static str,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipients: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits_saved: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_id: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScriptRef {
    pub id: i64,
    pub name: String,
    pub version: i64,
}

/// A quote as answered and, minus the lines, as remembered.
#[derive(Debug, Clone, Serialize)]
pub struct Quote {
    pub quote_id: String,
    pub expires_at: jiff::Timestamp,
    pub sender: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_script: Option<ScriptRef>,
    pub media_ids: Vec<String>,
    pub lines: Vec<Line>,
    pub totals: Totals,
    pub recommendations: Vec<Recommendation>,
    pub limits: Counters,
    /// True when every limit holds and something would be sent.
    pub sendable: bool,
    pub warnings: Vec<Recommendation>,
    #[serde(skip)]
    pub fingerprint: String,
}

fn name_of(c: &Contact) -> String {
    let n = format!("{} {}", c.first_name, c.last_name).trim().to_owned();
    if n.is_empty() { c.email.clone().unwrap_or_default() } else { n }
}

/// The numbers a query finds; `args` end with the JSON array of numbers it searches.
pub fn load_script(conn: &Connection, id: i64, kind: Kind) -> anyhow::Result<scripts::store::Script> {
    let script = scripts::store::get(conn, id)?.ok_or_else(|| ApiError::not_found("script"))?;
    if script.kind != kind {
        let field = if kind == Kind::Filter { "filter_script" } else { "template_script" };
        return Err(
            ApiError::invalid_field(field, format!("Script {id} is a {}.", script.kind.as_str())).into()
        );
    }
    Ok(script)
}

/// Builds a quote for `me`; request-level problems come back as an `ApiError` in the error.
/// What a quote reads besides the database: the settings, the script engine and the clock.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub settings: &'a Settings,
    pub scripts: &'a Scripts,
    pub clock: &'a dyn Clock,
}

pub fn build(state: Env<'_>, conn: &Connection, me: &Agent, req: &QuoteRequest) -> anyhow::Result<Quote> {
    let compile_error = |e: ScriptError| anyhow::Error::from(scripts::api::compile_error(e));
    // The message: a body (inline template or verbatim) or a stored template script.
    let (message, script_ref): (Compiled, Option<ScriptRef>) = match (&req.body, req.template_script) {
        (Some(body), None) => {
            if body.chars().count() > scripts::MAX_TEXT_CHARS {
                return Err(ApiError::invalid("body_too_long", "A text is at most 1600 characters.")
                    .with("limit", scripts::MAX_TEXT_CHARS)
                    .into());
            }
            (state.scripts.compile_inline(body).map_err(compile_error)?, None)
        }
        (None, Some(id)) => {
            let s = load_script(conn, id, Kind::Template)?;
            let compiled = state.scripts.compile(Kind::Template, &s.source).map_err(compile_error)?;
            (compiled, Some(ScriptRef { id: s.id, name: s.name, version: s.version }))
        }
        _ => {
            return Err(ApiError::invalid("body_required", "Give either `body` or `template_script`.").into());
        }
    };
    let mut media_ids = req.media_ids.clone();
    media_ids.dedup();
    if media_ids.len() > 10 {
        return Err(ApiError::invalid_field("media_ids", "A text carries at most 10 media.").into());
    }
    let unknown = crate::media::store::first_unknown(conn, me.id, &media_ids)?;
    if let Some(unknown) = unknown {
        return Err(ApiError::invalid("unknown_media", format!("There is no media `{unknown}`."))
            .with("media_id", unknown.clone())
            .into());
    }
    let with_media = !media_ids.is_empty();

    // Who: explicit contacts (with any number picked), narrowed by or chosen by a filter.
    let mut chosen: HashMap<i64, String> = HashMap::new();
    let mut ids: Vec<i64> = Vec::new();
    let mut seen = HashSet::new();
    for (id, number) in req
        .recipients
        .iter()
        .map(|r| (r.contact_id, r.number.clone()))
        .chain(req.contact_ids.iter().map(|id| (*id, None)))
    {
        if let Some(n) = number {
            chosen.entry(id).or_insert(n);
        }
        if seen.insert(id) {
            ids.push(id);
        }
    }
    if ids.len() > MAX_RECIPIENTS {
        return Err(ApiError::invalid(
            "too_many_recipients",
            format!("A send takes at most {MAX_RECIPIENTS} contacts by id."),
        )
        .into());
    }
    if ids.is_empty() && req.filter_script.is_none() {
        return Err(ApiError::invalid(
            "no_recipients",
            "Give `contact_ids`, `recipients` or a `filter_script`.",
        )
        .into());
    }
    let explicit = !ids.is_empty();
    let mut contacts = crate::contacts::store::get_many(conn, me.id, &ids)?;
    if contacts.len() != ids.len() {
        let have: HashSet<i64> = contacts.iter().map(|c| c.id).collect();
        let missing: Vec<i64> = ids.iter().filter(|id| !have.contains(id)).copied().collect();
        return Err(ApiError::invalid("unknown_contacts", "Some contacts do not exist.")
            .with("contact_ids", missing)
            .into());
    }
    let now = context::agent_now(me, state.clock.now());
    let agent_value = context::agent(me);
    let mut verdicts: Vec<Option<Result<bool, ScriptError>>> = vec![None; contacts.len()];
    if let Some(filter_id) = req.filter_script {
        let s = load_script(conn, filter_id, Kind::Filter)?;
        let filter = state.scripts.compile(Kind::Filter, &s.source).map_err(compile_error)?;
        if !explicit {
            contacts = crate::contacts::store::get_many(
                conn,
                me.id,
                &crate::contacts::store::all_ids(conn, me.id)?,
            )?;
        }
        let values: Vec<_> = contacts.iter().map(|c| context::contact(c, None)).collect();
        let results = state.scripts.filter_all(&filter, &values, &agent_value, &now);
        if explicit {
            verdicts = results.into_iter().map(Some).collect();
        } else {
            // Alone, the filter chooses: contacts it rejects are not recipients at all.
            let (kept, kept_verdicts): (Vec<_>, Vec<_>) = contacts
                .into_iter()
                .zip(results)
                .filter(|(_, r)| !matches!(r, Ok(false)))
                .map(|(c, r)| (c, Some(r)))
                .unzip();
            contacts = kept;
            verdicts = kept_verdicts;
        }
    }
    let excluded: HashSet<i64> = req.exclude.iter().copied().collect();
    let (contacts, verdicts): (Vec<_>, Vec<_>) =
        contacts.into_iter().zip(verdicts).filter(|(c, _)| !excluded.contains(&c.id)).unzip();

    // Numbers (R-REC-1) and consent.
    let sender = me.sending_number.clone();
    let sender_code = sender
        .as_deref()
        .and_then(crate::domain::phone::calling_code)
        .or_else(|| crate::domain::phone::region_calling_code(me.country.id()));
    let sender_prefix = sender_code.map(|c| format!("+{c}"));
    let resolved: Vec<Result<String, (Status, String)>> = contacts
        .iter()
        .map(|c| match chosen.get(&c.id) {
            Some(pick) => {
                let want = crate::domain::phone::search_form(pick, me.country.id());
                match c.phones.iter().find(|p| p.number == pick.trim() || (want.is_some() && p.e164 == want))
                {
                    Some(p) if p.valid => Ok(p.e164.clone().unwrap_or_default()),
                    Some(_) => Err((Status::InvalidNumber, "the chosen number is not a valid number".into())),
                    None => {
                        Err((Status::InvalidNumber, "the chosen number is not one of the contact's".into()))
                    }
                }
            }
            None => match context::resolved_number(&c.phones) {
                Some(n) => Ok(n.to_owned()),
                None if c.phones.is_empty() => {
                    Err((Status::NoNumber, "the contact has no phone number".into()))
                }
                None => Err((Status::InvalidNumber, "none of the contact's numbers is valid".into())),
            },
        })
        .collect();
    let numbers: Vec<&str> = resolved.iter().filter_map(|r| r.as_deref().ok()).collect();
    let blocks = crate::consent::blocks(conn, sender.as_deref(), &numbers)?;

    // Lines, before rendering.
    let mut lines = Vec::with_capacity(contacts.len());
    let mut taken = HashSet::new();
    for ((c, verdict), number) in contacts.iter().zip(&verdicts).zip(&resolved) {
        let mut line = Line {
            contact_id: c.id,
            contact_name: name_of(c),
            number: number.as_ref().ok().cloned(),
            number_display: number.clone().unwrap_or_else(|_| "N/A".into()),
            other_numbers: c
                .phones
                .iter()
                .filter(|p| number.as_ref().ok() != p.e164.as_ref() || !p.valid)
                .map(|p| OtherNumber {
                    number: p.number.clone(),
                    e164: p.e164.clone(),
                    label: p.label.as_str(),
                    valid: p.valid,
                })
                .collect(),
            status: Status::Ok,
            reason: None,
            international: false,
            body: None,
            kind: None,
            encoding: None,
            segments: 0,
            credits: 0,
            culprits: Vec::new(),
            error: None,
            mms_saving: None,
        };
        let mut skip = |status: Status, reason: String| {
            line.status = status;
            line.reason = Some(reason);
        };
        match (verdict, number) {
            (Some(Ok(false)), _) => {
                skip(Status::FilteredOut, "the filter script does not match this contact".into())
            }
            (Some(Err(e)), _) => {
                skip(Status::ScriptError, "the filter script failed for this contact".into());
                line.error = Some(e.clone());
            }
            (_, Err((status, reason))) => skip(*status, reason.clone()),
            (_, Ok(n)) if blocks.contains_key(n) => {
                let block = blocks[n];
                let status = match block {
                    crate::consent::Block::Dnc => Status::Dnc,
                    crate::consent::Block::OptedOut => Status::OptedOut,
                };
                skip(status, block.reason().into())
            }
            (_, Ok(n)) if !taken.insert(n.clone()) => {
                skip(Status::Duplicate, "the number is already a recipient of this send".into())
            }
            // Calling codes are prefix-free, so the prefix tells (R-REC-3).
            (_, Ok(n)) => {
                line.international = sender_prefix.as_ref().is_some_and(|p| !n.starts_with(p.as_str()))
            }
        }
        lines.push(line);
    }

    // Render per recipient (R-COST-4) and price.
    let ok: Vec<usize> =
        lines.iter().enumerate().filter(|(_, l)| l.status == Status::Ok).map(|(i, _)| i).collect();
    let chosen_contacts: Vec<&Contact> = ok.iter().map(|&i| &contacts[i]).collect();
    let texts = state.scripts.render_all(&message, &chosen_contacts, &agent_value, &now);
    let mut cache: HashMap<String, segments::Segmentation> = HashMap::new();
    for (&i, text) in ok.iter().zip(texts) {
        let line = &mut lines[i];
        let text = match text {
            Ok(t) if t.is_empty() && !with_media => {
                Err(ScriptError { message: "the text is empty".into(), line: None, column: None })
            }
            other => other,
        };
        match text {
            Err(e) => {
                line.status = Status::ScriptError;
                line.reason = Some("the template failed for this contact".into());
                line.error = Some(e);
            }
            Ok(text) => {
                let seg = cache.entry(text.clone()).or_insert_with(|| segments::segment(&text));
                match cost::price(seg, with_media, line.international) {
                    Ok(price @ Price { kind, credits, segments }) => {
                        line.mms_saving = cost::mms_saving(&price, seg);
                        line.kind = Some(kind);
                        line.encoding = Some(seg.encoding);
                        line.segments = segments;
                        line.credits = credits;
                        line.culprits = seg.culprits.clone();
                    }
                    Err(CostError::MmsTooLong { encoding, length, limit }) => {
                        line.status = Status::TooLong;
                        line.reason = Some(format!(
                            "an MMS body holds {limit} {} characters; this one has {length}",
                            encoding.as_str()
                        ));
                    }
                }
                line.body = Some(text);
            }
        }
    }
    if req.template_script.is_none() && !lines.is_empty() && lines.iter().all(|l| l.status == Status::TooLong)
    {
        return Err(ApiError::invalid("mms_too_long", lines[0].reason.clone().unwrap_or_default()).into());
    }

    // Totals, advice, limits.
    let mut totals = Totals { recipients: lines.len(), ..Default::default() };
    let (mut mms_advice, mut mms_saved) = (0, 0);
    for l in lines.iter().filter(|l| l.status == Status::Ok) {
        totals.sendable += 1;
        totals.segments += l.segments;
        totals.credits += l.credits;
        totals.international += l.international as usize;
        match l.kind {
            Some(cost::Kind::Mms) => totals.mms += 1,
            _ => totals.sms += 1,
        }
        if let Some(saving) = l.mms_saving {
            mms_advice += 1;
            mms_saved += saving;
        }
    }
    totals.skipped = totals.recipients - totals.sendable;
    let mut recommendations = Vec::new();
    if mms_advice > 0 {
        recommendations.push(Recommendation {
            code: "send_as_mms",
            detail: format!(
                "{mms_advice} recipient(s) would cost more than 3 credits as SMS; attach any image, video or gif, or \
                 the invisible `clear-png`, to send as MMS for 3 credits each and save {mms_saved} credit(s)."
            ),
            recipients: Some(mms_advice),
            credits_saved: Some(mms_saved),
            media_id: Some(CLEAR_PNG),
            text: None,
        });
    }
    if let (Some(body), false) = (&req.body, scripts::is_template(req.body.as_deref().unwrap_or(""))) {
        let fixed = segments::with_replacements(body);
        if &fixed != body {
            let seg = segments::segment(&fixed);
            let saved: u32 = lines
                .iter()
                .filter(|l| l.status == Status::Ok)
                .map(|l| {
                    let new = cost::price(&seg, with_media, l.international)
                        .map(|p| p.credits)
                        .unwrap_or(l.credits);
                    l.credits.saturating_sub(new)
                })
                .sum();
            recommendations.push(Recommendation {
                code: "use_gsm_characters",
                detail: format!(
                    "Some characters force UCS-2 (70 characters a segment); with plain ones the text is {} and {} \
                     segment(s), saving {saved} credit(s).",
                    seg.encoding.as_str(),
                    seg.segments
                ),
                recipients: None,
                credits_saved: Some(saved),
                media_id: None,
                text: Some(fixed),
            });
        }
    }
    let periods = limits::agent_periods(me, state.clock.now());
    let usage = limits::store::usage(conn, me.id, &periods)?;
    let sendable_numbers: Vec<&str> =
        lines.iter().filter(|l| l.status == Status::Ok).filter_map(|l| l.number.as_deref()).collect();
    let request = limits::Request {
        new_recipients: limits::store::new_numbers_today(conn, me.id, &periods.day, sendable_numbers)?,
        segments: totals.segments,
        credits: totals.credits,
    };
    let counters =
        Counters::new(usage, me.effective_limits(&state.settings.defaults), &periods, Some(request));
    let mut warnings = Vec::new();
    if sender.is_none() {
        warnings.push(Recommendation {
            code: "no_sending_number",
            detail: "You have no sending number yet; pick one (GET /v1/numbers/available, PUT /v1/me/number) before sending.".into(),
            recipients: None,
            credits_saved: None,
            media_id: None,
            text: None,
        });
    }
    // Quiet hours (R-QH-1): who would get this outside 08:00–21:00 at their place.
    let window = state.settings.plans.window();
    let when = req.send_at.unwrap_or_else(|| state.clock.now());
    let outside = lines
        .iter()
        .zip(&contacts)
        .filter(|(l, _)| l.status == Status::Ok)
        .filter(|(l, c)| {
            let (tz, _) =
                crate::geo::recipient_zone(&c.whereabouts(l.number.as_deref()), me.time_zone.as_str());
            !window.contains(when, &tz)
        })
        .count();
    let warning = |code, detail: String, recipients| Recommendation {
        code,
        detail,
        recipients,
        credits_saved: None,
        media_id: None,
        text: None,
    };
    if outside > 0 {
        let detail = if req.send_at.is_some() {
            format!(
                "{outside} recipient(s) are outside the sending window ({}–{} their time) then; they get it when it opens.",
                state.settings.plans.quiet_start, state.settings.plans.quiet_end
            )
        } else {
            format!(
                "{outside} recipient(s) are outside {}–{} in their time zone now; texting them at this hour may be \
                 unwelcome (and restricted under TCPA). Consider scheduling it (`send_at`).",
                state.settings.plans.quiet_start, state.settings.plans.quiet_end
            )
        };
        warnings.push(warning("quiet_hours", detail, Some(outside)));
    }
    if let Some(at) = req.send_at {
        warnings.push(warning(
            "scheduled",
            format!(
                "Scheduled for {at}: recipients, opt-outs and limits are checked again when it goes out; nothing is \
                 reserved now, and a limit passed then makes it wait for the next day."
            ),
            None,
        ));
    }
    // A scheduled send meets today's limits only if it goes today: they are checked then.
    let limits_hold = req.send_at.is_some() || counters.exceeded().is_none();
    let sendable = totals.sendable > 0 && limits_hold && sender.is_some();
    let fingerprint = fingerprint(&lines, &media_ids, script_ref.as_ref(), sender.as_deref(), &counters);
    let expires_at = state
        .clock
        .now()
        .saturating_add(jiff::SignedDuration::from_mins(QUOTE_TTL_MINUTES))
        .unwrap_or_else(|_| state.clock.now());
    Ok(Quote {
        quote_id: uuid::Uuid::new_v4().to_string(),
        expires_at,
        sender,
        template_script: script_ref,
        media_ids,
        lines,
        totals,
        recommendations,
        limits: counters,
        sendable,
        warnings,
        fingerprint,
    })
}

/// What a quote promised: two quotes with the same fingerprint send the same texts at the same
/// cost under the same limits.
fn fingerprint(
    lines: &[Line],
    media: &[String],
    script: Option<&ScriptRef>,
    sender: Option<&str>,
    limits: &Counters,
) -> String {
    let mut h = Sha256::new();
    for l in lines {
        h.update(format!(
            "{}|{:?}|{:?}|{:?}|{}|{}\n",
            l.contact_id, l.number, l.status, l.body, l.credits, l.segments
        ));
    }
    h.update(format!(
        "{media:?}|{:?}|{sender:?}|{}|{}|{}",
        script.map(|s| (s.id, s.version)),
        limits.daily_unique_recipients.used,
        limits.daily_segments.used,
        limits.monthly_credits.used
    ));
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, h.finalize())
}
