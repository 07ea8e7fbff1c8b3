//! The client's handshake: the offer (`ALGORITHMS`, v1 or v2) and the
//! server's answer (`EXCHANGE`), for the first handshake and for a v1
//! rotation.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::wire::base64;

use super::phase::{Failed, Phase};
use super::v1::V1Client;
use super::v2::{self, Channel, Handshake};
use super::{Core, Role, State, Version, unexpected};
use crate::config::Psk;
use crate::dh::{Group, KeyPair, NamedGroup, SharedSecret};
use crate::error::{Error, ProtocolError};
use crate::keylog::Logger;
use crate::record::V1Protector;
use crate::schedule::V1Secrets;
use crate::schedule::v2::{EpochSecrets, hash};
use crate::suite::{CipherSuite, Offer};
use crate::wire::{Algorithms, Exchange, Frame};

/// A client's outstanding `ALGORITHMS`: the key pair it carried, the offer
/// it made (the server must choose from exactly that) and, for v2, the
/// frame's exact bytes (for the transcript hash).
pub(super) struct ClientHello {
    key: KeyPair,
    offer: Offer,
    v2_bytes: Option<Vec<u8>>,
}

/// Sends the first `ALGORITHMS`, in the version the policy prefers.
pub(super) fn hello(core: &mut Core) -> Phase {
    let hello = match core.config.client_speaks() {
        Version::V1 => {
            let hello = send_algorithms(core, core.config.offer.clone());
            if core.config.key_log.is_some() {
                let pem = hello.key.public_key().to_pem();
                core.key_log = Logger::new(core.config.key_log.as_ref(), pem.as_bytes(), None);
            }
            hello
        }
        _ => send_algorithms_v2(core),
    };
    Phase::ClientHello(Box::new(hello))
}

/// Sends a v1 `ALGORITHMS` offering `offer`, with a fresh key pair in the
/// configured group.
pub(super) fn send_algorithms(core: &mut Core, offer: Offer) -> ClientHello {
    let group = Group::named(core.config.v1_group);
    let key = KeyPair::generate(&group, &mut *core.rng);
    let (ciphers, modes, hash) = offer.wire_names();
    core.push_frame(&Frame::Algorithms(Algorithms::v1(
        ciphers,
        modes,
        hash,
        base64::encode(group.to_pem()),
        base64::encode(key.public_key().to_pem()),
    )));
    ClientHello {
        key,
        offer,
        v2_bytes: None,
    }
}

/// Sends a v2 `ALGORITHMS`: the v1 fields (a v1 server answers them) with
/// the key share in the first configured group, plus the version, a nonce,
/// the groups and the PSK identifier.
fn send_algorithms_v2(core: &mut Core) -> ClientHello {
    // A pinned server key decides the group; else the first configured.
    let mut groups = core.config.groups.clone();
    let pinned = core.config.server_key.as_ref();
    if let Some(named) = pinned.and_then(|k| k.group().named_group()) {
        groups.retain(|&g| g != named);
        groups.insert(0, named);
    }
    let first = groups.first().copied().unwrap_or(NamedGroup::Ffdhe2048);
    let group = match pinned {
        Some(key) => key.group().clone(),
        None => Group::named(first),
    };
    let key = KeyPair::generate(&group, &mut *core.rng);
    let mut nonce = [0u8; v2::NONCE_LEN];
    core.rng.fill_bytes(&mut nonce);
    let offer = v2::v2_offer(&core.config.offer, core.config.legacy_suites);
    let (ciphers, modes, hash) = offer.wire_names();
    let mut hello = Algorithms::v1(
        ciphers,
        modes,
        hash,
        base64::encode(group.to_pem()),
        base64::encode(key.public_key().to_pem()),
    );
    hello.version = Some(v2::VERSION);
    hello.nonce = Some(base64::encode(nonce));
    hello.groups = Some(groups.iter().map(|g| g.wire_name().into()).collect());
    hello.psk_id = core.config.psk.as_ref().map(|psk| psk.id().into());
    hello.server_key = pinned.map(|k| base64::encode(k.fingerprint()));
    hello.extensions = v2::extension_names(&core.config.extensions);
    let bytes = Frame::Algorithms(hello).encode();
    core.push_encoded(&bytes);
    if core.config.key_log.is_some() {
        let pem = key.public_key().to_pem();
        core.key_log = Logger::new(core.config.key_log.as_ref(), pem.as_bytes(), Some(&nonce));
    }
    ClientHello {
        key,
        offer,
        v2_bytes: Some(bytes),
    }
}

impl ClientHello {
    /// The answer to the first `ALGORITHMS`: v2, or v1 where allowed. A
    /// client never tells a failure in plaintext.
    pub(super) fn on_frame(
        self,
        core: &mut Core,
        frame: Frame,
        bytes: &[u8],
    ) -> Result<Phase, Failed> {
        let exchange = match frame {
            Frame::Exchange(exchange) => exchange,
            Frame::Error(error) => {
                return Err(Failed::silent(
                    ProtocolError::PeerError(error.message).into(),
                ));
            }
            other => {
                return Err(Failed::silent(unexpected(
                    other.type_name(),
                    State::Negotiating,
                )));
            }
        };
        match (self.v2_bytes.is_some(), exchange.version) {
            (true, Some(_)) => {
                let channel = self
                    .agree_v2(core, &exchange, bytes)
                    .map_err(Failed::silent)?;
                core.extensions = v2::answered_extensions(
                    &core.config.extensions,
                    exchange.extensions.as_deref(),
                )
                .map_err(Failed::silent)?;
                Ok(Phase::ClientAwaitFinished(Box::new(Handshake::new(
                    channel,
                ))))
            }
            // A v1 server ignored the v2 fields: fall back only if the
            // policy allows v1.
            (true, None) if !core.config.allows_v1() => Err(Failed::silent(
                ProtocolError::VersionRefused { version: 1 }.into(),
            )),
            (_, None) => {
                let protector = self.agree_v1(&exchange).map_err(Failed::silent)?;
                core.established(Version::V1, protector.suite(), true);
                core.log_v1_keys(protector.secrets());
                Ok(Phase::V1Client(Box::new(V1Client::new(
                    protector, self.offer,
                ))))
            }
            (false, Some(version)) => Err(Failed::silent(
                ProtocolError::VersionRefused { version }.into(),
            )),
        }
    }

    /// v1 rotation: the server's `EXCHANGE` for our new `ALGORITHMS`. A v1
    /// server's `OK` to an earlier `OPEN` may still arrive first.
    pub(super) fn on_rotation_frame(
        self: Box<Self>,
        core: &mut Core,
        frame: Frame,
    ) -> Result<Phase, Failed> {
        match frame {
            Frame::Exchange(exchange) => {
                if let Some(version) = exchange.version {
                    return Err(Failed::silent(
                        ProtocolError::VersionRefused { version }.into(),
                    ));
                }
                let protector = self.agree_v1(&exchange).map_err(Failed::silent)?;
                core.established(Version::V1, protector.suite(), false);
                core.log_v1_keys(protector.secrets());
                Ok(Phase::V1Client(Box::new(V1Client::new(
                    protector, self.offer,
                ))))
            }
            Frame::Ok => {
                super::v1::accept_ok(core);
                Ok(Phase::V1ClientRotating(self))
            }
            Frame::Error(error) => Err(Failed::silent(
                ProtocolError::PeerError(error.message).into(),
            )),
            other => Err(Failed::silent(unexpected(
                other.type_name(),
                State::Rotating,
            ))),
        }
    }

    /// v1: checks the server's choice (against the offer this hello made)
    /// and key, and derives the epoch's keys.
    fn agree_v1(&self, exchange: &Exchange) -> Result<V1Protector, Error> {
        let suite: CipherSuite = exchange.ciphersuite.parse()?;
        self.offer.check_choice(suite)?;
        let server_key = self.key.group().public_key_from_pem(&decode_b64(
            &exchange.value,
            "EXCHANGE",
            "value",
        )?)?;
        let z = self.key.agree(&server_key)?;
        Ok(V1Protector::new(
            suite,
            V1Secrets::derive(z.dangerously_expose_bytes(), suite.cipher()),
        ))
    }

    /// v2: checks the server's choice, group and key, and derives the
    /// handshake's keys from the transcript.
    fn agree_v2(
        &self,
        core: &Core,
        exchange: &Exchange,
        exchange_bytes: &[u8],
    ) -> Result<Channel, Error> {
        if exchange.version != Some(v2::VERSION) {
            return Err(ProtocolError::VersionRefused {
                version: exchange.version.unwrap_or(1),
            }
            .into());
        }
        let group = self.key.group();
        let ours = group.named_group().map(NamedGroup::wire_name);
        if exchange.group.as_deref() != ours {
            return Err(ProtocolError::GroupNotAccepted {
                accepted: v2::group_names(&core.config.groups),
            }
            .into());
        }
        let suite: CipherSuite = exchange.ciphersuite.parse()?;
        self.offer.check_choice(suite)?;
        decode_nonce(exchange.nonce.as_deref(), "EXCHANGE")?;
        let server_key =
            group.public_key_from_pem(&decode_b64(&exchange.value, "EXCHANGE", "value")?)?;
        let z = self.key.agree(&server_key)?;
        // Z_es: only the holder of the pinned key's private half gets it.
        let z_es = match &core.config.server_key {
            Some(pinned) => Some(self.key.agree(pinned)?),
            None => None,
        };
        let hello_bytes = self.v2_bytes.as_deref().unwrap_or_default();
        let th = hash(suite.hash(), &[hello_bytes, exchange_bytes]);
        let psk = core.config.psk.as_ref().map(Psk::key);
        let secrets = EpochSecrets::handshake(
            suite,
            psk,
            z.dangerously_expose_bytes(),
            z_es.as_ref().map(SharedSecret::dangerously_expose_bytes),
            &th,
        );
        Channel::new(
            Role::Client,
            secrets,
            group.clone(),
            0,
            core.key_log.as_ref(),
        )
    }
}

/// Decodes a base64 field of a handshake frame.
pub(super) fn decode_b64(
    value: &str,
    frame: &'static str,
    field: &'static str,
) -> Result<Vec<u8>, Error> {
    base64::decode(value).ok_or_else(|| ProtocolError::InvalidBase64 { frame, field }.into())
}

/// Checks that a v2 hello carries a nonce of the right length.
pub(super) fn decode_nonce(nonce: Option<&str>, frame: &'static str) -> Result<Vec<u8>, Error> {
    let nonce = decode_b64(nonce.unwrap_or_default(), frame, "nonce")?;
    if nonce.len() == v2::NONCE_LEN {
        Ok(nonce)
    } else {
        Err(ProtocolError::InvalidBase64 {
            frame,
            field: "nonce",
        }
        .into())
    }
}
