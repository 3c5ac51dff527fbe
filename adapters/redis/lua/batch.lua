-- batch: a migration step over up to ARGV[3] records of shard KEYS[1],
-- those after ARGV[2] in the primary-key index ("-" for the first). ARGV[1]
-- is the step:
--   index:  ARGV[4] is an index (as a descriptor line) to add the records
--           to; a unique one fails with {"unique", name} on a collision;
--   hdel:   ARGV[4] is a field to delete;
--   rename: field ARGV[4] becomes ARGV[5].
-- Reply: {"ok", n, last member}.
local T, step = KEYS[1], ARGV[1]
local ms = redis.call("ZRANGE", T .. ":k", ARGV[2], "+", "BYLEX", "LIMIT", 0, tonumber(ARGV[3]))
local ix
if step == "index" then ix = parse_desc("\n" .. ARGV[4]).indexes[1] end
for _, pk in ipairs(ms) do
  local key = T .. ":r:" .. pk
  if step == "index" then
    local h = load(key)
    if h then
      local t, null = tuple(ix, h)
      if ix.unique and not null then
        local hi = successor(t)
        local held = redis.call("ZRANGE", T .. ":i:" .. ix.name, "[" .. t, hi and ("(" .. hi) or "+", "BYLEX", "LIMIT", 0, 2)
        for _, m in ipairs(held) do
          if string.sub(m, #t + 1) ~= pk then return {"unique", ix.name} end
        end
      end
      redis.call("ZADD", T .. ":i:" .. ix.name, 0, t .. pk)
    end
  elseif step == "hdel" then
    redis.call("HDEL", key, ARGV[4])
  elseif step == "rename" then
    local v = redis.call("HGET", key, ARGV[4])
    if v then
      redis.call("HSET", key, ARGV[5], v)
      redis.call("HDEL", key, ARGV[4])
    end
  end
end
return {"ok", #ms, ms[#ms] or ""}
