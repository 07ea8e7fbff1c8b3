//! The key log (`Config::key_log`): both sides of a v1 and a v2 pair log
//! the same lines, one per direction of every epoch (rotations included),
//! in the grammar of `securex::keylog`; the keys in them open every record
//! actually sent; and a side without a key log logs nothing.

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::Digest;

use common::{Link, Pair};
use securex::keylog::KeyLog;
use securex::record::{V1Protector, V2DirectionKeys, V2Opener, V2Record};
use securex::schedule::V1Secrets;
use securex::suite::{CipherSuite, Hash, Mode};
use securex::wire::Frame;
use securex::{Config, Message};

type Lines = Arc<Mutex<Vec<String>>>;

/// A key log that collects its lines.
fn collecting() -> (KeyLog, Lines) {
    let lines = Lines::default();
    let sink = Arc::clone(&lines);
    let log = KeyLog::new(move |line| sink.lock().unwrap().push(line.to_owned()));
    (log, lines)
}

/// Every frame (without `\r\n`) that crosses `link`, in order.
fn capture(link: &mut Link) -> Rc<RefCell<Vec<Vec<u8>>>> {
    let frames = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&frames);
    link.hook = Some(Box::new(move |_, frame| {
        sink.borrow_mut().push(frame.clone());
        vec![frame]
    }));
    frames
}

/// One key log line, its fields checked against the grammar.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    label: String,
    id: String,
    epoch: u32,
    direction: String,
    /// key, MAC key, static IV; empty for `-`.
    keys: [Vec<u8>; 3],
}

fn parse(line: &str) -> Line {
    let f: Vec<&str> = line.split(' ').collect();
    assert_eq!(f.len(), 7, "{line}");
    let hex = |s: &str| {
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{line}"
        );
        base16ct::lower::decode_vec(s).unwrap()
    };
    let key = |s: &str| if s == "-" { Vec::new() } else { hex(s) };
    assert!(!line.contains('\n') && !line.contains('\r'));
    assert_eq!(f[1].len(), 64, "{line}");
    hex(f[1]);
    assert!(["c2s", "s2c"].contains(&f[3]), "{line}");
    assert_ne!(f[4], "-", "{line}");
    Line {
        label: f[0].into(),
        id: f[1].into(),
        epoch: f[2].parse().unwrap(),
        direction: f[3].into(),
        keys: [key(f[4]), key(f[5]), key(f[6])],
    }
}

fn hello(frames: &[Vec<u8>]) -> securex::wire::Algorithms {
    match Frame::decode(&frames[0]).unwrap() {
        Frame::Algorithms(hello) => hello,
        other => panic!("first frame {other:?}"),
    }
}

/// v2 with rotation after `records` records, without the rotation limits
/// (a clock that stands still).
fn v2_config(suite: CipherSuite, records: u64, log: KeyLog) -> Config {
    let mut c = Config::default();
    common::without_rotation_limits(&mut c);
    c.offer.modes = vec![suite.mode()];
    c.offer.hashes = vec![suite.hash()];
    c.rekey_after_records = Some(records);
    c.key_log = Some(log);
    c
}

/// Opens every v2 record of one direction with the logged keys of its
/// epoch: the inner plaintexts, in order.
fn open_v2(frames: &[Vec<u8>], suite: CipherSuite, keys: &BTreeMap<u32, Line>) -> Vec<Vec<u8>> {
    let mut openers: BTreeMap<u32, V2Opener> = BTreeMap::new();
    let mut plaintexts = Vec::new();
    for frame in frames {
        let Ok(Frame::Record(r)) = Frame::decode(frame) else {
            continue;
        };
        let opener = openers.entry(r.epoch).or_insert_with(|| {
            let [k, m, iv] = &keys[&r.epoch].keys;
            V2Opener::new(V2DirectionKeys::new(suite, k, m, iv).unwrap(), r.epoch)
        });
        let record = V2Record {
            epoch: r.epoch,
            seq: r.seq,
            iv: BASE64.decode(r.iv.unwrap_or_default()).unwrap(),
            ciphertext: BASE64.decode(&r.payload).unwrap(),
            mac: base16ct::lower::decode_vec(r.hash.unwrap_or_default()).unwrap(),
        };
        let plaintext = opener
            .open(&record)
            .unwrap_or_else(|e| panic!("epoch {} seq {}: {e}", r.epoch, r.seq));
        plaintexts.push(plaintext);
    }
    plaintexts
}

/// The application messages among inner plaintexts, and how many REKEY
/// (0x11) and REKEY_ACK (0x12) records there were.
fn app_messages(plaintexts: &[Vec<u8>]) -> (Vec<Message>, usize) {
    let mut messages = Vec::new();
    let mut rotations = 0;
    for p in plaintexts {
        match p[0] {
            0x10 => {}
            0x11 | 0x12 => rotations += 1,
            _ => messages.push(Message::from_v2_bytes(p).unwrap().unwrap()),
        }
    }
    (messages, rotations)
}

#[test]
fn v2_both_sides_log_every_epoch_and_the_keys_open_every_record() {
    for suite in ["DH;AES-128;GCM;SHA-256", "DH;AES-128;CBC;SHA-512"] {
        let suite: CipherSuite = suite.parse().unwrap();
        let (client_log, client_lines) = collecting();
        let (server_log, server_lines) = collecting();
        let mut pair = Pair::new(
            v2_config(suite, 3, client_log),
            v2_config(suite, 4, server_log),
            11,
        );
        let up = capture(&mut pair.to_server);
        let down = capture(&mut pair.to_client);
        pair.drive();
        for i in 0..40u32 {
            let data = format!("record {i} of the key log test").into_bytes();
            pair.client.send(pair.now, Message::Data(data)).unwrap();
            if i % 2 == 0 {
                pair.server.send(pair.now, Message::Ok).unwrap();
            }
            if i % 5 == 0 {
                pair.step();
            }
        }
        pair.drive();
        assert!(pair.returned.is_empty(), "{:?}", pair.returned);
        assert_eq!(pair.client.suite(), Some(suite));
        let epoch = pair.client.epoch();
        assert!(epoch >= 8, "{suite}: {epoch} rotations");
        assert_eq!(pair.server.epoch(), epoch);

        // The same lines on both sides, two per epoch, c2s then s2c.
        let lines = client_lines.lock().unwrap().clone();
        assert_eq!(lines, *server_lines.lock().unwrap(), "{suite}");
        let parsed: Vec<Line> = lines.iter().map(|l| parse(l)).collect();
        assert_eq!(parsed.len(), 2 * (epoch as usize + 1), "{suite}");
        let nonce = BASE64.decode(hello(&up.borrow()).nonce.unwrap()).unwrap();
        let id = base16ct::lower::encode_string(&nonce);
        for (i, line) in parsed.iter().enumerate() {
            assert_eq!(line.label, "SECUREX_V2");
            assert_eq!(line.id, id);
            assert_eq!(line.epoch as usize, i / 2);
            assert_eq!(line.direction, ["c2s", "s2c"][i % 2]);
            let [k, m, iv] = &line.keys;
            assert_eq!(k.len(), 16);
            match suite.mode() {
                Mode::Gcm => assert_eq!((m.len(), iv.len()), (0, 12)),
                _ => assert_eq!((m.len(), iv.len()), (suite.hash().output_len(), 0)),
            }
        }

        // The keys of each epoch open every record of its direction.
        let by_epoch = |direction: &str| -> BTreeMap<u32, Line> {
            parsed
                .iter()
                .filter(|l| l.direction == direction)
                .map(|l| (l.epoch, l.clone()))
                .collect()
        };
        let (sent_up, rekeys_up) = app_messages(&open_v2(&up.borrow(), suite, &by_epoch("c2s")));
        let (sent_down, rekeys_down) =
            app_messages(&open_v2(&down.borrow(), suite, &by_epoch("s2c")));
        assert_eq!(sent_up, pair.server_messages(), "{suite}");
        assert_eq!(sent_down, pair.client_messages(), "{suite}");
        assert_eq!(sent_up.len(), 40);
        // Every rotation is one REKEY and one REKEY_ACK, across both ways.
        assert_eq!(rekeys_up + rekeys_down, 2 * epoch as usize, "{suite}");
        // Records of every epoch were opened (the server may have sent
        // nothing in the last one).
        let epochs = |frames: &[Vec<u8>]| -> std::collections::BTreeSet<u32> {
            frames
                .iter()
                .filter_map(|f| match Frame::decode(f) {
                    Ok(Frame::Record(r)) => Some(r.epoch),
                    _ => None,
                })
                .collect()
        };
        let mut both = epochs(&up.borrow());
        both.extend(epochs(&down.borrow()));
        assert_eq!(both, (0..=epoch).collect());
        assert!(epochs(&down.borrow()).len() >= epoch as usize);
    }
}

#[test]
fn v1_both_sides_log_every_epoch_and_the_keys_open_every_record() {
    let config = |log| {
        let mut c = Config::seed_compatible();
        common::without_rotation_limits(&mut c);
        c.rotate_after_frames = Some(3);
        c.offer.hashes = vec![Hash::Sha512, Hash::Sha256];
        c.key_log = Some(log);
        c
    };
    let (client_log, client_lines) = collecting();
    let (server_log, server_lines) = collecting();
    let mut pair = Pair::new(config(client_log), config(server_log), 12);
    let up = capture(&mut pair.to_server);
    pair.drive();
    let mut sent = vec![Message::Open {
        file_name: "notes.txt".into(),
    }];
    for i in 0..12u32 {
        sent.push(Message::Data(format!("v1 chunk {i}").into_bytes()));
    }
    for m in &sent {
        pair.client.send(pair.now, m.clone()).unwrap();
        pair.drive();
    }
    assert!(pair.returned.is_empty(), "{:?}", pair.returned);
    assert_eq!(pair.server_messages(), sent);
    let epoch = pair.client.epoch();
    assert!(epoch >= 3, "{epoch} rotations");
    assert_eq!(pair.server.epoch(), epoch);

    // The same lines on both sides, one per epoch (v1 protects c2s only).
    let lines = client_lines.lock().unwrap().clone();
    assert_eq!(lines, *server_lines.lock().unwrap());
    let parsed: Vec<Line> = lines.iter().map(|l| parse(l)).collect();
    assert_eq!(parsed.len(), epoch as usize + 1);
    // The id: SHA-256 of the first ALGORITHMS' public_key, decoded.
    let pem = BASE64.decode(hello(&up.borrow()).public_key).unwrap();
    assert!(pem.starts_with(b"-----BEGIN PUBLIC KEY-----"));
    let id = base16ct::lower::encode_string(&sha2::Sha256::digest(&pem));
    let suite = pair.client.suite().unwrap();
    for (i, line) in parsed.iter().enumerate() {
        assert_eq!(
            (line.label.as_str(), line.id.as_str(), line.epoch),
            ("SECUREX_V1", id.as_str(), u32::try_from(i).unwrap())
        );
        assert_eq!(line.direction, "c2s");
        assert_eq!(line.keys[0].len(), suite.cipher().key_len());
        assert_eq!((line.keys[1].len(), line.keys[2].len()), (32, 0));
    }

    // Each epoch's keys open the records that follow its ALGORITHMS.
    let mut opened = Vec::new();
    let mut epoch_of_records: Option<usize> = None;
    let mut protector = None;
    for frame in up.borrow().iter() {
        match Frame::decode(frame).unwrap() {
            Frame::Algorithms(_) => {
                let e = epoch_of_records.map_or(0, |e| e + 1);
                epoch_of_records = Some(e);
                let [key, derived, _] = &parsed[e].keys;
                let secrets = V1Secrets::dangerously_from_raw(suite.cipher(), derived, key);
                protector = Some(V1Protector::new(suite, secrets.unwrap()));
            }
            Frame::SecureX(record) => {
                let inner = protector.as_ref().unwrap().open(&record).unwrap();
                opened.push(Message::from_v1_json(&inner).unwrap());
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(epoch_of_records, Some(epoch as usize));
    assert_eq!(opened, sent);
}

#[test]
fn the_key_log_is_off_by_default_and_a_side_without_one_logs_nothing() {
    assert_eq!(Config::default().key_log, None);
    assert_eq!(Config::seed_compatible().key_log, None);
    assert_eq!(Config::builder().build().unwrap().key_log, None);
    let (log, _) = collecting();
    let built = Config::builder().key_log(Some(log.clone())).build();
    assert_eq!(built.unwrap().key_log, Some(log));
    // One log, held by the client only: the server adds nothing to it.
    let (log, lines) = collecting();
    let suite: CipherSuite = "DH;AES-128;GCM;SHA-256".parse().unwrap();
    let client = v2_config(suite, 2, log.clone());
    let mut server = v2_config(suite, 2, log);
    server.key_log = None;
    let mut pair = Pair::new(client.clone(), server, 13);
    pair.drive();
    for _ in 0..6 {
        pair.client
            .send(pair.now, Message::Data(vec![7; 10]))
            .unwrap();
        pair.drive();
    }
    let epoch = pair.client.epoch();
    assert!(epoch >= 2, "{epoch}");
    assert_eq!(lines.lock().unwrap().len(), 2 * (epoch as usize + 1));
    // The configuration shows no key and no line.
    let shown = format!("{client:?}");
    assert!(shown.contains("key_log: Some(KeyLog(..))"), "{shown}");
    for line in lines.lock().unwrap().iter() {
        assert!(!shown.contains(line.split(' ').nth(4).unwrap()));
    }
}
