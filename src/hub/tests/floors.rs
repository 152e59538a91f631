//! New connections' floors (see `floor.rs`) where the user's membership here changes around
//! their reading: a member by an older connection's reading, and frames held meanwhile.

use super::connects::{reading, stored};
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
