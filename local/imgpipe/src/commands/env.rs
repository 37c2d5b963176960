//! `imgpipe env [--data DIR]`: shell lines that point the AWS CLI and SDKs at the local stack of
//! a data directory (`eval "$(imgpipe env)"`): its endpoints (the service-specific
//! `AWS_ENDPOINT_URL_<SERVICE>` variables), key pair and region. The key pair is the data
//! directory's own (made here if no server has run yet); the ports are those the last `serve`
//! there listened on, else the default ones it will use.

use std::path::Path;
use std::process::ExitCode;

use crate::storage::{self, local_url, Ports, DEFAULT_PAGE_PORT, SIGNING_REGION};

/// Prints the `export` lines for `data_dir`.
pub fn run(data_dir: &Path) -> anyhow::Result<ExitCode> {
    print!("{}", lines(data_dir)?);
    Ok(ExitCode::SUCCESS)
}

/// The `export` lines for `data_dir`, one per variable.
pub fn lines(data_dir: &Path) -> anyhow::Result<String> {
    storage::create_private_dir(data_dir)?;
    let credentials = storage::local_credentials(data_dir)?;
    let ports = match Ports::last_used(data_dir) {
        Some(ports) => ports,
        None => Ports::resolve(DEFAULT_PAGE_PORT, None, None, None)?,
    };
    let variables = [
        ("AWS_ENDPOINT_URL_S3", local_url(ports.s3)),
        ("AWS_ENDPOINT_URL_DYNAMODB", local_url(ports.dynamodb)),
        ("AWS_ENDPOINT_URL_SFN", local_url(ports.sfn)),
        ("AWS_ACCESS_KEY_ID", credentials.access_key),
        ("AWS_SECRET_ACCESS_KEY", credentials.secret_key),
        ("AWS_REGION", SIGNING_REGION.to_owned()),
        ("AWS_DEFAULT_REGION", SIGNING_REGION.to_owned()),
    ];
    Ok(variables.iter().map(|(name, value)| format!("export {name}={}\n", shell_quote(value))).collect())
}

/// `value` as one POSIX shell word: in single quotes, each `'` written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_the_shell() {
        for value in ["plain", "it's", "$(rm -rf ~)`x` \"q\" \\ ;|&", "", "a\nb", "''"] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", shell_quote(value)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), value);
        }
    }

    #[test]
    fn lines_name_the_data_dirs_key_and_ports() {
        let dir = std::env::temp_dir().join(format!("imgpipe-env-{}", uuid::Uuid::new_v4()));
        let before = lines(&dir).unwrap();
        assert!(before.contains("export AWS_ENDPOINT_URL_SFN='http://127.0.0.1:8083'\n"), "{before}");
        assert!(before.contains("export AWS_REGION='us-east-1'\n"), "{before}");
        let key = storage::local_credentials(&dir).unwrap();
        assert!(before.contains(&format!("export AWS_SECRET_ACCESS_KEY='{}'\n", key.secret_key)));
        Ports { page: 1000, s3: 1001, dynamodb: 1002, sfn: 1003 }.save(&dir).unwrap();
        let after = lines(&dir).unwrap();
        assert!(after.contains("export AWS_ENDPOINT_URL_DYNAMODB='http://127.0.0.1:1002'\n"), "{after}");
        assert!(after.contains(&format!("export AWS_ACCESS_KEY_ID='{}'\n", key.access_key)), "the same key");
        assert_eq!(after.lines().count(), 7);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
