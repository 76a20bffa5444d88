//! The links that mails carry. A mail's link is derived from a key and a random nonce stored on
//! the mail's outbox row (HMAC-SHA256, 256 bits, base64url like every other token; only its
//! SHA-256 is stored, as for any link). A mail sent again because a crash or an outage kept its
//! first send from being recorded derives the same token, so both copies carry the same link
//! and no second valid link exists. The database alone (nonce and hash) does not give the link
//! away, nor does the key alone.
//!
//! The key comes from `ATTEST_LINK_KEY` (the same on every instance sharing a database), or is
//! drawn at random when the process starts: then a re-send by the same process carries the same
//! link, and one by another process (after a crash) a new link, as before.

use super::{Engine, EngineError};
use crate::store::campaigns::CampaignRow;
use crate::store::{outbox, review};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The shortest `ATTEST_LINK_KEY` taken: 32 characters (`openssl rand -hex 32` gives 64).
pub const MIN_LINK_KEY_CHARS: usize = 32;

/// The key mail links derive from (32 bytes; never printed, never stored).
#[derive(Clone)]
pub struct LinkKey([u8; 32]);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(…)")
    }
}

impl LinkKey {
    /// A key for this process only (from the thread's cryptographic generator, seeded by the
    /// operating system).
    pub fn random() -> Self {
        Self(rand::random())
    }

    /// The key an operator set (`ATTEST_LINK_KEY`): any text of at least 32 characters.
    pub fn from_secret(secret: &str) -> Result<Self, String> {
        if secret.chars().count() < MIN_LINK_KEY_CHARS {
            return Err(format!(
                "ATTEST_LINK_KEY is shorter than {MIN_LINK_KEY_CHARS} characters; make one with `openssl rand -hex 32` (its value is not shown)"
            ));
        }
        Ok(Self(Sha256::digest(secret.as_bytes()).into()))
    }

    /// The token of mail `mail_id` with `nonce`.
    fn token(&self, mail_id: i64, nonce: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(format!("attest mail link\0{mail_id}\0{nonce}").as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The token of a challenge link (`engine::challenges`): the holder's or the reviewer's
    /// (`party`), derived the same way, in a domain of its own.
    pub(crate) fn challenge_token(&self, challenge_id: i64, party: &str, nonce: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(format!("attest challenge link\0{party}\0{challenge_id}\0{nonce}").as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// A mail that carries a link: to whom, which outbox row, and the row's nonce if it has one.
#[derive(Debug, Clone)]
pub struct MailLink {
    pub reviewer_id: i64,
    pub mail_id: i64,
    pub nonce: Option<String>,
}

impl Engine {
    /// The links of mails of one campaign, in the order asked, committed before this returns
    /// (so before any of them is sent). A mail whose earlier send left a link that is still on
    /// record and not withdrawn carries that link again; any other gets a new nonce and token.
    pub async fn mail_links(
        &self,
        campaign: &CampaignRow,
        mails: &[MailLink],
    ) -> Result<Vec<String>, EngineError> {
        let now = self.now();
        let key = self.link_key();
        // The token (and its hash) each mail sent before would carry again.
        let earlier: Vec<Option<(String, String)>> = mails
            .iter()
            .map(|m| {
                m.nonce.as_deref().map(|n| {
                    let token = key.token(m.mail_id, n);
                    let hash = super::review::token_hash(&token);
                    (token, hash)
                })
            })
            .collect();
        let hashes: Vec<String> = earlier.iter().flatten().map(|(_, h)| h.clone()).collect();
        let live = review::live_token_hashes(self.store().conn(), &hashes, now).await?;
        let expires_at = campaign.due_at.unwrap_or(now + chrono::Duration::days(30));
        let mut links = Vec::with_capacity(mails.len());
        let mut tokens = Vec::new();
        let mut nonces = Vec::new();
        for (mail, earlier) in mails.iter().zip(earlier) {
            if let Some((token, hash)) = earlier {
                if live.contains(&hash) {
                    links.push(token);
                    continue;
                }
            }
            let nonce = hex::encode(super::random_bytes::<16>()?);
            let token = key.token(mail.mail_id, &nonce);
            tokens.push(review::NewToken {
                campaign_id: campaign.id,
                reviewer_id: mail.reviewer_id,
                token_hash: super::review::token_hash(&token),
                mail_id: Some(mail.mail_id),
                expires_at,
            });
            nonces.push((mail.mail_id, nonce));
            links.push(token);
        }
        if !tokens.is_empty() {
            let txn = self.store().begin().await?;
            review::insert_tokens(&txn, &tokens, now).await?;
            outbox::set_link_nonces(&txn, &nonces).await?;
            txn.commit().await?;
        }
        Ok(links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mail_s_token_depends_on_key_mail_and_nonce() {
        let key = LinkKey::from_secret(&"k".repeat(32)).unwrap();
        let token = key.token(7, "n1");
        assert_eq!(token, key.token(7, "n1"));
        assert_eq!(token.len(), 43, "256 bits in base64url");
        assert_ne!(token, key.token(8, "n1"));
        assert_ne!(token, key.token(7, "n2"));
        let other = LinkKey::from_secret(&"j".repeat(32)).unwrap();
        assert_ne!(token, other.token(7, "n1"));
    }

    #[test]
    fn a_short_key_is_refused_without_showing_it() {
        let error = LinkKey::from_secret("short-secret-value").unwrap_err();
        assert!(error.contains("ATTEST_LINK_KEY"), "{error}");
        assert!(!error.contains("short-secret-value"), "{error}");
    }
}
