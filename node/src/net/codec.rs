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
    /// A refusal (UTF-8 sentence).
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
