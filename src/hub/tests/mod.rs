//! The hub's unit tests.

use super::*;

/// A registered connection: its outbox (frames are checked with `texts`) and its id.
fn conn(hub: &Hub, user: &UserId, cap: usize) -> (Outbound, u64) {
    let out = Arc::new(Outbox::new(cap));
    let caps = Caps {
        total: 10,
        per_user: 10,
    };
    let id = hub.register(user, out.clone(), caps).unwrap();
    hub.started(user, id, [], 0);
    (out, id)
}

/// Number of live local connections.
fn connections(hub: &Hub) -> usize {
    hub.lock().open
}

/// The frames waiting in `out`, taken.
fn texts(out: &Outbox) -> Vec<String> {
    out.take().iter().map(|f| f.to_string()).collect()
}

fn delivery(chat: &ChatId, text: &str, membership: Option<Membership>) -> Delivery {
    Delivery {
        chat_id: chat.clone(),
        frame: Json::from(text.to_string()),
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
    assert_eq!(connections(&hub), 0);
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
    assert_eq!(connections(&hub), 3);
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

mod backfill;
mod connects;
mod floors;
mod order;
mod paused;
mod reading;
