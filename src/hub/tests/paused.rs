//! Joins delivered while the user's bucket waits for its replay (see `backfill.rs`): kept
//! for the replay, in order, with what connections' readings found meanwhile.

use super::backfill::log;
use super::connects::{reading, registered, stored, users_and_room};
use super::*;

/// `u`'s join of `chat` at `seq` as the hub keeps it for the replay.
fn paused(u: &UserId, chat: &ChatId, seq: u64, found: bool) -> PausedJoin {
    PausedJoin {
        user: u.clone(),
        room: chat.clone(),
        seq,
        found,
    }
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
    assert_eq!(joins, [paused(&u, &chat, 11, false)]);
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
    assert_eq!(
        hub.resume_joins(|user| *user == u),
        [paused(&u, &chat, 11, false)]
    );
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
    assert_eq!(
        hub.resume_joins(|user| *user == u),
        [paused(&u, &chat, 11, false), paused(&u, &chat, 13, false)]
    );
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

/// Soak seed 701531709: `u` connects while its bucket waits for its replay, its join at 11
/// (the room followed here from 10 for `v`) is kept for the replay, and the connection's
/// reading at 13 finds `u` a member at 12. The reading leaves the room to the replay, which
/// must have `u` follow it though the room's position here (12) is older than the reading:
/// the reading found `u` a member.
#[test]
fn a_join_a_reading_left_to_the_replay_is_followed() {
    let hub = Hub::default();
    let (u, v, chat) = users_and_room();
    reading(&hub, &v, &[(chat.clone(), 10)], 10);
    let (a, id) = registered(&hub, &u);
    hub.pause_user(&u);
    let stretch = [
        stored(&chat, "u joined", 11, Some(Membership::Joined(u.clone()))),
        stored(&chat, "x", 12, None),
    ];
    hub.deliver_next(10, &stretch[0]);
    hub.deliver_next(11, &stretch[1]);
    hub.follow_read(&u, [(chat.clone(), 12)]);
    hub.started(&u, id, [(chat.clone(), 12)], 13);
    assert!(!hub.follows(&u, &chat));
    let joins = hub.resume_joins(|user| *user == u);
    assert_eq!(joins.len(), 1);
    for j in joins {
        assert_eq!((&j.user, &j.room, j.seq), (&u, &chat, 11));
        assert_eq!(
            hub.backfill((&u, &chat, j.seq, j.found), &log(&stretch)),
            Backfill::Done
        );
    }
    assert!(hub.follows(&u, &chat));
    hub.deliver_next(12, &stored(&chat, "y", 14, None));
    assert_eq!(
        texts(&a),
        ["y"],
        "nothing from before the reading, then what comes live"
    );
}

/// What a reading leaves to the replay (`UserConns::found_in`): the joins it found (at or
/// before its `last`) are marked found; none that old (the user a member from before the
/// pause, rejoining after a leave the hub has not seen), the reading's membership is kept
/// as a found join at `last`, in order before the later one; a user not waiting keeps nothing.
#[test]
fn a_reading_marks_the_joins_it_found_or_keeps_its_own() {
    let (u, _, chat) = users_and_room();
    let join = |seq, found| paused(&u, &chat, seq, found);
    let mut entry = UserConns {
        paused: Some(vec![join(11, false), join(14, false)]),
        ..UserConns::default()
    };
    entry.found_in(&u, &chat, 12);
    assert_eq!(entry.paused, Some(vec![join(11, true), join(14, false)]));
    let mut entry = UserConns {
        paused: Some(vec![join(14, false)]),
        ..UserConns::default()
    };
    entry.found_in(&u, &chat, 12);
    assert_eq!(entry.paused, Some(vec![join(12, true), join(14, false)]));
    let mut entry = UserConns::default();
    entry.found_in(&u, &chat, 12);
    assert_eq!(entry.paused, None);
}
