//! Script evaluation rate (`cargo bench --bench scripts`): a typical template and a typical
//! filter over 10,000 contacts, through tidings' layer and through a bare `rhai` engine with the
//! same source and inputs, so the layer's cost is visible. One thread unless stated.

use std::time::Instant;

use rhai::{Dynamic, Engine, Scope};
use tidings::config::ScriptSettings;
use tidings::contacts::model::{Address, Contact, Source};
use tidings::domain::phone::{self, Label};
use tidings::scripts::{Inputs, Kind, Scripts, context, template_source};

const N: usize = 10_000;
const TEMPLATE: &str = "Hi ${contact.first_name}, are you still looking in ${contact.city}? I have 3 new listings under ${contact.fields.budget}. - ${agent.first_name}";
const FILTER: &str = "contact.tags.contains(\"buyer\") && contact.city == \"Chicago\"";

fn contacts() -> Vec<Contact> {
    let now = jiff::Timestamp::now();
    (0..N)
        .map(|i| Contact {
            id: i as i64,
            first_name: ["Ann", "Bo", "Carla", "Dev"][i % 4].into(),
            last_name: "Lee".into(),
            email: Some(format!("c{i}@example.com")),
            phones: vec![phone::parse(
                &format!("312-555-{:04}", i % 10_000),
                Label::Mobile,
                tidings::domain::phone::Id::US,
            )],
            tags: vec![["buyer", "seller", "sphere"][i % 3].into()],
            fields: [("budget".to_owned(), format!("{}", 300_000 + i))].into(),
            address: Address { city: Some(["Chicago", "Evanston"][i % 2].into()), ..Default::default() },
            time_zone: None,
            source: Source::Import,
            created_at: now,
            updated_at: now,
        })
        .collect()
}

/// Runs `f` three times and prints the median rate (the machine is shared and noisy).
fn rate(label: &str, mut f: impl FnMut() -> usize) {
    let mut runs: Vec<f64> = (0..3)
        .map(|_| {
            let start = Instant::now();
            let count = f();
            count as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    println!("  {label:<58} {:>9.0} evaluations/s (median of 3)", runs[1]);
}

fn main() {
    let list = contacts();
    let now: jiff::ZonedDateTime = "2026-11-29T10:00:00-06:00[America/Chicago]".parse().expect("time");
    let agent =
        rhai::serde::to_dynamic(serde_json::json!({"first_name": "Alex", "team": "Demo"})).expect("agent");
    let now_value = context::now(&now);
    let maps: Vec<Dynamic> = list.iter().map(|c| context::contact(c, None)).collect();
    let scripts = Scripts::new(&ScriptSettings::default());
    let bare = Engine::new();

    for (name, kind, source) in [("template", Kind::Template, TEMPLATE), ("filter", Kind::Filter, FILTER)] {
        println!("{name}: {source}");
        let code = if kind == Kind::Template { template_source(source) } else { source.to_owned() };
        let mut scope = Scope::new();
        scope.push("contact", Dynamic::UNIT);
        scope.push("agent", Dynamic::UNIT);
        scope.push("now", Dynamic::UNIT);
        let ast = bare.compile_with_scope(&scope, &code).expect("compile");
        {
            rate("bare rhai (Engine::new, same AST and inputs)", || {
                let mut ok = 0;
                for m in &maps {
                    let mut scope = Scope::new();
                    scope.push("contact", m.clone());
                    scope.push("agent", agent.clone());
                    scope.push("now", now_value.clone());
                    ok += bare.eval_ast_with_scope::<Dynamic>(&mut scope, &ast).is_ok() as usize;
                }
                ok
            });
        }
        let compiled = if kind == Kind::Template {
            scripts.compile_inline(source).expect("compile")
        } else {
            scripts.compile(kind, source).expect("compile")
        };
        {
            rate("tidings (sandbox, deadline, checks), contact maps prebuilt", || {
                maps.iter()
                    .filter(|m| {
                        let inputs =
                            Inputs { contact: (*m).clone(), agent: agent.clone(), now: now_value.clone() };
                        match kind {
                            Kind::Template => scripts.render(&compiled, inputs, &now).is_ok(),
                            Kind::Filter => scripts.matches(&compiled, inputs, &now).is_ok(),
                        }
                    })
                    .count()
            });
        }
        rate("tidings, building each contact map too", || {
            list.iter()
                .filter(|c| {
                    let inputs = Inputs {
                        contact: context::contact(c, None),
                        agent: agent.clone(),
                        now: now_value.clone(),
                    };
                    scripts.eval(&compiled, inputs, &now).is_ok()
                })
                .count()
        });
        if kind == Kind::Filter {
            rate("tidings filter_all over 10,000 (all cores)", || {
                scripts.filter_all(&compiled, &maps, &agent, &now).iter().filter(|r| r.is_ok()).count()
            });
        }
    }
}
