//! Which tenant a DC-09 unit belongs to, and its key: an ordered list of
//! rules matching the receiver number (`R`), line prefix (`L`) and account
//! (exactly, by prefix, or any), first match wins; an account no rule
//! matches is refused with `NAK` or accepted into a default tenant, as the
//! dialplan says.

use super::crypto::Key;
use super::types::HexId;
use crate::labels::TenantId;

/// Which accounts a rule covers (compared case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountMatch {
    /// Every account.
    Any,
    /// One account.
    Exact(String),
    /// Accounts starting with this.
    Prefix(String),
}

/// One `[[dc09.accounts]]` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRule {
    /// The accounts covered.
    pub account: AccountMatch,
    /// Only frames with this receiver number, when set.
    pub receiver: Option<String>,
    /// Only frames with this line prefix, when set.
    pub line: Option<String>,
    /// The tenant the units belong to.
    pub tenant: TenantId,
    /// The AES key of encrypted frames; none: encrypted frames get `DUH`.
    pub key: Option<Key>,
    /// Plain frames are refused (`DUH`): the units must encrypt.
    pub require_encryption: bool,
}

/// What to do with an account no rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnknownAccount {
    /// Answer `NAK` (pysiaalarm's behaviour); nothing is stored.
    Nak,
    /// Store and acknowledge plain frames into this tenant.
    Accept(TenantId),
}

/// The unit a frame comes from, as the directory sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit<'a> {
    /// Its tenant.
    pub tenant: &'a TenantId,
    /// Its key, if any.
    pub key: Option<&'a Key>,
    /// Plain frames refused.
    pub require_encryption: bool,
    /// False when accepted by the unknown-account policy.
    pub known: bool,
}

/// The rules and the unknown-account policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    /// Rules, first match wins.
    pub rules: Vec<AccountRule>,
    /// Accounts no rule covers.
    pub unknown: UnknownAccount,
}

fn same(want: &Option<String>, got: Option<&HexId>) -> bool {
    match want {
        None => true,
        Some(w) => got.is_some_and(|g| g.as_str().eq_ignore_ascii_case(w)),
    }
}

impl AccountRule {
    fn covers(&self, receiver: Option<&HexId>, line: Option<&HexId>, account: &str) -> bool {
        let account = account.to_ascii_uppercase();
        let by_account = match &self.account {
            AccountMatch::Any => true,
            AccountMatch::Exact(a) => a.eq_ignore_ascii_case(&account),
            AccountMatch::Prefix(p) => account.starts_with(&p.to_ascii_uppercase()),
        };
        by_account && same(&self.receiver, receiver) && same(&self.line, line)
    }
}

impl Directory {
    /// The unit behind `account` on `receiver`/`line`; `None`: answer `NAK`.
    pub fn lookup(
        &self,
        receiver: Option<&HexId>,
        line: Option<&HexId>,
        account: &str,
    ) -> Option<Unit<'_>> {
        if let Some(rule) = self
            .rules
            .iter()
            .find(|r| r.covers(receiver, line, account))
        {
            return Some(Unit {
                tenant: &rule.tenant,
                key: rule.key.as_ref(),
                require_encryption: rule.require_encryption,
                known: true,
            });
        }
        match &self.unknown {
            UnknownAccount::Nak => None,
            UnknownAccount::Accept(tenant) => Some(Unit {
                tenant,
                key: None,
                require_encryption: false,
                known: false,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(account: AccountMatch, line: Option<&str>, tenant: &str) -> AccountRule {
        AccountRule {
            account,
            receiver: None,
            line: line.map(str::to_owned),
            tenant: TenantId::from(tenant),
            key: None,
            require_encryption: false,
        }
    }

    #[test]
    fn first_match_wins_then_policy() {
        let dir = Directory {
            rules: vec![
                rule(AccountMatch::Exact("12ab".into()), None, "a"),
                rule(AccountMatch::Prefix("12".into()), Some("2"), "b"),
                rule(AccountMatch::Any, Some("3"), "c"),
            ],
            unknown: UnknownAccount::Nak,
        };
        let l = |s: &str| HexId::parse(s, 6);
        let tenant = |line: &str, acct: &str| {
            dir.lookup(None, l(line).as_ref(), acct)
                .map(|u| u.tenant.as_str().to_owned())
        };
        assert_eq!(tenant("2", "12AB").as_deref(), Some("a"));
        assert_eq!(tenant("2", "1299").as_deref(), Some("b"));
        assert_eq!(tenant("1", "1299"), None);
        assert_eq!(tenant("3", "77").as_deref(), Some("c"));
        let open = Directory {
            unknown: UnknownAccount::Accept(TenantId::from("demo")),
            ..dir
        };
        let unit = open.lookup(None, None, "5555").unwrap();
        assert!(!unit.known);
        assert_eq!(unit.tenant.as_str(), "demo");
    }
}
