#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::server::frame::response_frame;

/// Bounds every wait of these tests; they fail rather than hang.
const LIMIT: Duration = Duration::from_secs(20);

impl ResponseWriter for tokio::io::DuplexStream {}
impl ResponseWriter for tokio::io::BufWriter<Vec<u8>> {}

/// A file holding `len` bytes of a pattern, open for reading, and the
/// temporary directory it lives in.
fn segment_file(len: usize) -> (tempfile::TempDir, std::path::PathBuf, Arc<std::fs::File>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("00000000000000000000.log");
    let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
    let file = Arc::new(std::fs::File::open(&path).unwrap());
    (dir, path, file)
}

/// A frame of structure pieces around two ranges of `file`.
fn frame_with_files(file: &Arc<std::fs::File>, first: usize, second: usize) -> ResponseFrame {
    let body = vec![
        Piece::Bytes(Bytes::from_static(b"structure-")),
        Piece::File(FileRange::new(Arc::clone(file), 7, first)),
        Piece::Bytes(Bytes::from_static(b"-between-")),
        Piece::Bytes(Bytes::new()),
        Piece::File(FileRange::new(Arc::clone(file), 7 + first as u64, second)),
        Piece::Bytes(Bytes::from_static(b"-tail")),
    ];
    response_frame(5, 1, body).unwrap()
}

/// A connected pair: the broker's write half and the client's stream,
/// with small socket buffers so a large frame fills them many times.
async fn connected() -> (tokio::net::tcp::OwnedWriteHalf, TcpStream) {
    // Accepted sockets inherit the listener's send buffer size.
    let listening = tokio::net::TcpSocket::new_v4().unwrap();
    listening.set_send_buffer_size(16 * 1024).unwrap();
    listening.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = listening.listen(4).unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::net::TcpSocket::new_v4().unwrap();
    client.set_recv_buffer_size(16 * 1024).unwrap();
    let (client, accepted) = tokio::join!(client.connect(addr), listener.accept());
    let (server, _) = accepted.unwrap();
    server.set_nodelay(true).unwrap();
    let (_read, write) = server.into_split();
    (write, client.unwrap())
}

#[tokio::test]
async fn a_frame_in_pieces_is_written_whole_through_short_writes() {
    let body = vec![
        Piece::Bytes(Bytes::from_static(b"structure-")),
        Piece::Bytes(Bytes::new()),
        Piece::Bytes(Bytes::from(vec![7u8; 5_000])),
        Piece::Bytes(Bytes::from_static(b"-tail")),
    ];
    let frame = response_frame(9, 1, body).unwrap();
    assert_eq!(frame.wire_len(), 4 + 5 + 10 + 5_000 + 5);
    // A pipe of 64 bytes: every write is cut short many times.
    let (mut near, mut far) = tokio::io::duplex(64);
    let expected = frame.to_bytes();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        far.read_to_end(&mut got).await.unwrap();
        got
    });
    frame.write_to(&mut near).await.unwrap();
    drop(near);
    let got = tokio::time::timeout(LIMIT, reader).await.unwrap().unwrap();
    assert_eq!(got, &expected[..]);
    assert_eq!(&got[..4], &(5i32 + 10 + 5_000 + 5).to_be_bytes());
    assert_eq!(&got[4..9], &[0, 0, 0, 9, 0]);
}

/// A writer that keeps what it accepts until flushed (as tokio-rustls
/// does with a full socket) still gets the whole frame out.
#[tokio::test]
async fn a_frame_leaves_a_buffering_writer_whole() {
    let frame = response_frame(3, 0, vec![Piece::Bytes(Bytes::from(vec![1u8; 1_000]))]).unwrap();
    let mut writer = tokio::io::BufWriter::with_capacity(1 << 16, Vec::new());
    frame.write_to(&mut writer).await.unwrap();
    assert_eq!(writer.get_ref().as_slice(), &frame.to_bytes()[..]);
}

/// A stream that is not a plain socket (TLS) gets the file ranges' bytes
/// read and written like any others.
#[tokio::test]
async fn file_ranges_reach_a_stream_without_a_plain_socket_as_bytes() {
    let (_dir, _path, file) = segment_file(10_000);
    let frame = frame_with_files(&file, 3_000, 4_000);
    let (near, mut far) = tokio::io::duplex(512);
    let (_, mut near) = tokio::io::split(near);
    assert!(
        near.plain_socket().is_none(),
        "a split stream has no socket"
    );
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        far.read_to_end(&mut got).await.unwrap();
        got
    });
    frame.write_to(&mut near).await.unwrap();
    near.shutdown().await.unwrap();
    drop(near);
    let got = tokio::time::timeout(LIMIT, reader).await.unwrap().unwrap();
    assert_eq!(got, &frame.to_bytes()[..]);
}

/// Over a plain socket the ranges go out with sendfile: a frame many
/// times the socket buffers completes once the client reads, through
/// full-socket waits and short transfers, byte for byte.
#[tokio::test]
async fn file_ranges_are_sent_whole_to_a_slow_reader() {
    let (_dir, _path, file) = segment_file(4 << 20);
    let frame = frame_with_files(&file, 1 << 20, (3 << 20) - 100);
    let expected = frame.to_bytes();
    let (mut writer, mut client) = connected().await;
    assert!(writer.plain_socket().is_some());
    let mut write = Box::pin(frame.write_to(&mut writer));
    // The socket cannot take 4 MiB before the client reads: the write waits.
    assert!(
        (&mut write).now_or_never().is_none(),
        "a 4 MiB frame cannot fit the socket buffers"
    );
    let read = async {
        let mut got = vec![0u8; expected.len()];
        let mut filled = 0;
        // Small reads: the writer meets a full socket again and again.
        while filled < got.len() {
            let end = (filled + 4096).min(got.len());
            let n = client.read(&mut got[filled..end]).await.unwrap();
            assert!(n > 0, "connection closed after {filled} bytes");
            filled += n;
        }
        got
    };
    let (written, got) = tokio::time::timeout(LIMIT, async { tokio::join!(write, read) })
        .await
        .unwrap();
    written.unwrap();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected[..], "the bytes sent differ from the frame");
}

/// A client that leaves in the middle of a response makes the write fail
/// (so the connection closes) instead of hanging or taking the broker down.
#[tokio::test]
async fn a_client_leaving_mid_response_fails_the_write() {
    let (_dir, _path, file) = segment_file(8 << 20);
    let frame = frame_with_files(&file, 4 << 20, 4 << 20);
    let (mut writer, mut client) = connected().await;
    let mut first = [0u8; 1024];
    let write = frame.write_to(&mut writer);
    let leave = async {
        client.read_exact(&mut first).await.unwrap();
        drop(client);
    };
    let (written, ()) = tokio::time::timeout(LIMIT, async { tokio::join!(write, leave) })
        .await
        .expect("the write ends when the client leaves");
    assert!(
        written.is_err(),
        "8 MiB cannot all be sent to a closed peer"
    );
}

/// A range of a file deleted after the range was taken (retention, the
/// cleaner's swap) is still sent whole: the open file keeps its bytes.
#[tokio::test]
async fn a_range_of_a_deleted_file_is_still_sent() {
    let (_dir, path, file) = segment_file(300_000);
    let frame = frame_with_files(&file, 100_000, 150_000);
    let expected = frame.to_bytes();
    std::fs::remove_file(&path).unwrap();
    assert!(!path.exists());
    let (mut writer, mut client) = connected().await;
    let read = async {
        let mut got = vec![0u8; expected.len()];
        client.read_exact(&mut got).await.unwrap();
        got
    };
    let (written, got) = tokio::time::timeout(LIMIT, async {
        tokio::join!(frame.write_to(&mut writer), read)
    })
    .await
    .unwrap();
    written.unwrap();
    assert!(got == expected[..]);
}

/// A file cut shorter than a range (only possible behind the broker's
/// back) fails the write instead of sending a short frame or spinning.
#[tokio::test]
async fn a_range_past_the_end_of_its_file_fails_the_write() {
    let (_dir, path, file) = segment_file(100_000);
    let frame = frame_with_files(&file, 40_000, 50_000);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(60_000)
        .unwrap();
    let (mut writer, mut client) = connected().await;
    let drain = async {
        let mut sink = Vec::new();
        let _ = client.read_to_end(&mut sink).await;
        sink.len()
    };
    let written = tokio::time::timeout(LIMIT, async {
        let written = frame.write_to(&mut writer).await;
        drop(writer);
        written
    });
    let (written, drained) = tokio::join!(written, drain);
    let error = written.expect("the write ends").unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error}");
    assert!(drained < frame.wire_len());
}
