//! The tenants the call core routes by: the dialplan's list and an index
//! by DID, so the tenant of an INVITE (or a SCAIP MESSAGE) is one hash
//! lookup, not a scan of every tenant's DIDs.

use std::collections::HashMap;

use super::policy::TenantPolicy;

/// Tenants in dialplan order, indexed by DID (the first tenant naming a
/// DID owns it; the config refuses a DID named twice).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tenants {
    list: Vec<TenantPolicy>,
    by_did: HashMap<String, usize>,
}

impl Tenants {
    /// The tenant whose DIDs contain `did`, exactly.
    pub fn for_did(&self, did: &str) -> Option<&TenantPolicy> {
        self.by_did.get(did).and_then(|i| self.list.get(*i))
    }

    /// Every tenant, in dialplan order.
    pub fn iter(&self) -> impl Iterator<Item = &TenantPolicy> {
        self.list.iter()
    }
}

impl From<Vec<TenantPolicy>> for Tenants {
    fn from(list: Vec<TenantPolicy>) -> Self {
        let mut by_did = HashMap::new();
        for (i, tenant) in list.iter().enumerate() {
            for did in &tenant.dids {
                by_did.entry(did.clone()).or_insert(i);
            }
        }
        Self { list, by_did }
    }
}

impl FromIterator<TenantPolicy> for Tenants {
    fn from_iter<I: IntoIterator<Item = TenantPolicy>>(iter: I) -> Self {
        iter.into_iter().collect::<Vec<_>>().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::sdp::Codec;

    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// The scan the index replaced.
    fn scan<'a>(list: &'a [TenantPolicy], did: &str) -> Option<&'a TenantPolicy> {
        list.iter().find(|t| t.dids.iter().any(|d| d == did))
    }

    #[test]
    fn the_did_index_matches_a_scan_of_every_tenant() {
        for seed in [5_u64, 0xabcd_ef01, 0x1234_5678] {
            let mut rng = Rng(seed);
            let list: Vec<TenantPolicy> = (0..40)
                .map(|t| TenantPolicy {
                    id: format!("t{t}").as_str().into(),
                    // DIDs drawn from a small space: some are named twice.
                    dids: (0..rng.below(6))
                        .map(|_| format!("+45{}", rng.below(150)))
                        .collect(),
                    codecs: vec![Codec::Pcma],
                })
                .collect();
            let tenants = Tenants::from(list.clone());
            for _ in 0..2_000 {
                let did = format!("+45{}", rng.below(200));
                let want = scan(&list, &did).map(|t| &t.id);
                assert_eq!(tenants.for_did(&did).map(|t| &t.id), want, "{did}");
            }
            assert_eq!(tenants.iter().count(), 40);
        }
    }
}
