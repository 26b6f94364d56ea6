//! `[[operators]]`: the people who answer, their softphone credentials,
//! skills and queues.
//!
//! An operator's id is also the SIP user name its softphones REGISTER with.
//! As for devices, passwords are never stored: `ha1_md5`/`ha1_sha256` are
//! H(id:realm:password) with the registrar's realm (`registrar.realm`), as
//! printed by `alarmgate hash-password --username <id> --realm <realm>`.

use std::collections::HashMap;

use serde::Deserialize;

use super::auth::check_ha1;
use super::validate::Findings;
use super::xref::Ids;
use super::Problem;
use crate::routing::{OperatorId, QueueId};

/// One `[[operators]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    /// Identifier in the API and events, and the SIP user name the
    /// operator's softphones register with: letters, digits, `.`, `_`, `-`,
    /// at most 64. Required, unique.
    pub id: OperatorId,
    /// Display name, e.g. `"Anna Jensen"`. Required.
    pub name: String,
    /// MD5(id:realm:password), 32 hex digits, `realm` being `registrar.realm`.
    /// Optional, but an operator needs this or `ha1_sha256`.
    pub ha1_md5: Option<String>,
    /// SHA-256(id:realm:password), 64 hex digits. Optional.
    pub ha1_sha256: Option<String>,
    /// What the operator can do (`"danish"`, `"dementia"`, ...): lowercase
    /// letters, digits and `-`. A queue's calls go only to operators that
    /// have all of the queue's skills. Default: none.
    #[serde(default)]
    pub skills: Vec<String>,
    /// The queues this operator serves, by id. Default: none (the operator
    /// only takes direct calls, such as recalls).
    #[serde(default)]
    pub queues: Vec<QueueId>,
    /// Log the operator in (state available) when a softphone registers and
    /// out when the last binding goes. Default `false`: the operator logs in
    /// through the API, so a phone left registered at an empty desk gets no
    /// alarms.
    #[serde(default)]
    pub login_on_register: bool,
}

impl Operator {
    /// Lowercases the HA1 values so the digest code can compare hex as is.
    pub(crate) fn normalise(&mut self) {
        for ha1 in [&mut self.ha1_md5, &mut self.ha1_sha256]
            .into_iter()
            .flatten()
        {
            ha1.make_ascii_lowercase();
        }
    }
}

/// True for an operator id: `[A-Za-z0-9._-]{1,64}`.
fn operator_id_ok(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Checks every operator: fields, unique ids, known queues, skills the
/// queues need.
pub(crate) fn check_operators(operators: &[Operator], ids: &Ids<'_>, out: &mut Findings) {
    let mut seen = HashMap::new();
    for (i, op) in operators.iter().enumerate() {
        let path = format!("operators[{i}]");
        check_fields(op, &path, out);
        if let Some(first) = seen.insert(op.id.as_str(), i) {
            let first = format!("operators[{first}].id");
            let value = op.id.to_string();
            out.push(format!("{path}.id"), Problem::Duplicate { value, first });
        }
        check_queue_refs(op, &path, ids, out);
    }
}

fn check_fields(op: &Operator, path: &str, out: &mut Findings) {
    if !operator_id_ok(op.id.as_str()) {
        let value = format!("{:?}", op.id.as_str());
        let expected = "1 to 64 letters, digits, `.`, `_` or `-` (the SIP user name)";
        out.push(format!("{path}.id"), Problem::Invalid { value, expected });
    }
    if op.name.trim().is_empty() {
        let value = "\"\"".to_string();
        let expected = "a display name";
        out.push(format!("{path}.name"), Problem::Invalid { value, expected });
    }
    check_ha1(path, &op.ha1_md5, &op.ha1_sha256, out);
    for (j, skill) in op.skills.iter().enumerate() {
        super::xref::check_name(skill, &format!("{path}.skills[{j}]"), out);
    }
}

fn check_queue_refs(op: &Operator, path: &str, ids: &Ids<'_>, out: &mut Findings) {
    for (j, q) in op.queues.iter().enumerate() {
        let key = format!("{path}.queues[{j}]");
        if op.queues[..j].contains(q) {
            let detail = format!("lists queue {:?} twice", q.as_str());
            out.push(key, Problem::Conflict { detail });
            continue;
        }
        let Some(queue) = ids.queue(q.as_str()) else {
            let detail = format!("no [[queues]] entry has id {:?}", q.as_str());
            out.push(key, Problem::Conflict { detail });
            continue;
        };
        let missing: Vec<&str> = queue
            .skills
            .iter()
            .filter(|s| !op.skills.contains(s))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let detail = format!(
                "queue {:?} needs skills the operator lacks: {}",
                q.as_str(),
                missing.join(", ")
            );
            out.push(key, Problem::Conflict { detail });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::xref::tests::{ids_for, queue};

    pub(crate) fn operator(id: &str, queues: &[&str]) -> Operator {
        Operator {
            id: OperatorId::new(id),
            name: format!("Operator {id}"),
            ha1_md5: Some("0".repeat(32)),
            ha1_sha256: None,
            skills: Vec::new(),
            queues: queues.iter().map(|q| QueueId::new(*q)).collect(),
            login_on_register: false,
        }
    }

    fn keys(out: &Findings) -> Vec<&str> {
        out.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn field_and_reference_checks() {
        let mut skilled = queue("q2", "t");
        skilled.skills = vec!["danish".into()];
        let queues = [queue("q1", "t"), skilled];
        let mut bad = operator("a b", &["q1", "q1", "nope", "q2"]);
        bad.name = " ".into();
        bad.ha1_md5 = None;
        bad.skills = vec!["Danish".into()];
        let ops = [operator("anna", &["q1"]), bad, operator("anna", &[])];
        let mut out = Findings::default();
        check_operators(&ops, &ids_for(&queues), &mut out);
        assert_eq!(
            keys(&out),
            [
                "operators[1].id",
                "operators[1].name",
                "operators[1].ha1_md5",
                "operators[1].skills[0]",
                "operators[1].queues[1]",
                "operators[1].queues[2]",
                "operators[1].queues[3]",
                "operators[2].id",
            ]
        );
    }

    #[test]
    fn ids_and_normalise() {
        assert!(operator_id_ok("anna.jensen_2-x"));
        assert!(!operator_id_ok(&"a".repeat(65)));
        assert!(!operator_id_ok("a:b"));
        let mut op = operator("a", &[]);
        op.ha1_md5 = Some("AB".repeat(16));
        op.normalise();
        assert_eq!(op.ha1_md5, Some("ab".repeat(16)));
    }
}
