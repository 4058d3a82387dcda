//! A secret sealed before the local stack restarts still opens after it: the stack's moto
//! (`infra/moto_server.py`, as `infra/stack.sh start` runs it for `make dev`) is started on a
//! port of its own, GOBI's key is made as `make dev` makes it, an n8n secret is sealed, moto is
//! stopped and started again, and the same ciphertext opens to the same secret.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gobi_infra::provision;
use gobi_shared::ids::TenantId;
use gobi_shared::secrets::{SealedFor, SecretBox};
use gobi_tests::{free_port, workspace_root};
use secrecy::{ExposeSecret, SecretString};

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_moto(port: u16, state: &Path) -> Moto {
    let root = workspace_root();
    let python = root.join(".local/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: `infra/stack.sh install` makes it",
        python.display()
    );
    let child = Command::new(python)
        .arg(root.join("infra/moto_server.py"))
        .arg("--kms-state")
        .arg(state)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto starts");
    let moto = Moto(child);
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return moto;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("moto did not open port {port}");
}

async fn kms_at(port: u16) -> aws_sdk_kms::Client {
    let sdk = gobi_shared::dynamo::sdk_config().await;
    let config = aws_sdk_kms::config::Builder::from(&sdk)
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

#[tokio::test]
async fn a_secret_sealed_before_a_restart_opens_after_it() {
    let dir = std::env::temp_dir().join(format!("gobi-kms-{}", uuid::Uuid::now_v7()));
    let state = dir.join("kms.json");
    let port = free_port();
    let tenant = TenantId::new();
    let owner = SealedFor::Integration(uuid::Uuid::now_v7());

    let sealed = {
        let _moto = start_moto(port, &state).await;
        let kms = kms_at(port).await;
        let key = provision::ensure_secrets_key(&kms, "alias/gobi-secrets")
            .await
            .expect("the key");
        SecretBox::new(kms, key)
            .seal(tenant, owner, &SecretString::from("n8n-api-key-before"))
            .await
            .expect("sealed")
    };

    let _moto = start_moto(port, &state).await;
    let kms = kms_at(port).await;
    let key = provision::ensure_secrets_key(&kms, "alias/gobi-secrets")
        .await
        .expect("the key again");
    let described = kms
        .list_keys()
        .send()
        .await
        .expect("keys")
        .keys
        .unwrap_or_default();
    assert_eq!(described.len(), 1, "the restart made no second key");
    let opened = SecretBox::new(kms, key)
        .open(tenant, owner, &sealed)
        .await
        .expect("the secret opens after the restart");
    assert_eq!(opened.expose_secret(), "n8n-api-key-before");
    let _ = std::fs::remove_dir_all(dir);
}
