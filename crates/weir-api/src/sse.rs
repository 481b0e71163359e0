//! Reading a Server-Sent Events stream, for clients of `GET /v1/watch`
//! (the `weir watch` command, tests, benches): bytes in, whole events out,
//! however the bytes were split.
//!
//! The subset of the WHATWG event-stream format the watch stream uses and
//! a client must survive: `field: value` lines ended by LF or CRLF, `id`,
//! `event` and `data` (several `data` lines joined by LF), comment lines
//! starting with `:` (keep-alives), other fields ignored, and an event
//! dispatched at a blank line when it has data or a name. A line longer
//! than [`MAX_LINE`] is an error rather than memory without bound.

/// The longest line kept while waiting for its end.
pub const MAX_LINE: usize = 1 << 20;

/// One dispatched event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `id` field, when the event had one.
    pub id: Option<String>,
    /// The `event` field (empty: the default `message`).
    pub event: String,
    pub data: String,
}

/// Why a stream cannot be read on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseError {
    /// A line went past [`MAX_LINE`] bytes without ending.
    LineTooLong,
}

impl std::fmt::Display for SseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::LineTooLong => write!(f, "an event-stream line is longer than {MAX_LINE} bytes"),
        }
    }
}

/// An incremental event-stream reader.
#[derive(Debug, Default)]
pub struct SseParser {
    /// The current line so far.
    line: Vec<u8>,
    /// The event being read.
    event: SseEvent,
    /// Whether `data` got a line (an empty one counts).
    has_data: bool,
    /// Comment lines seen so far (keep-alives).
    pub comments: u64,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `bytes`, returning the events they complete, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let mut out = Vec::new();
        for chunk in bytes.split_inclusive(|&b| b == b'\n') {
            let (body, ended) = match chunk.split_last() {
                Some((b'\n', body)) => (body, true),
                _ => (chunk, false),
            };
            if self.line.len() + body.len() > MAX_LINE {
                return Err(SseError::LineTooLong);
            }
            self.line.extend_from_slice(body);
            if ended {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if let Some(event) = self.line_done(&line) {
                    out.push(event);
                }
            }
        }
        Ok(out)
    }

    fn line_done(&mut self, line: &[u8]) -> Option<SseEvent> {
        if line.is_empty() {
            let dispatch = self.has_data || !self.event.event.is_empty();
            let event = std::mem::take(&mut self.event);
            self.has_data = false;
            return dispatch.then_some(event);
        }
        if line[0] == b':' {
            self.comments += 1;
            return None;
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (text.as_ref(), ""),
        };
        match field {
            "id" if !value.contains('\0') => self.event.id = Some(value.to_owned()),
            "event" => self.event.event = value.to_owned(),
            "data" => {
                if self.has_data {
                    self.event.data.push('\n');
                }
                self.event.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &[u8] = b": hello\n\nid: 7\nevent: ready\ndata: {\"position\": 7}\n\n\
        id: 8\r\nevent: backend.created\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n\
        event: backend.healthy\ndata: x\nretry: 10\nunknown\n\n:\n\n";

    fn whole() -> Vec<SseEvent> {
        SseParser::new().feed(STREAM).unwrap()
    }

    #[test]
    fn events_fields_and_comments() {
        let events = whole();
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(events[0].id.as_deref(), Some("7"));
        assert_eq!(events[0].event, "ready");
        assert_eq!(events[0].data, "{\"position\": 7}");
        assert_eq!(events[1].event, "backend.created");
        assert_eq!(events[1].data, "{\"a\":\n1}", "CRLF lines, data joined");
        assert_eq!(events[2].id, None);
        assert_eq!(events[2].data, "x");
        let mut p = SseParser::new();
        p.feed(STREAM).unwrap();
        assert_eq!(p.comments, 2);
    }

    #[test]
    fn any_split_reads_the_same() {
        for cut in 0..STREAM.len() {
            let mut p = SseParser::new();
            let mut events = p.feed(&STREAM[..cut]).unwrap();
            events.extend(p.feed(&STREAM[cut..]).unwrap());
            assert_eq!(events, whole(), "cut at {cut}");
        }
        let mut p = SseParser::new();
        let mut events = Vec::new();
        for b in STREAM {
            events.extend(p.feed(std::slice::from_ref(b)).unwrap());
        }
        assert_eq!(events, whole(), "a byte at a time");
    }

    #[test]
    fn a_line_without_end_is_bounded() {
        let mut p = SseParser::new();
        let chunk = vec![b'a'; MAX_LINE / 2];
        p.feed(&chunk).unwrap();
        p.feed(&chunk).unwrap();
        assert_eq!(p.feed(b"a"), Err(SseError::LineTooLong));
    }
}
