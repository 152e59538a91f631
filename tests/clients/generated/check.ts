// Type-checked (never run) by scripts/generated-clients.sh with `tsc --noEmit --strict`, next to
// ./openapi.ts, the types openapi-typescript generates from openapi/openapi.json:
//
//   npx openapi-typescript ../../../openapi/openapi.json --output openapi.ts
//
// It fails to compile when the document stops describing what clients rely on: the frames a
// WebSocket client sends and receives, and the shapes of rooms, users, messages and errors.
import type { components, operations, paths } from "./openapi";

type Schemas = components["schemas"];
type ClientFrame = Schemas["ClientFrame"];
type ServerFrame = Schemas["ServerFrame"];
type Message = Schemas["Message"];
type ChatRoom = Schemas["ChatRoom"];
type RoomDetails = Schemas["RoomDetails"];
type UserRoom = Schemas["UserRoom"];
type User = Schemas["User"];
type Detail = Schemas["Detail"];

/** Compiles only when A and B are the same type. */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <A, B>(ok: Equals<A, B>): Equals<A, B> => ok;

// --- frames a client sends -----------------------------------------------------------------

export const frames: ClientFrame[] = [
    { type: "text", content: "Hello, world!", chat_id: "chat1" },
    { type: "text", content: "Re: hello", chat_id: "chat1", user_id: "user1", reply_to: "0192f0c1", metadata: { client: "web" } },
    { type: "typing", content: "typing", chat_id: "chat1" },
    { type: "join", chat_id: "chat1" },
    { type: "leave", chat_id: "chat1", user_id: "user1" },
    { type: "text", content: "once", chat_id: "chat1", client_msg_id: "c-1" },
    { type: "resume", positions: { chat1: { seq: 1704067200000000, epoch: "20240101000000000000" } } },
    { type: "read", chat_id: "chat1", seq: 1704067200000000 },
];

// @ts-expect-error clients cannot send system messages
export const system: ClientFrame = { type: "system", content: "hi", chat_id: "chat1" };
// @ts-expect-error a text frame needs its content
export const noContent: ClientFrame = { type: "text", chat_id: "chat1" };
// @ts-expect-error every frame needs a type
export const untyped: ClientFrame = { content: "hi", chat_id: "chat1" };

// --- frames the server sends ---------------------------------------------------------------

/** `type` tells a message from a receipt, a resume's answer and an error frame, and narrows. */
export function describe(frame: ServerFrame): string {
    if (frame.type === "error") {
        const detail: string = frame.detail;
        return `error: ${detail}`;
    }
    if (frame.type === "receipt") {
        const seq: number = frame.seq;
        return `${frame.user_id} read ${frame.chat_id} up to ${seq}`;
    }
    if (frame.type === "resumed") {
        const recovered: boolean = frame.recovered;
        const page: Message[] | null | undefined = frame.messages;
        return `${frame.chat_id} resumed (${recovered}, epoch ${frame.epoch}): ${frame.replayed ?? page?.length ?? 0}`;
    }
    const message: Message = frame;
    const seq: number | null | undefined = message.seq;
    const epoch: string | null | undefined = message.epoch;
    const kind: "text" | "system" | "typing" = message.type;
    const replyTo: string | null | undefined = message.reply_to;
    const client: unknown = message.metadata["client"];
    return `${message.timestamp} ${seq ?? ""} ${epoch ?? ""} ${kind} ${message.user_id}@${message.chat_id}: ${message.content} ${replyTo ?? ""} ${String(client)}`;
}

// --- HTTP bodies ---------------------------------------------------------------------------

export function unread(rooms: UserRoom[]): string {
    return rooms.map((r) => `${r.id}: ${r.unread} unread, last ${r.last_message?.content ?? "-"}`).join("; ");
}

export function positions(room: RoomDetails): string {
    return Object.entries(room.read_positions).map(([user, seq]) => `${user}@${seq}`).join(",");
}

export function summary(room: ChatRoom, user: User): string {
    const participants: string[] = room.participants;
    const createdAt: string = room.created_at;
    const isPrivate: boolean = room.is_private;
    const lastSeen: string | null | undefined = user.last_seen;
    const email: string | null | undefined = user.email;
    const active: boolean = user.is_active;
    return `${room.id} "${room.name}" ${participants.join(",")} ${createdAt} ${isPrivate} / ${user.id} ${user.username} ${email} ${active} ${lastSeen}`;
}

// Responses are typed by status, errors included.
type Json<R> = R extends { content: { "application/json": infer B } } ? B : never;
export const typed = [
    same<Json<operations["get_chat_messages"]["responses"][200]>, Message[]>(true),
    same<Json<operations["get_chat"]["responses"][200]>, RoomDetails>(true),
    same<Json<operations["get_chat"]["responses"][404]>, Detail>(true),
    same<Json<operations["create_user"]["responses"][201]>, User>(true),
    same<Json<operations["create_user"]["responses"][409]>, Detail>(true),
    same<Json<operations["get_user_chats"]["responses"][200]>, UserRoom[]>(true),
    same<Json<operations["post_chat_message"]["responses"][201]>, Message>(true),
    same<Json<paths["/chat/{chat_id}/participants/{user_id}"]["delete"]["responses"][404]>, Detail>(true),
    same<Json<paths["/ws/{user_id}"]["get"]["responses"][426]>, Detail>(true),
    same<paths["/chat/{chat_id}/messages"]["get"]["parameters"]["query"], { limit?: number; before?: string; before_seq?: number; after_seq?: number } | undefined>(true),
];

export const newChat: Schemas["NewChat"] = { name: "Chat Room Name", participants: ["user1", "user2"], metadata: { topic: "rust" } };
// @ts-expect-error request bodies accept no unknown fields
export const extraField: Schemas["NewUser"] = { username: "u", nickname: "x" };
