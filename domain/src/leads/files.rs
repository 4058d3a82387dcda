//! Import files and their error reports in the imports bucket (S3). Keys are the tenant's and
//! the list's: `imports/<tenant>/<list>/<import>.csv` and `reports/<tenant>/<list>/<import>.csv`
//! (`suppressions` in place of the list for do-not-call imports).

use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use gobi_shared::ids::TenantId;
use tokio::io::AsyncWriteExt;

use crate::error::StoreResult;

/// How long an upload URL stays valid.
pub const UPLOAD_URL_SECONDS: u64 = 15 * 60;

#[derive(Clone, Debug)]
pub struct ImportFiles {
    client: aws_sdk_s3::Client,
    bucket: String,
}

/// The folder of an import's files under the tenant's.
fn folder(list: Option<uuid::Uuid>) -> String {
    list.map_or_else(|| "suppressions".to_owned(), |l| l.to_string())
}

pub fn upload_key(tenant: TenantId, list: Option<uuid::Uuid>, import: uuid::Uuid) -> String {
    format!("imports/{tenant}/{}/{import}.csv", folder(list))
}

pub fn report_key(tenant: TenantId, list: Option<uuid::Uuid>, import: uuid::Uuid) -> String {
    format!("reports/{tenant}/{}/{import}.csv", folder(list))
}

/// The S3 client's configuration: path-style addressing when asked (emulators), and checksums
/// only where S3 requires them, so a file streamed from disk goes with a plain `Content-Length`
/// instead of `aws-chunked` encoding with a trailing checksum (which moto's S3 never answers).
pub fn s3_config(
    sdk: &aws_config::SdkConfig,
    force_path_style: bool,
) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(force_path_style)
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
}

/// An S3 client as the configuration asks.
pub fn s3_client(sdk: &aws_config::SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3_config(sdk, force_path_style).build())
}

impl ImportFiles {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    pub async fn put(&self, key: &str, body: Vec<u8>) -> StoreResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("text/csv")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("storing a file"))?;
        Ok(())
    }

    /// Streams a file on disk to `key`.
    pub async fn put_file(&self, key: &str, path: &Path) -> StoreResult<()> {
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| anyhow::Error::new(e).context("opening a file to store"))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("text/csv")
            .body(body)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("storing a file"))?;
        Ok(())
    }

    /// A URL the caller PUTs the file to (`content-type: text/csv`), valid for 15 minutes. The
    /// length is signed: S3 takes only a body of exactly `size` bytes.
    pub async fn upload_url(&self, key: &str, size: u64) -> StoreResult<String> {
        let config = PresigningConfig::expires_in(Duration::from_secs(UPLOAD_URL_SECONDS))
            .map_err(anyhow::Error::new)?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("text/csv")
            .content_length(i64::try_from(size).map_err(anyhow::Error::new)?)
            .presigned(config)
            .await
            .map_err(|e| anyhow::Error::new(e).context("signing an upload URL"))?;
        Ok(request.uri().to_owned())
    }

    /// A URL that GETs the object, valid for 15 minutes (reports too large to answer inline).
    pub async fn download_url(&self, key: &str, filename: &str) -> StoreResult<String> {
        let config = PresigningConfig::expires_in(Duration::from_secs(UPLOAD_URL_SECONDS))
            .map_err(anyhow::Error::new)?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_type("text/csv; charset=utf-8")
            .response_content_disposition(format!("attachment; filename=\"{filename}\""))
            .presigned(config)
            .await
            .map_err(|e| anyhow::Error::new(e).context("signing a download URL"))?;
        Ok(request.uri().to_owned())
    }

    /// Removes objects (an absent one is no error in S3).
    pub async fn delete(&self, keys: &[String]) -> StoreResult<()> {
        for key in keys {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| anyhow::Error::new(e).context("removing a file"))?;
        }
        Ok(())
    }

    /// The file's size, or `None` when nothing was uploaded there.
    pub async fn size(&self, key: &str) -> StoreResult<Option<u64>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(head) => Ok(Some(
                head.content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
            )),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context("looking for a file").into()),
        }
    }

    /// Streams the object into `path` (never the whole file in memory); its size.
    pub async fn download(&self, key: &str, path: &Path) -> StoreResult<u64> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("reading a file"))?;
        let mut reader = object.body.into_async_read();
        let mut file = tokio::fs::File::create(path)
            .await
            .map_err(|e| anyhow::Error::new(e).context("creating a temporary file"))?;
        let size = tokio::io::copy(&mut reader, &mut file)
            .await
            .map_err(|e| anyhow::Error::new(e).context("downloading a file"))?;
        file.flush().await.map_err(anyhow::Error::new)?;
        Ok(size)
    }

    /// The object's bytes (callers check its size first).
    pub async fn read(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(object) => Ok(Some(
                object
                    .body
                    .collect()
                    .await
                    .map_err(|e| anyhow::Error::new(e).context("reading a file"))?
                    .into_bytes()
                    .to_vec(),
            )),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context("reading a file").into()),
        }
    }
}
