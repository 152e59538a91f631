//! The hub's recent messages: kept only when whole, followed for reading, capped.

use super::*;
use crate::domain::{Page, Window};

#[test]
fn recent_messages_are_kept_only_when_they_end_at_the_last_delivery() {
    let hub = Hub::default();
    let (u, chat) = (UserId::parse("u").unwrap(), ChatId::parse("c").unwrap());
    let (_out, _) = conn(&hub, &u, 8);
    hub.follow(&u, [(chat.clone(), 20)]);
    let page = |seqs: &[u64]| seqs.iter().map(|s| (*s, Json::from(s.to_string()))).collect();
    // The page ends at 10, the hub delivered up to 20: something is missing, nothing kept.
    assert_eq!(hub.keep_recent(&chat, page(&[5, 10]), true, 100), None);
    let id = hub.keep_recent(&chat, page(&[10, 20]), true, 100).unwrap();
    assert_eq!(
        hub.keep_recent(&chat, page(&[10, 20]), true, 100),
        None,
        "kept already"
    );
    assert_eq!(
        hub.recent_page(&chat, 50, Window::NEWEST),
        None,
        "not live before the catch-up"
    );
    hub.recent_live(&chat, id + 1); // a stale catch-up changes nothing
    assert_eq!(hub.recent_page(&chat, 50, Window::NEWEST), None);
    hub.recent_live(&chat, id);
    hub.deliver(&Delivery {
        seq: Some(30),
        ..delivery(&chat, "30", None)
    });
    let texts = |p: Option<Page>| p.map(|p| p.0.iter().map(|m| m.to_string()).collect::<Vec<_>>());
    assert_eq!(
        texts(hub.recent_page(&chat, 50, Window::NEWEST)),
        Some(vec!["10".into(), "20".into(), "30".into()])
    );
    assert_eq!(
        texts(hub.recent_page(&chat, 1, Window::Before(30))),
        Some(vec!["20".into()])
    );
    hub.forget_recent();
    assert_eq!(hub.recent_page(&chat, 50, Window::NEWEST), None);
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
    for i in 0..super::super::recent::MAX_KEPT_ROOMS {
        assert!(hub.keep_recent(&room(i), vec![], true, 100).is_some());
    }
    let extra = room(super::super::recent::MAX_KEPT_ROOMS);
    assert_eq!(hub.keep_recent(&extra, vec![], true, 100), None);
    assert!(!hub.wants_room(&extra), "a room refused is not followed either");
    hub.forget_recent();
    assert!(hub.keep_recent(&extra, vec![], true, 100).is_some());
}
