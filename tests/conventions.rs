//! The public types can cross threads where that makes sense: checked at
//! compile time (the test fails to build if a bound is lost).

use securex::config::{Config, ConfigBuilder, ConfigError, Psk, StaticKey};
use securex::message::ResumeToken;
use securex::transfer::{Download, Receiver, Sender, SessionError, TransferError, Upload};
use securex::{Connection, Error, Event, Message, Output};

fn send<T: Send>() {}
fn send_sync<T: Send + Sync>() {}
fn error<T: std::error::Error + Send + Sync + 'static>() {}

#[test]
fn connections_and_transfers_are_send_and_the_rest_send_and_sync() {
    // A connection and the ends of a transfer move to another thread (a
    // runtime's worker); they are used by one thread at a time, so they
    // need not be Sync (the RNG handed in is only Send).
    send::<Connection>();
    send::<Receiver>();
    send::<Download>();
    send::<Sender<std::fs::File>>();
    send::<Upload<std::fs::File>>();
    // Plain data: shared freely.
    send_sync::<Config>();
    send_sync::<ConfigBuilder>();
    send_sync::<Psk>();
    send_sync::<StaticKey>();
    send_sync::<Message>();
    send_sync::<ResumeToken>();
    send_sync::<Event>();
    send_sync::<Output>();
    // Errors go anywhere, as `Box<dyn Error + Send + Sync>` needs.
    error::<Error>();
    error::<ConfigError>();
    error::<TransferError>();
    error::<SessionError>();
}
