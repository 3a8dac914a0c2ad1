//! The `endorser` binary as a real process: started from its configuration
//! file against a fake committer's feed, it takes chaincode packages through
//! its install route, learns the definitions from the blocks of the feed,
//! endorses over HTTP, survives a hostile contract, keeps its replica and its
//! installed packages across a restart, and stops cleanly on SIGTERM.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cellchain_core::bytes::sha256;
use cellchain_core::protocol::{ProposalResponse, SignedProposal};
use cellchain_core::testing::TestMember;
use serde_json::{json, Value};
use support::fake_committer::FakeCommitter;
use support::*;

struct Process {
    child: Option<Child>,
    log: std::path::PathBuf,
}

impl Process {
    fn start(config: &Path, log: &Path) -> Process {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_endorser"))
            .arg("--config")
            .arg(config)
            .env("CELLCHAIN_LOG", "info")
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("endorser binary starts");
        Process {
            child: Some(child),
            log: log.to_path_buf(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, and a clean exit.
    fn stop(&mut self) {
        let mut c = self.child.take().unwrap();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = c.try_wait().unwrap() {
                assert!(status.success(), "exited with {status}:\n{}", self.log());
                return;
            }
            if Instant::now() > deadline {
                c.kill().unwrap();
                panic!("the endorser did not stop on SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn get_json(http: &reqwest::Client, url: &str) -> Option<Value> {
    http.get(url).send().await.ok()?.json().await.ok()
}

async fn wait_status(http: &reqwest::Client, base: &str, height: u64, p: &Process) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = get_json(http, &format!("{base}/v1/channels/{CHANNEL}/status")).await {
            if v["height"].as_u64() >= Some(height) && v["feed_connected"] == json!(true) {
                return v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the endorser did not reach height {height}:\n{}",
            p.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_up(http: &reqwest::Client, base: &str, p: &Process) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while get_json(http, &format!("{base}/healthz")).await.is_none() {
        assert!(
            Instant::now() < deadline,
            "the endorser did not come up:\n{}",
            p.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn install(
    http: &reqwest::Client,
    base: &str,
    who: &TestMember,
    package: &[u8],
) -> (u16, Value) {
    let r = http
        .post(format!("{base}/v1/chaincode/install"))
        .json(&signed_install(
            who,
            package,
            cellchain_endorser::endorse::now(),
        ))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn send(http: &reqwest::Client, base: &str, op: &str, s: &SignedProposal) -> (u16, Value) {
    let r = http
        .post(format!("{base}/v1/channels/{CHANNEL}/{op}"))
        .json(s)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_follows_the_feed_endorses_and_stops_cleanly() {
    let net = Net::new();
    let home = net.dir.path().join("peer0");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("cert.pem"), &net.peer.id.cert).unwrap();
    std::fs::write(home.join("key.pem"), &net.peer.key_pem).unwrap();
    let fake = FakeCommitter::start(CHANNEL, net.config.msp_set().unwrap()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = home.join("endorser.yaml");
    std::fs::write(
        &config,
        format!(
            "name: peer0.org1\nlisten: 127.0.0.1:{port}\ndata_dir: data\nmsp_id: Org1MSP\ncert: cert.pem\nkey: key.pem\ngenesis_blocks: [{}]\ncommitter: {}\nproposal_skew: 1m\nruntime: {{ fuel: {TEST_FUEL}, max_concurrent_instances: 16 }}\n",
            net.genesis_path.display(),
            fake.addr
        ),
    )
    .unwrap();
    let log = home.join("endorser.log");
    let mut p = Process::start(&config, &log);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_up(&http, &base, &p).await;

    // Org1's admin installs both packages; a client may not.
    let (code, body) = install(&http, &base, &net.client, &ks_package()).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (403, Some("not_an_admin")),
        "{body}"
    );
    for (package, wasm) in [
        (ks_package(), kitchen_sink_wasm()),
        (hostile_package(), hostile_wasm()),
    ] {
        let (code, body) = install(&http, &base, &net.admin, &package).await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["already_installed"], false);
        assert_eq!(body["wasm_sha256"], json!(sha256(&wasm).to_hex()));
    }
    let ks_file = home
        .join("data/chaincode/packages")
        .join(format!("{}.json", sha256(&kitchen_sink_wasm()).to_hex()));
    assert_eq!(std::fs::read(&ks_file).unwrap(), ks_package());

    // The definitions come with the blocks (block 1), then a contract write.
    let genesis = net.validated_genesis();
    fake.push(genesis.clone());
    let defs = net.definitions_block(&genesis, &test_definitions());
    fake.push(defs.clone());
    let b1 = net.block_writing(&defs, KS, &[("k".into(), "v1".into())]);
    fake.push(b1.clone());
    let status = wait_status(&http, &base, 3, &p).await;
    assert_eq!(status["defined"], json!(["ghost", "hostile", "ks"]));
    assert_eq!(status["chaincodes"], json!(["hostile", "ks"]));

    // Endorse over a socket: reads the replicated value.
    let s = sign(
        proposal(
            &net.client,
            KS,
            "read_own_write",
            vec![json!("k"), json!("v2")],
        ),
        &net.client,
    );
    let (code, body) = send(&http, &base, "endorse", &s).await;
    assert_eq!(code, 200, "{body}");
    let r: ProposalResponse = serde_json::from_value(body).unwrap();
    assert_eq!(r.response.payload.0, br#""v1""#);
    assert_eq!(r.ledger_height, 3);
    assert!(r.endorsement.is_some());
    // Defined, but its module is not installed here.
    let s = sign(
        proposal(&net.client, GHOST, "get", vec![json!("k")]),
        &net.client,
    );
    let (code, body) = send(&http, &base, "evaluate", &s).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (404, Some("chaincode_not_installed")),
        "{body}"
    );
    // A refusal, in the error shape.
    let s = sign(
        proposal(&net.reader, KS, "put", vec![json!("k"), json!("v")]),
        &net.reader,
    );
    let (code, body) = send(&http, &base, "endorse", &s).await;
    assert_eq!(code, 403);
    assert_eq!(body["error"], "access_denied");
    assert_eq!(body["retryable"], false);
    // A hostile contract: an error response, and the process keeps serving.
    let s = sign(proposal(&net.client, HOSTILE, "spin", vec![]), &net.client);
    let (code, body) = send(&http, &base, "endorse", &s).await;
    assert_eq!(
        (code, body["response"]["status"].as_u64()),
        (200, Some(500)),
        "{body}"
    );
    let s = sign(
        proposal(&net.client, KS, "get", vec![json!("k")]),
        &net.client,
    );
    let (code, body) = send(&http, &base, "evaluate", &s).await;
    assert_eq!(code, 200, "{body}");
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("cellchain_endorser_replica_height{channel=\"testchannel\"} 3"),
        "{metrics}"
    );
    assert!(
        p.log().contains("chaincode execution failed"),
        "{}",
        p.log()
    );
    p.stop();

    // Restarted, it resumes its replica from its height, with the packages
    // it had installed loaded from disk.
    let b2 = net.block_writing(&b1, KS, &[("k".into(), "v3".into())]);
    fake.push(b2);
    let mut p = Process::start(&config, &log);
    wait_status(&http, &base, 4, &p).await;
    assert_eq!(*fake.starts().last().unwrap(), 3);
    let installed = get_json(&http, &format!("{base}/v1/chaincode/installed"))
        .await
        .unwrap();
    let ids: Vec<&str> = installed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["package_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            format!("hostile_1.0:{}", sha256(&hostile_wasm()).to_hex()),
            format!("ks_1.2:{}", sha256(&kitchen_sink_wasm()).to_hex()),
        ]
    );
    assert!(
        p.log().contains("installed chaincode package loaded"),
        "{}",
        p.log()
    );
    let s = sign(
        proposal(&net.client, KS, "get", vec![json!("k")]),
        &net.client,
    );
    let (_, body) = send(&http, &base, "evaluate", &s).await;
    let r: ProposalResponse = serde_json::from_value(body).unwrap();
    assert_eq!(r.response.payload.0, br#""v3""#);
    p.stop();
    fake.stop();
}

#[test]
fn a_bad_configuration_is_refused_with_its_reason() {
    let net = Net::new();
    let home = net.dir.path();
    std::fs::write(home.join("cert.pem"), &net.client.id.cert).unwrap();
    std::fs::write(home.join("key.pem"), &net.client.key_pem).unwrap();
    let config = home.join("endorser.yaml");
    std::fs::write(
        &config,
        format!(
            "name: p\nlisten: 127.0.0.1:0\ndata_dir: data\nmsp_id: Org1MSP\ncert: cert.pem\nkey: key.pem\ngenesis_blocks: [{}]\ncommitter: 127.0.0.1:1\n",
            net.genesis_path.display()
        ),
    )
    .unwrap();
    // A client certificate cannot endorse.
    let out = Command::new(env!("CARGO_BIN_EXE_endorser"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a peer certificate is needed"), "{err}");
}
