//! The vault (SPEC §5): AES-256-GCM with a fresh nonce per seal and the record's key
//! bound in as associated data, so a ciphertext copied onto another record, or into
//! another slot of the same record, fails to open.
//!
//! A sealed value is the text `keyid:base64(nonce ‖ ciphertext ‖ tag)`; the key id
//! lets several keys be loaded at once for rotation.

use std::collections::HashMap;
use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use secrecy::SecretString;

use crate::record_key::RecordKey;

const NONCE_LEN: usize = 12;
const KEY_LEN: usize = 32;
const MAX_KEY_ID_LEN: usize = 32;

/// Which secret of a record a sealed value holds; part of the associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    ClientSecret,
    DetailsSecrets,
    AccessToken,
    RefreshToken,
    PkceVerifier,
    /// A token's provider values (SPEC §11), kept encrypted like the token.
    ProviderValues,
}

impl Slot {
    fn name(self) -> &'static str {
        match self {
            Self::ClientSecret => "client_secret",
            Self::DetailsSecrets => "details_secrets",
            Self::AccessToken => "access_token",
            Self::RefreshToken => "refresh_token",
            Self::PkceVerifier => "pkce_verifier",
            Self::ProviderValues => "provider_values",
        }
    }
}

/// A malformed `VAULT_KEYS`; the message names the entry, never key material.
#[derive(Debug, thiserror::Error)]
pub enum VaultConfigError {
    #[error("VAULT_KEYS is empty; give at least one `keyid:base64-32-bytes` entry")]
    Empty,
    #[error("VAULT_KEYS entry {0} is not `keyid:base64`; key ids are 1 to 32 of A-Z a-z 0-9 -")]
    Malformed(usize),
    #[error("VAULT_KEYS entry {0} (key id {1}) is not base64 of exactly 32 bytes")]
    BadKey(usize, String),
    #[error("VAULT_KEYS names key id {0} twice")]
    DuplicateKeyId(String),
}

/// A sealed value could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value names key id {0}, which is not loaded")]
    UnknownKey(String),
    #[error("sealed value does not open with its key and record (tampered or moved)")]
    Rejected,
}

/// The loaded keys; the first of `VAULT_KEYS` seals, any of them opens.
#[derive(Clone)]
pub struct Vault {
    active: String,
    ciphers: HashMap<String, Aes256Gcm>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("active", &self.active)
            .field("key_ids", &self.ciphers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Vault {
    /// Parses `VAULT_KEYS`: comma-separated `keyid:base64-32-bytes`, the first active.
    pub fn from_keys(spec: &str) -> Result<Self, VaultConfigError> {
        let mut active = None;
        let mut ciphers = HashMap::new();
        for (index, entry) in spec
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let position = index + 1;
            let (id, material) = entry
                .split_once(':')
                .ok_or(VaultConfigError::Malformed(position))?;
            if !is_valid_key_id(id) {
                return Err(VaultConfigError::Malformed(position));
            }
            let bytes = BASE64
                .decode(material.trim())
                .ok()
                .filter(|b| b.len() == KEY_LEN)
                .ok_or_else(|| VaultConfigError::BadKey(position, id.to_owned()))?;
            let cipher = Aes256Gcm::new_from_slice(&bytes)
                .map_err(|_| VaultConfigError::BadKey(position, id.to_owned()))?;
            if ciphers.insert(id.to_owned(), cipher).is_some() {
                return Err(VaultConfigError::DuplicateKeyId(id.to_owned()));
            }
            active.get_or_insert_with(|| id.to_owned());
        }
        let active = active.ok_or(VaultConfigError::Empty)?;
        Ok(Self { active, ciphers })
    }

    /// A new random key in `VAULT_KEYS` form, for dev mode and operators.
    pub fn generate_key_entry(key_id: &str) -> String {
        let bytes: [u8; KEY_LEN] = rand::random();
        format!("{key_id}:{}", BASE64.encode(bytes))
    }

    /// The id of the key that seals.
    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    /// Every loaded key id.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.ciphers.keys().map(String::as_str)
    }

    /// Encrypts `plaintext` for `slot` of the record at `key`.
    pub fn seal(&self, key: &RecordKey, slot: Slot, plaintext: &str) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let aad = associated_data(key, slot);
        let cipher = &self.ciphers[&self.active];
        // Encryption only fails for inputs over ~64 GiB, far beyond the body limit.
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce_bytes),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce_bytes);
        blob.extend_from_slice(&ciphertext);
        format!("{}:{}", self.active, BASE64.encode(blob))
    }

    /// Decrypts a value sealed for `slot` of the record at `key`.
    pub fn open(
        &self,
        key: &RecordKey,
        slot: Slot,
        sealed: &str,
    ) -> Result<SecretString, VaultError> {
        let (id, encoded) = sealed.split_once(':').ok_or(VaultError::Malformed)?;
        let cipher = self
            .ciphers
            .get(id)
            .ok_or_else(|| VaultError::UnknownKey(id.to_owned()))?;
        let blob = BASE64.decode(encoded).map_err(|_| VaultError::Malformed)?;
        if blob.len() < NONCE_LEN {
            return Err(VaultError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| VaultError::Malformed)?;
        let aad = associated_data(key, slot);
        let plaintext = cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Rejected)?;
        let text = String::from_utf8(plaintext).map_err(|_| VaultError::Rejected)?;
        Ok(SecretString::from(text))
    }
}

/// The key id a sealed value names.
pub fn key_id_of(sealed: &str) -> Option<&str> {
    sealed.split_once(':').map(|(id, _)| id)
}

/// Key ids are restricted so they can be matched with SQL `LIKE 'id:%'` safely.
fn is_valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Length-prefixed record key and slot, so no two (key, slot) pairs encode alike.
fn associated_data(key: &RecordKey, slot: Slot) -> Vec<u8> {
    let mut aad = b"spaces-oauth/v1".to_vec();
    for part in key.parts().into_iter().chain([slot.name()]) {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::context::{AccountId, Caller, SpaceGuid};
    use crate::record_key::KeyFields;

    fn key(connection: &str) -> RecordKey {
        let caller = Caller::authenticated(
            SpaceGuid::parse(b"s").unwrap(),
            AccountId::parse("a".into()).unwrap(),
            vec![],
        );
        RecordKey::parse(
            caller.tenant(),
            KeyFields {
                integration_pack_instance_id: "i",
                process_id: "p",
                env_id: "e",
                connection_id: connection,
                catalog_guid: "s",
            },
        )
        .unwrap()
    }

    fn vault(spec: &str) -> Vault {
        Vault::from_keys(spec).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_to_the_original() {
        let v = vault(&Vault::generate_key_entry("k1"));
        let sealed = v.seal(&key("c"), Slot::ClientSecret, "s3cret");
        assert!(sealed.starts_with("k1:"));
        assert!(!sealed.contains("s3cret"));
        assert_eq!(
            v.open(&key("c"), Slot::ClientSecret, &sealed)
                .unwrap()
                .expose_secret(),
            "s3cret"
        );
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let v = vault(&Vault::generate_key_entry("k1"));
        assert_ne!(
            v.seal(&key("c"), Slot::ClientSecret, "x"),
            v.seal(&key("c"), Slot::ClientSecret, "x")
        );
    }

    #[test]
    fn a_ciphertext_moved_to_another_record_or_slot_does_not_open() {
        let v = vault(&Vault::generate_key_entry("k1"));
        let sealed = v.seal(&key("c"), Slot::ClientSecret, "x");
        assert!(matches!(
            v.open(&key("other"), Slot::ClientSecret, &sealed),
            Err(VaultError::Rejected)
        ));
        assert!(matches!(
            v.open(&key("c"), Slot::AccessToken, &sealed),
            Err(VaultError::Rejected)
        ));
    }

    #[test]
    fn an_old_key_still_opens_after_a_new_one_becomes_active() {
        let k1 = Vault::generate_key_entry("k1");
        let sealed = vault(&k1).seal(&key("c"), Slot::ClientSecret, "x");
        let both = vault(&format!("{},{k1}", Vault::generate_key_entry("k2")));
        assert_eq!(both.active_key_id(), "k2");
        assert_eq!(
            both.open(&key("c"), Slot::ClientSecret, &sealed)
                .unwrap()
                .expose_secret(),
            "x"
        );
        let k2_only = vault(&Vault::generate_key_entry("k2"));
        assert!(
            matches!(k2_only.open(&key("c"), Slot::ClientSecret, &sealed), Err(VaultError::UnknownKey(id)) if id == "k1")
        );
    }

    #[test]
    fn malformed_vault_keys_are_named_without_the_key() {
        assert!(matches!(Vault::from_keys(""), Err(VaultConfigError::Empty)));
        assert!(matches!(
            Vault::from_keys("nocolon"),
            Err(VaultConfigError::Malformed(1))
        ));
        let err = Vault::from_keys("k1:c2hvcnQ=").unwrap_err();
        assert!(matches!(&err, VaultConfigError::BadKey(1, id) if id == "k1"));
        assert!(!err.to_string().contains("c2hvcnQ"));
        let k = Vault::generate_key_entry("k1");
        assert!(matches!(
            Vault::from_keys(&format!("{k},{k}")),
            Err(VaultConfigError::DuplicateKeyId(_))
        ));
        assert!(matches!(
            Vault::from_keys("bad_id:AAAA"),
            Err(VaultConfigError::Malformed(1))
        ));
    }
}
