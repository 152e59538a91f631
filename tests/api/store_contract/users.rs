//! Store contract for users and presence: creating and reading users, connecting and
//! disconnecting (presence counts connections), and the rooms a user takes part in.

use chat_server::domain::{UserSpec, time};
use serde_json::json;

use super::*;

store_test!(
    /// create_user returns the user with the implicit fields; get_user returns the same; a
    /// second create with that id is None and changes nothing.
    users_create_get_conflict,
    |store| {
        assert_eq!(store.get_user(&uid("ann")).await.unwrap(), None);
        let spec = UserSpec {
            id: uid("ann"),
            username: "Ann".into(),
            email: Some("ann@example.com".into()),
            metadata: json!({"lang": "en", "n": [1, {"x": null}]}).as_object().unwrap().clone(),
        };
        let want = User {
            id: uid("ann"),
            username: "Ann".into(),
            email: Some("ann@example.com".into()),
            is_active: false,
            last_seen: None,
            metadata: spec.metadata.clone(),
        };
        assert_eq!(store.create_user(spec).await.unwrap(), Some(want.clone()));
        assert_eq!(store.get_user(&uid("ann")).await.unwrap(), Some(want.clone()));

        let again = UserSpec::implicit(&uid("ann"));
        assert_eq!(store.create_user(again).await.unwrap(), None);
        assert_eq!(store.get_user(&uid("ann")).await.unwrap(), Some(want));

        let bare = UserSpec::implicit(&uid("bo"));
        assert_eq!(store.create_user(bare).await.unwrap(), Some(implicit_user("bo", false)));
        assert_eq!(store.get_user(&uid("bo")).await.unwrap(), Some(implicit_user("bo", false)));
    }
);

store_test!(
    /// connect creates a missing user (username = id, active), keeps an existing user's
    /// fields, and returns the rooms the user takes part in.
    connect_creates_user_and_lists_rooms,
    |store| {
        assert_eq!(store.connect(&uid("cy")).await.unwrap(), Vec::<ChatId>::new());
        assert_eq!(store.get_user(&uid("cy")).await.unwrap(), Some(implicit_user("cy", true)));
        assert_eq!(store.create_user(UserSpec::implicit(&uid("cy"))).await.unwrap(), None);

        join_now(&store, "r2", "cy", JoinMode::Member).await;
        join_now(&store, "r1", "cy", JoinMode::Member).await;
        let mut rooms = store.connect(&uid("cy")).await.unwrap();
        rooms.sort();
        assert_eq!(rooms, [cid("r1"), cid("r2")]);

        let spec = UserSpec { username: "Dee".into(), ..UserSpec::implicit(&uid("dee")) };
        store.create_user(spec).await.unwrap().unwrap();
        store.connect(&uid("dee")).await.unwrap();
        let dee = store.get_user(&uid("dee")).await.unwrap().unwrap();
        assert_eq!((dee.username.as_str(), dee.is_active), ("Dee", true));
    }
);

store_test!(
    /// Presence counts connections: active until the last one closes, which sets last_seen.
    presence_counts_connections,
    |store| {
        let before = time::now();
        store.connect(&uid("pat")).await.unwrap();
        store.connect(&uid("pat")).await.unwrap();
        let user = store.get_user(&uid("pat")).await.unwrap().unwrap();
        assert_eq!((user.is_active, user.last_seen), (true, None));

        store.disconnect(&uid("pat")).await.unwrap();
        let user = store.get_user(&uid("pat")).await.unwrap().unwrap();
        assert_eq!((user.is_active, user.last_seen), (true, None), "one connection is left");

        store.disconnect(&uid("pat")).await.unwrap();
        let user = store.get_user(&uid("pat")).await.unwrap().unwrap();
        assert!(!user.is_active);
        let seen = user.last_seen.expect("last_seen is set by the last disconnect");
        assert!(before <= seen && seen <= time::now(), "{before} <= {seen}");

        store.disconnect(&uid("nobody")).await.unwrap();
        assert_eq!(store.get_user(&uid("nobody")).await.unwrap(), None);
    }
);

store_test!(
    /// user_rooms: None for an unknown user, Some(empty) for a user in no room, else the
    /// rooms as get_room returns them, sorted by id.
    user_rooms_sorted,
    |store| {
        assert_eq!(store.user_rooms(&uid("ghost")).await.unwrap(), None);
        store.connect(&uid("ros")).await.unwrap();
        assert_eq!(store.user_rooms(&uid("ros")).await.unwrap(), Some(vec![]));
        for room in ["b-room", "c:room", "a.room"] {
            join_now(&store, room, "ros", JoinMode::Member).await;
        }
        store.create_room(room_spec(json!({"id": "B", "name": "B", "participants": ["ros"]}))).await.unwrap();
        let mut want = Vec::new();
        for room in ["B", "a.room", "b-room", "c:room"] {
            want.push(store.get_room(&cid(room)).await.unwrap().unwrap());
        }
        assert_eq!(listed(&store, "ros").await, Some(want));
    }
);
