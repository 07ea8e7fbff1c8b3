//! v2 extensions are agreed in the hellos: both sides must list one, an
//! older peer that knows none ignores the field, the server may answer only
//! what the client offered, and both hellos are in the transcript, so a
//! man in the middle who strips or adds one fails the handshake.

mod common;

use common::{Pair, edit_frame};
use securex::config::Extension;
use securex::error::ProtocolError;
use securex::{Config, Error, Role, State};
use serde_json::json;

fn config(extensions: &[Extension]) -> Config {
    let mut c = Config::default();
    c.extensions = extensions.to_vec();
    c
}

const RESUME: &[Extension] = &[Extension::Resume];

#[test]
fn an_extension_is_agreed_only_when_both_sides_list_it() {
    for (client, server, agreed) in [
        (RESUME, RESUME, RESUME),
        (RESUME, &[][..], &[][..]),
        (&[][..], RESUME, &[][..]),
        (&[][..], &[][..], &[][..]),
    ] {
        let mut pair = Pair::new(config(client), config(server), 3);
        pair.drive();
        assert_eq!(pair.client.state(), State::Established);
        assert_eq!(pair.client.extensions(), agreed, "{client:?} {server:?}");
        assert_eq!(pair.server.extensions(), agreed, "{client:?} {server:?}");
        assert_eq!(
            pair.client.has_extension(Extension::Resume),
            !agreed.is_empty()
        );
    }
}

#[test]
fn a_server_ignores_names_it_does_not_know() {
    // The client's list gains a name from the future and a repeat: the
    // server agrees `resume`, once.
    let mut pair = Pair::new(config(RESUME), config(RESUME), 4);
    pair.to_server.hook = Some(edit_frame(0, |j| {
        j.insert("extensions".into(), json!(["future-x", "resume", "resume"]));
    }));
    pair.drive();
    assert_eq!(pair.server.extensions(), RESUME);
    // The edit changed the hello the client's transcript holds: the
    // handshake then fails on FINISHED.
    assert_eq!(
        pair.client_error(),
        Some(Error::Protocol(ProtocolError::BadFinished))
    );
}

#[test]
fn stripping_the_clients_extensions_fails_the_handshake() {
    let mut pair = Pair::new(config(RESUME), config(RESUME), 5);
    pair.to_server.hook = Some(edit_frame(0, |j| {
        j.remove("extensions").unwrap();
    }));
    pair.drive();
    assert_eq!(
        pair.client_error(),
        Some(Error::Protocol(ProtocolError::BadFinished))
    );
    assert_ne!(pair.server.state(), State::Established);
}

#[test]
fn stripping_the_servers_answer_fails_the_handshake() {
    let mut pair = Pair::new(config(RESUME), config(RESUME), 6);
    pair.to_client.hook = Some(edit_frame(0, |j| {
        j.remove("extensions").unwrap();
    }));
    pair.drive();
    assert_eq!(
        pair.client_error(),
        Some(Error::Protocol(ProtocolError::BadFinished))
    );
    assert_ne!(pair.client.state(), State::Established);
}

#[test]
fn a_server_may_not_agree_what_was_not_offered() {
    let mut pair = Pair::new(config(&[]), config(RESUME), 7);
    pair.to_client.hook = Some(edit_frame(0, |j| {
        j.insert("extensions".into(), json!(["resume"]));
    }));
    pair.drive();
    assert_eq!(
        pair.client_error(),
        Some(Error::Protocol(ProtocolError::UnexpectedExtension {
            name: "resume".into()
        }))
    );
    assert!(pair.client.extensions().is_empty());
}

#[test]
fn v1_has_no_extensions() {
    let mut client = Config::seed_compatible();
    client.extensions = RESUME.to_vec();
    let mut server = Config::seed_compatible();
    server.extensions = RESUME.to_vec();
    let mut pair = Pair::new(client, server, 8);
    pair.to_server.hook = Some(Box::new(|i, frame| {
        if i == 0 {
            let text = String::from_utf8(frame.clone()).unwrap();
            assert!(!text.contains("extensions"), "{text}");
        }
        vec![frame]
    }));
    pair.drive();
    assert_eq!(pair.conn(Role::Client).state(), State::Established);
    assert!(pair.client.extensions().is_empty());
    assert!(pair.server.extensions().is_empty());
}

fn token() -> securex::message::ResumeToken {
    securex::message::ResumeToken::from_bytes([9; 16])
}

#[test]
fn the_resume_messages_need_the_extension_agreed() {
    use securex::Message;
    use securex::error::Misuse;
    let resume = || Message::Resume {
        file_name: "f".into(),
        token: token(),
    };
    let accepted = || Message::Accepted {
        stored_name: "f".into(),
        offset: 7,
        token: token(),
    };
    let not_agreed = |message| Err(Error::Misuse(Misuse::ExtensionNotAgreed { message }));

    let mut plain = Pair::new(config(&[]), config(RESUME), 9);
    let now = plain.now;
    // Before the handshake, nothing is agreed yet.
    assert_eq!(plain.client.send(now, resume()), not_agreed("RESUME"));
    plain.drive();
    assert_eq!(plain.client.send(now, resume()), not_agreed("RESUME"));
    let prefix = Message::Prefix { sha256: [0; 32] };
    assert_eq!(plain.client.send(now, prefix), not_agreed("PREFIX"));
    assert_eq!(plain.server.send(now, accepted()), not_agreed("ACCEPTED"));

    let mut agreed = Pair::new(config(RESUME), config(RESUME), 10);
    agreed.drive();
    let now = agreed.now;
    agreed.client.send(now, resume()).unwrap();
    agreed.drive();
    assert!(agreed.server_messages().contains(&resume()));
    agreed.server.send(agreed.now, accepted()).unwrap();
    agreed.drive();
    assert!(agreed.client_messages().contains(&accepted()));
}

/// `RESUME` calls for an answer within the reply deadline, as `OPEN` does,
/// and `ACCEPTED` is that answer.
#[test]
fn resume_is_answered_in_time_by_accepted() {
    use securex::Message;
    use securex::error::Timer;
    let resume = Message::Resume {
        file_name: "f".into(),
        token: token(),
    };
    let timeout = Config::default().handshake_timeout.unwrap();

    let mut unanswered = Pair::new(config(RESUME), config(RESUME), 11);
    unanswered.drive();
    unanswered
        .client
        .send(unanswered.now, resume.clone())
        .unwrap();
    unanswered.drive();
    unanswered.wait(timeout + std::time::Duration::from_secs(1));
    assert_eq!(
        unanswered.client_error(),
        Some(Error::TimedOut {
            timer: Timer::OpenReply
        })
    );

    let mut answered = Pair::new(config(RESUME), config(RESUME), 12);
    answered.drive();
    answered.client.send(answered.now, resume).unwrap();
    answered.drive();
    let accepted = Message::Accepted {
        stored_name: "f".into(),
        offset: 0,
        token: token(),
    };
    answered.server.send(answered.now, accepted).unwrap();
    answered.drive();
    answered.wait(timeout + std::time::Duration::from_secs(1));
    assert_eq!(answered.client_error(), None);
    assert_eq!(answered.client.state(), State::Established);
}
