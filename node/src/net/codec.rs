//! The co-sell request-response protocol's framing and node-level messages.
//!
//! Each request and response is one frame: a 4-byte big-endian length and that many bytes, the
//! length checked against [`FRAME_BYTES_MAX`] before anything is allocated. A frame's first byte
//! says what it carries: a join (JSON, see [`super::wire::JoinRequest`] / `JoinAnswer`), a sync
//! exchange (the protocol crate's versioned CBOR `WireMessage`), or a refusal (a UTF-8 sentence).
//! Between two nodes that both speak [`PROTOCOL_COMPRESSED`], large frames travel compressed
//! ([`pack`], [`unpack`]): the codec compresses and expands them, the node never sees it.

use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::request_response;
use libp2p::StreamProtocol;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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
    /// A compressed frame (only under [`super::PROTOCOL_COMPRESSED`]): the original frame's
    /// length (4 bytes big-endian) and its zstd frame; see [`super::pack`].
    pub const COMPRESSED: u8 = 6;
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

/// Length-prefixed byte frames with a hard size cap, compressed where both sides can
/// ([`pack`]); counts the bytes that really cross the wire into [`WireBytes`].
#[derive(Debug, Clone, Default)]
pub struct FrameCodec {
    /// Where the bytes sent and received are counted.
    pub wire: Arc<WireBytes>,
}

/// Bytes of frames as they cross the wire (compressed where they were, with their 4-byte
/// length), all frame kinds, both directions.
#[derive(Debug, Default)]
pub struct WireBytes {
    /// Bytes written.
    pub sent: AtomicU64,
    /// Bytes read.
    pub received: AtomicU64,
}

impl WireBytes {
    fn count(counter: &AtomicU64, frame_len: usize) {
        counter.fetch_add(frame_len as u64 + 4, Ordering::Relaxed);
    }
}

/// The protocol name under which frames may be compressed ([`kind::COMPRESSED`]). A node lists
/// it before [`PROTOCOL`], so two nodes of this version speak it, and a node that knows only
/// [`PROTOCOL`] (cosell 0.1) is answered in plain frames over that.
pub const PROTOCOL_COMPRESSED: StreamProtocol = StreamProtocol::new("/cosell/sync/2");

/// Frames shorter than this are sent as they are: compressing them saves too little.
const COMPRESS_MIN_BYTES: usize = 256;

/// zstd's level for frames: 3 (its default) compresses a sync message of signed changes to
/// about half at well over 100 MB/s, far ahead of what verifying them costs the receiver.
const ZSTD_LEVEL: i32 = 3;

/// Most a compressed frame may expand: its declared length may be at most this many times its
/// compressed size. A sender compresses only frames that stay under it (sync messages of signed
/// changes shrink 2–4 times), so a receiver can refuse anything more without decompressing it:
/// a small frame cannot make the node allocate or inflate up to [`FRAME_BYTES_MAX`].
pub const EXPANSION_MAX: usize = 32;

/// The frame to send over `protocol` for `frame`: under [`PROTOCOL_COMPRESSED`], a frame of at
/// least [`COMPRESS_MIN_BYTES`] that zstd shrinks by at least an eighth (and by no more than
/// [`EXPANSION_MAX`] times) goes as [`kind::COMPRESSED`]: the original length (4 bytes big
/// endian) then the zstd frame of the whole original frame. Anything else goes as it is.
pub fn pack(protocol: &StreamProtocol, frame: Vec<u8>) -> Vec<u8> {
    if *protocol != PROTOCOL_COMPRESSED || frame.len() < COMPRESS_MIN_BYTES {
        return frame;
    }
    let Ok(packed) = zstd::bulk::compress(&frame, ZSTD_LEVEL) else {
        return frame;
    };
    let size = packed.len() + 5;
    if size > frame.len() - frame.len() / 8 || frame.len() > packed.len() * EXPANSION_MAX {
        return frame;
    }
    let mut out = Vec::with_capacity(size);
    out.push(kind::COMPRESSED);
    out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
    out.extend_from_slice(&packed);
    out
}

/// The frame a received `frame` stands for: a [`kind::COMPRESSED`] one (under
/// [`PROTOCOL_COMPRESSED`] only) decompressed. Refused without decompressing: a declared length
/// over [`FRAME_BYTES_MAX`] or over [`EXPANSION_MAX`] times the compressed size; refused while
/// decompressing: data that inflates past the declared length (zstd stops at that bound) or
/// short of it, and a compressed frame inside a compressed frame. Any other frame is returned
/// as it is (under [`PROTOCOL`] a `COMPRESSED` frame too: the node refuses a kind it does not
/// know, and an old peer never sends one).
pub fn unpack(protocol: &StreamProtocol, frame: Vec<u8>) -> io::Result<Vec<u8>> {
    if *protocol != PROTOCOL_COMPRESSED || frame.first() != Some(&kind::COMPRESSED) {
        return Ok(frame);
    }
    let bad = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    let Some(len) = frame.get(1..5) else {
        return Err(bad("a compressed frame without its length".into()));
    };
    let declared = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let packed = &frame[5..];
    if declared > FRAME_BYTES_MAX {
        return Err(bad(format!(
            "a compressed frame of {declared} bytes is over the {FRAME_BYTES_MAX}-byte limit"
        )));
    }
    if declared > packed.len().saturating_mul(EXPANSION_MAX) {
        return Err(bad(format!(
            "a compressed frame of {} bytes claims {declared} bytes: more than {EXPANSION_MAX} times its size",
            packed.len()
        )));
    }
    let inner = zstd::bulk::decompress(packed, declared).map_err(|e| {
        bad(format!(
            "a compressed frame does not decompress within its declared {declared} bytes: {e}"
        ))
    })?;
    if inner.len() != declared {
        return Err(bad(format!(
            "a compressed frame declared {declared} bytes and held {}",
            inner.len()
        )));
    }
    if inner.first() == Some(&kind::COMPRESSED) {
        return Err(bad("a compressed frame inside a compressed frame".into()));
    }
    Ok(inner)
}

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

    async fn read_request<T>(
        &mut self,
        protocol: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut len = [0u8; 4];
        io.read_exact(&mut len).await?;
        if u32::from_be_bytes(len) as usize > FRAME_BYTES_MAX {
            // Not read: the node refuses it and logs the peer.
            return Ok(frame(kind::TOO_LARGE, &len));
        }
        let body = read_body(io, len).await?;
        WireBytes::count(&self.wire.received, body.len());
        unpack(protocol, body)
    }

    async fn read_response<T>(
        &mut self,
        protocol: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let body = read_frame(io).await?;
        WireBytes::count(&self.wire.received, body.len());
        unpack(protocol, body)
    }

    async fn write_request<T>(
        &mut self,
        protocol: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let body = pack(protocol, req);
        WireBytes::count(&self.wire.sent, body.len());
        write_frame(io, body).await
    }

    async fn write_response<T>(
        &mut self,
        protocol: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let body = pack(protocol, res);
        WireBytes::count(&self.wire.sent, body.len());
        write_frame(io, body).await
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

#[cfg(test)]
mod compression_tests {
    use super::*;

    /// A sync frame's shape: signatures and hashes (random bytes) among repeated ids and
    /// field names, as signed changes are.
    fn sync_like_frame(n: usize) -> Vec<u8> {
        let mut out = vec![kind::SYNC];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..n {
            out.extend_from_slice(
                b"deal/0123456789abcdef/actor/fedcba9876543210/section/reseller/",
            );
            out.extend_from_slice(format!("stage=committed;amount={i}").as_bytes());
            for _ in 0..12 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out
    }

    #[test]
    fn a_large_frame_travels_compressed_between_new_nodes_and_plain_to_old_ones() {
        let frame = sync_like_frame(200);
        let packed = pack(&PROTOCOL_COMPRESSED, frame.clone());
        assert_eq!(packed[0], kind::COMPRESSED);
        assert!(
            packed.len() < frame.len() * 7 / 8,
            "{} of {}",
            packed.len(),
            frame.len()
        );
        assert_eq!(unpack(&PROTOCOL_COMPRESSED, packed).expect("unpack"), frame);
        // An old peer speaks PROTOCOL only: it gets the frame as it is.
        assert_eq!(pack(&PROTOCOL, frame.clone()), frame);
        // Small frames and incompressible ones go as they are.
        let small = frame[..100].to_vec();
        assert_eq!(pack(&PROTOCOL_COMPRESSED, small.clone()), small);
        let mut noise = vec![kind::MAP];
        let mut x: u64 = 7;
        for _ in 0..4096 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            noise.push((x >> 56) as u8);
        }
        assert_eq!(pack(&PROTOCOL_COMPRESSED, noise.clone()), noise);
        // Under PROTOCOL a COMPRESSED frame is not expanded: the node refuses the kind.
        let packed = pack(&PROTOCOL_COMPRESSED, frame);
        assert_eq!(unpack(&PROTOCOL, packed.clone()).expect("as is"), packed);
    }

    fn compressed(declared: usize, inner: &[u8]) -> Vec<u8> {
        let mut out = vec![kind::COMPRESSED];
        out.extend_from_slice(&(declared as u32).to_be_bytes());
        out.extend_from_slice(&zstd::bulk::compress(inner, 19).expect("compress"));
        out
    }

    #[test]
    fn a_decompression_bomb_is_refused() {
        // 64 MB of zeros compress to a few KB: more than EXPANSION_MAX times, refused unread.
        let zeros = vec![0u8; 64 * 1024 * 1024];
        let bomb = compressed(zeros.len(), &zeros);
        let err = unpack(&PROTOCOL_COMPRESSED, bomb).expect_err("bomb");
        assert!(err.to_string().contains("over the"), "{err}");
        // Declaring a small length does not help: zstd stops at the declared bound.
        let liar = compressed(1000, &zeros);
        let err = unpack(&PROTOCOL_COMPRESSED, liar).expect_err("liar");
        assert!(err.to_string().contains("within its declared"), "{err}");
        // A declared length within the ratio but far over what the data holds: refused too.
        let frame = sync_like_frame(50);
        let mut short = pack(&PROTOCOL_COMPRESSED, frame.clone());
        let more = (frame.len() + 10) as u32;
        short[1..5].copy_from_slice(&more.to_be_bytes());
        assert!(unpack(&PROTOCOL_COMPRESSED, short).is_err());
        // Nested compression and a frame too short to hold its length.
        let inner = pack(&PROTOCOL_COMPRESSED, frame);
        let nested = compressed(inner.len(), &inner);
        assert!(unpack(&PROTOCOL_COMPRESSED, nested)
            .expect_err("nested")
            .to_string()
            .contains("inside"));
        assert!(unpack(&PROTOCOL_COMPRESSED, vec![kind::COMPRESSED, 0, 1]).is_err());
        // Over FRAME_BYTES_MAX declared: refused before anything else.
        let huge = compressed(FRAME_BYTES_MAX + 1, b"x");
        assert!(unpack(&PROTOCOL_COMPRESSED, huge).is_err());
    }
}
