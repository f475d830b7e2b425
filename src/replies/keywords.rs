//! What an inbound text asks for (R-IN-4): the carrier keywords, and opt-outs in plain language,
//! without mistaking ordinary messages ("don't stop", "the bus stop", "stop by at 5"). Pure.

/// What a reply means for consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// `phrase` is what matched: a keyword (`STOP`) or plain words (`wrong number`).
    OptOut {
        phrase: String,
    },
    OptIn {
        keyword: String,
    },
    Help,
    Nothing,
}

const OPT_OUT: &[&str] = &["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"];
const OPT_IN: &[&str] = &["START", "YES", "UNSTOP"];
const HELP: &[&str] = &["HELP", "INFO"];

/// Plain-language opt-outs, as word sequences found anywhere in the text.
const PHRASES: &[&[&str]] = &[
    &["stop", "texting"],
    &["stop", "text"],
    &["stop", "messaging"],
    &["stop", "sending"],
    &["stop", "contacting"],
    &["stop", "the", "texts"],
    &["stop", "these", "texts"],
    &["stop", "these", "messages"],
    &["unsubscribe"],
    &["remove", "me"],
    &["take", "me", "off"],
    &["wrong", "number"],
    &["do", "not", "text"],
    &["do", "not", "contact"],
    &["dont", "text"],
    &["dont", "contact"],
    &["no", "more", "texts"],
    &["no", "more", "messages"],
    &["opt", "out"],
    &["opt", "me", "out"],
    &["leave", "me", "alone"],
    &["lose", "my", "number"],
    &["delete", "my", "number"],
];

/// Words that turn a following "stop …" into its opposite ("don't stop texting me").
const NEGATIONS: &[&str] = &["dont", "not", "never", "cant", "wont", "didnt"];

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\u{2019}' || c == '\''))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().replace(['\'', '\u{2019}'], ""))
        .collect()
}

pub fn classify(body: &str) -> Intent {
    // The whole text is a keyword (any case, surrounding punctuation ignored), as carriers read it.
    let bare: String = body.trim().trim_matches(|c: char| !c.is_alphanumeric()).to_uppercase();
    if OPT_OUT.contains(&bare.as_str()) {
        return Intent::OptOut { phrase: bare };
    }
    if OPT_IN.contains(&bare.as_str()) {
        return Intent::OptIn { keyword: bare };
    }
    if HELP.contains(&bare.as_str()) {
        return Intent::Help;
    }
    let w = words(body);
    // A keyword with a courtesy: "stop please", "please stop", "STOP!!! thanks".
    let courtesy = ["please", "pls", "plz", "thanks", "thank", "you", "now", "it"];
    if w.iter().any(|x| x == "stop" || x == "unsubscribe")
        && w.iter().all(|x| x == "stop" || x == "unsubscribe" || courtesy.contains(&x.as_str()))
    {
        return Intent::OptOut { phrase: w.join(" ") };
    }
    for phrase in PHRASES {
        for start in 0..w.len() {
            if w.len() - start < phrase.len() || !phrase.iter().zip(&w[start..]).all(|(p, x)| p == x) {
                continue;
            }
            let negated = start > 0 && NEGATIONS.contains(&w[start - 1].as_str());
            if negated && phrase[0] == "stop" {
                continue;
            }
            return Intent::OptOut { phrase: phrase.join(" ") };
        }
    }
    Intent::Nothing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(text: &str) -> Option<String> {
        match classify(text) {
            Intent::OptOut { phrase } => Some(phrase),
            _ => None,
        }
    }

    #[test]
    fn carrier_keywords() {
        for k in [
            "STOP",
            "stop",
            " Stop! ",
            "STOPALL",
            "Unsubscribe",
            "cancel",
            "END",
            "quit.",
            "REVOKE",
            "optout",
        ] {
            assert!(out(k).is_some(), "{k}");
        }
        for k in ["START", "yes", "Unstop"] {
            assert!(matches!(classify(k), Intent::OptIn { .. }), "{k}");
        }
        assert_eq!(classify("help"), Intent::Help);
        assert_eq!(classify("INFO?"), Intent::Help);
    }

    #[test]
    fn plain_language_opt_outs_name_the_phrase() {
        let cases = [
            ("please stop texting me", "stop texting"),
            ("Stop texting me!!", "stop texting"),
            ("stop please", "stop please"),
            ("Please STOP", "please stop"),
            ("unsubscribe me", "unsubscribe"),
            ("Remove me from your list", "remove me"),
            ("take me off this list thanks", "take me off"),
            ("wrong number", "wrong number"),
            ("Sorry, wrong number.", "wrong number"),
            ("Don't text me again", "dont text"),
            ("do not contact me", "do not contact"),
            ("I want to opt out", "opt out"),
            ("no more texts please", "no more texts"),
            ("Lose my number", "lose my number"),
        ];
        for (text, phrase) in cases {
            assert_eq!(out(text).as_deref(), Some(phrase), "{text}");
        }
    }

    #[test]
    fn ordinary_messages_are_not_opt_outs() {
        for text in [
            "don't stop",
            "Don't stop texting me, I love the updates",
            "I'm at the bus stop",
            "Can you stop by at 5?",
            "We'll stop at the open house on our way",
            "can't stop thinking about that kitchen",
            "yes please, Saturday works",
            "What's the end date of the listing?",
            "Sounds good",
            "",
        ] {
            assert_eq!(out(text), None, "{text}");
        }
    }
}
