//! Bad input at the orderer's door: each refused with its reason, nothing ordered.

mod support;

use base64::Engine;
use cellchain_core::bytes::Bytes;
use cellchain_core::protocol::signing;
use support::{Cluster, Settings, CHANNEL};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_envelopes_and_cluster_messages_are_refused_with_reasons_and_nothing_is_ordered() {
    let mut c = Cluster::new(3, Settings::default());
    c.start_all();
    let leader = c.wait_leader(CHANNEL).await;
    let follower = (leader + 1) % 3;
    let height = c.height(leader, CHANNEL).await;

    // Malformed JSON.
    let (status, body) = c
        .broadcast_raw(follower, CHANNEL, b"{not json".to_vec())
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("malformed")),
        "{body}"
    );
    // An envelope whose payload is not a payload.
    let junk = serde_json::json!({"payload": "AAAA", "signature": "AAAA"});
    let (status, body) = c
        .broadcast_raw(follower, CHANNEL, junk.to_string().into_bytes())
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("malformed")),
        "{body}"
    );

    // A forged signature: the payload changed after signing.
    let mut e = c.envelope(&c.client, CHANNEL, 10);
    let mut sig = e.signature.0.clone();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    e.signature = Bytes(sig);
    let (status, body) = c.broadcast(leader, CHANNEL, &e).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "bad_signature");

    // An unknown channel.
    let e = c.envelope(&c.client, CHANNEL, 10);
    let (status, body) = c.broadcast(leader, "nosuchchannel", &e).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["message"].as_str().unwrap().contains("nosuchchannel"));
    // An envelope for another channel than the one it was sent to.
    let e = c.envelope(&c.client, support::PRIVATE, 10);
    let (status, body) = c.broadcast(leader, CHANNEL, &e).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("wrong_channel")),
        "{body}"
    );

    // A member that may not write (Org3 is read-only), and a stranger.
    let e = c.envelope(&c.outsider, CHANNEL, 10);
    let (status, body) = c.broadcast(follower, CHANNEL, &e).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("not_writer")),
        "{body}"
    );
    let e = c.envelope(&c.stranger, CHANNEL, 10);
    let (status, body) = c.broadcast(follower, CHANNEL, &e).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("invalid_creator")),
        "{body}"
    );

    // Above the channel's absolute maximum (256 KiB).
    let e = c.envelope(&c.client, CHANNEL, 300 * 1024);
    let (status, body) = c.broadcast(leader, CHANNEL, &e).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("too_large")),
        "{body}"
    );

    // Cluster traffic from outside the consenters.
    let batch = serde_json::json!({
        "from": "orderer0", "to": c.nodes[follower].name, "sent_at_ms": now_ms(), "items": [
            {"channel": CHANNEL, "raft": [], "envelopes": [c.envelope(&c.client, CHANNEL, 10)]}
        ]
    })
    .to_string()
    .into_bytes();
    let step = c.url(follower, "/cluster/v1/step");
    // Unsigned.
    let r = c.http.post(&step).body(batch.clone()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // Signed by a valid Org3 orderer identity that is not a consenter, claiming
    // to be orderer0 ...
    let sign = |body: &[u8]| {
        let s = c
            .rogue_orderer
            .signer
            .sign(&signing::cluster_message(body))
            .unwrap();
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let r = c
        .http
        .post(&step)
        .header("x-cellchain-node", "orderer0")
        .header("x-cellchain-signature", sign(&batch))
        .body(batch.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "bad_signature");
    // ... or under its own name.
    let r = c
        .http
        .post(&step)
        .header("x-cellchain-node", "orderer9")
        .header("x-cellchain-signature", sign(&batch))
        .body(batch.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "not_consenter");

    let metrics = c.metrics(follower).await;
    assert!(
        metrics.contains("cellchain_orderer_cluster_rejects_total{reason=\"bad_signature\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cellchain_orderer_cluster_rejects_total{reason=\"not_consenter\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cellchain_orderer_cluster_rejects_total{reason=\"missing_header\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("cellchain_orderer_admission_rejects_total{channel=\"testchannel\",reason=\"not_writer\"} 1"), "{metrics}");

    // Nothing of the above was ordered.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for i in 0..3 {
        assert_eq!(
            c.height(i, CHANNEL).await,
            height,
            "orderer{i} ordered something"
        );
    }
    // And the cluster still works.
    let e = c.envelope(&c.client, CHANNEL, 10);
    assert_eq!(c.broadcast(follower, CHANNEL, &e).await.0, 200);
    // Resubmitting an ordered envelope is recognised, not ordered again.
    let (status, body) = c.broadcast(leader, CHANNEL, &e).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ALREADY_ORDERED");
    assert_eq!(c.height(leader, CHANNEL).await, height + 1);
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}
