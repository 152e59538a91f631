//! Store contract for rooms and membership: creating rooms, access, joins (member, private,
//! admin, refused, concurrent) and leaves, with the notices they store.

use chat_server::backend::{Access, Left};
use chat_server::domain::{ChatRoom, UserSpec, time};
use serde_json::json;

use super::*;

store_test!(
    /// create_room stores the room exactly as returned (participants sorted, no system
    /// message), creates missing participants without touching existing ones, lists the
    /// room in their rooms, and refuses a taken id.
    create_room_and_participants,
    |store| {
        let bob = UserSpec { username: "Bob".into(), ..UserSpec::implicit(&uid("bob")) };
        store.create_user(bob).await.unwrap().unwrap();
        let before = time::now();
        let spec = room_spec(json!({"id": "club", "name": "The Club", "is_private": true,
            "participants": ["bob", "al", "bob"], "metadata": {"topic": "rust"}}));
        let room = store.create_room(spec).await.unwrap().unwrap();
        assert_eq!(room.id, cid("club"));
        assert_eq!(room.name, "The Club");
        assert_eq!(room.participants, [uid("al"), uid("bob")]);
        assert!(room.is_private);
        assert_eq!(room.metadata, json!({"topic": "rust"}).as_object().unwrap().clone());
        assert!(before <= room.created_at && room.created_at <= time::now());
        assert_eq!(store.get_room(&cid("club")).await.unwrap(), Some(room.clone()));
        assert_eq!(history(&store, "club").await, []);

        assert_eq!(store.get_user(&uid("al")).await.unwrap(), Some(implicit_user("al", false)));
        assert_eq!(store.get_user(&uid("bob")).await.unwrap().unwrap().username, "Bob");
        for user in ["al", "bob"] {
            let rooms = listed(&store, user).await;
            assert_eq!(rooms, Some(vec![room.clone()]), "{user}");
        }

        let again = room_spec(json!({"id": "club", "name": "Other"}));
        assert!(store.create_room(again).await.unwrap().is_none());
        assert_eq!(store.get_room(&cid("club")).await.unwrap(), Some(room));
        assert_eq!(store.get_room(&cid("nowhere")).await.unwrap(), None);
    }
);

store_test!(
    /// access tells a missing room, a member, and an outsider of a public or private room apart.
    access_outcomes,
    |store| {
        assert_eq!(store.access(&cid("none"), &uid("u")).await.unwrap(), Access::NoRoom);
        store.create_room(room_spec(json!({"id": "pub", "name": "P", "participants": ["u"]}))).await.unwrap();
        store.create_room(room_spec(json!({"id": "priv", "name": "Q", "is_private": true}))).await.unwrap();
        assert_eq!(store.access(&cid("pub"), &uid("u")).await.unwrap(), Access::Member);
        let outsider = store.access(&cid("pub"), &uid("v")).await.unwrap();
        assert_eq!(outsider, Access::Outsider { private: false });
        let outsider = store.access(&cid("priv"), &uid("u")).await.unwrap();
        assert_eq!(outsider, Access::Outsider { private: true });
    }
);

store_test!(
    /// A Member join creates a missing public room named after its id and stores the join
    /// notice; joining again is Already and stores nothing.
    join_member_creates_room,
    |store| {
        let before = time::now();
        let notice = join_now(&store, "lobby", "u", JoinMode::Member).await;
        assert_notice(&notice, "lobby", "u joined the chat");
        let room = store.get_room(&cid("lobby")).await.unwrap().unwrap();
        let want = ChatRoom {
            id: cid("lobby"),
            name: "lobby".into(),
            created_at: room.created_at,
            participants: vec![uid("u")],
            is_private: false,
            metadata: Metadata::new(),
        };
        assert_eq!(room, want);
        assert!(before <= room.created_at && room.created_at <= time::now());
        assert_eq!(store.get_user(&uid("u")).await.unwrap(), Some(implicit_user("u", false)));
        assert_eq!(listed(&store, "u").await, Some(vec![room]));

        let again = store.join(&cid("lobby"), &uid("u"), JoinMode::Member).await.unwrap();
        assert_eq!(again, Joined::Already);
        assert_eq!(history(&store, "lobby").await, [notice]);
    }
);

store_test!(
    /// A private room refuses a Member join but admits an Admin join; an Admin join of a
    /// missing room is NoRoom and creates no room.
    join_private_and_admin,
    |store| {
        store.create_room(room_spec(json!({"id": "vault", "name": "V", "is_private": true}))).await.unwrap();
        let refused = store.join(&cid("vault"), &uid("eve"), JoinMode::Member).await.unwrap();
        assert_eq!(refused, Joined::Private);
        assert_eq!(history(&store, "vault").await, []);

        let notice = join_now(&store, "vault", "eve", JoinMode::Added).await;
        assert_notice(&notice, "vault", "eve joined the chat");
        assert_eq!(store.access(&cid("vault"), &uid("eve")).await.unwrap(), Access::Member);
        assert_eq!(history(&store, "vault").await, [notice]);
        assert_eq!(room_ids(&store, "eve").await, ["vault"]);
        let again = store.join(&cid("vault"), &uid("eve"), JoinMode::Member).await.unwrap();
        assert_eq!(again, Joined::Already, "a member of a private room is already in");

        let missing = store.join(&cid("ghost"), &uid("eve"), JoinMode::Added).await.unwrap();
        assert_eq!(missing, Joined::NoRoom);
        assert_eq!(store.get_room(&cid("ghost")).await.unwrap(), None);
    }
);

store_test!(
    /// A refused join (Private, or NoRoom in Admin mode) changes nothing: no user is created.
    refused_join_creates_no_user,
    |store| {
        let spec = room_spec(json!({"id": "vault", "name": "V", "is_private": true}));
        store.create_room(spec).await.unwrap().unwrap();
        let refused = store.join(&cid("vault"), &uid("p1"), JoinMode::Member).await.unwrap();
        assert_eq!(refused, Joined::Private);
        assert_eq!(store.get_user(&uid("p1")).await.unwrap(), None, "after Private");
        let refused = store.join(&cid("ghost"), &uid("p2"), JoinMode::Added).await.unwrap();
        assert_eq!(refused, Joined::NoRoom);
        assert_eq!(store.get_user(&uid("p2")).await.unwrap(), None, "after NoRoom");
    }
);

store_test!(
    /// A refused join does not list the room among the user's rooms (on Redis a join writes
    /// the user's room index before the room script runs: its readers check membership).
    refused_join_lists_no_room,
    |store| {
        let spec = room_spec(json!({"id": "vault", "name": "V", "is_private": true}));
        store.create_room(spec).await.unwrap().unwrap();
        join_now(&store, "hall", "p1", JoinMode::Member).await;
        let refused = store.join(&cid("vault"), &uid("p1"), JoinMode::Member).await.unwrap();
        assert_eq!(refused, Joined::Private);
        let refused = store.join(&cid("ghost"), &uid("p1"), JoinMode::Added).await.unwrap();
        assert_eq!(refused, Joined::NoRoom);
        assert_eq!(room_ids(&store, "p1").await, ["hall"]);
    }
);

store_test!(
    /// leave: NoRoom for a missing room, NotMember for an outsider, else Now with the leave
    /// notice stored; the room leaves the user's rooms and the user the participants.
    leave_outcomes,
    |store| {
        assert_eq!(store.leave(&cid("none"), &uid("u")).await.unwrap(), Left::NoRoom);
        let joined = join_now(&store, "hall", "u", JoinMode::Member).await;
        join_now(&store, "other", "u", JoinMode::Member).await;
        assert_eq!(store.leave(&cid("hall"), &uid("v")).await.unwrap(), Left::NotMember);

        let Left::Now(notice) = store.leave(&cid("hall"), &uid("u")).await.unwrap() else {
            panic!("expected Left::Now");
        };
        assert_notice(&notice, "hall", "u left the chat");
        assert_eq!(history(&store, "hall").await, [joined, notice]);
        assert_eq!(room_ids(&store, "u").await, ["other"]);
        let room = store.get_room(&cid("hall")).await.unwrap().unwrap();
        assert_eq!(room.participants, Vec::<UserId>::new());
        let access = store.access(&cid("hall"), &uid("u")).await.unwrap();
        assert_eq!(access, Access::Outsider { private: false });
        assert_eq!(store.leave(&cid("hall"), &uid("u")).await.unwrap(), Left::NotMember);
    }
);

store_test!(
    /// Two simultaneous joins of one new user to one new room: one is Now, the other Already,
    /// and exactly one join notice is stored (checked over 20 rooms).
    concurrent_joins_store_one_notice,
    |store| {
        for r in 0..20 {
            let chat = format!("race{r}");
            let joins: Vec<_> = (0..2)
                .map(|_| {
                    let (store, chat) = (store.clone(), cid(&chat));
                    let racer = uid("racer");
                    tokio::spawn(async move { store.join(&chat, &racer, JoinMode::Member).await })
                })
                .collect();
            let mut notices = Vec::new();
            let mut already = 0;
            for join in joins {
                match join.await.unwrap().unwrap() {
                    Joined::Now(m) => notices.push(m),
                    Joined::Already => already += 1,
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert_eq!((notices.len(), already), (1, 1), "{chat}");
            assert_eq!(history(&store, &chat).await, notices, "{chat}");
            let room = store.get_room(&cid(&chat)).await.unwrap().unwrap();
            assert_eq!(room.participants, [uid("racer")]);
        }
        let mut want: Vec<String> = (0..20).map(|r| format!("race{r}")).collect();
        want.sort();
        assert_eq!(room_ids(&store, "racer").await, want);
    }
);
