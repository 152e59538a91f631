"""Drives a running server through the Python client generated from openapi/openapi.json.

    python drive.py http://127.0.0.1:8000

Run by scripts/generated-clients.sh after it generated the client (openapi-python-client) and
installed it (package `chat_api_client`). Creates two users and a room through the client,
sends one message over a WebSocket (`websockets`, frame built with the generated
`TextClientFrame` model), reads the history, the room and a user back, and checks that every
field arrives typed: timestamps as `datetime.datetime`, metadata as the generated mapping
model, `reply_to` as None, participants as a list of str, and errors as the typed `Detail`.
Prints one line per check; exits 1 with the failed checks listed if any.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import sys
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import websockets
from chat_api_client import Client
from chat_api_client.api.chats import (
    add_participant,
    create_chat,
    get_chat,
    get_chat_messages,
    post_chat_message,
)
from chat_api_client.api.operations import health
from chat_api_client.api.users import create_user, get_user, get_user_chats
from chat_api_client.models import (
    AddParticipant,
    ChatRoom,
    ChatRoomMetadata,
    Detail,
    Message,
    MessageKind,
    MessageMetadata,
    NewChat,
    NewChatMetadataType0,
    NewMessage,
    NewUser,
    NewUserMetadataType0,
    RoomDetails,
    Status,
    TextClientFrame,
    TextClientFrameType,
    TextFrameMetadataType0,
    User,
    UserMetadata,
    UserRoom,
)
from chat_api_client.types import Response

failures: list[str] = []


def check(what: str, ok: bool, got: Any = None) -> bool:
    if ok:
        print(f"ok   {what}")
    else:
        print(f"FAIL {what}: got {got!r}")
        failures.append(what)
    return ok


def expect(what: str, response: Response[Any], status: int, kind: type) -> Any:
    """The parsed body of `response` if it has `status` and parsed as `kind`, else None."""
    ok = response.status_code == status and isinstance(response.parsed, kind)
    got = (response.status_code, type(response.parsed).__name__, response.content[:300])
    check(f"{what}: {status} parsed as {kind.__name__}", ok, got)
    return response.parsed if ok else None


def is_utc_datetime(value: Any) -> bool:
    return isinstance(value, datetime.datetime) and value.utcoffset() == datetime.timedelta(0)


def fields(what: str, value: Any, tests: dict[str, Callable[[Any], bool]]) -> None:
    for name, test in tests.items():
        got = getattr(value, name)
        check(f"{what}.{name} ({type(got).__name__})", test(got), got)


async def send_text(ws_url: str, frame: TextClientFrame) -> dict[str, Any]:
    """Sends `frame` and returns the server's echo of it (the ack every sender gets)."""
    async with websockets.connect(ws_url, open_timeout=10) as ws:
        await ws.send(json.dumps(frame.to_dict()))
        while True:
            raw = await asyncio.wait_for(ws.recv(), timeout=10)
            data = json.loads(raw)
            if data.get("type") == "error":
                raise RuntimeError(f"error frame: {data}")
            if data.get("type") == "text" and data.get("content") == frame.content:
                return data


def main(base_url: str) -> int:
    run = uuid.uuid4().hex[:8]
    alice, bob, room_id = f"alice-{run}", f"bob-{run}", f"room-{run}"
    client = Client(base_url=base_url, timeout=10.0)

    fields("health", expect("GET /health", health.sync_detailed(client=client), 200, Status), {})

    # Users and a room, created through the generated client.
    created = expect(
        "POST /user",
        create_user.sync_detailed(
            client=client,
            body=NewUser(
                username="Alice",
                id=alice,
                email="alice@example.com",
                metadata=NewUserMetadataType0.from_dict({"locale": "en"}),
            ),
        ),
        201,
        User,
    )
    if created:
        fields("created user", created, {"id": lambda v: v == alice, "is_active": lambda v: v is False})
    expect("POST /user", create_user.sync_detailed(client=client, body=NewUser(username="Bob", id=bob)), 201, User)
    conflict = expect(
        "POST /user again", create_user.sync_detailed(client=client, body=NewUser(username="Bob", id=bob)), 409, Detail
    )
    if conflict:
        check("409 detail", conflict.detail == "User already exists", conflict.detail)

    room = expect(
        "POST /chat",
        create_chat.sync_detailed(
            client=client,
            body=NewChat(
                name="Generated client room",
                id=room_id,
                is_private=False,
                participants=[bob, alice],
                metadata=NewChatMetadataType0.from_dict({"topic": "rust"}),
            ),
        ),
        201,
        ChatRoom,
    )
    if room:
        fields(
            "created room",
            room,
            {
                "id": lambda v: v == room_id,
                "participants": lambda v: isinstance(v, list)
                and all(isinstance(p, str) for p in v)
                and v == sorted([alice, bob]),
                "created_at": is_utc_datetime,
                "is_private": lambda v: v is False,
                "metadata": lambda v: isinstance(v, ChatRoomMetadata) and v.to_dict() == {"topic": "rust"},
            },
        )

    # One message over the WebSocket, so that the history is not empty.
    split = urlsplit(base_url)
    frame = TextClientFrame(
        chat_id=room_id,
        content=f"hello from the generated client {run}",
        type_=TextClientFrameType.TEXT,
        user_id=alice,
        metadata=TextFrameMetadataType0.from_dict({"client": "drive.py"}),
    )
    try:
        echo = asyncio.run(send_text(f"ws://{split.netloc}/ws/{alice}", frame))
    except Exception as e:  # noqa: BLE001 - any failure here is a failed check
        check("WebSocket text frame echoed", False, e)
        echo = None
    if echo is not None:
        check("WebSocket echo parses as Message", isinstance(Message.from_dict(echo), Message), echo)

    history = expect(
        "GET /chat/{chat_id}/messages",
        get_chat_messages.sync_detailed(chat_id=room_id, client=client, limit=50),
        200,
        list,
    )
    if history is not None and check("history is one message", len(history) == 1, history):
        message = history[0]
        check("history item is a Message", isinstance(message, Message), message)
        fields(
            "message",
            message,
            {
                "id": lambda v: isinstance(v, uuid.UUID),
                "chat_id": lambda v: v == room_id,
                "user_id": lambda v: v == alice,
                "content": lambda v: v == frame.content,
                "type_": lambda v: v is MessageKind.TEXT,
                "timestamp": is_utc_datetime,
                "seq": lambda v: isinstance(v, int) and v > 0,
                "epoch": lambda v: isinstance(v, str) and v.isdigit(),
                "metadata": lambda v: isinstance(v, MessageMetadata)
                and v.additional_properties == {"client": "drive.py"}
                and v["client"] == "drive.py",
                "reply_to": lambda v: v is None,
            },
        )

    read = expect("GET /chat/{chat_id}", get_chat.sync_detailed(chat_id=room_id, client=client), 200, RoomDetails)
    if read and room:
        details = read.to_dict()
        positions = details.pop("read_positions", None)
        check("room read back equals the room created", details == room.to_dict(), read.to_dict())
        check("room details carry read positions", isinstance(positions, dict), positions)

    # A bot posts over HTTP; a retry with the same client_msg_id answers the original.
    post = NewMessage(content="build passed", user_id=f"bot-{run}", client_msg_id=f"build-{run}")
    posted = expect(
        "POST /chat/{chat_id}/messages",
        post_chat_message.sync_detailed(chat_id=room_id, client=client, body=post),
        201,
        Message,
    )
    again = expect(
        "POST /chat/{chat_id}/messages (retry)",
        post_chat_message.sync_detailed(chat_id=room_id, client=client, body=post),
        201,
        Message,
    )
    if posted and again:
        check("a retry answers the original", again.to_dict() == posted.to_dict(), again.to_dict())
        check("the posted message carries its client_msg_id", posted.client_msg_id == f"build-{run}", posted)

    user = expect("GET /user/{user_id}", get_user.sync_detailed(user_id=alice, client=client), 200, User)
    if user:
        fields(
            "user",
            user,
            {
                "id": lambda v: v == alice,
                "username": lambda v: v == "Alice",
                "email": lambda v: v == "alice@example.com",
                "is_active": lambda v: isinstance(v, bool),
                # Set once the WebSocket above has closed; None until then.
                "last_seen": lambda v: v is None or is_utc_datetime(v),
                "metadata": lambda v: isinstance(v, UserMetadata) and v.to_dict() == {"locale": "en"},
            },
        )

    rooms = expect("GET /user/{user_id}/chats", get_user_chats.sync_detailed(user_id=bob, client=client), 200, list)
    if rooms is not None:
        check("bob's rooms", [r.id for r in rooms if isinstance(r, UserRoom)] == [room_id], rooms)
        check("bob's rooms carry unread counts", all(isinstance(r.unread, int) for r in rooms), rooms)

    # Errors arrive as the typed Detail.
    missing = expect(
        "GET /chat/{unknown}", get_chat.sync_detailed(chat_id=f"no-such-chat-{run}", client=client), 404, Detail
    )
    if missing:
        check("404 detail", missing.detail == "Chat not found", missing.detail)
    check(
        "GET /chat/{unknown} (sync): returns the Detail",
        isinstance(get_chat.sync(chat_id=f"no-such-chat-{run}", client=client), Detail),
    )
    bad = expect(
        "GET /chat/{chat_id}/messages?limit=0",
        get_chat_messages.sync_detailed(chat_id=room_id, client=client, limit=0),
        400,
        Detail,
    )
    if bad:
        check("400 detail", bad.detail.startswith("Invalid limit"), bad.detail)
    expect(
        "POST /chat/{unknown}/participants",
        add_participant.sync_detailed(chat_id=f"no-such-chat-{run}", client=client, body=AddParticipant(user_id=bob)),
        404,
        Detail,
    )

    if failures:
        print(f"drive.py: {len(failures)} check(s) failed: {', '.join(failures)}")
        return 1
    print("all typed fields as expected")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} BASE_URL")
    sys.exit(main(sys.argv[1]))
