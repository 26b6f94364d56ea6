//! `[dc09]`: the shipped sections load, and every broken key is reported
//! at its line.

use super::*;

use super::tests_support::{errors, BASE};

#[test]
fn default_dialplan_receives_dc09_for_any_account_with_a_dev_key() {
    let config = load_default().unwrap();
    let dc09 = config.dc09.as_ref().unwrap();
    let transports: Vec<_> = dc09
        .listen
        .iter()
        .map(|l| (l.transport, l.address.port()))
        .collect();
    assert_eq!(
        transports,
        [(Dc09Transport::Tcp, 12000), (Dc09Transport::Udp, 12000)]
    );
    let rc = dc09.receiver_config();
    let unit = rc.directory.lookup(None, None, "424242").unwrap();
    assert_eq!(unit.tenant.as_str(), "demo");
    assert_eq!(unit.key.map(|k| k.bits()), Some(256));
}

#[test]
fn broken_keys_point_at_their_lines() {
    let text = format!(
        "{BASE}
[dc09]
unknown_account = \"accept\"
first_frame_s = 0
[[dc09.listen]]
address = \"127.0.0.1:12000\"
transport = \"udp\"
[[dc09.accounts]]
account = \"12\"
prefix = \"1\"
line = \"XYZ\"
tenant = \"nowhere\"
key = \"short\"
key_format = \"ascii\"
"
    );
    assert_eq!(
        errors(&text),
        [
            (10, "dc09.default_tenant".to_string()),
            (12, "dc09.first_frame_s".to_string()),
            (18, "dc09.accounts[0].prefix".to_string()),
            (19, "dc09.accounts[0].line".to_string()),
            (20, "dc09.accounts[0].tenant".to_string()),
            (21, "dc09.accounts[0].key".to_string()),
        ]
    );
}

#[test]
fn unknown_keys_and_transports_are_refused() {
    let text = format!("{BASE}\n[dc09]\nport = 1\n");
    assert_eq!(errors(&text)[0].0, 10); // the table that holds it
    let text = format!(
        "{BASE}\n[dc09]\n[[dc09.listen]]\naddress = \"127.0.0.1:1\"\ntransport = \"sctp\"\n"
    );
    assert_eq!(errors(&text)[0].0, 13);
}
