//! What a Contact ID event needs from the centre: a person on the line, a
//! technical ticket, a test tick, or the cancel of an earlier alarm.
//!
//! Defaults follow the gateway meanings of alarm-protocols.md §1.5 (SIA DC-05
//! code families). Rules are data (serde, so a tenant dialplan can supply
//! overrides); config parsing lives elsewhere. First matching rule wins; an
//! event no rule matches gets the fallback class, `Voice` by default, because
//! an unknown event should reach a person rather than be filed away.

use serde::{Deserialize, Serialize};

use super::contact_id::ContactIdMessage;
use super::types::{EventCode, Qualifier};

/// How the centre handles an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlarmClass {
    /// A person must speak with the citizen (alarm, 606 listen-in).
    Voice,
    /// Settled by the system: troubles, low battery, supervision.
    Technical,
    /// Periodic or manual test report.
    Test,
    /// The citizen cancelled an alarm (406).
    Cancel,
}

/// Which event codes a rule covers. Codes compare as 3-digit Ademco text,
/// which orders like hex (`0-9` < `B-F`), never as decimal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum CodeMatch {
    /// One code.
    Exact(EventCode),
    /// An inclusive range.
    Range {
        /// First code.
        from: EventCode,
        /// Last code.
        to: EventCode,
    },
}

impl CodeMatch {
    /// True when `code` is covered.
    pub fn matches(&self, code: &EventCode) -> bool {
        match self {
            CodeMatch::Exact(c) => c == code,
            CodeMatch::Range { from, to } => from <= code && code <= to,
        }
    }
}

/// One rule: codes, an optional qualifier, and the class they get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassRule {
    /// The codes the rule covers.
    pub codes: CodeMatch,
    /// Only this qualifier (1 new, 3 restore, 6 still present); any if absent.
    #[serde(default)]
    pub qualifier: Option<Qualifier>,
    /// The class of a matching event.
    pub class: AlarmClass,
}

impl ClassRule {
    /// True when the rule covers `msg`.
    pub fn matches(&self, msg: &ContactIdMessage) -> bool {
        self.matches_event(&msg.event, &msg.qualifier)
    }

    /// True when the rule covers an event given by code and qualifier.
    pub fn matches_event(&self, event: &EventCode, qualifier: &Qualifier) -> bool {
        self.codes.matches(event) && self.qualifier.as_ref().is_none_or(|q| q == qualifier)
    }
}

/// An ordered rule list with a fallback class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classifier {
    rules: Vec<ClassRule>,
    fallback: AlarmClass,
}

impl Classifier {
    /// A classifier from rules (first match wins) and a fallback class.
    pub fn new(rules: Vec<ClassRule>, fallback: AlarmClass) -> Self {
        Self { rules, fallback }
    }

    /// `overrides` first, then these rules: how a tenant plan refines defaults.
    pub fn with_overrides(mut self, overrides: Vec<ClassRule>) -> Self {
        let mut rules = overrides;
        rules.append(&mut self.rules);
        self.rules = rules;
        self
    }

    /// The class of `msg`.
    pub fn classify(&self, msg: &ContactIdMessage) -> AlarmClass {
        self.rules
            .iter()
            .find(|r| r.matches(msg))
            .map_or(self.fallback, |r| r.class)
    }

    /// The class of an event carried without a whole Contact ID message
    /// (DC-09 `ADM-CID`, a SIA code's Contact ID twin).
    pub fn classify_event(&self, event: &EventCode, qualifier: &Qualifier) -> AlarmClass {
        self.rules
            .iter()
            .find(|r| r.matches_event(event, qualifier))
            .map_or(self.fallback, |r| r.class)
    }

    /// The class of an event no rule can see (a SIA code with no Contact
    /// ID twin): the fallback.
    pub fn fallback(&self) -> AlarmClass {
        self.fallback
    }

    /// The rules in order.
    pub fn rules(&self) -> &[ClassRule] {
        &self.rules
    }
}

impl Default for Classifier {
    /// [`default_rules`] with fallback `Voice`.
    fn default() -> Self {
        Self::new(default_rules(), AlarmClass::Voice)
    }
}

fn code(text: &'static str) -> Option<EventCode> {
    EventCode::new(text).ok()
}

fn rule(from: &'static str, to: &'static str, class: AlarmClass) -> Option<ClassRule> {
    let codes = if from == to {
        CodeMatch::Exact(code(from)?)
    } else {
        CodeMatch::Range {
            from: code(from)?,
            to: code(to)?,
        }
    };
    Some(ClassRule {
        codes,
        qualifier: None,
        class,
    })
}

/// The §1.5 defaults: 1xx alarms (medical, pendant, fail-to-report-in, fire,
/// panic, gas…) → voice; 3xx → technical; 601/602/603/608 → test; 406 →
/// cancel; 606, 641, 654 → voice. 102 (a missed check-in) goes to a person
/// in social care, so it stays in the 1xx voice block.
pub fn default_rules() -> Vec<ClassRule> {
    use AlarmClass::*;
    [
        rule("100", "1FF", Voice),
        rule("300", "3FF", Technical),
        rule("406", "406", Cancel),
        rule("601", "603", Test),
        rule("608", "608", Test),
        rule("606", "606", Voice),
        rule("641", "641", Voice),
        rule("654", "654", Voice),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarm::contact_id::parse;

    fn class_of(c: &Classifier, event: &str, q: &str) -> AlarmClass {
        let first15 = format!("123418{q}{event}01001");
        let check = crate::alarm::contact_id::check_digit(&first15).unwrap_or('?');
        let msg = parse(&format!("{first15}{check}")).unwrap_or_else(|e| panic!("{e}"));
        c.classify(&msg)
    }

    #[test]
    fn default_rule_set_matches_the_reference_table() {
        let c = Classifier::default();
        use AlarmClass::*;
        let table = [
            ("100", Voice),
            ("101", Voice),
            ("102", Voice),
            ("110", Voice),
            ("120", Voice),
            ("162", Voice),
            ("301", Technical),
            ("302", Technical),
            ("384", Technical),
            ("393", Technical),
            ("406", Cancel),
            ("601", Test),
            ("602", Test),
            ("603", Test),
            ("608", Test),
            ("606", Voice),
            ("641", Voice),
            ("654", Voice),
            ("999", Voice),
        ];
        for (event, class) in table {
            assert_eq!(class_of(&c, event, "1"), class, "{event}");
        }
    }

    /// Hex codes sort after 9xx inside a range, never by decimal value.
    #[test]
    fn ranges_compare_as_ademco_hex() {
        let c = Classifier::default();
        assert_eq!(class_of(&c, "3*#", "1"), AlarmClass::Technical); // 3BC
        assert_eq!(class_of(&c, "1C0", "1"), AlarmClass::Voice); // 1F0
    }

    /// A tenant override with a qualifier: pendant restores are technical.
    #[test]
    fn overrides_with_qualifier_from_serde() {
        let json = r#"[{"codes":{"range":{"from":"100","to":"101"}},"qualifier":"3","class":"technical"}]"#;
        let rules: Vec<ClassRule> = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        let c = Classifier::default().with_overrides(rules);
        assert_eq!(class_of(&c, "101", "3"), AlarmClass::Technical);
        assert_eq!(class_of(&c, "101", "1"), AlarmClass::Voice);
        assert_eq!(c.rules().len(), default_rules().len() + 1);
        let bad = serde_json::from_str::<Vec<ClassRule>>(
            r#"[{"codes":{"exact":"10A"},"class":"voice"}]"#,
        );
        assert!(bad.is_err());
        let unknown = r#"[{"codes":{"exact":"101"},"class":"voice","colour":"red"}]"#;
        assert!(serde_json::from_str::<Vec<ClassRule>>(unknown).is_err());
    }
}
