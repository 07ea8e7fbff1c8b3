//! The `frames` target: the wire, i.e. the `\r\n` frame codec, the
//! decoding of every frame type and of the inner messages (v1 JSON, v2
//! binary).
//!
//! Input: `[limit, cut_hi, cut_lo, stream...]`.
//!
//! * `limit`: below 0x80 the splitter refuses frames over 64 KiB; otherwise
//!   `limit & 0x7f` bytes (to reach the limit checks with short inputs).
//! * `cut`: the stream is also fed in two pieces, split at
//!   `cut % (len + 1)`, and one byte at a time.
//!
//! Checks, besides "never panics":
//!
//! * every split of the stream gives the same frames, then the same error;
//!   the splitter never holds more than the limit (plus a pending `\r`);
//! * every frame that `Frame::decode` accepts re-encodes (`Frame::encode`) to
//!   ASCII JSON without `\r` or `\n`, which decodes to the same frame, and
//!   encodes again to the same bytes;
//! * the same for `Message::from_v1_json` / `Message::to_v1_json`, tried on
//!   every frame (seeds hold inner messages as well as frames);
//! * every frame that `Message::from_v2_bytes` accepts (a v2 inner
//!   plaintext, normally reached only after a record authenticates) is
//!   exactly what `Message::to_v2_bytes` writes for the message.

use securex::error::FrameError;
use securex::message::Message;
use securex::wire::{Frame, FrameSplitter};

/// The splitter's limit unless the input asks for a tiny one.
const LIMIT: usize = 64 * 1024;

/// Feeds `pieces` in order; returns the frames and the first error, if any.
fn split(limit: usize, pieces: &[&[u8]]) -> (Vec<Vec<u8>>, Option<FrameError>) {
    let mut splitter = FrameSplitter::new(limit);
    let mut frames = Vec::new();
    for piece in pieces {
        let result = splitter.push(piece, |frame| {
            assert!(frame.len() <= limit, "frame over the limit passed");
            frames.push(frame.to_vec());
            Ok::<_, FrameError>(())
        });
        if let Err(error) = result {
            return (frames, Some(error));
        }
        assert!(
            splitter.buffered() <= limit + 1,
            "splitter holds {} bytes, limit {limit}",
            splitter.buffered()
        );
    }
    (frames, None)
}

/// Runs one input.
pub fn run(data: &[u8]) {
    super::assert_checked_build();
    let [limit, cut_hi, cut_lo, stream @ ..] = data else {
        return;
    };
    let limit = match *limit {
        l if l < 0x80 => LIMIT,
        l => usize::from(l & 0x7f),
    };
    let cut = usize::from(u16::from_be_bytes([*cut_hi, *cut_lo])) % (stream.len() + 1);

    let whole = split(limit, &[stream]);
    let (a, b) = stream.split_at(cut);
    assert_eq!(split(limit, &[a, b]), whole, "split at {cut} differs");
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(split(limit, &bytes), whole, "byte by byte differs");

    for frame in &whole.0 {
        if let Ok(decoded) = Frame::decode(frame) {
            let encoded = decoded.encode();
            assert!(encoded.is_ascii(), "non-ASCII encoding");
            assert!(
                !encoded.iter().any(|&b| b == b'\r' || b == b'\n'),
                "encoding holds a line break"
            );
            assert_eq!(Frame::decode(&encoded).as_ref(), Ok(&decoded));
            assert_eq!(
                Frame::decode(&encoded).map(|f| f.encode()),
                Ok(encoded),
                "encoding is not stable"
            );
        }
        if let Ok(message) = Message::from_v1_json(frame) {
            let json = message.to_v1_json();
            assert!(json.is_ascii(), "non-ASCII inner JSON");
            assert_eq!(Message::from_v1_json(&json).as_ref(), Ok(&message));
            assert_eq!(
                Message::from_v1_json(&json).map(|m| m.to_v1_json()),
                Ok(json),
                "inner encoding is not stable"
            );
        }
        if let Some(Ok(message)) = Message::from_v2_bytes(frame) {
            assert_eq!(message.to_v2_bytes(), *frame, "v2 inner encoding differs");
        }
    }
}
