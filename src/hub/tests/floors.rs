//! New connections' floors (see `floor.rs`) where the user's membership here changes around
//! their reading: a member by an older connection's reading, and frames held meanwhile.

use super::connects::{reading, registered, stored, users_and_room};
use super::*;

/// `u`'s join (by 12) never reaches this hub, which follows the room at 10 (for `v`):
/// connection `b` reads the room at 12 (the store's clock 13), so `u` is a member here at 12
/// (`RoomEntry::joins_due`). `u` leaves (14), and connection `c` reads its rooms at 16, without
/// the room, before the hub catches up: nothing stored there before its reading is `c`'s.
#[test]
fn a_member_by_a_reading_gives_a_later_reading_a_floor() {
    let hub = Hub::default();
    let (u, v, chat) = (
        UserId::parse("u").unwrap(),
        UserId::parse("v").unwrap(),
        ChatId::parse("c").unwrap(),
    );
    reading(&hub, &v, &[(chat.clone(), 10)], 10);
    let (a, _) = reading(&hub, &u, &[], 5);
    let (b, _) = reading(&hub, &u, &[(chat.clone(), 12)], 13);
    let (c, _) = reading(&hub, &u, &[], 16);
    let backlog = [
        stored(&chat, "x", 11, None),
        stored(&chat, "y", 12, None),
        stored(&chat, "u left", 14, Some(Membership::Left(u.clone()))),
        stored(&chat, "z", 17, None),
    ];
    let mut prev = 10;
    for d in &backlog {
        hub.deliver_next(prev, d);
        prev = d.seq.unwrap_or_default();
    }
    assert_eq!(texts(&a), ["y", "u left"]);
    assert_eq!(texts(&b), ["u left"]);
    assert_eq!(texts(&c), Vec::<String>::new());
    assert!(!hub.follows(&u, &chat));
}

/// The hub is live in room `r` and behind in room `c` (catching up after an outage), both
/// followed for `u`'s older connection. A new connection of `u` registers; while it reads its
/// rooms (the store's clock 20: `r` at 18, not `c`, which `u` left at 14), the hub delivers
/// `r`'s 21, then `c`'s 13 and the leave, all held for it. Released, the first passes its only
/// floor; the ones after it, from a room left before its reading, are still not its.
#[test]
fn held_frames_after_the_last_floor_is_passed_are_still_not_its() {
    let hub = Hub::default();
    let (u, r, c) = (
        UserId::parse("u").unwrap(),
        ChatId::parse("r").unwrap(),
        ChatId::parse("c").unwrap(),
    );
    let (old, _) = reading(&hub, &u, &[(r.clone(), 10), (c.clone(), 10)], 11);
    hub.deliver_next(10, &stored(&r, "r1", 18, None));
    let new = Arc::new(Outbox::new(8));
    let caps = Caps {
        total: 10,
        per_user: 10,
    };
    let id = hub.register(&u, new.clone(), caps).unwrap();
    hub.deliver_next(18, &stored(&r, "r2", 21, None));
    hub.deliver_next(10, &stored(&c, "x", 13, None));
    hub.deliver_next(13, &stored(&c, "u left", 14, Some(Membership::Left(u.clone()))));
    hub.follow_read(&u, [(r.clone(), 18)]);
    hub.started(&u, id, [(r.clone(), 18)], 20);
    assert_eq!(texts(&old), ["r1", "r2", "x", "u left"]);
    assert_eq!(texts(&new), ["r2"]);
    assert!(!hub.follows(&u, &c));
}

/// Soak seed 712212218: `u` follows the room here from a join applied (11) while its first
/// connection's reading was under way; that reading (the store's clock 14) did not find the
/// room: `u` left at 13, the leave still to come here. Older than the reading, the leave is
/// applied all the same when it comes, and nothing after it reaches `u`.
#[test]
fn a_first_reading_without_the_room_lets_the_leave_apply() {
    let hub = Hub::default();
    let (u, v, chat) = users_and_room();
    reading(&hub, &v, &[(chat.clone(), 10)], 10);
    let (a, id) = registered(&hub, &u);
    hub.deliver_next(
        10,
        &stored(&chat, "u joined", 11, Some(Membership::Joined(u.clone()))),
    );
    assert!(hub.follows(&u, &chat));
    hub.started(&u, id, [], 14);
    let backlog = [
        stored(&chat, "x", 12, None),
        stored(&chat, "u left", 13, Some(Membership::Left(u.clone()))),
        stored(&chat, "y", 15, None),
    ];
    let mut prev = 11;
    for d in &backlog {
        hub.deliver_next(prev, d);
        prev = d.seq.unwrap_or_default();
    }
    assert_eq!(texts(&a), Vec::<String>::new());
    assert!(!hub.follows(&u, &chat));
}
