-- sweep: removes up to ARGV[2] expired records of shard KEYS[1]
-- (descriptor ARGV[1]), with their index entries, and replies how many it
-- looked at.
local T, desc = KEYS[1], parse_desc(ARGV[1])
local due = redis.call("ZRANGE", T .. ":x", "-inf", now_ms(), "BYSCORE", "LIMIT", 0, tonumber(ARGV[2]))
for _, pk in ipairs(due) do
  if not live(T, desc, pk) then redis.call("ZREM", T .. ":x", pk) end
end
return #due
