//! Joins this hub passed without applying them (see `backfill.rs`): a logged notice's stretch
//! written from the room's log, and joins delivered while the user's bucket waits for its
//! replay.

use super::connects::{reading, stored, users_and_room};
use super::*;

/// The room's log, as the bus reads it.
fn log(entries: &[Delivery]) -> Vec<(u64, Option<Membership>, Json)> {
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

/// While `u`'s bucket waits for its replay, a join delivered here (its own, or through the
/// room's channel) is not applied but kept: applied first, it would have `u` follow the room
/// past an earlier join still to be replayed. Once resumed, it is backfilled like a notice.
#[test]
fn a_join_delivered_while_paused_waits_for_the_replay() {
    let hub = Hub::default();
    let (u, v, chat) = users_and_room();
    let (a, _) = reading(&hub, &u, &[], 5);
    reading(&hub, &v, &[(chat.clone(), 10)], 10);
    hub.pause_joins(|user| *user == u);
    let stretch = [
        stored(&chat, "u joined", 11, Some(Membership::Joined(u.clone()))),
        stored(&chat, "x", 12, None),
    ];
    hub.deliver_next(10, &stretch[0]);
    hub.deliver_next(11, &stretch[1]);
    assert_eq!(texts(&a), Vec::<String>::new());
    let joins = hub.resume_joins(|user| *user == u);
    let join = PausedJoin {
        user: u.clone(),
        room: chat.clone(),
        seq: 11,
        found: false,
    };
    assert_eq!(joins, [join]);
    assert_eq!(
        hub.backfill((&u, &chat, 11, false), &log(&stretch)),
        Backfill::Done
    );
    hub.deliver_next(12, &stored(&chat, "y", 13, None));
    assert_eq!(texts(&a), ["u joined", "x", "y"]);
    assert_eq!(hub.resume_joins(|_| true), []);
}

/// A user that connects while its bucket waits for its replay is paused on its own (the
/// users connected at the loss were paused then): its join delivered meanwhile is kept for
/// the replay, another user's is applied.
#[test]
fn a_user_paused_on_its_own_keeps_its_joins() {
    let hub = Hub::default();
    let (u, v, chat) = users_and_room();
    reading(&hub, &v, &[(chat.clone(), 10)], 10);
    let (a, _) = reading(&hub, &u, &[], 10);
    hub.pause_user(&u);
    hub.deliver_next(
        10,
        &stored(&chat, "u joined", 11, Some(Membership::Joined(u.clone()))),
    );
    assert!(!hub.follows(&u, &chat));
    assert_eq!(texts(&a), Vec::<String>::new());
    let join = PausedJoin {
        user: u.clone(),
        room: chat.clone(),
        seq: 11,
        found: false,
    };
    assert_eq!(hub.resume_joins(|user| *user == u), [join]);
    assert_eq!(hub.resume_joins(|user| *user == u), []);
}

/// Soak seed 307935418, in the hub: `u` joined at 11 while its bucket waits for its replay,
/// and the room is followed here from 11 on for `v`'s reading, so the join never went through
/// the hub. `u`'s new connection finds it (`pause_join`): kept for the replay, before `u`'s
/// later join (13) delivered meanwhile, and the room waits for the replay rather than being
/// followed from past the join. Once resumed, the older connection gets the whole stretch.
#[test]
fn a_join_found_by_a_reading_while_paused_waits_in_order() {
    let hub = Hub::default();
    let (u, v, chat) = users_and_room();
    let (a, _) = reading(&hub, &u, &[], 5);
    hub.pause_user(&u);
    reading(&hub, &v, &[(chat.clone(), 11)], 11);
    let stretch = [
        stored(&chat, "u joined", 11, Some(Membership::Joined(u.clone()))),
        stored(&chat, "u left", 12, Some(Membership::Left(u.clone()))),
        stored(&chat, "u joined again", 13, Some(Membership::Joined(u.clone()))),
    ];
    hub.deliver_next(11, &stretch[1]);
    hub.deliver_next(12, &stretch[2]);
    assert!(hub.pause_join(&u, &chat, 11));
    hub.follow_read(&u, [(chat.clone(), 11)]);
    assert!(!hub.follows(&u, &chat));
    assert_eq!(texts(&a), Vec::<String>::new());
    let paused = |seq| PausedJoin {
        user: u.clone(),
        room: chat.clone(),
        seq,
        found: false,
    };
    assert_eq!(hub.resume_joins(|user| *user == u), [paused(11), paused(13)]);
    assert_eq!(
        hub.backfill((&u, &chat, 11, false), &log(&stretch)),
        Backfill::Done
    );
    assert_eq!(texts(&a), ["u joined", "u left", "u joined again"]);
    assert!(hub.follows(&u, &chat));
    assert!(
        !hub.pause_join(&u, &chat, 11),
        "resumed: the caller writes the stretch"
    );
}
