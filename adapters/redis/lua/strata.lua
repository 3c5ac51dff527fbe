-- Shared functions of Strata's Redis scripts (see the package doc for the
-- layout). Every script is this file followed by its own body; Redis runs
-- each atomically.
--
-- T is a shard's key prefix "{ns:collection}" or "{ns:collection:N}"; its
-- keys are T..":r:"..pk (a record's hash), T..":k" (the primary-key index),
-- T..":i:"..name (a secondary index), T..":x" (expiries, for collections
-- with a time to live) and T..":o:"..id (a write that was applied, for
-- idempotent retries).

local function split(s, sep)
  local out, i = {}, 1
  while true do
    local j = string.find(s, sep, i, true)
    if not j then
      out[#out + 1] = string.sub(s, i)
      return out
    end
    out[#out + 1] = string.sub(s, i, j - 1)
    i = j + 1
  end
end

-- A descriptor tells a script what it needs of a collection: the version
-- field, the records' time to live in milliseconds (0: none) and the
-- indexes, with the kind of each indexed field (i: int or time, f: float,
-- s: string, b: bool) and what a record without the field holds ("-":
-- NULL; "=" and a value: that value, the zero of a field that is not
-- nullable). Lines: "version\tttl", then one per index:
-- "name\tu|n\tfield\tkind\tzero\tfield\tkind\tzero...".
--
-- Parsed descriptors are kept (they are few: one per collection and
-- version of the app), since a library's locals live as long as it does;
-- callers must not change them.
local descs, ndescs = {}, 0
local function parse_desc(d)
  local cached = descs[d]
  if cached then return cached end
  local lines = split(d, "\n")
  local head = split(lines[1], "\t")
  local desc = {version = head[1], ttl = tonumber(head[2] or "0") or 0, indexes = {}}
  for i = 2, #lines do
    local p = split(lines[i], "\t")
    local ix = {name = p[1], unique = p[2] == "u", fields = {}, kinds = {}, zeros = {}}
    for j = 3, #p - 2, 3 do
      local n = #ix.fields + 1
      ix.fields[n] = p[j]
      ix.kinds[n] = p[j + 1]
      if string.sub(p[j + 2], 1, 1) == "=" then ix.zeros[n] = string.sub(p[j + 2], 2) end
    end
    desc.indexes[#desc.indexes + 1] = ix
  end
  if ndescs >= 1024 then descs, ndescs = {}, 0 end
  descs[d], ndescs = desc, ndescs + 1
  return desc
end

-- Byte-wise comparison (Lua's < on strings follows the locale).
local function less(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- The index components (see internal/valuecodec, which has the same encoding).
local function enc_int(s)
  if s == "0" then return "\32\128" end
  if string.sub(s, 1, 1) == "-" then
    local d = string.sub(s, 2)
    local c = string.gsub(d, "%d", function(x) return string.char(105 - string.byte(x)) end)
    return "\32" .. string.char(128 - #d) .. c
  end
  return "\32" .. string.char(128 + #s) .. s
end

local function enc_float(s)
  local x = tonumber(s)
  if x == 0 then x = 0 end -- one zero
  local b = struct.pack(">d", x)
  local first = string.byte(b, 1)
  if first >= 128 then
    local out = {}
    for i = 1, 8 do out[i] = string.char(255 - string.byte(b, i)) end
    return "\48" .. table.concat(out)
  end
  return "\48" .. string.char(first + 128) .. string.sub(b, 2)
end

local function component(kind, s)
  if s == nil then return "\1" end
  if kind == "i" then return enc_int(s) end
  if kind == "s" then return "\64" .. s .. "\0" end
  if kind == "f" then return enc_float(s) end
  if kind == "b" then
    if s == "1" then return "\16\1" end
    return "\16\0"
  end
  error("strata: unknown index kind " .. tostring(kind))
end

-- successor returns the least string greater than every string that starts
-- with p, or nil.
local function successor(p)
  local s = p
  while #s > 0 and string.byte(s, #s) == 255 do s = string.sub(s, 1, #s - 1) end
  if #s == 0 then return nil end
  return string.sub(s, 1, #s - 1) .. string.char(string.byte(s, #s) + 1)
end

-- tuple returns the components of ix's fields in record h, and whether one
-- of them is NULL.
local function tuple(ix, h)
  local parts, null = {}, false
  for i, f in ipairs(ix.fields) do
    local v = h[f]
    if v == nil then v = ix.zeros[i] end
    if v == nil then null = true end
    parts[i] = component(ix.kinds[i], v)
  end
  return table.concat(parts), null
end

local function load(key)
  local flat = redis.call("HGETALL", key)
  if #flat == 0 then return nil end
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end

local function flatten(h)
  local out = {}
  for f, v in pairs(h) do
    out[#out + 1] = f
    out[#out + 1] = v
  end
  return out
end

local live

-- unique_violation returns the name of a unique index in which record h,
-- stored under pk, would collide with another (live) record not in skip.
local function unique_violation(T, desc, h, pk, skip)
  for _, ix in ipairs(desc.indexes) do
    if ix.unique then
      local t, null = tuple(ix, h)
      if not null then
        local hi = successor(t)
        local ms = redis.call("ZRANGE", T .. ":i:" .. ix.name, "[" .. t, hi and ("(" .. hi) or "+", "BYLEX", "LIMIT", 0, 2)
        for _, m in ipairs(ms) do
          local other = string.sub(m, #t + 1)
          if other ~= pk and not (skip and skip[T .. ":r:" .. other]) and (desc.ttl == 0 or live(T, desc, other)) then
            return ix.name
          end
        end
      end
    end
  end
  return nil
end

-- with returns a copy of record old (or an empty one) with sets (a table
-- of field -> value) and dels (a list of fields) applied.
local function with(old, sets, dels)
  local h = {}
  if old then for f, v in pairs(old) do h[f] = v end end
  for f, v in pairs(sets) do h[f] = v end
  for _, f in ipairs(dels) do h[f] = nil end
  return h
end

-- now_ms is the server's clock, in milliseconds.
local function now_ms()
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- expired reports whether record h (of a collection with a time to live)
-- has outlived it.
local function expired(h)
  local e = h["$exp"]
  return e ~= nil and tonumber(e) <= now_ms()
end

-- put writes record pk of shard T: old is what is stored (nil if nothing),
-- new what is to be, sets and dels the difference. It keeps every index in
-- step (but the primary-key index if listed, as an insert's ZADD NX does)
-- and stamps the record with rev, the id of the write, for transactions.
local function put(T, desc, pk, old, new, sets, dels, rev, listed)
  local key = T .. ":r:" .. pk
  for _, ix in ipairs(desc.indexes) do
    local z = T .. ":i:" .. ix.name
    local nm = tuple(ix, new) .. pk
    if old then
      local om = tuple(ix, old) .. pk
      if om ~= nm then
        redis.call("ZREM", z, om)
        redis.call("ZADD", z, 0, nm)
      end
    else
      redis.call("ZADD", z, 0, nm)
    end
  end
  if not old and not listed then redis.call("ZADD", T .. ":k", 0, pk) end
  local d = {}
  for _, f in ipairs(dels) do
    if old and old[f] ~= nil then d[#d + 1] = f end
  end
  if #d > 0 then redis.call("HDEL", key, unpack(d)) end
  local args = {}
  for f, v in pairs(sets) do
    args[#args + 1] = f
    args[#args + 1] = v
  end
  args[#args + 1] = "$rev"
  args[#args + 1] = rev
  if desc.ttl > 0 then
    local e = now_ms() + desc.ttl
    args[#args + 1] = "$exp"
    args[#args + 1] = e
    redis.call("ZADD", T .. ":x", e, pk)
  end
  redis.call("HSET", key, unpack(args))
end

-- remove deletes record pk (stored as old) of shard T and its index entries.
local function remove(T, desc, pk, old)
  for _, ix in ipairs(desc.indexes) do
    redis.call("ZREM", T .. ":i:" .. ix.name, tuple(ix, old) .. pk)
  end
  redis.call("ZREM", T .. ":k", pk)
  redis.call("DEL", T .. ":r:" .. pk)
  if desc.ttl > 0 then redis.call("ZREM", T .. ":x", pk) end
end

-- live returns record pk of shard T, or nil if there is none or it has
-- expired (then it is removed, as the sweeper would).
live = function(T, desc, pk)
  local h = load(T .. ":r:" .. pk)
  if h and desc.ttl > 0 and expired(h) then
    remove(T, desc, pk, h)
    return nil
  end
  return h
end

-- Exact int64 addition of decimal strings (Lua has only doubles): each
-- number is split into a high part and its last nine digits.
local function parts(s)
  local neg = string.sub(s, 1, 1) == "-"
  if neg then s = string.sub(s, 2) end
  local lo = tonumber(string.sub(s, -9))
  local hi = 0
  if #s > 9 then hi = tonumber(string.sub(s, 1, #s - 9)) end
  if neg then return -hi, -lo end
  return hi, lo
end

local MAX_INT = "9223372036854775807"
local MIN_INT = "-9223372036854775808"

-- add returns a + b, or nil if the sum overflows int64.
local function add(a, b)
  local ah, al = parts(a)
  local bh, bl = parts(b)
  local hi, lo = ah + bh, al + bl
  if lo >= 1e9 then lo = lo - 1e9; hi = hi + 1 end
  if lo <= -1e9 then lo = lo + 1e9; hi = hi - 1 end
  if hi > 0 and lo < 0 then lo = lo + 1e9; hi = hi - 1 end
  if hi < 0 and lo > 0 then lo = lo - 1e9; hi = hi + 1 end
  local s
  if hi == 0 then
    s = string.format("%d", lo)
  else
    local sign = ""
    if hi < 0 then sign = "-" end
    s = sign .. string.format("%d", math.abs(hi)) .. string.format("%09d", math.abs(lo))
  end
  if less(enc_int(MAX_INT), enc_int(s)) or less(enc_int(s), enc_int(MIN_INT)) then return nil end
  return s
end

-- greater reports whether value a is greater than value b of the kind
-- (i: int or time, f: float, s: string, b: bool).
local function greater(kind, a, b)
  if kind == "i" then return less(enc_int(b), enc_int(a)) end
  if kind == "f" then return tonumber(a) > tonumber(b) end
  return less(b, a)
end

local function encode_list(list)
  if #list == 0 then return "[]" end
  return cjson.encode(list)
end

-- change applies one change to field f of record h (sets and dels collect
-- the difference from the stored record). It returns an error message, or
-- nil.
local function change(h, sets, dels, op, f, kind, v)
  local cur = h[f]
  local next = cur
  if op == "s" then
    next = v
  elseif op == "d" then
    next = nil
  elseif op == "i" then
    next = add(cur or "0", v)
    if not next then return "overflow:" .. f end
  elseif op == "m" then
    if cur == nil or greater(kind, v, cur) then next = v end
  elseif op == "a" or op == "r" then
    if cur == nil and op == "r" then return nil end
    local have = cjson.decode(cur or "[]")
    local elems = cjson.decode(v)
    local seen, out = {}, {}
    if op == "r" then
      for _, e in ipairs(elems) do seen[e] = true end
      elems = {}
    end
    for _, list in ipairs({have, elems}) do
      for _, e in ipairs(list) do
        if not seen[e] then
          seen[e] = true
          out[#out + 1] = e
        end
      end
    end
    next = encode_list(out)
  else
    return "unknown change " .. tostring(op)
  end
  h[f] = next
  if next == nil then
    sets[f] = nil
    dels[#dels + 1] = f
  else
    sets[f] = next
  end
  return nil
end

-- skip returns the position in member m just after the component that
-- starts at i.
local function skip(m, i)
  local t = string.byte(m, i)
  if t == 1 then return i + 1 end
  if t == 16 then return i + 2 end
  if t == 32 then return i + 2 + math.abs(string.byte(m, i + 1) - 128) end
  if t == 48 then return i + 9 end
  if t == 64 then return string.find(m, "\0", i + 1, true) + 1 end
  error("strata: malformed index entry")
end
