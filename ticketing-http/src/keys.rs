//! The QR signing keys: from the configuration, or generated on the first start and kept in the
//! data directory (`keys.toml`, readable by the owner only), so tickets stay valid across
//! restarts with no setting at all. There is no built-in key.

use std::path::Path;

use ticketing_core::env::Randomness;
use ticketing_core::fleet::KeyKind;
use ticketing_core::magic_link::LinkKey;
use ticketing_core::signing::{Algorithm, KeyId, KeySetting, Keyring};

/// The file generated keys are kept in, inside the data directory.
pub const KEYS_FILE: &str = "keys.toml";

/// Why the keys could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The keys file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The keys file is malformed.
    #[error("{path}: {problem}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// The keyring refused a key.
    #[error("a QR key was refused: {0}")]
    Keyring(#[from] ticketing_core::signing::KeyError),
    /// No key was found while the fleet's are recorded in the database: making one would sign
    /// what the other instances cannot verify.
    #[error(
        "no {kind} in the settings ({settings}) nor in {path}, while other instances on this database \
         have theirs: give this instance the fleet's keys rather than new ones"
    )]
    NotShared {
        /// Which key.
        kind: KeyKind,
        /// The settings that give it.
        settings: &'static str,
        /// The file looked for.
        path: String,
    },
}

#[derive(serde::Deserialize)]
struct KeysFile {
    qr_keys: Vec<String>,
}

/// The keys to sign with: `configured` if any, else those in `data_dir` (made there on the first
/// start when `may_generate`: see [`ticketing_core::fleet::may_generate`]). Returns the keyring
/// and whether keys were generated now.
pub fn load(
    configured: &[KeySetting],
    data_dir: &Path,
    rng: &dyn Randomness,
    may_generate: bool,
) -> Result<(Keyring, bool), KeysError> {
    let (keys, generated) =
        if configured.is_empty() { stored_or_new(data_dir, rng, may_generate)? } else { (configured.to_vec(), false) };
    let mut keyring = Keyring::new();
    for key in keys {
        keyring = keyring.with_key(key.id, key.state(), key.material())?;
    }
    Ok((keyring, generated))
}

/// The keys of a `keys.toml` read from `shown`.
fn parse_keys_file(text: &str, shown: String) -> Result<Vec<KeySetting>, KeysError> {
    let file: KeysFile =
        toml::from_str(text).map_err(|e| KeysError::Malformed { path: shown.clone(), problem: e.to_string() })?;
    let keys = file
        .qr_keys
        .iter()
        .map(|k| k.parse())
        .collect::<Result<Vec<KeySetting>, String>>()
        .map_err(|problem| KeysError::Malformed { path: shown.clone(), problem })?;
    if keys.iter().filter(|k| k.current).count() != 1 {
        return Err(KeysError::Malformed { path: shown, problem: "exactly one key must be current".into() });
    }
    Ok(keys)
}

fn stored_or_new(
    data_dir: &Path,
    rng: &dyn Randomness,
    may_generate: bool,
) -> Result<(Vec<KeySetting>, bool), KeysError> {
    let path = data_dir.join(KEYS_FILE);
    let shown = path.display().to_string();
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((parse_keys_file(&text, shown)?, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !may_generate => Err(KeysError::NotShared {
            kind: KeyKind::Qr,
            settings: "TICKETING_QR_KEYS or TICKETING_QR_KEYS_FILE",
            path: shown,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = KeySetting::generate(KeyId(1), true, Algorithm::HmacSha256, rng);
            // The setting is digits, a word, a colon and hex: nothing to escape in a TOML string.
            let text = format!(
                "# QR signing keys, generated on the first start. Keep this file secret.\nqr_keys = [\"{}\"]\n",
                key.to_setting()
            );
            write_private(&path, &text).map_err(|source| KeysError::Io { path: shown, source })?;
            Ok((vec![key], true))
        }
        Err(source) => Err(KeysError::Io { path: shown, source }),
    }
}

/// One step of a QR key rotation over `keys`, with a fresh secret from `rng` where one is made:
///
/// - `stage`: a new key (the next id) that only verifies, to hand to every instance first, so
///   that all of them accept what it will sign;
/// - otherwise the newest key, if it was staged (verify-only and newer than the current one),
///   becomes current; with none staged, a new key is made current at once (one instance).
///
/// The key that was current only verifies from then on: tickets it signed stay valid. Returns
/// the keys after the step and the id of the key it made or promoted.
pub fn rotate(
    keys: &[KeySetting],
    stage: bool,
    algorithm: Option<Algorithm>,
    rng: &dyn Randomness,
) -> Result<(Vec<KeySetting>, u16), String> {
    let current = keys.iter().find(|k| k.current).ok_or("no key is current")?;
    let staged = keys.iter().filter(|k| k.id.0 > current.id.0).max_by_key(|k| k.id.0);
    if let (Some(asked), Some(staged), false) = (algorithm, staged, stage)
        && staged.algorithm != asked
    {
        return Err(format!(
            "key {} is staged with another algorithm: promote it first (`keys rotate`), or drop it from the keys",
            staged.id.0
        ));
    }
    let algorithm = algorithm.unwrap_or(current.algorithm);
    let current = current.id.0;
    let newest = keys.iter().map(|k| k.id.0).max().unwrap_or(current);
    let fresh = |current| {
        let id = newest.checked_add(1).ok_or("key ids are used up (65535)")?;
        Ok::<_, String>(KeySetting::generate(KeyId(id), current, algorithm, rng))
    };
    let mut after = keys.to_vec();
    let changed = if stage {
        let key = fresh(false)?;
        let id = key.id.0;
        after.push(key);
        id
    } else if newest > current {
        for key in &mut after {
            key.current = key.id.0 == newest;
        }
        newest
    } else {
        let key = fresh(true)?;
        let id = key.id.0;
        for key in &mut after {
            key.current = false;
        }
        after.push(key);
        id
    };
    Ok((after, changed))
}

/// The keys kept in `data_dir` (none there: an error saying to start the server once).
pub fn stored(data_dir: &Path) -> Result<Vec<KeySetting>, KeysError> {
    let path = data_dir.join(KEYS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_keys_file(&text, path.display().to_string()),
        Err(source) => Err(KeysError::Io { path: path.display().to_string(), source }),
    }
}

/// Replaces the keys kept in `data_dir` with `keys`.
pub fn store(data_dir: &Path, keys: &[KeySetting]) -> Result<(), KeysError> {
    let path = data_dir.join(KEYS_FILE);
    let items: Vec<String> = keys.iter().map(|k| format!("\"{}\"", k.to_setting())).collect();
    let text = format!("# QR signing keys. Keep this file secret.\nqr_keys = [{}]\n", items.join(", "));
    write_replacing(&path, &text).map_err(|source| KeysError::Io { path: path.display().to_string(), source })
}

/// Replaces `path` with `text`: written beside it (readable by its owner only), given the old
/// file's owner and mode (the servers that read it must still be able to), then renamed over
/// it, so a reader finds the old text or the new, never half of one.
pub fn write_replacing(path: &Path, text: &str) -> std::io::Result<()> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".new");
    let aside = std::path::PathBuf::from(aside);
    let _ = std::fs::remove_file(&aside);
    write_private(&aside, text)?;
    #[cfg(unix)]
    if let Ok(old) = std::fs::metadata(path) {
        use std::os::unix::fs::MetadataExt as _;
        // Only root may give a file away; anyone else keeps it as their own.
        let _ = std::os::unix::fs::chown(&aside, Some(old.uid()), Some(old.gid()));
        std::fs::set_permissions(&aside, old.permissions())?;
    }
    std::fs::rename(&aside, path)
}

/// The file the magic-link key is kept in, inside the data directory.
pub const LINK_KEY_FILE: &str = "link.key";

/// The key magic-link tokens are derived under (see [`ticketing_core::magic_link`]): read from
/// `secret_file` when set (`TICKETING_LINK_KEY_FILE`, a Docker or Kubernetes secret shared by a
/// fleet; never created), else from `data_dir`, made there on the first start, so a ticket's
/// link can be given again after a restart (when `may_generate`, as for [`load`]). Instances
/// that share a database must share it.
pub fn link_key(
    data_dir: &Path,
    secret_file: Option<&Path>,
    rng: &dyn Randomness,
    may_generate: bool,
) -> Result<LinkKey, KeysError> {
    if let Some(file) = secret_file {
        let shown = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|source| KeysError::Io { path: shown.clone(), source })?;
        return parse_link_key(&text, shown);
    }
    let path = data_dir.join(LINK_KEY_FILE);
    let shown = path.display().to_string();
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_link_key(&text, shown),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !may_generate => {
            Err(KeysError::NotShared { kind: KeyKind::Link, settings: "TICKETING_LINK_KEY_FILE", path: shown })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            rng.fill(&mut bytes);
            write_private(&path, &format!("{}\n", hex::encode(bytes)))
                .map_err(|source| KeysError::Io { path: shown, source })?;
            Ok(LinkKey::new(bytes))
        }
        Err(source) => Err(KeysError::Io { path: shown, source }),
    }
}

/// A link key written as 64 hex digits (around them, blanks), read from `shown`.
fn parse_link_key(text: &str, shown: String) -> Result<LinkKey, KeysError> {
    let text = text.trim();
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes)
        .map_err(|_| KeysError::Malformed { path: shown, problem: "expected 64 hex digits".into() })?;
    Ok(LinkKey::new(bytes))
}

/// Writes `text` to a new file only its owner can read; fails if the file exists.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use ticketing_core::env::OsRandomness;
    use ticketing_core::short_code::ShortCode;
    use ticketing_core::signing::{Algorithm, QrClaims};

    use super::*;

    #[test]
    fn generated_keys_are_kept_and_reused() {
        let dir = std::env::temp_dir().join(format!("ticketing-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (first, generated) = load(&[], &dir, &OsRandomness, true).unwrap();
        assert!(generated);
        let (again, generated) = load(&[], &dir, &OsRandomness, true).unwrap();
        assert!(!generated, "the second start reads the file");
        assert_eq!(first.keys(), again.keys());
        let claims = QrClaims { ticket: ShortCode::from_value(42).unwrap(), expires_at: None };
        let signed = first.sign_qr(Algorithm::HmacSha256, &claims).unwrap();
        assert_eq!(again.verify_qr(&signed, chrono::Utc::now()).unwrap(), claims, "the same secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join(KEYS_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_rotation_stages_then_promotes_and_never_drops_a_key() {
        let hmac =
            |id, current| KeySetting { id: KeyId(id), current, algorithm: Algorithm::HmacSha256, secret: vec![1; 32] };
        let one = hmac(1, true);
        let (staged, id) = rotate(std::slice::from_ref(&one), true, None, &OsRandomness).unwrap();
        assert_eq!((id, staged.len()), (2, 2));
        assert!(staged[0].current && !staged[1].current, "staged: key 2 only verifies");
        let (promoted, id) = rotate(&staged, false, None, &OsRandomness).unwrap();
        assert_eq!(id, 2);
        let states = |keys: &[KeySetting]| keys.iter().map(|k| (k.id.0, k.current, k.algorithm)).collect::<Vec<_>>();
        let h = Algorithm::HmacSha256;
        assert_eq!(states(&promoted), [(1, false, h), (2, true, h)]);
        assert_eq!(promoted[1].secret, staged[1].secret, "the staged secret is the one promoted");
        let (at_once, id) = rotate(&promoted, false, None, &OsRandomness).unwrap();
        assert_eq!(id, 3);
        assert_eq!(states(&at_once), [(1, false, h), (2, false, h), (3, true, h)]);
        assert!(rotate(&[hmac(u16::MAX, true)], false, None, &OsRandomness).is_err());
        // Into Ed25519, staged first like any key; later rotations keep Ed25519.
        let e = Algorithm::Ed25519;
        let (staged, _) = rotate(&at_once, true, Some(e), &OsRandomness).unwrap();
        let (promoted, _) = rotate(&staged, false, None, &OsRandomness).unwrap();
        assert_eq!(states(&promoted)[2..], [(3, false, h), (4, true, e)]);
        let (hmac_staged, _) = rotate(&promoted, true, Some(h), &OsRandomness).unwrap();
        let refused = rotate(&hmac_staged, false, Some(e), &OsRandomness).unwrap_err();
        assert!(refused.contains("staged with another algorithm"), "{refused}");
        let (next, _) = rotate(&promoted, false, None, &OsRandomness).unwrap();
        assert_eq!(states(&next)[4], (5, true, e));
        let (keyring, _) = load(&next, Path::new("unused"), &OsRandomness, false).unwrap();
        assert_eq!(keyring.ed25519_public_keys().len(), 2, "both Ed25519 keys verify");

        let dir = std::env::temp_dir().join(format!("ticketing-rotate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(matches!(stored(&dir), Err(KeysError::Io { .. })), "no keys yet");
        store(&dir, &at_once).unwrap();
        assert_eq!(stored(&dir).unwrap(), at_once);
        let (keyring, generated) = load(&[], &dir, &OsRandomness, false).unwrap();
        assert_eq!((keyring.keys().len(), generated), (3, false));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_link_key_is_kept_and_reused() {
        use ticketing_core::ids::TicketId;
        let dir = std::env::temp_dir().join(format!("ticketing-link-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = link_key(&dir, None, &OsRandomness, true).unwrap();
        let again = link_key(&dir, None, &OsRandomness, true).unwrap();
        let (ticket, at) = (TicketId::from_uuid(uuid::Uuid::from_u128(7)), chrono::Utc::now());
        assert_eq!(first.token(ticket, at).as_text(), again.token(ticket, at).as_text());
        std::fs::remove_file(dir.join(LINK_KEY_FILE)).unwrap();
        let refused = link_key(&dir, None, &OsRandomness, false).unwrap_err();
        assert!(matches!(refused, KeysError::NotShared { kind: KeyKind::Link, .. }), "{refused}");
        assert!(!dir.join(LINK_KEY_FILE).exists(), "nothing made when the fleet has a key");
        std::fs::write(dir.join(LINK_KEY_FILE), "not hex").unwrap();
        assert!(matches!(link_key(&dir, None, &OsRandomness, true), Err(KeysError::Malformed { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_secret_file_gives_the_link_key_and_is_never_made() {
        use ticketing_core::ids::TicketId;
        let dir = std::env::temp_dir().join(format!("ticketing-link-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("link_key");
        assert!(
            matches!(link_key(&dir, Some(&secret), &OsRandomness, true), Err(KeysError::Io { .. })),
            "a missing secret"
        );
        assert!(!secret.exists() && !dir.join(LINK_KEY_FILE).exists(), "nothing was made");
        std::fs::write(&secret, format!("{}\n", "ab".repeat(32))).unwrap();
        let (ticket, at) = (TicketId::from_uuid(uuid::Uuid::from_u128(7)), chrono::Utc::now());
        let from_file = link_key(&dir, Some(&secret), &OsRandomness, true).unwrap();
        let again = link_key(&std::env::temp_dir(), Some(&secret), &OsRandomness, true).unwrap();
        assert_eq!(from_file.token(ticket, at).as_text(), again.token(ticket, at).as_text(), "any instance, one key");
        assert_eq!(from_file.token(ticket, at).as_text(), LinkKey::new([0xab; 32]).token(ticket, at).as_text());
        std::fs::write(&secret, "short").unwrap();
        assert!(matches!(link_key(&dir, Some(&secret), &OsRandomness, true), Err(KeysError::Malformed { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
