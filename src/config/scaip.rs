//! `[scaip]`: SCAIP alarms (SIP MESSAGE `application/scaip+xml`) on the SIP
//! listeners, `[[scaip.tenants]]` for a tenant's voice-call policy and
//! heartbeat interval, `[[scaip.units]]` for units known by their `cid`.
//!
//! A MESSAGE is admitted like an INVITE (trunk or digest) and belongs to
//! the tenant of its Request-URI number; a unit listed in `[[scaip.units]]`
//! belongs to the tenant given there whatever number it sends to.

use serde::Deserialize;
use std::time::Duration;

use super::validate::Findings;
use super::Problem;

/// `[scaip]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScaipConfig {
    /// Receive SCAIP MESSAGEs. Off, MESSAGE is answered 405. Default `true`.
    pub enabled: bool,
    /// Seconds an alarm that wants voice waits for the unit's call before
    /// it goes to the operators as a data alarm (1 to 600). Default 60.
    pub link_window_s: u64,
    /// `hbi` (seconds) in answers to heartbeats; 0 sends none. Default 0.
    pub hbi_s: u32,
    /// `mre` for alarms that want voice: 1 duplex, 2 microphone only,
    /// 3 speaker only. Default 1.
    pub mre: u8,
    /// `cre`: 61 the unit calls its predefined number, 62 it calls `tnu`.
    /// Default 61.
    pub cre: u8,
    /// `tnu`: the number the unit calls with `cre = 62` (required then).
    pub tnu: Option<String>,
    /// Keep the Contact ID receiver (handshake, DTMF, kissoff) running on
    /// a unit's voice call once it is linked to its SCAIP alarm. Off, it
    /// stops at the link: the unit talks, it sends no DTMF alarms, and
    /// in-call commands go to it undisturbed. Default `false`.
    pub contact_id_on_voice: bool,
    /// Per-tenant overrides of `hbi_s`, `mre`, `cre`, `tnu`.
    pub tenants: Vec<ScaipTenant>,
    /// Units known by their `cid`.
    pub units: Vec<ScaipUnit>,
}

impl Default for ScaipConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            link_window_s: 60,
            hbi_s: 0,
            mre: 1,
            cre: 61,
            tnu: None,
            contact_id_on_voice: false,
            tenants: Vec::new(),
            units: Vec::new(),
        }
    }
}

/// `[[scaip.tenants]]`: a tenant's own answers (unset keys take `[scaip]`'s).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaipTenant {
    /// The tenant id (a `[[tenants]]` id).
    pub tenant: String,
    /// `hbi` in seconds (0: none).
    pub hbi_s: Option<u32>,
    /// `mre`.
    pub mre: Option<u8>,
    /// `cre`.
    pub cre: Option<u8>,
    /// `tnu`.
    pub tnu: Option<String>,
}

/// `[[scaip.units]]`: one unit by its `cid`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaipUnit {
    /// The unit's `cid`, as it sends it.
    pub cid: String,
    /// Its tenant (a `[[tenants]]` id).
    pub tenant: String,
    /// Numbers its voice call may come from (caller id), to link the call
    /// when the unit's `crd` does not say. Default none.
    #[serde(default)]
    pub numbers: Vec<String>,
}

impl ScaipConfig {
    /// The link window.
    pub fn link_window(&self) -> Duration {
        Duration::from_secs(self.link_window_s)
    }

    pub(crate) fn check(&self, tenant_ids: &[&str], out: &mut Findings) {
        if !(1..=600).contains(&self.link_window_s) {
            let value = self.link_window_s.to_string();
            let expected = "1 to 600 seconds";
            out.push("scaip.link_window_s", Problem::Invalid { value, expected });
        }
        check_policy(
            "scaip",
            Some(self.mre),
            Some(self.cre),
            self.tnu.as_deref(),
            out,
        );
        for (i, t) in self.tenants.iter().enumerate() {
            let at = format!("scaip.tenants[{i}]");
            check_tenant(&t.tenant, tenant_ids, &format!("{at}.tenant"), out);
            let tnu = t.tnu.as_deref().or(self.tnu.as_deref());
            let cre = t.cre.or(Some(self.cre));
            check_policy(&at, t.mre, cre, tnu, out);
        }
        let mut seen = std::collections::HashMap::new();
        for (i, u) in self.units.iter().enumerate() {
            let at = format!("scaip.units[{i}]");
            check_tenant(&u.tenant, tenant_ids, &format!("{at}.tenant"), out);
            if u.cid.trim().is_empty() {
                let because = "for every unit";
                out.push(format!("{at}.cid"), Problem::Missing { because });
            }
            if let Some(first) = seen.insert(u.cid.clone(), format!("{at}.cid")) {
                let value = u.cid.clone();
                out.push(format!("{at}.cid"), Problem::Duplicate { value, first });
            }
        }
    }
}

fn check_tenant(id: &str, tenant_ids: &[&str], key: &str, out: &mut Findings) {
    if !tenant_ids.contains(&id) {
        let value = id.to_owned();
        let expected = "the id of a [[tenants]] entry";
        out.push(key, Problem::Invalid { value, expected });
    }
}

fn check_policy(at: &str, mre: Option<u8>, cre: Option<u8>, tnu: Option<&str>, out: &mut Findings) {
    if let Some(mre) = mre.filter(|m| !(1..=3).contains(m)) {
        let (value, expected) = (
            mre.to_string(),
            "1 duplex, 2 microphone only, 3 speaker only",
        );
        out.push(format!("{at}.mre"), Problem::Invalid { value, expected });
    }
    match cre {
        Some(62) if tnu.is_none_or(|t| t.trim().is_empty()) => {
            let because = "when cre = 62 (the unit calls tnu)";
            out.push(format!("{at}.tnu"), Problem::Missing { because });
        }
        Some(61 | 62) | None => {}
        Some(cre) => {
            let (value, expected) = (cre.to_string(), "61 (predefined number) or 62 (tnu)");
            out.push(format!("{at}.cre"), Problem::Invalid { value, expected });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load_str;

    const BASE: &str = "[[trunks]]\nname = \"t\"\nallow = [\"127.0.0.1\"]\n\
        [[tenants]]\nid = \"demo\"\nname = \"Demo\"\ndids = [\"112\"]\n";

    fn errors(extra: &str) -> Vec<String> {
        match load_str(&format!("{BASE}{extra}"), "t.toml") {
            Ok(_) => Vec::new(),
            Err(e) => e
                .errors
                .iter()
                .map(|e| format!("{}:{} {}", e.line, e.key, e.message()))
                .collect(),
        }
    }

    #[test]
    fn defaults_and_a_full_section_load() {
        let c = load_str(BASE, "t.toml").unwrap();
        assert!(c.scaip.enabled);
        assert_eq!(c.scaip.link_window().as_secs(), 60);
        let extra = "[scaip]\nlink_window_s = 30\nhbi_s = 3600\ncre = 62\ntnu = \"+4570000000\"\n\
            [[scaip.tenants]]\ntenant = \"demo\"\nmre = 2\n\
            [[scaip.units]]\ncid = \"26317\"\ntenant = \"demo\"\nnumbers = [\"+4520304050\"]\n";
        assert_eq!(errors(extra), Vec::<String>::new());
    }

    #[test]
    fn bad_values_are_reported_with_their_line() {
        let extra = "[scaip]\nlink_window_s = 0\ncre = 62\nmre = 9\n\
            [[scaip.units]]\ncid = \"1\"\ntenant = \"nobody\"\n\
            [[scaip.units]]\ncid = \"1\"\ntenant = \"demo\"\n";
        let got = errors(extra).join("\n");
        for want in [
            "scaip.link_window_s",
            "scaip.tnu",
            "scaip.mre",
            "scaip.units[0].tenant",
            "scaip.units[1].cid",
        ] {
            assert!(got.contains(want), "{want} missing in:\n{got}");
        }
        assert!(errors("[scaip]\nbogus = 1\n").join("").contains("bogus"));
    }
}
