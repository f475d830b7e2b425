//! Scripts (R-SCR): Rhai templates that shape each recipient's text and filters that choose
//! recipients, run in a sandbox. Compiled once and cached; evaluated off the HTTP workers.

pub mod api;
pub mod context;
pub mod engine;
pub mod sample;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rhai::{AST, Dynamic, Engine, EvalAltResult, ParseError, Position, Scope};
use serde::{Deserialize, Serialize};

use crate::config::ScriptSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Evaluates to the message text.
    Template,
    /// Evaluates to true or false for a contact.
    Filter,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Template => "template",
            Kind::Filter => "filter",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "template" => Some(Kind::Template),
            "filter" => Some(Kind::Filter),
            _ => None,
        }
    }
}

/// A script that failed: to compile, or for one contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptError {
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{l}:{c}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl ScriptError {
    fn at(message: String, pos: Position, line_offset_col: usize) -> Self {
        let line = pos.line();
        let column = pos
            .position()
            .map(|c| if line == Some(1) { c.saturating_sub(line_offset_col).max(1) } else { c });
        ScriptError { message, line, column }
    }

    fn parse(e: &ParseError, col_shift: usize) -> Self {
        Self::at(e.err_type().to_string(), e.position(), col_shift)
    }

    fn eval(e: &EvalAltResult, col_shift: usize) -> Self {
        let message = match e {
            EvalAltResult::ErrorTerminated(reason, _) => {
                reason.clone().into_string().unwrap_or_else(|_| "the script was stopped".into())
            }
            EvalAltResult::ErrorTooManyOperations(_) => "the script ran too many operations".into(),
            EvalAltResult::ErrorDataTooLarge(what, _) => format!("the script made a {what} too large"),
            EvalAltResult::ErrorStackOverflow(_) => "the script called functions too deeply".into(),
            EvalAltResult::ErrorRuntime(v, _) => v.to_string(),
            other => other.to_string().split(" (line ").next().unwrap_or_default().to_owned(),
        };
        Self::at(message, e.position(), col_shift)
    }

    fn plain(message: impl Into<String>) -> Self {
        ScriptError { message: message.into(), line: None, column: None }
    }
}

/// The longest text a template may produce: the MMS limit (R-COST-2).
pub const MAX_TEXT_CHARS: usize = 1_600;

/// A compiled script, shared between evaluations.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub kind: Kind,
    ast: Arc<AST>,
    /// Columns the wrapping added on line 1 (inline templates), subtracted from positions.
    col_shift: usize,
    /// A body without `${`: sent as written.
    verbatim: Option<Arc<str>>,
}

/// What a script sees: `contact`, `agent` and `now`, as Rhai values.
pub struct Inputs {
    pub contact: Dynamic,
    pub agent: Dynamic,
    pub now: Dynamic,
}

/// The configured engine and its cache of compiled scripts.
pub struct Scripts {
    engine: Engine,
    timeout: Duration,
    cache: Mutex<HashMap<(Kind, bool, String), Compiled>>,
}

/// The scope scripts are compiled against: every name they may use, as placeholders. They are
/// pushed as variables, never constants, so the optimiser cannot fold one contact's values into
/// the cached AST.
fn placeholder_scope() -> Scope<'static> {
    let mut scope = Scope::new();
    scope.push("contact", Dynamic::UNIT);
    scope.push("agent", Dynamic::UNIT);
    scope.push("now", Dynamic::UNIT);
    scope
}

/// Turns a message body with `${…}` into a Rhai template string (R-SCR-1): the literal parts are
/// kept as written (a backtick is doubled, `$${` is a literal `${`); the `${…}` parts are Rhai.
pub fn template_source(body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 8);
    out.push('`');
    let mut rest = body;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("$${") {
            out.push_str("${\"${\"}");
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            // Copy the expression up to its closing brace, as Rhai.
            out.push_str("${");
            let mut depth = 1;
            let mut end = after.len();
            for (i, c) in after.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            out.push_str(&after[..end]);
            rest = &after[end..];
        } else {
            let c = rest.chars().next().unwrap_or_default();
            if c == '`' {
                out.push_str("``");
            } else {
                out.push(c);
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    out.push('`');
    out
}

/// True when a message body is an inline template; otherwise it is sent byte for byte.
pub fn is_template(body: &str) -> bool {
    body.contains("${")
}

impl Scripts {
    pub fn new(settings: &ScriptSettings) -> Scripts {
        Scripts {
            engine: engine::build(settings),
            timeout: Duration::from_millis(settings.timeout_ms),
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn compile_cached(&self, kind: Kind, inline: bool, source: &str) -> Result<Compiled, ScriptError> {
        let key = (kind, inline, source.to_owned());
        if let Some(hit) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(hit.clone());
        }
        let (code, col_shift) = if inline { (template_source(source), 1) } else { (source.to_owned(), 0) };
        let ast = self
            .engine
            .compile_with_scope(&placeholder_scope(), &code)
            .map_err(|e| ScriptError::parse(&e, col_shift))?;
        let compiled = Compiled { kind, ast: Arc::new(ast), col_shift, verbatim: None };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= 512 {
            cache.clear();
        }
        cache.insert(key, compiled.clone());
        Ok(compiled)
    }

    /// Compiles a stored script (R-SCR-3).
    pub fn compile(&self, kind: Kind, source: &str) -> Result<Compiled, ScriptError> {
        self.compile_cached(kind, false, source)
    }

    /// Compiles a message body (`Hi ${contact.first_name}`). A body without `${` becomes a
    /// script that gives it back byte for byte, without running Rhai on it.
    pub fn compile_inline(&self, body: &str) -> Result<Compiled, ScriptError> {
        if !is_template(body) {
            return Ok(Compiled {
                kind: Kind::Template,
                ast: Arc::new(AST::empty()),
                col_shift: 0,
                verbatim: Some(body.into()),
            });
        }
        self.compile_cached(Kind::Template, true, body)
    }

    /// Evaluates a script and returns its value as is (`tidings script run`).
    pub fn eval(
        &self,
        script: &Compiled,
        inputs: Inputs,
        now: &jiff::ZonedDateTime,
    ) -> Result<Dynamic, ScriptError> {
        if let Some(text) = &script.verbatim {
            return Ok(Dynamic::from(text.to_string()));
        }
        let mut scope = Scope::new();
        scope.push("contact", inputs.contact);
        scope.push("agent", inputs.agent);
        scope.push("now", inputs.now);
        engine::with_deadline(self.timeout, now, || {
            self.engine.eval_ast_with_scope::<Dynamic>(&mut scope, &script.ast)
        })
        .map_err(|e| ScriptError::eval(&e, script.col_shift))
    }

    /// Renders a template for one recipient.
    pub fn render(
        &self,
        script: &Compiled,
        inputs: Inputs,
        now: &jiff::ZonedDateTime,
    ) -> Result<String, ScriptError> {
        let value = self.eval(script, inputs, now)?;
        if value.is_unit() {
            return Err(ScriptError::plain(
                "the template evaluated to nothing; its last expression must be the text",
            ));
        }
        if value.is_map() || value.is_array() {
            return Err(ScriptError::plain(format!(
                "the template evaluated to {}, not a text",
                value.type_name()
            )));
        }
        let text =
            if value.is_string() { value.into_string().unwrap_or_default() } else { value.to_string() };
        if text.len() > MAX_TEXT_CHARS && text.chars().count() > MAX_TEXT_CHARS {
            return Err(ScriptError::plain(format!("the text is longer than {MAX_TEXT_CHARS} characters")));
        }
        Ok(text)
    }

    /// Evaluates a filter for one contact.
    pub fn matches(
        &self,
        script: &Compiled,
        inputs: Inputs,
        now: &jiff::ZonedDateTime,
    ) -> Result<bool, ScriptError> {
        let value = self.eval(script, inputs, now)?;
        value
            .as_bool()
            .map_err(|t| ScriptError::plain(format!("a filter must evaluate to true or false, not {t}")))
    }

    /// Evaluates a filter over many contacts, in parallel chunks; call it off the HTTP workers.
    /// This is the one way compose and plans choose recipients by filter.
    pub fn filter_all(
        &self,
        script: &Compiled,
        contacts: &[Dynamic],
        agent: &Dynamic,
        now: &jiff::ZonedDateTime,
    ) -> Vec<Result<bool, ScriptError>> {
        let now_value = context::now(now);
        par_map(contacts, |c| {
            let inputs = Inputs { contact: c.clone(), agent: agent.clone(), now: now_value.clone() };
            self.matches(script, inputs, now)
        })
    }

    /// Renders a template for many contacts, in parallel chunks (each contact's `contact` value
    /// built on the thread that renders it); call it off the HTTP workers.
    pub fn render_all(
        &self,
        script: &Compiled,
        contacts: &[&crate::contacts::model::Contact],
        agent: &Dynamic,
        now: &jiff::ZonedDateTime,
    ) -> Vec<Result<String, ScriptError>> {
        let now_value = context::now(now);
        par_map(contacts, |c| {
            if let Some(text) = &script.verbatim {
                return Ok(text.to_string());
            }
            let inputs =
                Inputs { contact: context::contact(c, None), agent: agent.clone(), now: now_value.clone() };
            self.render(script, inputs, now)
        })
    }
}

/// `items.iter().map(f)`, spread over the cores when there are enough items to be worth it.
fn par_map<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R, ScriptError> + Sync,
) -> Vec<Result<R, ScriptError>> {
    if items.len() < 2_000 {
        return items.iter().map(&f).collect();
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> =
            items.chunks(chunk).map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<_>>())).collect();
        handles
            .into_iter()
            .zip(items.chunks(chunk))
            .flat_map(|(h, part)| {
                h.join().unwrap_or_else(|_| {
                    part.iter().map(|_| Err(ScriptError::plain("the script panicked"))).collect()
                })
            })
            .collect()
    })
}

/// The contacts list's filter (R-SCR-2): the script loaded, checked to be a filter and compiled;
/// a contact is kept when the filter says `true` (an error or `false` leaves it out).
impl crate::contacts::Filter for Scripts {
    fn prepare(&self, conn: &rusqlite::Connection, id: i64) -> anyhow::Result<crate::contacts::Verdicts<'_>> {
        let script = store::get(conn, id)?.ok_or_else(|| crate::error::ApiError::not_found("script"))?;
        if script.kind != Kind::Filter {
            return Err(crate::error::ApiError::invalid_field(
                "filter_script",
                format!("Script {id} is a template, not a filter."),
            )
            .into());
        }
        let compiled = self.compile(script.kind, &script.source).map_err(api::compile_error)?;
        Ok(Box::new(move |contacts, agent, now| {
            let inputs: Vec<_> = contacts.iter().map(|c| context::contact(c, None)).collect();
            let (agent_value, now) = (context::agent(agent), context::agent_now(agent, now));
            self.filter_all(&compiled, &inputs, &agent_value, &now)
                .into_iter()
                .map(|v| matches!(v, Ok(true)))
                .collect()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scripts() -> Scripts {
        Scripts::new(&ScriptSettings::default())
    }

    fn inputs(first: &str) -> Inputs {
        let mut contact = rhai::Map::new();
        contact.insert("first_name".into(), first.into());
        contact.insert("fields".into(), Dynamic::from_map(rhai::Map::new()));
        Inputs { contact: contact.into(), agent: rhai::Map::new().into(), now: rhai::Map::new().into() }
    }

    fn now() -> jiff::ZonedDateTime {
        "2026-11-29T09:30:00-06:00[America/Chicago]".parse().unwrap()
    }

    #[test]
    fn inline_templates_keep_literal_text() {
        assert_eq!(template_source("a `b` $5 ${x}"), "`a ``b`` $5 ${x}`");
        assert_eq!(template_source("$${x}"), "`${\"${\"}x}`");
        let s = scripts();
        let t =
            s.compile_inline("Hi ${contact.first_name}! `Costs` $5, \"quoted\" 'x' \\n $${literal}").unwrap();
        assert_eq!(
            s.render(&t, inputs("Ann"), &now()).unwrap(),
            "Hi Ann! `Costs` $5, \"quoted\" 'x' \\n ${literal}"
        );
    }

    #[test]
    fn bodies_without_a_template_come_back_byte_for_byte() {
        let s = scripts();
        for body in ["Price: $5 `x` \"q\" 'a' \\ {b} $ {c} ×💡", "", "line\r\nbreak"] {
            let t = s.compile_inline(body).unwrap();
            assert_eq!(s.render(&t, inputs("Ann"), &now()).unwrap(), body);
        }
    }

    #[test]
    fn the_cached_ast_never_carries_one_contacts_values_into_another() {
        let s = scripts();
        let t = s.compile_inline("Hi ${contact.first_name}").unwrap();
        assert_eq!(s.render(&t, inputs("Ann"), &now()).unwrap(), "Hi Ann");
        let again = s.compile_inline("Hi ${contact.first_name}").unwrap();
        assert_eq!(s.render(&again, inputs("Bo"), &now()).unwrap(), "Hi Bo");
    }

    #[test]
    fn missing_fields_are_empty() {
        let s = scripts();
        let t = s
            .compile_inline(
                "[${contact.fields.budget}][${contact.nickname}][${value_or(contact.nickname, \"there\")}]",
            )
            .unwrap();
        assert_eq!(s.render(&t, inputs("Ann"), &now()).unwrap(), "[][][there]");
    }

    #[test]
    fn compile_errors_have_line_and_column() {
        let s = scripts();
        let e = s.compile(Kind::Filter, "let x = 1;\nx +* 2").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.column.is_some());
        let e = s.compile_inline("Hi ${contact.first_name +}").unwrap_err();
        assert_eq!(e.line, Some(1));
        assert_eq!(
            s.compile(Kind::Filter, "unknown_var == 1").unwrap_err().line,
            Some(1),
            "strict variables"
        );
        for banned in ["eval(\"1\")", "import \"x\" as y; 1", "print(\"x\"); true", "debug(1); true"] {
            assert!(s.compile(Kind::Filter, banned).is_err(), "{banned}");
        }
    }

    #[test]
    fn runaway_scripts_fail_that_contact_only() {
        let s = scripts();
        let cases = [
            "loop { }",
            "fn f(x) { f(x + 1) } f(0)",
            "let s = \"ab\"; loop { s += s; }",
            "let a = []; loop { a.push(1); }",
            "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }",
        ];
        for src in cases {
            let f = s.compile(Kind::Filter, src).unwrap();
            let started = std::time::Instant::now();
            assert!(s.matches(&f, inputs("Ann"), &now()).is_err(), "{src}");
            assert!(started.elapsed() < Duration::from_secs(2), "{src}");
        }
    }

    #[test]
    fn filters_must_be_boolean_and_helpers_work() {
        let s = scripts();
        let f = s.compile(Kind::Filter, "contact.first_name == \"Ann\"").unwrap();
        assert!(s.matches(&f, inputs("Ann"), &now()).unwrap());
        assert!(!s.matches(&f, inputs("Bo"), &now()).unwrap());
        let f = s.compile(Kind::Filter, "\"yes\"").unwrap();
        assert!(s.matches(&f, inputs("Ann"), &now()).unwrap_err().message.contains("true or false"));
        let t = s.compile(Kind::Template, "`${greeting()}, ${title_case(\"ann LEE\")}: ${days_between(\"2026-11-01\", \"2026-11-29\")} ${days_since(\"2026-11-28\")}`").unwrap();
        assert_eq!(s.render(&t, inputs("Ann"), &now()).unwrap(), "Good morning, Ann Lee: 28 1");
    }
}
