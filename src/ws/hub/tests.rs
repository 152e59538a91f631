//! The hub's unit tests.

use super::*;
use crate::store::Page;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// A registered connection: its outbox (frames are checked with `texts`) and its id.
fn conn(hub: &Hub, user: &UserId, cap: usize) -> (Outbound, u64) {
    let out = Arc::new(Outbox::new(cap));
    let caps = Caps {
        total: 10,
        per_user: 10,
    };
    let id = hub.register(user, out.clone(), caps).unwrap();
    (out, id)
}

/// The frames waiting in `out`, taken.
fn texts(out: &Outbox) -> Vec<String> {
    out.take()
        .into_iter()
        .map(|f| f.to_text().unwrap().to_string())
        .collect()
}

fn delivery(chat: &ChatId, text: &str, membership: Option<Membership>) -> Delivery {
    Delivery {
        chat_id: chat.clone(),
        frame: WsMessage::text(text),
        skip: None,
        membership,
        seq: None,
    }
}

#[test]
fn join_applies_before_and_leave_after_delivery() {
    let hub = Hub::default();
    let (u, chat) = (UserId::parse("u").unwrap(), ChatId::parse("c").unwrap());
    let (out, id) = conn(&hub, &u, 8);
    hub.deliver(&delivery(&chat, "before", None));
    hub.deliver(&delivery(&chat, "joined", Some(Membership::Joined(u.clone()))));
    hub.deliver(&delivery(&chat, "left", Some(Membership::Left(u.clone()))));
    hub.deliver(&delivery(&chat, "after", None));
    assert_eq!(texts(&out), ["joined", "left"]);
    assert_eq!(hub.unregister(&u, id), Some(vec![]));
    assert_eq!(hub.connections(), 0);
}

#[test]
fn caps_are_enforced_and_freed() {
    let hub = Hub::default();
    let (u, v) = (UserId::parse("u").unwrap(), UserId::parse("v").unwrap());
    let caps = Caps {
        total: 3,
        per_user: 2,
    };
    let out = || Arc::new(Outbox::new(1));
    let a = hub.register(&u, out(), caps).unwrap();
    hub.register(&u, out(), caps).unwrap();
    assert_eq!(hub.register(&u, out(), caps), Err(Refused::PerUser(2)));
    hub.register(&v, out(), caps).unwrap();
    assert_eq!(hub.register(&v, out(), caps), Err(Refused::Total(3)));
    assert_eq!(hub.connections(), 3);
    assert_eq!(hub.unregister(&u, a), None);
    assert!(hub.register(&v, out(), caps).is_ok());
}

#[test]
fn replays_at_or_below_the_last_sequence_are_dropped() {
    let hub = Hub::default();
    let (u, chat) = (UserId::parse("u").unwrap(), ChatId::parse("c").unwrap());
    let (out, _) = conn(&hub, &u, 8);
    hub.follow(&u, [(chat.clone(), 10)]);
    for (seq, text) in [(10, "old"), (11, "a"), (11, "dup"), (12, "b")] {
        hub.deliver(&Delivery {
            seq: Some(seq),
            ..delivery(&chat, text, None)
        });
    }
    assert_eq!(texts(&out), ["a", "b"]);
    assert_eq!(hub.last_seq(&chat), Some(12));
}

#[test]
fn full_outbox_marks_slow_and_skip_is_honoured() {
    let hub = Hub::default();
    let (u, v, chat) = (
        UserId::parse("u").unwrap(),
        UserId::parse("v").unwrap(),
        ChatId::parse("c").unwrap(),
    );
    let (slow, _) = conn(&hub, &u, 1);
    let (rv, _) = conn(&hub, &v, 8);
    hub.follow(&u, [(chat.clone(), 0)]);
    hub.follow(&v, [(chat.clone(), 0)]);
    hub.deliver(&delivery(&chat, "1", None));
    assert!(!slow.is_slow());
    hub.deliver(&Delivery {
        skip: Some(v.clone()),
        ..delivery(&chat, "2", None)
    });
    assert!(slow.is_slow());
    assert_eq!(texts(&rv), ["1"]);
}

#[test]
fn recent_messages_are_kept_only_when_they_end_at_the_last_delivery() {
    let hub = Hub::default();
    let (u, chat) = (UserId::parse("u").unwrap(), ChatId::parse("c").unwrap());
    let (_out, _) = conn(&hub, &u, 8);
    hub.follow(&u, [(chat.clone(), 20)]);
    let page = |seqs: &[u64]| {
        seqs.iter()
            .map(|s| (*s, Utf8Bytes::from(s.to_string())))
            .collect()
    };
    // The page ends at 10, the hub delivered up to 20: something is missing, nothing kept.
    assert_eq!(hub.keep_recent(&chat, page(&[5, 10]), true, 100), None);
    let id = hub.keep_recent(&chat, page(&[10, 20]), true, 100).unwrap();
    assert_eq!(
        hub.keep_recent(&chat, page(&[10, 20]), true, 100),
        None,
        "kept already"
    );
    assert_eq!(
        hub.recent_page(&chat, 50, None),
        None,
        "not live before the catch-up"
    );
    hub.recent_live(&chat, id + 1); // a stale catch-up changes nothing
    assert_eq!(hub.recent_page(&chat, 50, None), None);
    hub.recent_live(&chat, id);
    hub.deliver(&Delivery {
        seq: Some(30),
        ..delivery(&chat, "30", None)
    });
    let texts = |p: Option<Page>| p.map(|p| p.0.iter().map(|m| m.to_string()).collect::<Vec<_>>());
    assert_eq!(
        texts(hub.recent_page(&chat, 50, None)),
        Some(vec!["10".into(), "20".into(), "30".into()])
    );
    assert_eq!(
        texts(hub.recent_page(&chat, 1, Some(30))),
        Some(vec!["20".into()])
    );
    hub.forget_recent();
    assert_eq!(hub.recent_page(&chat, 50, None), None);
}

#[test]
fn a_room_read_without_members_is_followed_until_it_expires() {
    let hub = Hub::default();
    let chat = ChatId::parse("c").unwrap();
    assert!(!hub.wants_room(&chat));
    hub.keep_recent(&chat, vec![], true, 100).unwrap();
    assert!(hub.wants_room(&chat));
    assert_eq!(hub.last_seq(&chat), Some(0));
    assert_eq!(hub.expire_recent(), Vec::<ChatId>::new(), "read just now");
    hub.forget_recent();
    assert_eq!(hub.expire_recent(), vec![chat.clone()]);
    assert!(!hub.wants_room(&chat));
}

#[test]
fn at_most_max_kept_rooms_keep_recent_messages() {
    let hub = Hub::default();
    let room = |i: usize| ChatId::parse(&format!("r{i}")).unwrap();
    for i in 0..crate::ws::recent::MAX_KEPT_ROOMS {
        assert!(hub.keep_recent(&room(i), vec![], true, 100).is_some());
    }
    let extra = room(crate::ws::recent::MAX_KEPT_ROOMS);
    assert_eq!(hub.keep_recent(&extra, vec![], true, 100), None);
    assert!(!hub.wants_room(&extra), "a room refused is not followed either");
    hub.forget_recent();
    assert!(hub.keep_recent(&extra, vec![], true, 100).is_some());
}

/// A stored message at `seq` (the room's sequence before it was `prev`, for `deliver_next`).
fn stored(chat: &ChatId, text: &str, seq: u64) -> Delivery {
    notice(chat, text, seq, None)
}

/// A stored message at `seq` carrying a membership change.
fn notice(chat: &ChatId, text: &str, seq: u64, membership: Option<Membership>) -> Delivery {
    Delivery {
        seq: Some(seq),
        ..delivery(chat, text, membership)
    }
}

#[test]
fn messages_ahead_of_a_gap_wait_for_it_whichever_path_brings_them() {
    let hub = Hub::default();
    let (u, chat) = (UserId::parse("u").unwrap(), ChatId::parse("c").unwrap());
    let (out, _) = conn(&hub, &u, 8);
    hub.follow(&u, [(chat.clone(), 10)]);
    // 13 and 12 come (a reply, a publish) before 11, whose reply is slower.
    hub.deliver_next(12, &stored(&chat, "c", 13));
    hub.deliver_next(11, &stored(&chat, "b", 12));
    assert_eq!((texts(&out).len(), hub.held(&chat)), (0, 2));
    hub.deliver_next(10, &stored(&chat, "a", 11));
    assert_eq!(hub.held(&chat), 0);
    hub.deliver_next(13, &stored(&chat, "d", 14));
    // Copies of what was delivered already (a replay, a publish) are dropped.
    hub.deliver(&stored(&chat, "b", 12));
    hub.deliver_next(13, &stored(&chat, "d", 14));
    assert_eq!(texts(&out), ["a", "b", "c", "d"]);
    assert_eq!(hub.last_seq(&chat), Some(14));
    assert_eq!(
        hub.due_rechecks(),
        [] as [ChatId; 0],
        "the gap closed: nothing to replay"
    );
}

#[test]
fn a_held_join_or_leave_applies_at_its_place() {
    let hub = Hub::default();
    let (u, v, chat) = (
        UserId::parse("u").unwrap(),
        UserId::parse("v").unwrap(),
        ChatId::parse("c").unwrap(),
    );
    let (out_u, _) = conn(&hub, &u, 8);
    let (out_v, _) = conn(&hub, &v, 8);
    hub.follow(&u, [(chat.clone(), 10)]);
    let joined = notice(&chat, "v joined", 12, Some(Membership::Joined(v.clone())));
    hub.deliver_next(11, &joined);
    // The join is announced elsewhere too: v must not follow the room before its place.
    hub.follow_new(&v, &chat, 11, 12);
    hub.deliver_next(10, &stored(&chat, "before", 11));
    let left = notice(&chat, "u left", 14, Some(Membership::Left(u.clone())));
    hub.deliver_next(13, &left);
    hub.deliver_next(12, &stored(&chat, "both", 13));
    hub.deliver_next(14, &stored(&chat, "after", 15));
    assert_eq!(texts(&out_u), ["before", "v joined", "both", "u left"]);
    assert_eq!(texts(&out_v), ["v joined", "both", "u left", "after"]);
}

#[test]
fn a_room_new_here_is_followed_from_a_local_users_join() {
    let hub = Hub::default();
    let (u, chat) = (UserId::parse("u").unwrap(), ChatId::parse("c").unwrap());
    let (out, _) = conn(&hub, &u, 8);
    hub.deliver_next(4, &stored(&chat, "not followed", 5));
    assert!(hub.follow_new(&u, &chat, 6, 7));
    hub.deliver_next(
        6,
        &notice(&chat, "u joined", 7, Some(Membership::Joined(u.clone()))),
    );
    assert_eq!(texts(&out), ["u joined"]);
    assert_eq!(hub.last_seq(&chat), Some(7));
}

#[test]
fn a_room_holding_too_long_or_whose_store_call_failed_is_due_for_a_replay() {
    let hub = Hub::default();
    let (u, chat) = (UserId::parse("u").unwrap(), ChatId::parse("c").unwrap());
    let other = ChatId::parse("elsewhere").unwrap();
    let (out, _) = conn(&hub, &u, 8);
    hub.follow(&u, [(chat.clone(), 10)]);
    hub.deliver_next(20, &stored(&chat, "late", 21));
    assert_eq!(
        hub.due_rechecks(),
        [] as [ChatId; 0],
        "pub/sub gets some patience"
    );
    hub.recheck(&chat); // a failed call: due at once
    hub.recheck(&other); // not followed here: nothing to replay
    assert_eq!(hub.due_rechecks(), std::slice::from_ref(&chat));
    assert_eq!(hub.due_rechecks(), [] as [ChatId; 0], "taken once");
    // The replay brings the missing messages, and the held one follows them.
    hub.deliver(&stored(&chat, "lost reply", 20));
    assert_eq!(texts(&out), ["lost reply", "late"]);
    // A failed call's recheck stays when a gap closes; more than MAX_HELD held is due at once.
    hub.recheck(&chat);
    hub.deliver_next(21, &stored(&chat, "next", 22));
    assert_eq!(hub.due_rechecks(), std::slice::from_ref(&chat));
    for seq in 0..=order::MAX_HELD as u64 {
        hub.deliver_next(100 + seq, &stored(&chat, "ahead", 101 + seq));
    }
    assert_eq!(hub.held(&chat), order::MAX_HELD);
    assert_eq!(hub.due_rechecks(), std::slice::from_ref(&chat));
}

#[test]
fn rooms_no_longer_followed_are_recorded_once_tracked() {
    let hub = Hub::default();
    let (u, chat) = (UserId::parse("u").unwrap(), ChatId::parse("c").unwrap());
    let (_out, id) = conn(&hub, &u, 8);
    hub.follow(&u, [(chat.clone(), 1)]);
    hub.deliver(&delivery(&chat, "u left", Some(Membership::Left(u.clone()))));
    assert_eq!(
        hub.take_dropped(),
        [] as [ChatId; 0],
        "not tracked: the memory store"
    );
    hub.track_dropped();
    hub.follow(&u, [(chat.clone(), 1)]);
    hub.unregister(&u, id);
    assert_eq!(hub.take_dropped(), std::slice::from_ref(&chat));
    assert_eq!(hub.take_dropped(), [] as [ChatId; 0]);
}

#[test]
fn a_join_already_passed_here_adds_the_user_and_a_replayed_join_never_re_adds_a_leaver() {
    let hub = Hub::default();
    let (u, v, chat) = (
        UserId::parse("u").unwrap(),
        UserId::parse("v").unwrap(),
        ChatId::parse("c").unwrap(),
    );
    let (_out_u, _) = conn(&hub, &u, 8);
    let (out_v, _) = conn(&hub, &v, 8);
    // u connected after v's join was stored: the room starts past the join notice (12).
    hub.follow(&u, [(chat.clone(), 12)]);
    let joined = notice(&chat, "v joined", 12, Some(Membership::Joined(v.clone())));
    hub.deliver_next(11, &joined); // a copy of what the room is past: dropped
    assert!(!hub.follow_new(&v, &chat, 11, 12), "not new here");
    hub.deliver_next(12, &stored(&chat, "first", 13));
    let left = notice(&chat, "v left", 14, Some(Membership::Left(v.clone())));
    hub.deliver_next(13, &left);
    // A replay read before the leave brings the join and the leave again.
    hub.deliver(&joined);
    hub.deliver(&left);
    hub.deliver_next(14, &stored(&chat, "after", 15));
    assert_eq!(texts(&out_v), ["first", "v left"]);
}
