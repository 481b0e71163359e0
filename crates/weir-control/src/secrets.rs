//! Secrets at rest: private keys are sealed (ChaCha20-Poly1305, ring)
//! under a key kept outside the database, before they reach the store.
//! A stolen database or backup then holds no usable key. Each secret gets
//! a fresh random nonce and is bound to its row (the associated data is
//! the resource id), so a sealed key moved to another row does not open.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};

/// Sealed text starts with this, so a later key or algorithm can be told
/// apart from this one.
const VERSION: &str = "v1:";

/// The deployment's box, shared by the commands (which seal) and the
/// topology follower (which opens keys for HTTPS listeners). Set once at
/// start in production; a change (tests set the key after starting) wakes
/// the follower to reopen every listener's keys.
pub struct SecretCell {
    current: std::sync::RwLock<std::sync::Arc<SecretBox>>,
    pub(crate) changed: tokio::sync::Notify,
}

impl SecretCell {
    pub fn new(secrets: SecretBox) -> Self {
        Self {
            current: std::sync::RwLock::new(std::sync::Arc::new(secrets)),
            changed: tokio::sync::Notify::new(),
        }
    }

    /// The box in use now.
    pub fn get(&self) -> std::sync::Arc<SecretBox> {
        // A poisoned lock still holds a whole Arc: nothing is half-written.
        match self.current.read() {
            Ok(b) => b.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the box and tells the follower.
    pub fn set(&self, secrets: SecretBox) {
        let next = std::sync::Arc::new(secrets);
        match self.current.write() {
            Ok(mut b) => *b = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        self.changed.notify_one();
    }
}

/// Seals and opens secrets with one 256-bit key.
pub struct SecretBox {
    key: LessSafeKey,
}

impl SecretBox {
    pub fn new(key: [u8; 32]) -> Self {
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, &key).expect("a 32-byte key");
        Self {
            key: LessSafeKey::new(unbound),
        }
    }

    /// A box with a key drawn now: what it seals does not outlive the
    /// process (for tests, and a control plane started without a key).
    pub fn ephemeral() -> Self {
        Self::new(new_key())
    }

    /// `plaintext` sealed for the resource `context`: `v1:` and hex of the
    /// nonce, the ciphertext and the tag.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the OS random source is available");
        let mut data = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .expect("sealing a secret of bounded size");
        let mut out = String::with_capacity(VERSION.len() + 2 * (NONCE_LEN + data.len()));
        out.push_str(VERSION);
        for b in nonce.iter().chain(&data) {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// The plaintext, if `sealed` was sealed by this key for `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Option<Vec<u8>> {
        let hex = sealed.strip_prefix(VERSION)?;
        if hex.len() % 2 != 0 || !hex.is_ascii() {
            return None;
        }
        let mut bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect::<Option<_>>()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let mut data = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).ok()?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut data)
            .ok()?;
        Some(plain.to_vec())
    }
}

/// A fresh key from the OS random source.
pub fn new_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("the OS random source is available");
    key
}

/// A key as 64 hex digits, as [`parse_key`] reads it.
pub fn key_hex(key: &[u8; 32]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a key given as 64 hex digits (`WEIR_SECRETS_KEY`, the key file).
pub fn parse_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_sealed_opens_only_with_its_key_and_its_row() {
        let secret_box = SecretBox::new([7; 32]);
        let sealed = secret_box.seal(b"-----BEGIN PRIVATE KEY-----", "cert-1");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("BEGIN"));
        assert_eq!(
            secret_box.open(&sealed, "cert-1").as_deref(),
            Some(&b"-----BEGIN PRIVATE KEY-----"[..])
        );
        // Another row, another key, a flipped bit, garbage: nothing.
        assert_eq!(secret_box.open(&sealed, "cert-2"), None);
        assert_eq!(SecretBox::new([8; 32]).open(&sealed, "cert-1"), None);
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            secret_box.open(&String::from_utf8(flipped).unwrap(), "cert-1"),
            None
        );
        for junk in ["", "v1:", "v1:zz", "v2:00", "v1:0011"] {
            assert_eq!(secret_box.open(junk, "cert-1"), None, "{junk}");
        }
        // Two seals of one secret differ (fresh nonces).
        assert_ne!(secret_box.seal(b"x", "c"), secret_box.seal(b"x", "c"));
    }

    #[test]
    fn keys_are_64_hex_digits() {
        assert_eq!(parse_key(&"ab".repeat(32)), Some([0xab; 32]));
        let key = new_key();
        assert_eq!(parse_key(&key_hex(&key)), Some(key));
        assert_eq!(
            parse_key(&format!(" {}\n", "0f".repeat(32))),
            Some([0x0f; 32])
        );
        assert_eq!(parse_key(&"ab".repeat(31)), None);
        assert_eq!(parse_key(&"zz".repeat(32)), None);
        assert_eq!(parse_key(&"é".repeat(32)), None);
    }
}
