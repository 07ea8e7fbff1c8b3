//! The frame codec: splits a byte stream on `\r\n`.

use alloc::vec::Vec;

use crate::error::FrameError;

/// The frame delimiter.
pub const DELIMITER: &[u8] = b"\r\n";

/// An incremental splitter of a byte stream into frames.
///
/// Feeding the same bytes in one piece, byte by byte or in any other split
/// yields the same frames. At most one partial frame is buffered, and never
/// more than the frame limit (plus one byte, a pending `\r`).
#[derive(Debug, Clone)]
pub struct FrameSplitter {
    partial: Vec<u8>,
    max_frame_len: usize,
}

impl FrameSplitter {
    /// A splitter refusing frames longer than `max_frame_len` bytes
    /// (without the delimiter).
    #[must_use]
    pub fn new(max_frame_len: usize) -> FrameSplitter {
        FrameSplitter {
            partial: Vec::new(),
            max_frame_len,
        }
    }

    /// Bytes of the partial frame held.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// Feeds `data`, calling `on_frame` with every complete frame (without
    /// its `\r\n`) in order. Stops at the first error, from the limit or
    /// from `on_frame`; the splitter should then not be used again.
    ///
    /// # Errors
    ///
    /// [`FrameError::TooLong`] (converted into `E`) for a frame longer
    /// than the limit, complete or not; else the first error `on_frame`
    /// returns.
    pub fn push<E: From<FrameError>>(
        &mut self,
        mut data: &[u8],
        mut on_frame: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let too_long = FrameError::TooLong {
            limit: self.max_frame_len,
        };
        while !data.is_empty() {
            if self.partial.is_empty() {
                match find_delimiter(data) {
                    Some(end) => {
                        if end > self.max_frame_len {
                            return Err(too_long.into());
                        }
                        on_frame(&data[..end])?;
                        data = &data[end + DELIMITER.len()..];
                    }
                    None => return self.keep(data).map_err(E::from),
                }
            } else {
                // The delimiter may straddle the previous input and this.
                if self.partial.last() == Some(&b'\r') && data[0] == b'\n' {
                    self.partial.pop();
                    data = &data[1..];
                    let frame = core::mem::take(&mut self.partial);
                    on_frame(&frame)?;
                    continue;
                }
                match find_delimiter(data) {
                    Some(end) => {
                        if self.partial.len() + end > self.max_frame_len {
                            return Err(too_long.into());
                        }
                        self.partial.extend_from_slice(&data[..end]);
                        data = &data[end + DELIMITER.len()..];
                        let frame = core::mem::take(&mut self.partial);
                        on_frame(&frame)?;
                    }
                    None => return self.keep(data).map_err(E::from),
                }
            }
        }
        Ok(())
    }

    /// Keeps the start of a frame whose end has not arrived.
    fn keep(&mut self, data: &[u8]) -> Result<(), FrameError> {
        let len = self.partial.len() + data.len();
        // One byte more than the limit may be the `\r` of the delimiter.
        let pending_cr = data.last() == Some(&b'\r');
        // (Subtracted from `len`, which is at least 1 then: a limit of
        // `usize::MAX` must not overflow.)
        if len - usize::from(pending_cr) > self.max_frame_len {
            return Err(FrameError::TooLong {
                limit: self.max_frame_len,
            });
        }
        self.partial.extend_from_slice(data);
        Ok(())
    }
}

/// Where the first `\r\n` of `data` starts: the first `\n` (found with
/// SIMD) that follows a `\r`.
fn find_delimiter(data: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b'\n', data)
        .find(|&i| i > 0 && data.get(i - 1) == Some(&b'\r'))
        .map(|i| i - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn split(max: usize, pieces: &[&[u8]]) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut s = FrameSplitter::new(max);
        let mut out = Vec::new();
        for p in pieces {
            s.push(p, |f| {
                out.push(f.to_vec());
                Ok::<_, FrameError>(())
            })?;
        }
        Ok(out)
    }

    #[test]
    fn every_split_gives_the_same_frames() {
        let stream: &[u8] = b"{\"a\":1}\r\n\r\n{\"b\":\"\r\"}\r\nxy\r\n\r";
        let whole = split(64, &[stream]).unwrap();
        assert_eq!(
            whole,
            vec![
                b"{\"a\":1}".to_vec(),
                vec![],
                b"{\"b\":\"\r\"}".to_vec(),
                b"xy".to_vec()
            ]
        );
        for cut in 0..=stream.len() {
            let (a, b) = stream.split_at(cut);
            assert_eq!(split(64, &[a, b]).unwrap(), whole, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(split(64, &bytes).unwrap(), whole);
    }

    #[test]
    fn only_a_newline_after_a_carriage_return_ends_a_frame() {
        let stream: &[u8] = b"\na\nb\r\r\nc\n\r\n";
        let whole = split(64, &[stream]).unwrap();
        assert_eq!(whole, vec![b"\na\nb\r".to_vec(), b"c\n".to_vec()]);
        for cut in 0..=stream.len() {
            let (a, b) = stream.split_at(cut);
            assert_eq!(split(64, &[a, b]).unwrap(), whole, "cut at {cut}");
        }
    }

    #[test]
    fn frames_over_the_limit_are_refused_in_any_split() {
        let ok = split(4, &[b"abcd\r\n"]).unwrap();
        assert_eq!(ok, vec![b"abcd".to_vec()]);
        let ok = split(4, &[b"abcd\r", b"\n"]).unwrap();
        assert_eq!(ok, vec![b"abcd".to_vec()]);
        let too_long = Err(FrameError::TooLong { limit: 4 });
        assert_eq!(split(4, &[b"abcde\r\n"]), too_long);
        assert_eq!(split(4, &[b"abc", b"de\r\n"]), too_long);
        assert_eq!(split(4, &[b"abcde"]), too_long);
        assert_eq!(split(4, &[b"ab", b"c", b"d", b"e"]), too_long);
    }

    #[test]
    fn endless_data_without_delimiter_is_bounded() {
        let mut s = FrameSplitter::new(1000);
        let chunk = [b'x'; 100];
        let mut result = Ok(());
        for _ in 0..100 {
            result = s.push(&chunk, |_| Ok::<_, FrameError>(()));
            if result.is_err() {
                break;
            }
            assert!(s.buffered() <= 1000);
        }
        assert_eq!(result, Err(FrameError::TooLong { limit: 1000 }));
    }
}
