//! Joins this hub passed without applying them (see `backfill.rs`): a logged notice's stretch
//! written from the room's log, and joins delivered while the user's bucket waits for its
//! replay.

use super::connects::{reading, stored, users_and_room};
use super::*;

/// The room's log, as the bus reads it.
pub(super) fn log(entries: &[Delivery]) -> Vec<(u64, Option<Membership>, Json)> {
    entries
        .iter()
        .map(|d| (d.seq.unwrap_or_default(), d.membership.clone(), d.frame.clone()))
        .collect()
}

/// Soak seed 130419584: `u` joins at 12 and leaves at 14; the hub follows the room from 14 on
/// (for `v`'s reading), so neither went through it. `u`'s connection, which read its rooms at
/// 5, gets the stretch from the log, its own leave included, and nothing after it; the same
/// notice read again changes nothing.
#[test]
fn a_passed_join_gets_its_stretch_up_to_the_leave() {
    let hub = Hub::default();
    let (u, v, chat) = users_and_room();
    let (a, _) = reading(&hub, &u, &[], 5);
    reading(&hub, &v, &[(chat.clone(), 14)], 15);
    let stretch = [
        stored(&chat, "u joined", 12, Some(Membership::Joined(u.clone()))),
        stored(&chat, "x", 13, None),
        stored(&chat, "u left", 14, Some(Membership::Left(u.clone()))),
    ];
    assert_eq!(
        hub.backfill((&u, &chat, 12, false), &log(&stretch)),
        Backfill::Done
    );
    assert_eq!(texts(&a), ["u joined", "x", "u left"]);
    assert!(!hub.follows(&u, &chat));
    hub.deliver_next(14, &stored(&chat, "y", 16, None));
    assert_eq!(
        hub.backfill((&u, &chat, 12, false), &log(&stretch)),
        Backfill::Done
    );
    assert_eq!(texts(&a), Vec::<String>::new());
}

/// Still a member at the room's position here: the stretch, then what comes live.
#[test]
fn a_passed_join_still_a_member_follows_on() {
    let hub = Hub::default();
    let (u, v, chat) = users_and_room();
    let (a, _) = reading(&hub, &u, &[], 5);
    reading(&hub, &v, &[(chat.clone(), 13)], 14);
    let stretch = [
        stored(&chat, "u joined", 12, Some(Membership::Joined(u.clone()))),
        stored(&chat, "x", 13, None),
    ];
    assert_eq!(
        hub.backfill((&u, &chat, 12, false), &log(&stretch[..1])),
        Backfill::Behind
    );
    assert_eq!(texts(&a), Vec::<String>::new());
    assert_eq!(
        hub.backfill((&u, &chat, 12, false), &log(&stretch)),
        Backfill::Done
    );
    hub.deliver_next(13, &stored(&chat, "y", 15, None));
    assert_eq!(texts(&a), ["u joined", "x", "y"]);
    assert!(hub.follows(&u, &chat));
}

/// A connection of `u` that read its rooms at 16, past the room's position here (13), did not
/// find it: `u` left at 15, the leave still to come here. The older connection gets the
/// stretch and the leave; the newer one nothing stored before its reading.
#[test]
fn a_newer_reading_gets_nothing_before_it() {
    let hub = Hub::default();
    let (u, v, chat) = users_and_room();
    let (a, _) = reading(&hub, &u, &[], 5);
    reading(&hub, &v, &[(chat.clone(), 13)], 14);
    let (b, _) = reading(&hub, &u, &[], 16);
    let stretch = [
        stored(&chat, "u joined", 12, Some(Membership::Joined(u.clone()))),
        stored(&chat, "x", 13, None),
    ];
    assert_eq!(
        hub.backfill((&u, &chat, 12, false), &log(&stretch)),
        Backfill::Done
    );
    hub.deliver_next(
        13,
        &stored(&chat, "u left", 15, Some(Membership::Left(u.clone()))),
    );
    hub.deliver_next(15, &stored(&chat, "y", 17, None));
    assert_eq!(texts(&a), ["u joined", "x", "u left"]);
    assert_eq!(texts(&b), Vec::<String>::new());
    assert!(!hub.follows(&u, &chat));
}

/// All of `u`'s connections read their rooms at 16, past the room's position here (13), and
/// did not find it: `u` left at 15, a leave that will not be applied when it comes (older than
/// the reading). `u` gets nothing and does not follow the room.
#[test]
fn a_reading_past_the_rooms_position_keeps_the_user_out() {
    let hub = Hub::default();
    let (u, v, chat) = users_and_room();
    reading(&hub, &v, &[(chat.clone(), 13)], 14);
    let (b, _) = reading(&hub, &u, &[], 16);
    let stretch = [
        stored(&chat, "u joined", 12, Some(Membership::Joined(u.clone()))),
        stored(&chat, "x", 13, None),
    ];
    assert_eq!(
        hub.backfill((&u, &chat, 12, false), &log(&stretch)),
        Backfill::Done
    );
    hub.deliver_next(
        13,
        &stored(&chat, "u left", 15, Some(Membership::Left(u.clone()))),
    );
    hub.deliver_next(15, &stored(&chat, "y", 17, None));
    assert_eq!(texts(&b), Vec::<String>::new());
    assert!(!hub.follows(&u, &chat));
}

/// A room followed here but not yet at the join, or not followed and with a log short of it:
/// the notice is followed as a live one.
#[test]
fn a_join_the_hub_did_not_pass_is_not_backfilled() {
    let hub = Hub::default();
    let (u, v, chat) = users_and_room();
    reading(&hub, &u, &[], 5);
    let stretch = [stored(&chat, "u joined", 12, Some(Membership::Joined(u.clone())))];
    assert_eq!(hub.backfill((&u, &chat, 12, false), &[]), Backfill::NotPast);
    reading(&hub, &v, &[(chat.clone(), 11)], 11);
    assert_eq!(
        hub.backfill((&u, &chat, 12, false), &log(&stretch)),
        Backfill::NotPast
    );
}

/// Soak seed 712212226: `u` joined at 12 in a room not followed here, a connection read its
/// rooms at 14 and found it, and `u` left at 15, none of it applied here (the join waited for
/// the bucket's replay, the leave left its mark). The log is the stretch: the older
/// connection gets all of it, the newer one what was stored from its reading on (the leave).
#[test]
fn a_join_in_a_room_not_followed_here_gets_the_log() {
    let hub = Hub::default();
    let (u, _, chat) = users_and_room();
    let (a, _) = reading(&hub, &u, &[], 5);
    let (b, _) = reading(&hub, &u, &[], 14);
    let stretch = [
        stored(&chat, "u joined", 12, Some(Membership::Joined(u.clone()))),
        stored(&chat, "x", 13, None),
        stored(&chat, "u left", 15, Some(Membership::Left(u.clone()))),
    ];
    assert_eq!(
        hub.backfill((&u, &chat, 12, false), &log(&stretch)),
        Backfill::Done
    );
    assert_eq!(texts(&a), ["u joined", "x", "u left"]);
    assert_eq!(texts(&b), ["u left"]);
    assert!(!hub.follows(&u, &chat));
    assert_eq!(hub.last_seq(&chat), None);
}

/// The same, still a member at the log's end: the room is followed here from there on (the
/// bus subscribes its channel and replays it from there).
#[test]
fn a_member_still_follows_a_room_new_here_from_the_logs_end() {
    let hub = Hub::default();
    let (u, _, chat) = users_and_room();
    let (a, _) = reading(&hub, &u, &[], 5);
    let stretch = [
        stored(&chat, "u joined", 12, Some(Membership::Joined(u.clone()))),
        stored(&chat, "x", 13, None),
    ];
    assert_eq!(
        hub.backfill((&u, &chat, 12, false), &log(&stretch)),
        Backfill::New
    );
    assert_eq!(hub.last_seq(&chat), Some(13));
    hub.deliver_next(13, &stored(&chat, "y", 14, None));
    assert_eq!(texts(&a), ["u joined", "x", "y"]);
    assert!(hub.follows(&u, &chat));
}
