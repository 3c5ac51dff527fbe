-- commit: a transaction's writes, all or none. ARGV: the write id ("" for a
-- transaction that only read: it writes nothing and checks), seconds
-- to remember it, then the number of checks and the checks (a record's
-- key and the "$rev" the transaction read, "" if it must not exist),
-- then the number of descriptors and the
-- descriptors, then the writes (descriptor number, shard, key, "p" put or
-- "d" delete, the number of fields set, field/value pairs, the number of
-- fields cleared, their names). Replies: {"ok"}, {"dup"}, {"conflict",
-- key} (a check failed: nothing is written), {"unique", shard, index}.
local id, keep = ARGV[1], ARGV[2]
if id ~= "" and redis.call("EXISTS", KEYS[1] .. ":o:" .. id) == 1 then
  -- A write, so that WAIT on this connection covers the first attempt's.
  redis.call("SET", KEYS[1] .. ":o:" .. id, "1", "EX", keep)
  return {"dup"}
end
local i = 3
local nchecks = tonumber(ARGV[i]); i = i + 1
for _ = 1, nchecks do
  local key, want = ARGV[i], ARGV[i + 1]
  i = i + 2
  if want == "" then
    -- absent, or expired (a transaction reads an expired record as absent)
    local e = redis.call("HGET", key, "$exp")
    if redis.call("EXISTS", key) == 1 and not (e and tonumber(e) <= now_ms()) then return {"conflict", key} end
  elseif redis.call("HGET", key, "$rev") ~= want then
    return {"conflict", key}
  end
end
local descs = {}
local ndescs = tonumber(ARGV[i]); i = i + 1
for d = 1, ndescs do descs[d] = parse_desc(ARGV[i]); i = i + 1 end
local writes, written = {}, {}
while i <= #ARGV do
  local w = {desc = descs[tonumber(ARGV[i])], T = ARGV[i + 1], pk = ARGV[i + 2], op = ARGV[i + 3], sets = {}, dels = {}}
  i = i + 4
  local n = tonumber(ARGV[i]); i = i + 1
  for _ = 1, n do w.sets[ARGV[i]] = ARGV[i + 1]; i = i + 2 end
  n = tonumber(ARGV[i]); i = i + 1
  for _ = 1, n do w.dels[#w.dels + 1] = ARGV[i]; i = i + 1 end
  w.old = live(w.T, w.desc, w.pk)
  if w.op == "p" then w.new = with(w.old, w.sets, w.dels) end
  writes[#writes + 1] = w
  written[w.T .. ":r:" .. w.pk] = true
end
-- Unique indexes hold after the commit if no new record collides with a
-- stored one the transaction leaves alone, nor with another new one.
local claimed = {}
for _, w in ipairs(writes) do
  if w.new then
    local bad = unique_violation(w.T, w.desc, w.new, w.pk, written)
    if bad then return {"unique", w.T, bad} end
    for _, ix in ipairs(w.desc.indexes) do
      if ix.unique then
        local t, null = tuple(ix, w.new)
        local c = w.T .. ":i:" .. ix.name .. ":" .. t
        if not null then
          if claimed[c] and claimed[c] ~= w.pk then return {"unique", w.T, ix.name} end
          claimed[c] = w.pk
        end
      end
    end
  end
end
for _, w in ipairs(writes) do
  if w.new then
    put(w.T, w.desc, w.pk, w.old, w.new, w.sets, w.dels, id)
  elseif w.old then
    remove(w.T, w.desc, w.pk, w.old)
  end
end
if id ~= "" then redis.call("SET", KEYS[1] .. ":o:" .. id, "1", "EX", keep) end
return {"ok"}
