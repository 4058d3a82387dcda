//! The bench's counting proxy keeps its connection to the function open as AWS does, even in
//! front of moto, whose server closes every connection after one answer: two requests written on
//! one socket to the proxy are both answered and counted, where moto itself answers the first
//! with `Connection: close`.

use gobi_tests::aws_proxy::CountingProxy;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// An SQS `ListQueues` request as the SDK's JSON protocol sends it (moto checks no signature).
fn list_queues(host: &str) -> String {
    let body = "{}";
    format!(
        "POST / HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/x-amz-json-1.0\r\n\
         x-amz-target: AmazonSQS.ListQueues\r\n\
         authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Reads one HTTP/1.1 answer off the socket: its status line and headers (lower-cased), and
/// its body by `content-length`.
async fn read_answer(reader: &mut BufReader<TcpStream>) -> (String, Vec<(String, String)>) {
    let mut status = String::new();
    reader.read_line(&mut status).await.expect("status line");
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.expect("header line");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("a header");
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .map(|(_, value)| value.parse().expect("a length"))
        .expect("the answer has a content-length");
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.expect("the body");
    (status.trim_end().to_owned(), headers)
}

fn connection_header(headers: &[(String, String)]) -> Option<&str> {
    headers
        .iter()
        .find(|(name, _)| name == "connection")
        .map(|(_, value)| value.as_str())
}

#[tokio::test]
async fn the_proxy_keeps_the_function_s_connection_open_when_moto_closes_its_own() {
    let moto = std::env::var("AWS_ENDPOINT_URL_SQS")
        .expect("AWS_ENDPOINT_URL_SQS is not set: run the tests with `make test`");
    let moto_address = moto.trim_start_matches("http://").trim_end_matches('/');

    // moto closes: its answer says so, and the next read finds the socket shut.
    let mut direct = BufReader::new(TcpStream::connect(moto_address).await.unwrap());
    direct
        .get_mut()
        .write_all(list_queues(moto_address).as_bytes())
        .await
        .unwrap();
    let (status, headers) = read_answer(&mut direct).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(connection_header(&headers), Some("close"));
    let mut rest = Vec::new();
    assert_eq!(direct.read_to_end(&mut rest).await.unwrap(), 0);

    // Through the proxy, one socket carries both requests and neither answer says close.
    let proxy = CountingProxy::start(&moto).await.unwrap();
    let proxy_address = proxy.url().trim_start_matches("http://").to_owned();
    let mut socket = BufReader::new(TcpStream::connect(&proxy_address).await.unwrap());
    for _ in 0..2 {
        socket
            .get_mut()
            .write_all(list_queues(&proxy_address).as_bytes())
            .await
            .unwrap();
        let (status, headers) = read_answer(&mut socket).await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(connection_header(&headers), None);
    }
    assert_eq!(proxy.seen(), ["ListQueues", "ListQueues"]);
}
