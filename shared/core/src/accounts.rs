//! Account names: `policy/accounts.toml` maps 12-digit account ids to the names people use.
//!
//! A name rides beside the id, never instead of it: the router puts it in a finding's
//! `evidence.details.account_name` (inside the ticket event's existing contract, which allows any
//! detail), the alert shows it, the digest shows it and groups by account. Fingerprints use the
//! id alone, so renaming an account changes no ticket's identity.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::finding::Finding;
use crate::text::SafeText;

/// The names shipped with the code.
pub const ACCOUNTS_TOML: &str = include_str!("../../../policy/accounts.toml");

/// The longest account name kept (AWS allows 50 characters for an account name).
pub const MAX_ACCOUNT_NAME_CHARS: usize = 64;

/// The detail key that carries the name in a finding's evidence.
pub const ACCOUNT_NAME_DETAIL: &str = "account_name";

#[derive(Debug, thiserror::Error)]
pub enum AccountNamesError {
    #[error("accounts file is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("accounts file: unsupported version {0} (expected 1)")]
    Version(u32),
    #[error("accounts file: {key:?} {problem}")]
    Invalid { key: String, problem: &'static str },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountsFile {
    version: u32,
    #[serde(default)]
    accounts: BTreeMap<String, String>,
}

/// Account id → name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountNames {
    names: BTreeMap<String, SafeText>,
}

impl AccountNames {
    /// `policy/accounts.toml` as compiled in.
    pub fn shipped() -> Result<Self, AccountNamesError> {
        Self::parse(ACCOUNTS_TOML)
    }

    pub fn parse(toml_text: &str) -> Result<Self, AccountNamesError> {
        let file: AccountsFile = toml::from_str(toml_text)?;
        if file.version != 1 {
            return Err(AccountNamesError::Version(file.version));
        }
        let mut names = BTreeMap::new();
        for (key, name) in file.accounts {
            let bad = |problem| AccountNamesError::Invalid {
                key: key.clone(),
                problem,
            };
            if key.len() != 12 || !key.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("is not a 12-digit account id"));
            }
            let trimmed = name.trim();
            if trimmed.is_empty() {
                return Err(bad("has an empty name"));
            }
            if trimmed.chars().count() > MAX_ACCOUNT_NAME_CHARS {
                return Err(bad("has a name longer than 64 characters"));
            }
            if SafeText::new(trimmed).as_str() != trimmed {
                return Err(bad(
                    "has a name with control, invisible or bidirectional characters",
                ));
            }
            names.insert(key, SafeText::new(trimmed));
        }
        Ok(AccountNames { names })
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        AccountNames {
            names: pairs
                .into_iter()
                .map(|(id, name)| {
                    (
                        id.to_owned(),
                        SafeText::bounded(name, MAX_ACCOUNT_NAME_CHARS),
                    )
                })
                .collect(),
        }
    }

    pub fn name(&self, account: &str) -> Option<&SafeText> {
        self.names.get(account)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// `"444455556666 (payments-prod)"`, or the id alone.
    pub fn label(&self, account: &str) -> String {
        match self.name(account) {
            Some(name) => format!("{account} ({})", name.as_str()),
            None => account.to_owned(),
        }
    }

    /// Puts the account's name, if known, in the finding's evidence.
    pub fn annotate(&self, finding: &mut Finding) {
        if let Some(name) = self.name(finding.account.as_str()) {
            finding
                .evidence
                .details
                .insert(ACCOUNT_NAME_DETAIL.to_owned(), name.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_is_valid() {
        assert!(AccountNames::shipped().is_ok());
    }

    #[test]
    fn names_are_checked() {
        let ok = AccountNames::parse(
            "version = 1\n[accounts]\n\"444455556666\" = \" payments-prod \"\n",
        )
        .expect("valid");
        assert_eq!(ok.label("444455556666"), "444455556666 (payments-prod)");
        assert_eq!(ok.label("111122223333"), "111122223333");
        for (text, problem) in [
            ("version = 1\n[accounts]\n\"4444\" = \"x\"\n", "12-digit"),
            (
                "version = 1\n[accounts]\n\"44445555666a\" = \"x\"\n",
                "12-digit",
            ),
            (
                "version = 1\n[accounts]\n\"444455556666\" = \"  \"\n",
                "empty",
            ),
            (
                "version = 1\n[accounts]\n\"444455556666\" = \"pay\\u202ements\"\n",
                "control",
            ),
            (
                "version = 1\n[accounts]\n\"444455556666\" = \"pay\\nments\"\n",
                "control",
            ),
            ("version = 2\n", "version"),
            (
                "version = 1\n[accounts]\n\"444455556666\" = \"pay\"\n\"444455556666\" = \"again\"\n",
                "TOML",
            ),
        ] {
            let e = AccountNames::parse(text).expect_err(text).to_string();
            assert!(e.contains(problem), "{text}: {e}");
        }
        let long = format!(
            "version = 1\n[accounts]\n\"444455556666\" = \"{}\"\n",
            "a".repeat(65)
        );
        assert!(AccountNames::parse(&long).is_err());
    }
}
