//! The server's handshake: the version and suite choice and key agreement
//! for the client's `ALGORITHMS` (v1, or v2 with key confirmation; a v1
//! client also rotates with it).

use alloc::boxed::Box;
use alloc::string::ToString;

use crate::wire::base64;

use super::client::{decode_b64, decode_nonce};
use super::phase::{Failed, Phase};
use super::v1::{V1Keys, V1Server};
use super::v2::{self, Channel, Handshake, Inner};
use super::{Core, Role, State, Version, unexpected};
use crate::dh::{Group, KeyPair, NamedGroup, SharedSecret};
use crate::error::DhError;
use crate::error::{Error, ProtocolError};
use crate::keylog::Logger;
use crate::schedule::v2::{EpochSecrets, hash};
use crate::suite::Offer;
use crate::wire::{Algorithms, ErrorFrame, Exchange, Frame};

/// The first frame from a client: its `ALGORITHMS`. Refusals are told in
/// plaintext (nothing is keyed yet).
pub(super) fn on_hello_frame(core: &mut Core, frame: Frame, bytes: &[u8]) -> Result<Phase, Failed> {
    let hello = match frame {
        Frame::Algorithms(hello) => hello,
        Frame::Error(ErrorFrame { message }) => {
            return Err(Failed::plain(ProtocolError::PeerError(message).into()));
        }
        other => {
            return Err(Failed::plain(unexpected(
                other.type_name(),
                State::Negotiating,
            )));
        }
    };
    if core.config.key_log.is_some() {
        // The ids of the key log; a field that does not decode fails the
        // handshake before any key is derived.
        let pem = base64::decode(&hello.public_key).unwrap_or_default();
        let nonce = hello.nonce.as_deref().and_then(base64::decode);
        core.key_log = Logger::new(core.config.key_log.as_ref(), &pem, nonce.as_deref());
    }
    let v2_allowed = core.config.versions.contains(&Version::V2);
    match hello.version {
        Some(v2::VERSION) if v2_allowed => {
            let handshake = answer_v2(core, &hello, bytes).map_err(Failed::plain)?;
            Ok(Phase::ServerAwaitFinished(Box::new(handshake)))
        }
        // A v1-only server ignores the fields it does not know, as
        // existing servers do, and answers in v1.
        None | Some(v2::VERSION) => {
            let keys = answer_v1(core, &hello, true).map_err(Failed::plain)?;
            Ok(Phase::V1Server(Box::new(V1Server::new(keys, core.now))))
        }
        Some(version) => Err(Failed::plain(
            ProtocolError::VersionRefused { version }.into(),
        )),
    }
}

/// v1: chooses the suite, checks the client's group and key, derives the
/// epoch's keys from a fresh key pair, and answers `EXCHANGE`. Nothing is
/// sent unless all of it succeeds.
pub(super) fn answer_v1(core: &mut Core, hello: &Algorithms, first: bool) -> Result<V1Keys, Error> {
    // v1 cannot authenticate: a server with a PSK refuses it.
    if !core.config.versions.contains(&Version::V1) || core.config.psk.is_some() {
        return Err(ProtocolError::VersionRefused { version: 1 }.into());
    }
    let offer = Offer::from_wire_names(&hello.ciphers, &hello.modes, &hello.hash);
    let suite = offer.choose_v1(&core.config.offer)?;
    // Ad-hoc groups beyond the limit (all of them, if refused) are
    // refused before any arithmetic on them.
    let config = &core.config;
    let adhoc_limit = if config.accept_adhoc_groups {
        config.max_adhoc_group_bits
    } else {
        0
    };
    let group = Group::from_pem_with_adhoc_limit(
        &decode_b64(&hello.params, "ALGORITHMS", "params")?,
        config.max_group_bits,
        adhoc_limit,
    )
    .map_err(|e| match e {
        DhError::GroupTooLarge { bits, .. } if bits <= config.max_group_bits => {
            Error::from(ProtocolError::GroupRefused { bits })
        }
        other => other.into(),
    })?;
    if group.bits() < config.min_group_bits {
        return Err(ProtocolError::GroupRefused { bits: group.bits() }.into());
    }
    let client_key =
        group.public_key_from_pem(&decode_b64(&hello.public_key, "ALGORITHMS", "public_key")?)?;
    let key = KeyPair::generate(&group, &mut *core.rng);
    let z = key.agree(&client_key)?;
    core.push_frame(&Frame::Exchange(Exchange::v1(
        base64::encode(key.public_key().to_pem()),
        suite.to_string(),
    )));
    core.established(Version::V1, suite, first);
    // PBKDF2 waits until the EXCHANGE is out (see `V1Keys`); the keys are
    // logged when it has run.
    let log = core.key_log.clone().map(|log| (log, core.epoch));
    Ok(V1Keys::pending(suite, z, log))
}

/// v2: checks the version, groups, PSK and suite, agrees a key in the
/// client's first group, answers `EXCHANGE` and, at once, its FINISHED,
/// bound to both hellos exactly as they were sent. Nothing is sent unless
/// all of it succeeds.
fn answer_v2(core: &mut Core, hello: &Algorithms, hello_bytes: &[u8]) -> Result<Handshake, Error> {
    let config = &core.config;
    let not_accepted = || ProtocolError::GroupNotAccepted {
        accepted: v2::group_names(&config.groups),
    };
    let first: Option<NamedGroup> = hello
        .groups
        .as_ref()
        .and_then(|groups| groups.first())
        .and_then(|name| name.parse().ok());
    let named = first
        .filter(|g| config.groups.contains(g))
        .ok_or_else(not_accepted)?;
    // v2 accepts only named groups: an ad-hoc one is refused before any
    // arithmetic on it.
    let group = Group::from_pem_with_adhoc_limit(
        &decode_b64(&hello.params, "ALGORITHMS", "params")?,
        config.max_group_bits,
        0,
    )
    .map_err(|e| match e {
        DhError::GroupTooLarge { limit: 0, .. } => Error::from(not_accepted()),
        other => other.into(),
    })?;
    if group.named_group() != Some(named) {
        return Err(not_accepted().into());
    }
    let psk = match (&config.psk, &hello.psk_id) {
        (None, None) => None,
        (Some(psk), Some(id)) if id == psk.id() => Some(psk.key()),
        _ => return Err(ProtocolError::PskMismatch.into()),
    };
    decode_nonce(hello.nonce.as_deref(), "ALGORITHMS")?;
    let offer = Offer::from_wire_names(&hello.ciphers, &hello.modes, &hello.hash);
    let accepted = v2::v2_offer(&config.offer, config.legacy_suites);
    let suite = offer.choose_v2(&accepted)?;
    let client_key =
        group.public_key_from_pem(&decode_b64(&hello.public_key, "ALGORITHMS", "public_key")?)?;

    // A client that pins our static key gets Z_es from it.
    let z_es = match (&hello.server_key, &config.static_key) {
        (None, _) => None,
        (Some(fingerprint), Some(ours))
            if ours.key_pair().group() == &group
                && decode_b64(fingerprint, "ALGORITHMS", "server_key")?
                    == ours.key_pair().public_key().fingerprint() =>
        {
            Some(ours.key_pair().agree(&client_key)?)
        }
        (Some(_), _) => return Err(ProtocolError::UnknownServerKey.into()),
    };
    let key = KeyPair::generate(&group, &mut *core.rng);
    let z = key.agree(&client_key)?;
    let mut nonce = [0u8; v2::NONCE_LEN];
    core.rng.fill_bytes(&mut nonce);
    let mut exchange = Exchange::v1(base64::encode(key.public_key().to_pem()), suite.to_string());
    exchange.version = Some(v2::VERSION);
    exchange.nonce = Some(base64::encode(nonce));
    exchange.group = Some(named.wire_name().into());
    let agreed = v2::agreed_extensions(&config.extensions, hello.extensions.as_deref());
    exchange.extensions = v2::extension_names(&agreed);
    let exchange_bytes = Frame::Exchange(exchange).encode();
    let th = hash(suite.hash(), &[hello_bytes, &exchange_bytes]);
    let secrets = EpochSecrets::handshake(
        suite,
        psk,
        z.dangerously_expose_bytes(),
        z_es.as_ref().map(SharedSecret::dangerously_expose_bytes),
        &th,
    );
    let mut channel = Channel::new(Role::Server, secrets, group, 0, core.key_log.as_ref())?;
    let finished = Inner::Finished(channel.secrets.finished(false));
    let mark = core.outgoing.len();
    core.push_encoded(&exchange_bytes);
    if let Err(error) = channel.seal_into(core, &finished) {
        // Nothing goes out on failure.
        core.outgoing.truncate(mark);
        return Err(error);
    }
    core.extensions = agreed;
    Ok(Handshake::new(channel))
}
