//! Building the AWS SDK clients, once per process: from the environment on AWS, or pointed
//! at the embedded endpoints locally. Same clients, same code paths.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};

/// The SDK clients the steps use.
#[derive(Clone, Debug)]
pub struct Clients {
    pub sdk: SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub dynamo: aws_sdk_dynamodb::Client,
    /// Base URL for browser uploads to `bucket` (`{base}/{bucket}` path style locally).
    pub s3_endpoint: Option<String>,
}

/// Where the local embedded endpoints listen, and the credentials they accept.
#[derive(Clone, Debug)]
pub struct LocalEndpoints {
    pub s3_url: String,
    pub dynamodb_url: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

impl Clients {
    /// Clients from the standard AWS environment (Lambda's role, region, optional `AWS_ENDPOINT_URL_*`).
    pub async fn from_env() -> Clients {
        let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
        let s3_endpoint = std::env::var("AWS_ENDPOINT_URL_S3").ok().filter(|v| !v.is_empty());
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk).force_path_style(s3_endpoint.is_some()).build(),
        );
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        Clients { sdk, s3, dynamo, s3_endpoint }
    }

    /// Clients that talk to the embedded S3 and DynamoDB endpoints.
    pub fn local(endpoints: &LocalEndpoints) -> Clients {
        let creds = Credentials::new(&endpoints.access_key, &endpoints.secret_key, None, None, "imgpipe-local");
        let sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(endpoints.region.clone()))
            .credentials_provider(SharedCredentialsProvider::new(creds))
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk).endpoint_url(&endpoints.s3_url).force_path_style(true).build(),
        );
        let dynamo = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url(&endpoints.dynamodb_url).build(),
        );
        Clients { sdk, s3, dynamo, s3_endpoint: Some(endpoints.s3_url.clone()) }
    }

    /// The URL a browser POSTs a signed upload to.
    pub fn upload_url(&self, bucket: &str) -> String {
        match &self.s3_endpoint {
            Some(base) => format!("{}/{}", base.trim_end_matches('/'), bucket),
            None => {
                let region = self.sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
                format!("https://{bucket}.s3.{region}.amazonaws.com/")
            }
        }
    }

    /// The region the clients are configured for.
    pub fn region(&self) -> String {
        self.sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into())
    }
}
