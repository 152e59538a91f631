//! Connections of one user opened at different times on a hub that is behind the store
//! (issue 19's residual holes: delivered-to-non-member, delivered-before-connect), and joins
//! stored here for rooms not followed (missed-after-connect).

use super::*;

/// A connection of `user` whose rooms were read at `since` (the store's clock), with the
/// given floors; its outbox and id.
pub(super) fn reading(hub: &Hub, user: &UserId, floors: &[(ChatId, u64)], since: u64) -> (Outbound, u64) {
    let (out, id) = registered(hub, user);
    hub.follow_read(user, floors.iter().cloned());
    hub.started(user, id, floors.iter().cloned(), since);
    (out, id)
}

/// A connection of `user` registered, its rooms not read yet; its outbox and id.
pub(super) fn registered(hub: &Hub, user: &UserId) -> (Outbound, u64) {
    let out = Arc::new(Outbox::new(8));
    let caps = Caps {
        total: 10,
        per_user: 10,
    };
    let id = hub.register(user, out.clone(), caps).unwrap();
    (out, id)
}

/// Users `u` and `v`, room `c`.
pub(super) fn users_and_room() -> (UserId, UserId, ChatId) {
    (
        UserId::parse("u").unwrap(),
        UserId::parse("v").unwrap(),
        ChatId::parse("c").unwrap(),
    )
}

pub(super) fn stored(chat: &ChatId, text: &str, seq: u64, membership: Option<Membership>) -> Delivery {
    Delivery {
        seq: Some(seq),
        ..delivery(chat, text, membership)
    }
}

/// Soak seeds 475626879 and 475626892: the hub follows the room at 10 (for `v`), the store is
/// at 14, `u` joined at 12. A new connection of `u` reads that; `u`'s older connection must
/// still get nothing before the join.
#[test]
fn a_connect_ahead_of_the_hub_leaves_the_older_connections_to_the_join() {
    let hub = Hub::default();
    let (u, v, chat) = (
        UserId::parse("u").unwrap(),
        UserId::parse("v").unwrap(),
        ChatId::parse("c").unwrap(),
    );
    reading(&hub, &v, &[(chat.clone(), 10)], 10);
    let (old, _) = reading(&hub, &u, &[], 5);
    let (new, _) = reading(&hub, &u, &[(chat.clone(), 14)], 15);
    let u_joined = Some(Membership::Joined(u.clone()));
    hub.deliver_next(10, &stored(&chat, "x", 11, None));
    hub.deliver_next(11, &stored(&chat, "u joined", 12, u_joined));
    hub.deliver_next(12, &stored(&chat, "y", 13, None));
    hub.deliver_next(13, &stored(&chat, "z", 14, None));
    hub.deliver_next(14, &stored(&chat, "w", 15, None));
    assert_eq!(texts(&old), ["u joined", "y", "z", "w"]);
    assert_eq!(texts(&new), ["w"]);
    assert!(hub.lock().rooms[&chat].joining.is_empty());
}

/// The same when the hub never gets the join (it was lost here): the user is a member at the
/// store's last sequence that the connect read, at the latest.
#[test]
fn a_connect_ahead_of_the_hub_makes_the_user_a_member_by_its_reading() {
    let hub = Hub::default();
    let (u, v, chat) = (
        UserId::parse("u").unwrap(),
        UserId::parse("v").unwrap(),
        ChatId::parse("c").unwrap(),
    );
    reading(&hub, &v, &[(chat.clone(), 10)], 10);
    let (old, _) = reading(&hub, &u, &[], 5);
    let (new, _) = reading(&hub, &u, &[(chat.clone(), 12)], 13);
    assert!(!hub.follows(&u, &chat));
    hub.deliver_next(10, &stored(&chat, "x", 11, None));
    hub.deliver_next(11, &stored(&chat, "y", 12, None));
    hub.deliver_next(12, &stored(&chat, "z", 13, None));
    assert_eq!(texts(&old), ["y", "z"]);
    assert_eq!(texts(&new), ["z"]);
    assert!(hub.follows(&u, &chat));
}

/// Soak seed 475626888: `u` joins a room (at 11) that this hub does not follow; a new
/// connection of `u` reads its rooms at 20, before the room index lists it; then the join's
/// notice makes `u` follow the room, and the replay brings the join and what followed.
#[test]
fn a_join_stored_before_a_connections_reading_is_not_its() {
    let hub = Hub::default();
    let (u, chat) = (UserId::parse("u").unwrap(), ChatId::parse("c").unwrap());
    let (old, _) = reading(&hub, &u, &[], 5);
    let (new, _) = reading(&hub, &u, &[], 20);
    assert_eq!(hub.follow_new(&u, &chat, 10, 11), Followed::New);
    hub.deliver(&stored(
        &chat,
        "u joined",
        11,
        Some(Membership::Joined(u.clone())),
    ));
    hub.deliver(&stored(&chat, "x", 19, None));
    hub.deliver(&stored(&chat, "y", 21, None));
    assert_eq!(texts(&old), ["u joined", "x", "y"]);
    assert_eq!(texts(&new), ["y"]);
    assert!(hub.lock().floors.is_empty(), "past its floor");
}

/// Soak seed 475626888 (a later run): `u`'s join (11) reached the hub before `u`'s new
/// connection, whose rooms are still being read, and its notice came after: the connection
/// is not caught up from the join (stored before its handshake); its reading covers it.
#[test]
fn a_late_join_notice_does_not_catch_up_a_connection_still_reading() {
    let hub = Hub::default();
    let (u, v, chat) = (
        UserId::parse("u").unwrap(),
        UserId::parse("v").unwrap(),
        ChatId::parse("c").unwrap(),
    );
    reading(&hub, &v, &[(chat.clone(), 10)], 10);
    let joined = stored(&chat, "u joined", 11, Some(Membership::Joined(u.clone())));
    hub.deliver_next(10, &joined);
    let new = Arc::new(Outbox::new(8));
    let caps = Caps {
        total: 10,
        per_user: 10,
    };
    let id = hub.register(&u, new.clone(), caps).unwrap();
    if let Followed::Late(catch_up) = hub.follow_new(&u, &chat, 10, 11) {
        hub.caught_up(&catch_up, &[(11, joined.frame.clone())]);
    }
    hub.deliver_next(11, &stored(&chat, "x", 12, None));
    hub.follow_read(&u, [(chat.clone(), 12)]);
    hub.started(&u, id, [(chat.clone(), 12)], 13);
    hub.deliver_next(12, &stored(&chat, "y", 14, None));
    assert_eq!(texts(&new), ["y"]);
}

/// Soak seed 111612489: the store's reply to a join made here, for a room not followed here,
/// is kept for the bus (whose notice may be lost); one of a user not connected here is not.
#[test]
fn a_local_join_in_a_room_not_followed_is_kept_for_the_bus() {
    let hub = Hub::default();
    let (u, v, chat) = (
        UserId::parse("u").unwrap(),
        UserId::parse("v").unwrap(),
        ChatId::parse("c").unwrap(),
    );
    reading(&hub, &u, &[], 5);
    hub.deliver_next(
        10,
        &stored(&chat, "u joined", 11, Some(Membership::Joined(u.clone()))),
    );
    hub.deliver_next(11, &stored(&chat, "x", 12, None));
    hub.deliver_next(12, &stored(&chat, "v joined", 13, Some(Membership::Joined(v))));
    let join = LocalJoin {
        user: u,
        room: chat,
        prev: 10,
        seq: 11,
    };
    assert_eq!(hub.take_unfollowed_joins(), [join]);
    assert_eq!(hub.take_unfollowed_joins(), []);
}

/// Soak seed 111612489 (with the fix above): two replays of a room race (the subscription's
/// and a recheck's); the first delivers the user's join and leave, which drops the room; the
/// second's copy of the join must not follow the room again.
#[test]
fn a_replayed_join_after_the_leave_dropped_the_room_is_a_copy() {
    let hub = Hub::default();
    let (u, chat) = (UserId::parse("u").unwrap(), ChatId::parse("c").unwrap());
    let (out, _) = reading(&hub, &u, &[], 5);
    assert_eq!(hub.follow_new(&u, &chat, 10, 11), Followed::New);
    let replay = [
        stored(&chat, "u joined", 11, Some(Membership::Joined(u.clone()))),
        stored(&chat, "x", 12, None),
        stored(&chat, "u left", 13, Some(Membership::Left(u.clone()))),
    ];
    for d in replay.iter().chain(&replay) {
        hub.deliver(d);
    }
    assert_eq!(texts(&out), ["u joined", "x", "u left"]);
    assert!(!hub.wants_room(&chat));
}

/// Soak seed 475626891: a connection reads its user as a member (the store at 15) while the
/// hub is behind (10), catching up over the user's leave (12) and join again (13), both older
/// than the reading: the leave must not take the user out, as the join does not add it.
#[test]
fn a_leave_older_than_the_reading_is_covered_by_it() {
    let hub = Hub::default();
    let (u, v, chat) = (
        UserId::parse("u").unwrap(),
        UserId::parse("v").unwrap(),
        ChatId::parse("c").unwrap(),
    );
    reading(&hub, &v, &[(chat.clone(), 10)], 10);
    let (out, _) = reading(&hub, &u, &[(chat.clone(), 15)], 20);
    hub.deliver_next(10, &stored(&chat, "x", 11, None));
    hub.deliver_next(
        11,
        &stored(&chat, "u left", 12, Some(Membership::Left(u.clone()))),
    );
    hub.deliver_next(
        12,
        &stored(&chat, "u joined", 13, Some(Membership::Joined(u.clone()))),
    );
    hub.deliver_next(13, &stored(&chat, "y", 15, None));
    hub.deliver_next(15, &stored(&chat, "z", 21, None));
    assert_eq!(texts(&out), ["z"]);
    assert!(hub.follows(&u, &chat));
}

/// Seed 1010 (replay_join_lost_with_pubsub) with the fix above: the hub followed the room from
/// past `u`'s join (12, for `v`'s reading) and delivered `u`'s leave (13) first; the room then
/// went, and a replay from before the join brings join, text and leave. That join is the
/// first here, not a copy: `u` gets all three.
#[test]
fn a_join_delivered_after_its_leave_was_seen_is_not_a_copy() {
    let hub = Hub::default();
    let (u, v, chat) = (
        UserId::parse("u").unwrap(),
        UserId::parse("v").unwrap(),
        ChatId::parse("c").unwrap(),
    );
    let (out, _) = reading(&hub, &u, &[], 5);
    let (_, v_conn) = reading(&hub, &v, &[(chat.clone(), 12)], 12);
    let left = stored(&chat, "u left", 13, Some(Membership::Left(u.clone())));
    hub.deliver_next(12, &left);
    hub.unregister(&v, v_conn);
    assert!(!hub.wants_room(&chat));
    hub.deliver(&stored(
        &chat,
        "u joined",
        11,
        Some(Membership::Joined(u.clone())),
    ));
    hub.deliver(&stored(&chat, "x", 12, None));
    hub.deliver(&left);
    assert_eq!(texts(&out), ["u joined", "x", "u left"]);
    assert!(!hub.wants_room(&chat));
}

/// Soak seed 130419596: `u`'s first connection read the room at 10 (the store's clock 12), and
/// the hub, whose pub/sub is down, follows it from there for `u`. The store goes on: `v` joins
/// (13), a text (14), `w` joins (15), `u` is removed (16). A new connection of `u` reads its
/// rooms at 20, without the room; then the hub catches up. The new connection gets none of it.
#[test]
fn a_room_left_before_a_connections_reading_is_not_its() {
    let hub = Hub::default();
    let (u, v, w, chat) = (
        UserId::parse("u").unwrap(),
        UserId::parse("v").unwrap(),
        UserId::parse("w").unwrap(),
        ChatId::parse("c").unwrap(),
    );
    let (old, _) = reading(&hub, &u, &[(chat.clone(), 10)], 12);
    let (new, _) = reading(&hub, &u, &[], 20);
    let backlog = [
        stored(&chat, "v joined", 13, Some(Membership::Joined(v))),
        stored(&chat, "x", 14, None),
        stored(&chat, "w joined", 15, Some(Membership::Joined(w))),
        stored(&chat, "u left", 16, Some(Membership::Left(u.clone()))),
        stored(&chat, "y", 21, None),
    ];
    let mut prev = 10;
    for d in &backlog {
        hub.deliver_next(prev, d);
        prev = d.seq.unwrap_or_default();
    }
    assert_eq!(texts(&old), ["v joined", "x", "w joined", "u left"]);
    assert_eq!(texts(&new), Vec::<String>::new());
    assert!(!hub.follows(&u, &chat));
}

/// A join notice read from a bucket's log after a pub/sub loss is one a user's connections may
/// have missed only if they had read their rooms by then (soak seed 130419588): during a
/// first reading it cannot be told from a stale one, and one older than the reading is covered.
#[test]
fn a_logged_join_is_a_connections_only_once_it_read_its_rooms_by_then() {
    let hub = Hub::default();
    let u = UserId::parse("u").unwrap();
    let out = Arc::new(Outbox::new(8));
    let caps = Caps {
        total: 10,
        per_user: 10,
    };
    assert!(!hub.read_by(&u, 20), "not connected here");
    let id = hub.register(&u, out, caps).unwrap();
    assert!(!hub.read_by(&u, 20), "still reading its rooms");
    hub.started(&u, id, [], 10);
    assert!(hub.read_by(&u, 10));
    assert!(hub.read_by(&u, 20));
    assert!(!hub.read_by(&u, 9), "older than its reading");
}
