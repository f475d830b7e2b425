//! The sample a script is tried on when none is given: `tidings script run`, and the check a
//! filter script passes when it is saved (it must run on this contact). The demo agent is the
//! same (`demo.rs`).

/// The demo agent's email and team, as `tidings serve --demo` makes them.
pub const AGENT_EMAIL: &str = "agent@demo.tidings.test";
pub const TEAM: &str = "Demo Realty";

/// The contact `tidings script run` uses when given none.
pub fn contact() -> crate::contacts::model::ContactInput {
    use crate::contacts::model::{Address, ContactInput, PhoneInput};
    ContactInput {
        first_name: Some("Jane".into()),
        last_name: Some("Doe".into()),
        email: Some("jane@example.com".into()),
        phones: vec![PhoneInput { number: "+13125550142".into(), label: Default::default() }],
        tags: vec!["buyer".into()],
        fields: [("budget".to_owned(), "450000".to_owned())].into(),
        address: Some(Address {
            city: Some("Chicago".into()),
            state: Some("IL".into()),
            zip: Some("60614".into()),
            country: Some("US".into()),
            ..Default::default()
        }),
        time_zone: None,
    }
}

/// What a script sees for `input`, with the demo agent and the current time in the default zone.
pub fn inputs(
    settings: &crate::config::Settings,
    input: crate::contacts::model::ContactInput,
) -> anyhow::Result<(crate::scripts::Inputs, jiff::ZonedDateTime)> {
    use crate::accounts::model::{Agent, Country, LimitOverrides, Role, TeamRef, TimeZoneName};
    use crate::scripts::context;
    let country = Country::parse(&settings.defaults.country).map_err(anyhow::Error::msg)?;
    let new = input
        .validate(&country, crate::contacts::model::Source::Manual)
        .map_err(|e| anyhow::anyhow!("the contact's {}: {}", e.field, e.reason))?;
    let now = jiff::Timestamp::now();
    let contact = crate::contacts::model::Contact {
        id: 1,
        first_name: new.first_name,
        last_name: new.last_name,
        email: new.email,
        phones: new.phones,
        tags: new.tags,
        fields: new.fields,
        address: new.address,
        time_zone: new.time_zone,
        source: new.source,
        created_at: now,
        updated_at: now,
    };
    let agent = Agent {
        id: 1,
        email: AGENT_EMAIL.into(),
        name: "Alex Agent".into(),
        role: Role::Agent,
        team: Some(TeamRef { id: 1, name: TEAM.into() }),
        country,
        time_zone: TimeZoneName::parse(&settings.defaults.time_zone).map_err(anyhow::Error::msg)?,
        sending_number: settings.twilio.sandbox_numbers.first().cloned(),
        limits: LimitOverrides::default(),
        created_at: now,
        updated_at: now,
    };
    let zoned = context::agent_now(&agent, now);
    let inputs = crate::scripts::Inputs {
        contact: context::contact(&contact, None),
        agent: context::agent(&agent),
        now: context::now(&zoned),
    };
    Ok((inputs, zoned))
}
