//! Batch: several files, one after another, on one v2 connection where
//! both hellos agreed `batch`; one file per connection otherwise (v1, or a
//! peer that does not speak it), with the rest given back unsent. The
//! bounds: at most `Receiver::with_max_files` files, the idle timeout
//! between them, and no second file without the extension.

mod common;

use std::cell::RefCell;
use std::io::Cursor;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use common::programs::{Store, TempDir, random_bytes, scratch};
use common::{Pair, edit_frame};
use rand_core::SeedableRng;
use securex::config::Extension;
use securex::error::{ProtocolError, Timer};
use securex::transfer::{Download, Receiver, Sender, SessionError, TransferError, Upload};
use securex::{Config, Error, Event, Message, State};

type Shared<T> = Rc<RefCell<T>>;
type Up = Upload<Cursor<Vec<u8>>>;

fn config(extensions: &[Extension]) -> Config {
    let mut c = Config::default();
    c.extensions = extensions.to_vec();
    c
}

const BATCH: &[Extension] = &[Extension::Batch];
const BOTH: &[Extension] = &[Extension::Batch, Extension::Resume];

/// Three files: a small one, one of several chunks, an empty one.
fn three_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("a.bin", random_bytes(5_000, 1)),
        ("b.bin", random_bytes(300_000, 2)),
        ("c.bin", Vec::new()),
    ]
}

fn sender(name: &str, file: &[u8]) -> Sender<Cursor<Vec<u8>>> {
    Sender::new(
        Cursor::new(file.to_vec()),
        format!("/home/u/{name}"),
        16 * 1024,
    )
    .unwrap()
}

fn batch(files: &[(&str, Vec<u8>)]) -> Shared<Up> {
    let senders = files
        .iter()
        .map(|(name, file)| sender(name, file))
        .collect();
    Rc::new(RefCell::new(Upload::batch(senders).unwrap()))
}

fn download(receiver: Receiver) -> Shared<Download> {
    Rc::new(RefCell::new(Download::new(receiver)))
}

fn pair(
    client: Config,
    server: Config,
    seed: u64,
    up: &Shared<Up>,
    down: &Shared<Download>,
) -> Pair {
    let mut pair = Pair::new(client, server, seed);
    pair.client_app = Some(Box::new(Rc::clone(up)));
    pair.server_app = Some(Box::new(Rc::clone(down)));
    pair
}

/// How many handshakes completed among `events`.
fn handshakes(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::HandshakeComplete { .. }))
        .count()
}

/// The OPEN and RESUME messages the server received.
fn opens(pair: &Pair) -> usize {
    pair.server_messages()
        .iter()
        .filter(|m| matches!(m, Message::Open { .. } | Message::Resume { .. }))
        .count()
}

/// The names in the storage directory, sorted.
fn listing(dir: &TempDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.store())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The client closed its connection: the server sees its end of stream.
fn client_ends(pair: &mut Pair) {
    assert_eq!(pair.client.state(), State::Closed);
    pair.server.handle_eof();
    pair.collect_events();
}

fn assert_stored(dir: &TempDir, files: &[(&str, Vec<u8>)]) {
    for (name, file) in files {
        assert_eq!(
            &std::fs::read(dir.store().join(name)).unwrap(),
            file,
            "{name}"
        );
    }
}

#[test]
fn three_files_go_over_one_connection() {
    let dir = scratch("batch", "three");
    let files = three_files();
    let up = batch(&files);
    let down = download(Receiver::new(dir.store()));
    let mut pair = pair(config(BATCH), config(BATCH), 1, &up, &down);
    pair.drive();

    assert!(pair.client.has_extension(Extension::Batch));
    assert_eq!(up.borrow().outcome(), Some(&Ok(())));
    assert_eq!(up.borrow().completed(), 3);
    assert_eq!(up.borrow().current(), 2);
    assert_stored(&dir, &files);
    assert_eq!(listing(&dir), ["a.bin", "b.bin", "c.bin"]);
    // One connection, one handshake, three files.
    assert_eq!(handshakes(&pair.server_events), 1);
    assert_eq!(handshakes(&pair.client_events), 1);
    assert_eq!(opens(&pair), 3);
    let oks = pair
        .client_messages()
        .iter()
        .filter(|m| matches!(m, Message::Ok))
        .count();
    assert_eq!(oks, 6, "OK to each OPEN and each CLOSE");

    // The server waits for a fourth file or the client's end of stream.
    assert_eq!(down.borrow().outcome(), None);
    assert_eq!(pair.server.state(), State::Established);
    client_ends(&mut pair);
    let stored: Vec<PathBuf> = files.iter().map(|(n, _)| dir.store().join(n)).collect();
    assert_eq!(down.borrow().stored(), stored.as_slice());
    let lens: Vec<u64> = files.iter().map(|(_, d)| d.len() as u64).collect();
    assert_eq!(down.borrow().stored_bytes(), lens.as_slice());
    assert_eq!(down.borrow().outcome(), Some(&Ok(stored[2].clone())));
    assert_eq!(down.borrow().receiver().files_stored(), 3);
    drop(pair);
    let up = Rc::try_unwrap(up).unwrap().into_inner();
    assert!(up.into_unsent().is_empty());
}

#[test]
fn a_batch_goes_on_across_key_rotations() {
    let dir = scratch("batch", "rotations");
    let files = three_files();
    let mut c = config(BATCH);
    common::without_rotation_limits(&mut c);
    c.rekey_after_records = Some(4);
    let up = batch(&files);
    let down = download(Receiver::new(dir.store()));
    let mut pair = pair(c.clone(), c, 2, &up, &down);
    let horizon = pair.now + Duration::from_mins(1);
    pair.drive_until(horizon);

    assert_eq!(up.borrow().outcome(), Some(&Ok(())));
    assert_stored(&dir, &files);
    assert_eq!(handshakes(&pair.server_events), 1);
    assert!(pair.server.epoch() >= 3, "epoch {}", pair.server.epoch());
    assert!(pair.returned.is_empty(), "{:?}", pair.returned);
    client_ends(&mut pair);
    assert_eq!(down.borrow().stored().len(), 3);
    assert!(matches!(down.borrow().outcome(), Some(Ok(_))));
}

#[test]
fn a_server_without_batch_takes_the_first_file_and_the_rest_go_on_new_connections() {
    let dir = scratch("batch", "older-server");
    let files = three_files();
    let up = batch(&files);
    let down = download(Receiver::new(dir.store()));
    let mut first = pair(config(BATCH), config(&[]), 3, &up, &down);
    first.drive();

    assert!(!first.client.has_extension(Extension::Batch));
    assert_eq!(up.borrow().outcome(), Some(&Ok(())));
    assert_eq!(up.borrow().completed(), 1);
    assert_eq!(opens(&first), 1);
    assert_eq!(listing(&dir), ["a.bin"]);
    // The server closed after its OK, as without batch.
    assert_eq!(first.server.state(), State::Closed);
    assert_eq!(
        down.borrow().outcome(),
        Some(&Ok(dir.store().join("a.bin")))
    );
    drop(first);

    let unsent = Rc::try_unwrap(up).unwrap().into_inner().into_unsent();
    assert_eq!(unsent.len(), 2);
    assert!(unsent.iter().all(|s| s.bytes_read() == 0));
    for (i, sender) in unsent.into_iter().enumerate() {
        let up = Rc::new(RefCell::new(Upload::new(sender)));
        let down = download(Receiver::new(dir.store()));
        let mut next = pair(config(BATCH), config(&[]), 4 + i as u64, &up, &down);
        next.drive();
        assert_eq!(up.borrow().outcome(), Some(&Ok(())));
    }
    assert_stored(&dir, &files);
}

#[test]
fn a_client_without_batch_is_served_one_file_as_before() {
    let dir = scratch("batch", "older-client");
    let file = random_bytes(40_000, 5);
    let up = Rc::new(RefCell::new(Upload::new(sender("one.bin", &file))));
    let down = download(Receiver::new(dir.store()));
    let mut pair = pair(config(&[]), config(BATCH), 6, &up, &down);
    pair.drive();

    assert!(!pair.server.has_extension(Extension::Batch));
    assert_eq!(up.borrow().outcome(), Some(&Ok(())));
    assert_eq!(pair.server.state(), State::Closed);
    let path = dir.store().join("one.bin");
    assert_eq!(down.borrow().outcome(), Some(&Ok(path.clone())));
    assert_eq!(down.borrow().stored(), [path]);
    assert_eq!(std::fs::read(dir.store().join("one.bin")).unwrap(), file);
}

#[test]
fn v1_has_no_batch() {
    let dir = scratch("batch", "v1");
    let files = three_files();
    let mut client = Config::seed_compatible();
    client.extensions = BATCH.to_vec();
    let mut server = Config::seed_compatible();
    server.extensions = BATCH.to_vec();
    let up = batch(&files);
    let down = download(Receiver::new(dir.store()));
    let mut pair = pair(client, server, 7, &up, &down);
    // The v1 hello has no extension field.
    pair.to_server.hook = Some(edit_frame(0, |j| {
        assert!(!j.contains_key("extensions"), "{j:?}");
    }));
    pair.drive();

    assert_eq!(pair.client.version(), Some(securex::Version::V1));
    assert!(pair.client.extensions().is_empty());
    assert!(pair.server.extensions().is_empty());
    assert_eq!(up.borrow().outcome(), Some(&Ok(())));
    assert_eq!(up.borrow().completed(), 1);
    assert_eq!(opens(&pair), 1);
    assert_eq!(listing(&dir), ["a.bin"]);
    assert_stored(&dir, &files[..1]);
    assert!(matches!(down.borrow().outcome(), Some(Ok(_))));
    drop(pair);
    let unsent = Rc::try_unwrap(up).unwrap().into_inner().into_unsent();
    assert_eq!(unsent.len(), 2);
}

/// `Receiver::with_max_connection_len` bounds a batch's bytes over all its
/// files, each under the per-file limit: the DATA that would pass it is
/// refused with ERROR, the files before it stay stored, and the one it
/// belongs to is kept as `.partial` with nothing of that DATA.
#[test]
fn a_batch_past_the_connection_byte_limit_is_refused_with_error() {
    let dir = scratch("batch", "max-connection-len");
    let files = vec![
        ("a.bin", random_bytes(5_000, 1)),
        ("b.bin", random_bytes(300_000, 2)),
        ("c.bin", random_bytes(10_000, 3)),
    ];
    let up = batch(&files);
    let receiver = Receiver::new(dir.store())
        .with_max_file_len(400_000)
        .with_max_connection_len(310_000);
    let down = download(receiver);
    let mut pair = pair(config(BATCH), config(BATCH), 9, &up, &down);
    pair.drive();

    assert_eq!(
        down.borrow().outcome(),
        Some(&Err(SessionError::Transfer(
            TransferError::ConnectionFull { limit: 310_000 }
        )))
    );
    assert_eq!(up.borrow().completed(), 2);
    drop(pair);
    assert!(down.borrow_mut().partial().is_some());
    assert_eq!(listing(&dir), ["a.bin", "b.bin", "c.bin.partial"]);
    for (name, data) in &files[..2] {
        assert_eq!(&std::fs::read(dir.store().join(name)).unwrap(), data);
    }
    assert!(
        std::fs::read(dir.store().join("c.bin.partial"))
            .unwrap()
            .is_empty()
    );
    let outcome = format!("{:?}", up.borrow().outcome());
    assert!(outcome.contains("310000 bytes in all"), "{outcome}");
}

#[test]
fn the_file_past_the_limit_is_refused_with_error() {
    let dir = scratch("batch", "max-files");
    let files = three_files();
    let up = batch(&files);
    let down = download(Receiver::new(dir.store()).with_max_files(2));
    let mut pair = pair(config(BATCH), config(BATCH), 8, &up, &down);
    pair.drive();

    assert_eq!(
        down.borrow().outcome(),
        Some(&Err(SessionError::Transfer(TransferError::TooManyFiles {
            limit: 2
        })))
    );
    assert_eq!(down.borrow().stored().len(), 2);
    assert_eq!(listing(&dir), ["a.bin", "b.bin"], "nothing of the third");
    let outcome = format!("{:?}", up.borrow().outcome());
    assert!(outcome.contains("at most 2 files"), "{outcome}");
    assert_eq!(up.borrow().completed(), 2);
    assert!(
        pair.client_messages()
            .iter()
            .any(|m| matches!(m, Message::Error { .. }))
            || matches!(
                pair.client_error(),
                Some(Error::Protocol(ProtocolError::PeerError(_)))
            )
    );
    assert_eq!(pair.server.state(), State::Closed);
}

#[test]
fn a_clean_close_in_the_middle_of_a_file_keeps_its_partial() {
    let dir = scratch("batch", "mid-file");
    let files = vec![
        ("a.bin", random_bytes(5_000, 11)),
        ("b.bin", random_bytes(2_000_000, 12)),
    ];
    let up = batch(&files);
    let down = download(Receiver::new(dir.store()));
    let mut pair = pair(config(BATCH), config(BATCH), 9, &up, &down);
    while down.borrow().receiver().stored_name() != Some("b.bin")
        || down.borrow().receiver().bytes_written() < 100_000
    {
        assert!(pair.step(), "the batch stalled");
    }
    assert_eq!(down.borrow().stored().len(), 1);
    // The client closes cleanly with the second file half sent.
    let now = pair.now;
    pair.client.close(now);
    client_ends(&mut pair);

    assert_eq!(
        down.borrow().outcome(),
        Some(&Err(SessionError::Channel(Error::Protocol(
            ProtocolError::UnexpectedEof
        ))))
    );
    assert_eq!(
        down.borrow_mut().partial(),
        Some(dir.store().join("b.bin.partial"))
    );
    assert_eq!(listing(&dir), ["a.bin", "b.bin.partial"]);
    assert_stored(&dir, &files[..1]);
}

/// A client that pipelines a second OPEN behind its first file's CLOSE,
/// without `batch` agreed: the server's connection refuses it with a
/// typed error and closes; the client learns it from the ERROR.
#[test]
fn a_second_file_without_batch_is_refused() {
    let dir = scratch("batch", "no-batch");
    let down = download(Receiver::new(dir.store()));
    let mut pair = Pair::new(config(&[]), config(&[]), 10);
    pair.server_app = Some(Box::new(Rc::clone(&down)));
    pair.drive();
    assert_eq!(pair.client.state(), State::Established);

    // The messages of one upload, as its sender makes them, then the
    // OPEN of another, all in one write.
    let file = random_bytes(3_000, 13);
    let mut sender = sender("a.bin", &file);
    let mut messages = vec![sender.next_message().unwrap().unwrap()];
    sender.handle_message(&Message::Ok).unwrap();
    while let Some(m) = sender.next_message().unwrap() {
        messages.push(m);
    }
    messages.push(Message::Open {
        file_name: "b.bin".into(),
    });
    let now = pair.now;
    for m in messages {
        pair.client.send(now, m).unwrap();
    }
    pair.drive();

    assert_eq!(
        pair.server.close_reason(),
        Some(&Error::Protocol(ProtocolError::UnexpectedMessage {
            message: "OPEN"
        }))
    );
    assert_eq!(pair.server.state(), State::Closed);
    assert!(
        matches!(
            pair.client_error(),
            Some(Error::Protocol(ProtocolError::PeerError(ref m))) if m.contains("OPEN")
        ),
        "{:?}",
        pair.client_error()
    );
    assert!(!dir.store().join("b.bin").exists());
    assert!(!dir.store().join("b.bin.partial").exists());
}

/// A batch client that goes quiet between two files: the server's idle
/// timeout closes the connection, with the file before kept.
#[test]
fn a_batch_client_quiet_between_files_is_timed_out() {
    let dir = scratch("batch", "idle");
    let idle = Duration::from_secs(20);
    let mut server = config(BATCH);
    server.idle_timeout = Some(idle);
    let mut client = config(BATCH);
    client.idle_timeout = None;
    let down = download(Receiver::new(dir.store()));
    let mut pair = Pair::new(client, server, 11);
    pair.server_app = Some(Box::new(Rc::clone(&down)));
    pair.drive();

    let file = random_bytes(3_000, 14);
    let mut sender = sender("a.bin", &file);
    let now = pair.now;
    let open = sender.next_message().unwrap().unwrap();
    pair.client.send(now, open).unwrap();
    pair.drive();
    assert_eq!(pair.client_messages(), [Message::Ok]);
    sender.handle_message(&Message::Ok).unwrap();
    while let Some(m) = sender.next_message().unwrap() {
        pair.client.send(now, m).unwrap();
    }
    pair.drive();
    assert_eq!(pair.client_messages(), [Message::Ok, Message::Ok]);
    assert_eq!(down.borrow().stored().len(), 1);
    assert_eq!(pair.server.state(), State::Established);

    // Nothing more: the server's idle timer fires.
    pair.wait(idle + Duration::from_secs(1));
    assert_eq!(
        pair.server.close_reason(),
        Some(&Error::TimedOut { timer: Timer::Idle })
    );
    assert_eq!(
        down.borrow().outcome(),
        Some(&Err(SessionError::Channel(Error::TimedOut {
            timer: Timer::Idle
        })))
    );
    assert_eq!(listing(&dir), ["a.bin"]);
}

#[test]
fn a_batch_cut_in_its_second_file_resumes_and_stores_everything() {
    let dir = scratch("batch", "resume");
    let files = vec![
        ("a.bin", random_bytes(5_000, 21)),
        ("b.bin", random_bytes(1_500_000, 22)),
        ("c.bin", random_bytes(70_000, 23)),
    ];
    let rng = |seed| rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let up = batch(&files);
    let down = download(Receiver::new(dir.store()).with_resume(rng(1)));
    let mut first = pair(config(BOTH), config(BOTH), 12, &up, &down);
    while down.borrow().receiver().stored_name() != Some("b.bin")
        || down.borrow().receiver().bytes_written() < 200_000
    {
        assert!(first.step(), "the batch stalled");
    }
    // Each file got its own token.
    let token_a = up.borrow().senders()[0].resume_token().cloned().unwrap();
    let token_b = up.borrow().senders()[1].resume_token().cloned().unwrap();
    assert_ne!(token_a, token_b);
    assert_eq!(up.borrow().current(), 1);
    drop(first);
    assert_eq!(
        down.borrow_mut().partial(),
        Some(dir.store().join("b.bin.partial"))
    );
    let held = std::fs::metadata(dir.store().join("b.bin.partial"))
        .unwrap()
        .len();
    let unsent = Rc::try_unwrap(up).unwrap().into_inner().into_unsent();
    assert_eq!(unsent.len(), 1, "c.bin never started");

    // A new connection: b resumed, then c.
    let mut senders = vec![sender("b.bin", &files[1].1).with_resume_token(token_b)];
    senders.extend(unsent);
    let up = Rc::new(RefCell::new(Upload::batch(senders).unwrap()));
    let down = download(Receiver::new(dir.store()).with_resume(rng(2)));
    let mut second = pair(config(BOTH), config(BOTH), 13, &up, &down);
    second.drive();
    assert_eq!(up.borrow().outcome(), Some(&Ok(())));
    assert_eq!(up.borrow().senders()[0].resumed_from(), held);
    assert!(up.borrow().senders()[1].resume_token().is_some());
    client_ends(&mut second);
    assert_eq!(down.borrow().stored().len(), 2);
    assert_stored(&dir, &files);
    assert_eq!(
        listing(&dir),
        ["a.bin", "b.bin", "c.bin"],
        "no .partial, no token"
    );
}

#[test]
fn an_empty_batch_is_refused() {
    let senders: Vec<Sender<Cursor<Vec<u8>>>> = Vec::new();
    assert_eq!(
        Upload::batch(senders).unwrap_err(),
        TransferError::EmptyBatch
    );
}

#[test]
fn batch_is_agreed_like_any_extension() {
    assert!(Extension::ALL.contains(&Extension::Batch));
    assert_eq!(Extension::Batch.wire_name(), "batch");
    assert_eq!(Extension::from_wire_name("batch"), Some(Extension::Batch));
    assert!(Config::default().extensions.is_empty());
    let mut pair = Pair::new(config(BOTH), config(BATCH), 14);
    pair.drive();
    assert_eq!(pair.client.extensions(), BATCH);
    assert_eq!(pair.server.extensions(), BATCH);
}
