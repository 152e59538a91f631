-- One atomic step on a room: membership check, change, append, trim, publish.
-- CONTRACT: per-room order is the same for every reader and every instance, timestamps
-- strictly increase within a room (Redis's clock, bumped past the last one), and the room
-- never holds more than MAX_MESSAGES_PER_ROOM messages.
--
-- KEYS[1] room hash, KEYS[2] members set, KEYS[3] log stream, KEYS[4] followers set (the
-- instances subscribed to the room's channel), KEYS[5] read positions hash, KEYS[6] (a send
-- with a client_msg_id only) the key remembering that id, then (with ARGV[9] only) the
-- user's bucket's join log, and last (with ARGV[15] only) the key keeping this run's reply
-- ARGV[1] op: "send" | "join" | "add" | "leave" | "texts" (see below)
-- ARGV[2] chat id, ARGV[3] user id, ARGV[4] max messages, ARGV[5] room channel
-- ARGV[6] created_at for an implicitly created room
-- ARGV[7], ARGV[8] JSON of the system notice, before and after its timestamp (empty for a
-- send: the script then answers "needjoin" if the sender must join first)
-- ARGV[9] the user's bucket channel (a join is announced there, for the user's other
-- instances, and kept in the join log; empty: no join, or the caller announces it, as a
-- cluster's bucket channel is in another slot)
-- ARGV[10] the calling instance's id
-- ARGV[11], ARGV[12] JSON of the text (empty but for a send), before its timestamp and after
-- its epoch (the script writes `<timestamp>","seq":<µs>,"epoch":"<epoch>` between them)
-- ARGV[13] how long the client_msg_id (KEYS[6]) is remembered, in ms; empty: no such key
-- ARGV[14] "PUBLISH", "SPUBLISH" (a cluster), or empty: the caller publishes once replicas
-- have the message (REDIS_WAIT_REPLICAS)
-- ARGV[15] how long this run's reply is kept, in ms; empty: not kept
-- ARGV[16] ("texts" only) how long the batch's mark in the room is kept, in ms: the first
-- text of a batch (texts one connection sent at once, see batch.rs) that needs its sender to
-- join sets it, and the batch's later texts to the room then need the join too, so that they
-- are stored after it even if the sender became a member in between; else empty
-- Returns one string, its lines the status ("ok", "noroom", "private", "already", "notmember"
-- or "needjoin"), for "ok" the room's epoch, then for each entry the room's previous "<µs>",
-- its own "<µs>", and its JSON; or "dup" and the JSON of the text first sent with that
-- client_msg_id (a retry: nothing changes); or a kept reply, unchanged (a retried run)
-- (the previous one lets an instance deliver the entry straight from this reply when it holds
-- everything before). Compact JSON never holds a raw newline; one bulk string is one parse
-- for the client, where an array was one per line.
--
-- "texts": a run of texts one connection sent at once to the room (batch.rs), each stored as
-- a lone send without its notice would be, in order. KEYS[6] on: the client_msg_id key of
-- each text that has one, in order, then the batch's mark; ARGV[17] on, three per text: its
-- JSON's halves (as ARGV[11], ARGV[12]) and "1" if it has such a key (else empty); ARGV[7],
-- ARGV[8], ARGV[9], ARGV[11], ARGV[12] and ARGV[15] are empty. Returns each text's reply as
-- a lone send's, joined by a record separator (byte 30, which compact JSON never holds raw).

local room, members, log, followers, reads = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local op, chat, user, max, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local sent = op == 'send' and ARGV[13] ~= '' and KEYS[6] or nil
local joins = ARGV[9] ~= '' and KEYS[sent and 7 or 6] or nil
local publish = ARGV[14]
local kept = ARGV[15] ~= '' and KEYS[#KEYS] or nil
local batch = op == 'texts' and KEYS[#KEYS] or nil

-- This run retried after its reply was lost: the same reply, nothing stored again.
if kept then
  local reply = redis.call('GET', kept)
  if reply then return reply end
end

-- Whether an instance other than the caller follows the room. The caller delivers what it
-- stores from this reply (see script.rs), so when it is the only follower (one
-- instance, or rooms whose members all connect to one) nothing is published: no copy comes
-- back for it to read and drop. An instance registers before it subscribes, and replays the
-- log once the subscription is confirmed, so what was stored before it registered is not
-- missed (pubsub/register.rs).
local elsewhere = nil
local function followed_elsewhere()
  if elsewhere == nil then
    local n = redis.call('SCARD', followers)
    elsewhere = n > 1 or (n == 1 and redis.call('SISMEMBER', followers, ARGV[10]) == 0)
  end
  return elsewhere
end

-- Howard Hinnant's civil_from_days: µs since the epoch -> RFC 3339 with microseconds and Z.
local function fmt(us)
  local s = math.floor(us / 1000000)
  local frac = us - s * 1000000
  local days = math.floor(s / 86400)
  local secs = s - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%06dZ', y, m, d,
    math.floor(secs / 3600), math.floor((secs % 3600) / 60), secs % 60, frac)
end

local out = {'ok', ''}

-- Stamps, appends, trims and publishes one message; `mark` is "j", "l" or nil. Returns its
-- sequence and ordinal (how many messages the room ever stored), as strings.
local function append(before, after, mark)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local h = redis.call('HMGET', room, 'last_ts', 'created_at')
  local last = tonumber(h[1] or '0')
  -- The history's identity: the digits of created_at (domain::message::epoch_of).
  out[2] = string.gsub(h[2] or '', '%D', '')
  local ts = now
  if ts <= last then ts = last + 1 end
  local us = string.format('%.0f', ts)
  redis.call('HSET', room, 'last_ts', us)
  local n = redis.call('HINCRBY', room, 'n', 1)
  local json = before .. fmt(ts) .. '","seq":' .. us .. ',"epoch":"' .. out[2] .. after
  if mark then
    redis.call('XADD', log, 'MAXLEN', max, us .. '-0', 'm', json, mark, user)
  else
    redis.call('XADD', log, 'MAXLEN', max, us .. '-0', 'm', json)
  end
  -- Payload: "<previous µs>|<µs>|<mark or ->|<user>|<json>" (see payload.rs): the
  -- previous sequence lets a receiver see that a message it never got comes in between.
  local prev = string.format('%.0f', last)
  if publish ~= '' and followed_elsewhere() then
    redis.call(publish, channel, prev .. '|' .. us .. '|' .. (mark or '-') .. '|' .. user .. '|' .. json)
  end
  if mark == 'j' and publish ~= '' and joins then
    -- Logged as well as published: an instance whose pub/sub connection was down reads what
    -- it missed once subscribed again (keys.rs JOIN_LOG: 256).
    local notice = prev .. '|' .. us .. '|' .. chat .. '|' .. user
    redis.call('XADD', joins, 'MAXLEN', '~', 256, '*', 'n', notice)
    redis.call(publish, ARGV[9], notice)
  end
  out[#out + 1] = prev
  out[#out + 1] = us
  out[#out + 1] = json
  return us, n, json
end

-- The user has seen everything up to a message it just stored (its own text or join).
local function read_up_to(us, n)
  redis.call('HSET', reads, user, us .. ':' .. n)
end

-- A retry of a text sent with this client_msg_id within the window: the original, unchanged.
if op == 'send' and sent then
  local original = redis.call('GET', sent)
  if original then return 'dup\n' .. original end
end

-- What was done, kept for a retried run.
local function reply()
  local text = table.concat(out, '\n')
  if kept then redis.call('SET', kept, text, 'PX', ARGV[15]) end
  return text
end

-- A send comes without the join notice (most senders are members already): asked for it
-- before anything changes, the caller runs the script again with it.
if op == 'send' and ARGV[7] == '' then
  if redis.call('SISMEMBER', members, user) == 0 then return 'needjoin' end
end

local function create()
  redis.call('HSET', room, 'id', chat, 'name', chat, 'created_at', ARGV[6], 'is_private', '0', 'metadata', '{}')
end

-- The first text that needs its sender to join leaves the batch's mark (ARGV[16]), and every
-- later text of the batch to the room then needs the join too; a retry is answered with its
-- original wherever it comes. The caller runs each "needjoin" again as a lone send with the
-- notice, in order.
if op == 'texts' then
  local replies, k, last, marked = {}, 6, nil, false
  local member = redis.call('EXISTS', batch) == 0 and redis.call('SISMEMBER', members, user) == 1
  if member and redis.call('EXISTS', room) == 0 then create() end
  for i = 17, #ARGV, 3 do
    local key = nil
    if ARGV[i + 2] ~= '' then key, k = KEYS[k], k + 1 end
    local original = key and redis.call('GET', key)
    if original then
      replies[#replies + 1] = 'dup\n' .. original
    elseif not member then
      if not marked then redis.call('SET', batch, '1', 'PX', ARGV[16]) end
      marked = true
      replies[#replies + 1] = 'needjoin'
    else
      out = {'ok', ''}
      local us, n, json = append(ARGV[i], ARGV[i + 1], nil)
      if key then redis.call('SET', key, json, 'PX', ARGV[13]) end
      last = {us, n}
      replies[#replies + 1] = table.concat(out, '\n')
    end
  end
  if last then read_up_to(last[1], last[2]) end
  return table.concat(replies, '\30')
end

local exists = redis.call('EXISTS', room) == 1
if not exists then
  if op == 'add' or op == 'leave' then return 'noroom' end
  create()
end
local member = redis.call('SISMEMBER', members, user) == 1

if op == 'leave' then
  if not member then return 'notmember' end
  redis.call('SREM', members, user)
  redis.call('HDEL', reads, user)
  append(ARGV[7], ARGV[8], 'l')
  return reply()
end

if not member then
  if op ~= 'add' and redis.call('HGET', room, 'is_private') == '1' then return 'private' end
  redis.call('SADD', members, user)
  read_up_to(append(ARGV[7], ARGV[8], 'j'))
elseif op ~= 'send' then
  return 'already'
end
if op == 'send' then
  local us, n, json = append(ARGV[11], ARGV[12], nil)
  read_up_to(us, n)
  if sent then redis.call('SET', sent, json, 'PX', ARGV[13]) end
end
return reply()
