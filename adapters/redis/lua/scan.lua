-- scan: up to ARGV[6] entries of index KEYS[1]..ARGV[1] (whose members
-- have ARGV[2] components before the key) between ARGV[3] and ARGV[4]
-- (ZRANGE BYLEX bounds, reversed if ARGV[5] is "1"), each with its record:
-- all of it (HGETALL), or the fields ARGV[8...] (HMGET, with "$exp" among
-- them if ARGV[7] is "1"). If ARGV[7] is "1" the records have a time to
-- live, and an expired one is returned empty. Reply: the shard's write
-- counter, then member, record, member, record...
local T = KEYS[1]
local nf = tonumber(ARGV[2])
local args = {T .. ARGV[1], ARGV[3], ARGV[4], "BYLEX"}
if ARGV[5] == "1" then args[#args + 1] = "REV" end
args[#args + 1] = "LIMIT"
args[#args + 1] = 0
args[#args + 1] = tonumber(ARGV[6])
local ms = redis.call("ZRANGE", unpack(args))
local ttl = ARGV[7] == "1"
local now = 0
if ttl then now = now_ms() end
local out = {redis.call("GET", T .. ":n") or "0"}
for _, m in ipairs(ms) do
  local i = 1
  for _ = 1, nf do i = skip(m, i) end
  local key = T .. ":r:" .. string.sub(m, i)
  local rec
  if #ARGV > 7 then
    rec = redis.call("HMGET", key, unpack(ARGV, 8))
    if ttl then
      local e = rec[#ARGV - 7]
      if e and tonumber(e) <= now then rec = {} end
    end
  else
    rec = redis.call("HGETALL", key)
    if ttl then
      for j = 1, #rec, 2 do
        if rec[j] == "$exp" and tonumber(rec[j + 1]) <= now then rec = {} break end
      end
    end
  end
  out[#out + 1] = m
  out[#out + 1] = rec
end
return out
