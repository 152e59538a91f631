-- The rate script: GCRA on Redis's clock, so every instance shares one allowance per user.
-- KEYS[1] the user's rate key. ARGV[1] µs per cell, ARGV[2] burst, ARGV[3] how many cells
-- (the texts of one burst take theirs in one call, in order).
-- Returns, per cell, 0 (taken) or the µs to wait; a refused cell leaves the time as it is.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, burst, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local tolerance = interval * (burst - 1)
local waits, taken = {}, false
for i = 1, n do
  if tat - now > tolerance then
    waits[i] = math.ceil(tat - now - tolerance)
  else
    tat, taken, waits[i] = tat + interval, true, 0
  end
end
if taken then
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
end
return waits
