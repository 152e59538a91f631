-- One atomic step on a room: membership check, change, append, trim, publish.
-- CONTRACT: per-room order is the same for every reader and every instance, timestamps
-- strictly increase within a room (Redis's clock, bumped past the last one), and the room
-- never holds more than MAX_MESSAGES_PER_ROOM messages.
--
-- KEYS[1] room hash, KEYS[2] members set, KEYS[3] log stream, KEYS[4] followers set (the
-- instances subscribed to the room's channel)
-- ARGV[1] op: "send" | "join" | "add" | "leave"
-- ARGV[2] chat id, ARGV[3] user id, ARGV[4] max messages, ARGV[5] room channel
-- ARGV[6] created_at for an implicitly created room
-- ARGV[7], ARGV[8] JSON of the system notice, before and after its timestamp (empty for a
-- send: the script then answers "needjoin" if the sender must join first)
-- ARGV[9] the user's bucket channel (a join is announced there, for the user's other instances)
-- ARGV[10] the calling instance's id
-- ARGV[11], ARGV[12] JSON of the text (send only), before and after its timestamp
-- Returns one string, its lines the status ("ok", "noroom", "private", "already", "notmember"
-- or "needjoin"), then for each entry the room's previous "<µs>", its own "<µs>", and its JSON
-- (the previous one lets an instance deliver the entry straight from this reply when it holds
-- everything before). Compact JSON never holds a raw newline; one bulk string is one parse
-- for the client, where an array was one per line.

local room, members, log, followers = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local op, chat, user, max, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

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

local out = {'ok'}

-- Stamps, appends, trims and publishes one message; `mark` is "j", "l" or nil.
local function append(before, after, mark)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local last = tonumber(redis.call('HGET', room, 'last_ts') or '0')
  local ts = now
  if ts <= last then ts = last + 1 end
  local us = string.format('%.0f', ts)
  redis.call('HSET', room, 'last_ts', us)
  local json = before .. fmt(ts) .. after
  if mark then
    redis.call('XADD', log, 'MAXLEN', max, us .. '-0', 'm', json, mark, user)
  else
    redis.call('XADD', log, 'MAXLEN', max, us .. '-0', 'm', json)
  end
  -- Payload: "<previous µs>|<µs>|<mark or ->|<user>|<json>" (see payload.rs): the
  -- previous sequence lets a receiver see that a message it never got comes in between.
  local prev = string.format('%.0f', last)
  if followed_elsewhere() then
    redis.call('PUBLISH', channel, prev .. '|' .. us .. '|' .. (mark or '-') .. '|' .. user .. '|' .. json)
  end
  if mark == 'j' then redis.call('PUBLISH', ARGV[9], prev .. '|' .. us .. '|' .. chat .. '|' .. user) end
  out[#out + 1] = prev
  out[#out + 1] = us
  out[#out + 1] = json
end

-- A send comes without the join notice (most senders are members already): asked for it
-- before anything changes, the caller runs the script again with it.
if op == 'send' and ARGV[7] == '' and redis.call('SISMEMBER', members, user) == 0 then
  return 'needjoin'
end

local exists = redis.call('EXISTS', room) == 1
if not exists then
  if op == 'add' or op == 'leave' then return 'noroom' end
  redis.call('HSET', room, 'id', chat, 'name', chat, 'created_at', ARGV[6], 'is_private', '0', 'metadata', '{}')
end
local member = redis.call('SISMEMBER', members, user) == 1

if op == 'leave' then
  if not member then return 'notmember' end
  redis.call('SREM', members, user)
  append(ARGV[7], ARGV[8], 'l')
  return table.concat(out, '\n')
end

if not member then
  if op ~= 'add' and redis.call('HGET', room, 'is_private') == '1' then return 'private' end
  redis.call('SADD', members, user)
  append(ARGV[7], ARGV[8], 'j')
elseif op ~= 'send' then
  return 'already'
end
if op == 'send' then append(ARGV[11], ARGV[12], nil) end
return table.concat(out, '\n')
