-- write: one insert, upsert, update or delete of record ARGV[4] in shard
-- KEYS[1], with its index entries. ARGV: op, descriptor, write id ("" for
-- none), key, seconds to remember the write id, then per op:
--   ins: mode ("" insert, "n" do nothing on conflict, "r" replace), the
--        conflict target, the number of fields, field/value pairs, then
--        the fields to replace;
--   upd: the expected version ("" for none), then changes as op, field,
--        kind, value (ops: s set, d set NULL, i increment, m max, a add,
--        r remove);
--   del: the expected version.
-- Replies: {"ok"[, record]}, {"nothing"}, {"dup"} (the write id was
-- applied already), {"notfound"}, {"stale"}, {"unique", index},
-- {"invalid", message}.
local T = KEYS[1]
local op, desc, id, pk, keep = ARGV[1], parse_desc(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local key = T .. ":r:" .. pk
-- An update, delete or upsert claims its write id first (one SET NX) and
-- releases it if it fails, so that a retry of a failed write runs again.
-- A plain insert needs no claim: its retry finds the record stamped with
-- its id.
local claimed = op ~= "ins" or ARGV[6] ~= ""
-- A retry that finds its write applied still writes (the id's key), so
-- that WAIT on its connection covers the first attempt's write.
local function dup()
  redis.call("SET", T .. ":o:" .. id, "1", "EX", keep)
  return {"dup"}
end
if claimed and not redis.call("SET", T .. ":o:" .. id, "1", "NX", "EX", keep) then return dup() end
local function done(reply) return reply end
local function fail(...)
  if claimed then redis.call("DEL", T .. ":o:" .. id) end
  return {...}
end
-- mine reports whether record pk was last written by this write (a
-- retried insert).
local function mine(pk)
  return redis.call("HGET", T .. ":r:" .. pk, "$rev") == id
end

if op == "ins" then
  local mode, target, n = ARGV[6], ARGV[7], tonumber(ARGV[8])
  local sets = {}
  for i = 9, 8 + 2 * n, 2 do sets[ARGV[i]] = ARGV[i + 1] end
  local new = with(nil, sets, {})
  if mode == "" and desc.ttl == 0 then
    -- A plain insert: the primary-key index's ZADD NX both checks and
    -- claims the key.
    local bad = unique_violation(T, desc, new, pk, nil)
    if bad then
      if mine(pk) then return dup() end
      return fail("unique", bad)
    end
    if redis.call("ZADD", T .. ":k", "NX", 0, pk) == 0 then
      if mine(pk) then return dup() end
      return fail("unique", "primary_key")
    end
    put(T, desc, pk, nil, new, sets, {}, id, true)
    return {"ok"}
  end
  local holder
  if mode ~= "" then
    if target == "primary_key" then
      if live(T, desc, pk) then holder = pk end
    else
      for _, ix in ipairs(desc.indexes) do
        if ix.name == target then
          local t, null = tuple(ix, new)
          if not null then
            local hi = successor(t)
            local ms = redis.call("ZRANGE", T .. ":i:" .. ix.name, "[" .. t, hi and ("(" .. hi) or "+", "BYLEX", "LIMIT", 0, 1)
            if #ms > 0 then holder = string.sub(ms[1], #t + 1) end
            if holder and not live(T, desc, holder) then holder = nil end
          end
        end
      end
    end
  end
  if holder then
    if mode == "n" then return fail("nothing") end
    local old = load(T .. ":r:" .. holder)
    local usets, udels = {}, {}
    for i = 9 + 2 * n, #ARGV do
      local f = ARGV[i]
      if sets[f] ~= nil then usets[f] = sets[f] else udels[#udels + 1] = f end
    end
    if desc.version ~= "" then
      local v = add(old[desc.version] or "0", "1")
      if not v then return fail("invalid", "overflow:" .. desc.version) end
      usets[desc.version] = v
    end
    local unew = with(old, usets, udels)
    local bad = unique_violation(T, desc, unew, holder, nil)
    if bad then return fail("unique", bad) end
    put(T, desc, holder, old, unew, usets, udels, id)
    unew["$rev"] = nil
    return done({"ok", flatten(unew)})
  end
  if live(T, desc, pk) then
    if mine(pk) then return dup() end
    return fail("unique", "primary_key")
  end
  local bad = unique_violation(T, desc, new, pk, nil)
  if bad then return fail("unique", bad) end
  put(T, desc, pk, nil, new, sets, {}, id)
  return done({"ok"})
end

local old = live(T, desc, pk)
if not old then return fail("notfound") end
local expect = ARGV[6]
if expect ~= "" and old[desc.version] ~= expect then return fail("stale") end

if op == "del" then
  remove(T, desc, pk, old)
  return done({"ok"})
end

if op == "upd" then
  local h, sets, dels = with(old, {}, {}), {}, {}
  for i = 7, #ARGV, 4 do
    local err = change(h, sets, dels, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
    if err then return fail("invalid", err) end
  end
  local bad = unique_violation(T, desc, h, pk, nil)
  if bad then return fail("unique", bad) end
  put(T, desc, pk, old, h, sets, dels, id)
  h["$rev"] = nil
  return done({"ok", flatten(h)})
end
return fail("invalid", "unknown write " .. tostring(op))
