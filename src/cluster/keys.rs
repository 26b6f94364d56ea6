//! The keys of the shared buckets: `node.<id>`, `op.<id>`, `t.<ticket>`.
//!
//! A JetStream KV key allows only `[-/_=.a-zA-Z0-9]`, and a dot separates
//! tokens; ids come from the dialplan and from units (call ids), so every
//! byte outside `[-_a-zA-Z0-9]` is written `=HH` (upper-case hex). The
//! encoding is one-to-one, so a key read back gives the id it was made from.

use crate::routing::OperatorId;

use super::{NodeId, TicketId};

const NODE: &str = "node.";
const OPERATOR: &str = "op.";
const TICKET: &str = "t.";

/// `node.<id>` in `ag-nodes`.
pub fn node_key(node: &NodeId) -> String {
    format!("{NODE}{}", encode(node.as_str()))
}

/// `op.<id>` in `ag-operators`.
pub fn operator_key(operator: &OperatorId) -> String {
    format!("{OPERATOR}{}", encode(operator.as_str()))
}

/// `t.<ticket>` in `ag-tickets`.
pub fn ticket_key(ticket: &TicketId) -> String {
    format!("{TICKET}{}", encode(ticket.as_str()))
}

/// The node a `node.<id>` key names; `None` for any other key.
pub fn parse_node_key(key: &str) -> Option<NodeId> {
    key.strip_prefix(NODE).and_then(decode).map(NodeId::new)
}

/// The operator an `op.<id>` key names.
pub fn parse_operator_key(key: &str) -> Option<OperatorId> {
    key.strip_prefix(OPERATOR)
        .and_then(decode)
        .map(OperatorId::new)
}

/// The ticket a `t.<ticket>` key names.
pub fn parse_ticket_key(key: &str) -> Option<TicketId> {
    key.strip_prefix(TICKET).and_then(decode).map(TicketId::new)
}

fn encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("={byte:02X}"));
        }
    }
    out
}

fn decode(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'=' {
            let hex = encoded.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(byte);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_dots_and_at_signs_round_trip_through_one_token() {
        let ticket = TicketId::new("dc09-rx1.a@b:5060-7");
        let key = ticket_key(&ticket);
        assert!(key
            .trim_start_matches("t.")
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(&b)));
        assert_eq!(parse_ticket_key(&key), Some(ticket));
        let op = OperatorId::new("anna.berg");
        assert_eq!(parse_operator_key(&operator_key(&op)), Some(op));
        let node = NodeId::new("node-a");
        assert_eq!(node_key(&node), "node.node-a");
        assert_eq!(parse_node_key("node.node-a"), Some(node));
    }

    #[test]
    fn foreign_or_broken_keys_are_refused() {
        assert_eq!(parse_node_key("op.x"), None);
        assert_eq!(parse_ticket_key("t.=G1"), None);
        assert_eq!(parse_ticket_key("t.=4"), None);
    }
}
