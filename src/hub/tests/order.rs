//! In-order delivery on the Redis store: held messages, held joins and leaves, replays due.

use super::*;

/// How many messages the room holds back.
fn held(hub: &Hub, room: &ChatId) -> usize {
    hub.lock().rooms.get(room).map_or(0, |r| r.held.len())
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
    assert_eq!((texts(&out).len(), held(&hub, &chat)), (0, 2));
    hub.deliver_next(10, &stored(&chat, "a", 11));
    assert_eq!(held(&hub, &chat), 0);
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
    assert_eq!(hub.follow_new(&v, &chat, 11, 12), Followed::Nothing);
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
    assert_eq!(hub.follow_new(&u, &chat, 6, 7), Followed::New);
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
    for seq in 0..=super::super::order::MAX_HELD as u64 {
        hub.deliver_next(100 + seq, &stored(&chat, "ahead", 101 + seq));
    }
    assert_eq!(held(&hub, &chat), super::super::order::MAX_HELD);
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
    // v's notice came late: v follows now, its connection held until its backlog is written.
    let Followed::Late(catch_up) = hub.follow_new(&v, &chat, 11, 12) else {
        panic!("a late join")
    };
    assert_eq!((catch_up.after, catch_up.upto, catch_up.conns.len()), (11, 12, 1));
    assert_eq!(
        hub.follow_new(&v, &chat, 11, 12),
        Followed::Nothing,
        "followed already"
    );
    hub.deliver_next(12, &stored(&chat, "first", 13));
    let left = notice(&chat, "v left", 14, Some(Membership::Left(v.clone())));
    hub.deliver_next(13, &left);
    // A replay read before the leave brings the join and the leave again.
    hub.deliver(&joined);
    hub.deliver(&left);
    hub.deliver_next(14, &stored(&chat, "after", 15));
    assert_eq!(
        texts(&out_v),
        Vec::<String>::new(),
        "held until the backlog is written"
    );
    hub.caught_up(&catch_up, &[(12, joined.frame.clone())]);
    assert_eq!(texts(&out_v), ["v joined", "first", "v left"]);
}

/// A join announced on the bucket channel whose message has not reached the hub keeps the
/// room followed when its last member here leaves: the join then still finds the room
/// (checker seed 237834417: the room was dropped with the joins waiting in it).
#[test]
fn a_join_on_its_way_keeps_the_room() {
    let hub = Hub::default();
    let (u, v, chat) = (
        UserId::parse("u").unwrap(),
        UserId::parse("v").unwrap(),
        ChatId::parse("c").unwrap(),
    );
    let (_, uid) = conn(&hub, &u, 8);
    let (vout, _) = conn(&hub, &v, 8);
    hub.follow(&u, [(chat.clone(), 10)]);
    // v's join (at 12) is announced while the hub is at 10, and its predecessor (11) is late.
    assert_eq!(hub.follow_new(&v, &chat, 11, 12), Followed::Nothing);
    hub.deliver_next(
        11,
        &notice(&chat, "v joined", 12, Some(Membership::Joined(v.clone()))),
    );
    assert_eq!(hub.unregister(&u, uid), Some(vec![chat.clone()]));
    assert!(hub.wants_room(&chat), "the room must wait for v's join");
    hub.deliver_next(10, &stored(&chat, "a", 11));
    hub.deliver_next(12, &stored(&chat, "b", 13));
    assert_eq!(texts(&vout), ["v joined", "b"]);
    assert!(hub.lock().rooms[&chat].joining.is_empty());
}

/// A new connection gets nothing stored before its rooms were read, even from a hub that is
/// behind the store in a room it follows (delivered-before-connect), and what came while it
/// waited for its rooms is released after its floor.
#[test]
fn a_new_connection_starts_at_the_stores_position() {
    let hub = Hub::default();
    let (u, chat) = (UserId::parse("u").unwrap(), ChatId::parse("c").unwrap());
    let (old, _) = conn(&hub, &u, 8);
    hub.follow(&u, [(chat.clone(), 10)]);
    let caps = Caps {
        total: 10,
        per_user: 10,
    };
    let new = Arc::new(Outbox::new(8));
    let id = hub.register(&u, new.clone(), caps).unwrap();
    hub.deliver_next(10, &stored(&chat, "a", 11)); // held: its rooms are being read
    hub.follow(&u, [(chat.clone(), 12)]); // the store was at 12
    hub.started(&u, id, [(chat.clone(), 12)], 0);
    hub.deliver_next(11, &stored(&chat, "b", 12));
    hub.deliver_next(12, &stored(&chat, "c", 13));
    assert_eq!(texts(&old), ["a", "b", "c"]);
    assert_eq!(texts(&new), ["c"]);
    assert!(
        hub.lock().floors.is_empty(),
        "past its floor, the connection is plain again"
    );
}

/// A leave delivered here after a connect read the user's rooms is not undone by the
/// connect's follow (delivered-to-non-member).
#[test]
fn a_leave_before_the_follow_is_kept() {
    let hub = Hub::default();
    let (u, v, chat) = (
        UserId::parse("u").unwrap(),
        UserId::parse("v").unwrap(),
        ChatId::parse("c").unwrap(),
    );
    let (_, _) = conn(&hub, &v, 8);
    hub.follow(&v, [(chat.clone(), 10)]);
    let (out, _) = conn(&hub, &u, 8);
    // The connect read u as a member at 10; u's leave (11) reaches the hub before its follow.
    hub.deliver_next(
        10,
        &notice(&chat, "u left", 11, Some(Membership::Left(u.clone()))),
    );
    hub.follow(&u, [(chat.clone(), 10)]);
    hub.deliver_next(11, &stored(&chat, "after", 12));
    assert!(texts(&out).is_empty());
    assert!(!hub.follows(&u, &chat));
}

/// A join's bucket notice that arrives after the user's leave that followed it was delivered
/// here does not follow the room again (duplicate / out-of-order replays).
#[test]
fn a_late_join_notice_is_dropped() {
    let hub = Hub::default();
    let (u, chat) = (UserId::parse("u").unwrap(), ChatId::parse("c").unwrap());
    let (out, _) = conn(&hub, &u, 8);
    hub.follow(&u, [(chat.clone(), 10)]);
    hub.deliver_next(
        10,
        &notice(&chat, "u joined", 11, Some(Membership::Joined(u.clone()))),
    );
    hub.deliver_next(
        11,
        &notice(&chat, "u left", 12, Some(Membership::Left(u.clone()))),
    );
    assert!(!hub.wants_room(&chat));
    assert_eq!(
        hub.follow_new(&u, &chat, 10, 11),
        Followed::Nothing,
        "the notice of the join at 11 is late"
    );
    assert!(!hub.wants_room(&chat));
    assert_eq!(texts(&out), ["u joined", "u left"]);
}
