//! Store contract for messages and history: sending (into new, private and open rooms),
//! what history gives back (content, order, ids, trimming, `limit` and `before`), and
//! concurrent senders.

use std::collections::HashSet;

use chat_server::backend::Access;
use chat_server::domain::UserRoom;
use chrono::TimeDelta;
use serde_json::json;

use super::*;

store_test!(
    /// A text into a new room creates it and joins the sender first: history is the join
    /// notice then the text, exactly as send returned it.
    send_into_new_room,
    |store| {
        store.connect(&uid("sam")).await.unwrap();
        let sent = send_ok(&store, text("fresh", "sam", "hello")).await;
        assert_eq!(sent.chat_id, cid("fresh"));
        assert_eq!(sent.user_id, uid("sam"));
        assert_eq!((sent.content.as_str(), sent.kind), ("hello", MessageKind::Text));
        assert_eq!(sent.id.get_version_num(), 7);

        let stored = history(&store, "fresh").await;
        assert_eq!(stored.len(), 2, "{stored:?}");
        assert_notice(&stored[0], "fresh", "sam joined the chat");
        assert_eq!(stored[1], sent);
        assert!(stored[0].timestamp < sent.timestamp);
        assert_eq!(room_ids(&store, "sam").await, ["fresh"]);
        assert_eq!(store.access(&cid("fresh"), &uid("sam")).await.unwrap(), Access::Member);
    }
);

store_test!(
    /// A text from a user the store has never seen joins them as a join would: the user is
    /// created (username = id) and lists the room.
    send_creates_unknown_sender,
    |store| {
        let sent = send_ok(&store, text("open", "newbie", "hi")).await;
        assert_eq!(history(&store, "open").await[1], sent);
        let user = store.get_user(&uid("newbie")).await.unwrap();
        assert_eq!(user, Some(implicit_user("newbie", false)));
        let room = store.get_room(&cid("open")).await.unwrap().unwrap();
        let listed = UserRoom {
            room,
            unread: 0,
            last_message: Some(sent),
        };
        assert_eq!(store.user_rooms(&uid("newbie")).await.unwrap(), Some(vec![listed]));
    }
);

store_test!(
    /// An outsider's text into a private room is refused and stores nothing.
    send_into_private_room_refused,
    |store| {
        store.create_room(room_spec(json!({"id": "safe", "name": "S", "is_private": true,
            "participants": ["owner"]}))).await.unwrap();
        store.connect(&uid("out")).await.unwrap();
        assert_eq!(store.send(text("safe", "out", "let me in")).await.unwrap(), Sent::Private);
        assert_eq!(history(&store, "safe").await, []);
        let access = store.access(&cid("safe"), &uid("out")).await.unwrap();
        assert_eq!(access, Access::Outsider { private: true });

        let sent = send_ok(&store, text("safe", "owner", "mine")).await;
        assert_eq!(history(&store, "safe").await, [sent], "a member writes with no join notice");
    }
);

store_test!(
    /// metadata (nested, with escapes) and reply_to come back from history exactly as sent.
    metadata_and_reply_round_trip,
    |store| {
        let first = send_ok(&store, text("meta", "mo", "first")).await;
        let mut draft = text("meta", "mo", "a \"quoted\" reply: \"timestamp\":\"x\" é ✓");
        draft.metadata = json!({"k": [1, 2.5, {"n": null}], "s": "é\"\\", "b": true, "o": {}})
            .as_object()
            .unwrap()
            .clone();
        draft.reply_to = Some(first.id.to_string());
        let reply = send_ok(&store, draft.clone()).await;
        assert_eq!((&reply.metadata, &reply.reply_to), (&draft.metadata, &draft.reply_to));
        assert_eq!(reply.content, draft.content);
        let stored = history(&store, "meta").await;
        assert_eq!(stored[1..], [first, reply]);
    }
);

store_test!(
    /// 200 quick sends get strictly increasing timestamps and distinct ids, and history holds
    /// them in send order, equal to what send returned.
    timestamps_increase_ids_unique,
    |store| {
        let mut sent = Vec::new();
        for i in 0..200 {
            sent.push(send_ok(&store, text("fast", "fay", &format!("m{i}"))).await);
        }
        assert_strictly_increasing(&sent);
        let ids: HashSet<_> = sent.iter().map(|m| m.id).collect();
        assert_eq!(ids.len(), 200);
        let stored = history(&store, "fast").await;
        assert_eq!(stored.len(), 201);
        assert_eq!(stored[1..], sent[..]);
        assert_strictly_increasing(&stored);
    }
);

store_test!(
    /// With max = 5 a room keeps exactly its newest 5 messages.
    trimming_keeps_newest,
    max = 5,
    |store| {
        let mut sent = Vec::new();
        for i in 0..8 {
            sent.push(send_ok(&store, text("small", "tim", &format!("m{i}"))).await);
        }
        let stored = history(&store, "small").await;
        let contents: Vec<_> = stored.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(contents, ["m3", "m4", "m5", "m6", "m7"]);
        assert_eq!(stored, sent[3..]);
        let page = store.history(&cid("small"), 2, at(Some(sent[5].timestamp))).await.unwrap();
        assert_eq!(parsed(page), Some(sent[3..5].to_vec()));
    }
);

store_test!(
    /// history: None for a missing room; the `limit` newest, oldest first; `before` exclusive
    /// (at microsecond grain); a `before` older than everything gives an empty page.
    history_limit_and_before,
    |store| {
        assert_eq!(store.history(&cid("none"), 10, at(None)).await.unwrap(), None);
        assert_eq!(store.history(&cid("none"), 10, at(Some(Timestamp::UNIX_EPOCH))).await.unwrap(), None);
        let mut all = vec![join_now(&store, "h", "hal", JoinMode::Member).await];
        for i in 0..10 {
            all.push(send_ok(&store, text("h", "hal", &format!("m{i}"))).await);
        }
        let h = cid("h");
        let page = async |limit, before| parsed(store.history(&h, limit, at(before)).await.unwrap());
        assert_eq!(page(3, None).await, Some(all[8..].to_vec()));
        assert_eq!(page(100, None).await, Some(all.clone()));
        assert_eq!(page(100, Some(all[5].timestamp)).await, Some(all[..5].to_vec()));
        assert_eq!(page(2, Some(all[5].timestamp)).await, Some(all[3..5].to_vec()));
        let just_after = all[5].timestamp + TimeDelta::nanoseconds(500);
        assert_eq!(page(100, Some(just_after)).await, Some(all[..6].to_vec()));
        assert_eq!(page(100, Some(all[0].timestamp)).await, Some(vec![]));
        let earlier = all[0].timestamp - TimeDelta::seconds(1);
        assert_eq!(page(100, Some(earlier)).await, Some(vec![]));
        assert_eq!(page(100, Some(Timestamp::UNIX_EPOCH)).await, Some(vec![]));
    }
);

store_test!(
    /// Walking backwards with `before` = the oldest timestamp of the previous page visits
    /// every message exactly once.
    history_walk_backwards,
    |store| {
        for i in 0..23 {
            send_ok(&store, text("walk", "wes", &format!("m{i}"))).await;
        }
        let all = history(&store, "walk").await; // the join notice and 23 texts
        assert_eq!(all.len(), 24);
        let (mut pages, mut before) = (Vec::new(), None);
        loop {
            let page = parsed(store.history(&cid("walk"), 5, at(before)).await.unwrap()).unwrap();
            let Some(oldest) = page.first() else { break };
            before = Some(oldest.timestamp);
            pages.push(page);
        }
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [5, 5, 5, 5, 4]);
        let walked: Vec<Message> = pages.into_iter().rev().flatten().collect();
        assert_eq!(walked, all);
    }
);

store_test!(
    /// Four tasks sending 25 texts each into one room at once: all 100 are stored after each
    /// sender's join notice, timestamps strictly increase, and each task's texts keep its order.
    concurrent_sends_keep_order,
    |store| {
        let barrier = Arc::new(tokio::sync::Barrier::new(4));
        let tasks: Vec<_> = (0..4)
            .map(|t| {
                let (store, barrier, user) = (store.clone(), barrier.clone(), format!("w{t}"));
                tokio::spawn(async move {
                    barrier.wait().await;
                    let mut sent = Vec::new();
                    for i in 0..25 {
                        sent.push(send_ok(&store, text("busy", &user, &i.to_string())).await);
                        tokio::task::yield_now().await; // let the others interleave
                    }
                    sent
                })
            })
            .collect();
        let mut sent = HashSet::new();
        for task in tasks {
            sent.extend(task.await.unwrap().into_iter().map(|m| m.id));
        }
        let stored = history(&store, "busy").await;
        assert_eq!(stored.len(), 104, "100 texts and 4 join notices");
        assert_strictly_increasing(&stored);
        let texts = stored.iter().filter(|m| m.kind == MessageKind::Text);
        assert_eq!(texts.map(|m| m.id).collect::<HashSet<_>>(), sent);
        for t in 0..4 {
            let user = format!("w{t}");
            let joined = format!("{user} joined the chat");
            let mine: Vec<&str> = stored
                .iter()
                .filter(|m| m.user_id == uid(&user) || m.content == joined)
                .map(|m| m.content.as_str())
                .collect();
            let texts = (0..25).map(|i| i.to_string());
            let want: Vec<String> = std::iter::once(joined.clone()).chain(texts).collect();
            assert_eq!(mine, want, "{user}");
        }
    }
);
