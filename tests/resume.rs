//! Resume through two connections: an upload cut mid-way continues, on a
//! new connection, from what the server holds, and the file is stored byte
//! for byte; a peer without the extension starts again from zero.

mod common;

use std::cell::RefCell;
use std::io::Cursor;
use std::rc::Rc;

use common::Pair;
use common::programs::{Store, TempDir, random_bytes, scratch};
use rand_core::SeedableRng;
use securex::config::Extension;
use securex::message::ResumeToken;
use securex::transfer::{Download, Receiver, Sender, Upload};
use securex::{Config, Message};

type Shared<T> = Rc<RefCell<T>>;

fn config(resume: bool) -> Config {
    let mut c = Config::default();
    if resume {
        c.extensions = vec![Extension::Resume];
    }
    c
}

fn upload(file: &[u8], token: Option<ResumeToken>) -> Shared<Upload<Cursor<Vec<u8>>>> {
    let mut sender = Sender::new(Cursor::new(file.to_vec()), "/home/u/big.bin", 16 * 1024).unwrap();
    if let Some(token) = token {
        sender = sender.with_resume_token(token);
    }
    Rc::new(RefCell::new(Upload::new(sender)))
}

fn download(dir: &TempDir, seed: u64) -> Shared<Download> {
    let rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let receiver = Receiver::new(dir.store()).with_resume(rng);
    Rc::new(RefCell::new(Download::new(receiver)))
}

fn pair(
    client: Config,
    server: Config,
    seed: u64,
    up: &Shared<Upload<Cursor<Vec<u8>>>>,
    down: &Shared<Download>,
) -> Pair {
    let mut pair = Pair::new(client, server, seed);
    pair.client_app = Some(Box::new(Rc::clone(up)));
    pair.server_app = Some(Box::new(Rc::clone(down)));
    pair
}

/// The DATA bytes the server received on `pair`.
fn data_received(pair: &Pair) -> usize {
    pair.server_messages()
        .iter()
        .map(|m| match m {
            Message::Data(d) => d.len(),
            _ => 0,
        })
        .sum()
}

/// Runs an upload of `file` until the server holds at least `cut` bytes,
/// then drops both ends (the connection is cut; `file` must be well
/// over 256 KiB larger than `cut`, what one step may move); returns the token the
/// client kept.
fn cut_upload(dir: &TempDir, file: &[u8], cut: u64) -> ResumeToken {
    let up = upload(file, None);
    let down = download(dir, 1);
    let mut first = pair(config(true), config(true), 1, &up, &down);
    while down.borrow().receiver().bytes_written() < cut {
        assert!(first.step(), "the upload stalled");
    }
    let token = up.borrow().sender().resume_token().cloned();
    assert_eq!(up.borrow().sender().stored_name(), Some("big.bin"));
    drop(first);
    // The server's end: what arrived is kept as .partial, with the token.
    assert!(down.borrow_mut().partial().is_some());
    token.expect("the server's ACCEPTED gave a token")
}

#[test]
fn a_cut_upload_resumes_and_the_file_is_stored_byte_for_byte() {
    let dir = scratch("resume", "byte-for-byte");
    let file = random_bytes(1_000_000, 7);
    let token = cut_upload(&dir, &file, 150_000);
    let held = std::fs::metadata(dir.store().join("big.bin.partial"))
        .unwrap()
        .len();
    assert!(held >= 150_000 && held < file.len() as u64);

    let up = upload(&file, Some(token));
    let down = download(&dir, 2);
    let mut second = pair(config(true), config(true), 2, &up, &down);
    second.drive();
    assert_eq!(up.borrow().outcome(), Some(&Ok(())));
    assert_eq!(up.borrow().sender().resumed_from(), held);
    assert_eq!(std::fs::read(dir.store().join("big.bin")).unwrap(), file);
    // Only the rest travelled, after the prefix's digest.
    assert_eq!(
        data_received(&second),
        file.len() - usize::try_from(held).unwrap()
    );
    assert!(
        second
            .server_messages()
            .iter()
            .any(|m| matches!(m, Message::Prefix { .. }))
    );
    let mut left: Vec<String> = std::fs::read_dir(dir.store())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["big.bin"], "no .partial, no token left");
}

/// A resume whose prefix does not match is refused with ERROR, and the
/// server drops the part it held (and its token): kept, it would refuse
/// the name to every later upload, a dead end only the server's operator
/// could clear. The same command again then uploads from zero.
#[test]
fn a_changed_file_is_refused_and_its_part_dropped_so_the_next_upload_starts_over() {
    let dir = scratch("resume", "changed");
    let file = random_bytes(1_000_000, 8);
    let token = cut_upload(&dir, &file, 50_000);
    let mut changed = file.clone();
    changed[10] ^= 1;

    let up = upload(&changed, Some(token.clone()));
    let down = download(&dir, 3);
    let mut second = pair(config(true), config(true), 3, &up, &down);
    second.drive();
    let outcome = format!("{:?}", up.borrow().outcome());
    assert!(
        outcome.contains("differs from the part the server held"),
        "{outcome}"
    );
    drop(second);
    assert_eq!(down.borrow_mut().partial(), None);
    let left: Vec<_> = std::fs::read_dir(dir.store()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");

    // The client still presents its old token: nothing is held under the
    // name any more, so the upload starts from zero.
    let up = upload(&changed, Some(token));
    let down = download(&dir, 5);
    let mut third = pair(config(true), config(true), 5, &up, &down);
    third.drive();
    assert_eq!(up.borrow().outcome(), Some(&Ok(())));
    assert_eq!(up.borrow().sender().resumed_from(), 0);
    assert_eq!(std::fs::read(dir.store().join("big.bin")).unwrap(), changed);
}

#[test]
fn a_server_without_the_extension_answers_a_fresh_upload() {
    // The client holds a token, but the server (an older v2 peer, say)
    // agrees no extension: the client sends OPEN and starts from zero.
    let dir = scratch("resume", "older-server");
    let file = random_bytes(50_000, 9);
    let up = upload(&file, Some(ResumeToken::from_bytes([1; 16])));
    let down = download(&dir, 4);
    let mut pair = pair(config(true), config(false), 4, &up, &down);
    pair.drive();
    assert_eq!(up.borrow().outcome(), Some(&Ok(())));
    assert_eq!(up.borrow().sender().resumed_from(), 0);
    assert_eq!(up.borrow().sender().resume_token(), None);
    assert!(
        pair.server_messages()
            .iter()
            .any(|m| matches!(m, Message::Open { .. }))
    );
    assert_eq!(std::fs::read(dir.store().join("big.bin")).unwrap(), file);
}

#[test]
fn a_resume_with_another_token_is_refused_with_error() {
    let dir = scratch("resume", "stranger");
    let file = random_bytes(1_000_000, 10);
    let _owner = cut_upload(&dir, &file, 20_000);
    let up = upload(&file, Some(ResumeToken::from_bytes([2; 16])));
    let down = download(&dir, 5);
    let mut stranger = pair(config(true), config(true), 5, &up, &down);
    stranger.drive();
    let outcome = format!("{:?}", up.borrow().outcome());
    assert!(
        outcome.contains("ResumeRefused") || outcome.contains("resume refused"),
        "{outcome}"
    );
    assert_eq!(data_received(&stranger), 0);
}
