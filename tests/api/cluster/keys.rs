//! Keys per slot: every key of a room is in the slot of `{chat_id}` and every key of a user
//! in the slot of `{user_id}` (so each script touches one slot, on one master), with the
//! names `src/backend/redis/keys.rs` documents.

use std::collections::BTreeSet;

use serde_json::json;

use super::{names, rooms_on_masters};
use crate::helpers::{RedisCluster, TestApp, fresh_prefix, room};
use crate::redis_cluster::Reply;

/// Every key under `prefix` on every master, with the master holding it.
fn keys_by_master(cluster: &RedisCluster, prefix: &str) -> Vec<(String, u16)> {
    let mut all = Vec::new();
    for master in cluster.masters() {
        let keys = cluster.command(master, &["KEYS", &format!("{prefix}:*")]);
        all.extend(names(&keys).into_iter().map(|k| (k, master)));
    }
    all
}

/// Two rooms on two different masters; alice sends in both (one text with a
/// `client_msg_id`), bob joins the first. Each room's keys are exactly the documented ones,
/// all in the room's slot, held by its master (found there by `CLUSTER GETKEYSINSLOT`); each
/// user's keys are in the user's slot.
#[tokio::test]
async fn a_rooms_keys_are_in_its_slot_and_a_users_in_theirs() {
    let cluster = RedisCluster::shared();
    let prefix = fresh_prefix();
    let app = TestApp::spawn_cluster(cluster.clone(), &prefix, &[]).await;
    let chats = rooms_on_masters(&cluster, "keys", 1);
    let (first, second) = (&chats[0], &chats[1]);
    assert_ne!(
        cluster.owner_of(&format!("{{{first}}}")),
        cluster.owner_of(&format!("{{{second}}}"))
    );
    for chat in [first, second] {
        room(&app, chat, &["alice"]).await;
    }
    let mut alice = app.ws("alice").await;
    for chat in [first, second] {
        let frame = json!({"type": "text", "chat_id": chat, "content": "hi", "client_msg_id": "k1"});
        alice.send_json(frame).await;
        assert_eq!(alice.recv_json().await["content"], "hi");
    }
    let mut bob = app.ws("bob").await;
    bob.send_json(json!({"type": "join", "chat_id": first})).await;
    assert_eq!(bob.recv_json().await["content"], "bob joined the chat");
    assert_eq!(alice.recv_json().await["content"], "bob joined the chat");

    let keys = keys_by_master(&cluster, &prefix);
    for chat in [first, second] {
        let slot = RedisCluster::slot_of(&format!("{{{chat}}}"));
        let owner = cluster.master_of_slot(slot);
        let base = format!("{prefix}:room:{{{chat}}}");
        let mine: Vec<&(String, u16)> = keys.iter().filter(|(k, _)| k.starts_with(&base)).collect();
        // `:op:<id>`: a room script's kept reply, for a retry by the cluster client.
        let suffixes: BTreeSet<&str> = mine
            .iter()
            .map(|(k, _)| &k[base.len()..])
            .filter(|s| !s.starts_with(":op:"))
            .collect();
        let want: BTreeSet<&str> = ["", ":members", ":log", ":followers", ":reads", ":sent:alice|k1"].into();
        assert_eq!(suffixes, want, "{chat}'s keys");
        for (key, master) in &mine {
            assert_eq!(*master, owner, "{key} is not on its slot's master");
            let keyslot = cluster.command(owner, &["CLUSTER", "KEYSLOT", key]);
            assert_eq!(keyslot, Reply::Int(i64::from(slot)), "{key}");
        }
        let in_slot = cluster.command(owner, &["CLUSTER", "GETKEYSINSLOT", &slot.to_string(), "1000"]);
        let in_slot: BTreeSet<String> = names(&in_slot)
            .into_iter()
            .filter(|k| k.starts_with(&base))
            .collect();
        let found: BTreeSet<String> = mine.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(in_slot, found);
    }
    for user in ["alice", "bob"] {
        let base = format!("{prefix}:user:{{{user}}}");
        let slot = RedisCluster::slot_of(&format!("{{{user}}}"));
        let theirs: Vec<&(String, u16)> = keys.iter().filter(|(k, _)| k.starts_with(&base)).collect();
        assert!(
            theirs.iter().any(|(k, _)| k == &format!("{base}:rooms")),
            "{keys:?}"
        );
        for (key, master) in theirs {
            assert_eq!(*master, cluster.master_of_slot(slot), "{key}");
        }
    }
}
