//! The co-sell request-response protocol's framing and node-level messages.
//!
//! Each request and response is one frame: a 4-byte big-endian length and that many bytes, the
//! length checked against [`FRAME_BYTES_MAX`] before anything is allocated. A frame's first byte
//! says what it carries: a join (JSON, see [`super::wire::JoinRequest`] / `JoinAnswer`), a sync
//! exchange (the protocol crate's versioned CBOR `WireMessage`), or a refusal (a UTF-8 sentence).

use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::request_response;
use libp2p::StreamProtocol;
use std::io;

/// The protocol name on the wire.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/cosell/sync/1");

/// Largest frame: a full wire message plus the kind byte and slack.
pub const FRAME_BYTES_MAX: usize = protocol::limits::WIRE_MESSAGE_BYTES_MAX + 1024;

/// Frame kinds.
pub mod kind {
    /// A join request or answer (JSON).
    pub const JOIN: u8 = 1;
    /// A sync exchange (protocol `WireMessage`).
    pub const SYNC: u8 = 2;
    /// A refusal: a UTF-8 sentence, or (for an account-mapping request) a
    /// [`super::Refusal`] with its code.
    pub const REFUSED: u8 = 3;
    /// An account-mapping exchange (the mapping service's wire format: a JSON header and PSI messages).
    pub const MAP: u8 = 4;
    /// "This node ended our partnership" (empty body), answered with an empty `ENDED`: sent when
    /// a partner is removed while connected, and to a removed partner that connects, so its
    /// node stops showing the partnership as active.
    pub const ENDED: u8 = 5;
    /// Never sent by a node: what the codec hands the node in place of a request frame over
    /// [`super::FRAME_BYTES_MAX`] (its body is the declared length, 4 bytes big-endian), so the
    /// refusal reaches the audit log. libp2p's request-response drops a failed read silently.
    pub const TOO_LARGE: u8 = 0xFF;
}

/// Why a partner refused a request: the code a node acts on and the sentence people read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What kind of refusal it is.
    pub code: RefusalCode,
    /// The partner's sentence.
    pub message: String,
}

/// The kinds of refusal a node acts on differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalCode {
    /// Over the partner's rate limit: ask again later.
    RateLimited,
    /// Any other refusal.
    Other,
}

impl Refusal {
    /// A refusal without a code a node acts on.
    pub fn other(message: impl Into<String>) -> Refusal {
        Refusal {
            code: RefusalCode::Other,
            message: message.into(),
        }
    }

    /// The body of a `REFUSED` frame: `{"code": "rate_limited" | "refused", "message": …}`. A
    /// node from before refusal codes shows it as the text it is.
    pub fn encode(&self) -> Vec<u8> {
        let code = match self.code {
            RefusalCode::RateLimited => "rate_limited",
            RefusalCode::Other => "refused",
        };
        serde_json::json!({"code": code, "message": self.message})
            .to_string()
            .into_bytes()
    }

    /// Reads a `REFUSED` body in either form: the coded one of [`Refusal::encode`], or the bare
    /// sentence a node from before refusal codes sends (code [`RefusalCode::Other`]; its words
    /// are never interpreted).
    pub fn decode(body: &[u8]) -> Refusal {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Coded {
            code: String,
            message: String,
        }
        match serde_json::from_slice::<Coded>(body) {
            Ok(c) => Refusal {
                code: if c.code == "rate_limited" {
                    RefusalCode::RateLimited
                } else {
                    RefusalCode::Other
                },
                message: c.message,
            },
            Err(_) => Refusal::other(String::from_utf8_lossy(body).into_owned()),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Builds a frame body: kind byte then payload.
pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 1);
    out.push(kind);
    out.extend_from_slice(payload);
    out
}

/// Length-prefixed byte frames with a hard size cap.
#[derive(Debug, Clone, Default)]
pub struct FrameCodec;

pub(crate) async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    read_body(io, len).await
}

async fn read_body<T: AsyncRead + Unpin + Send>(io: &mut T, len: [u8; 4]) -> io::Result<Vec<u8>> {
    let len = u32::from_be_bytes(len) as usize;
    if len > FRAME_BYTES_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is over the {FRAME_BYTES_MAX}-byte limit"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

pub(crate) async fn write_frame<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    bytes: Vec<u8>,
) -> io::Result<()> {
    if bytes.len() > FRAME_BYTES_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "frame over the size limit",
        ));
    }
    io.write_all(&(bytes.len() as u32).to_be_bytes()).await?;
    io.write_all(&bytes).await?;
    io.close().await
}

impl request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut len = [0u8; 4];
        io.read_exact(&mut len).await?;
        if u32::from_be_bytes(len) as usize > FRAME_BYTES_MAX {
            // Not read: the node refuses it and logs the peer.
            return Ok(frame(kind::TOO_LARGE, &len));
        }
        read_body(io, len).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, req).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, res).await
    }
}

#[cfg(test)]
mod refusal_tests {
    use super::{Refusal, RefusalCode};

    #[test]
    fn a_refusal_code_travels_and_an_old_bare_sentence_is_read_without_interpreting_it() {
        let limited = Refusal {
            code: RefusalCode::RateLimited,
            message: "at most 12 mapping runs per partner per hour".into(),
        };
        assert_eq!(Refusal::decode(&limited.encode()), limited);
        let other = Refusal::other("account mapping is busy");
        assert_eq!(Refusal::decode(&other.encode()), other);
        // A node from before refusal codes sends a sentence: read as it is, words not matched.
        let old = Refusal::decode(b"rate limit: at most 12 mapping runs per partner per hour");
        assert_eq!(old.code, RefusalCode::Other);
        assert_eq!(
            old.message,
            "rate limit: at most 12 mapping runs per partner per hour"
        );
        assert_eq!(Refusal::decode(b"\xff\xfe").code, RefusalCode::Other);
    }
}
