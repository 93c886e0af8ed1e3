-- Prelude shared by every script; prepended at load time after the tables generated from the
-- pure model (engine/scripts.py): TRANSITIONS, OPEN, CALLS_KEPT (RESERVATION_* for bookings).
-- KEYS[1]  q:{clinic}:meta -- routes the script to the clinic's shard; every other key the
--          scripts touch is built from ARGV[1] and carries the same hash tag.
-- ARGV[1]  key prefix, q:{clinic}:
-- ARGV[2]  now, integer ms since the epoch
-- ARGV[3]  the clinic's local service day, YYYY-MM-DD
-- ARGV[4]  approximate cap of the event stream
-- ARGV[5]  idempotency key, '' for none
-- ARGV[6]  idempotency record TTL, seconds
-- ARGV[7]  request fingerprint: a retry with the same key must send the same request
-- ARGV[8..] the script's own arguments, listed in its header
-- Returns {epoch, answer}: the clinic's epoch ('' when it is not loaded) and the answer as JSON,
--   {"prev": link, "events": [...], "result": {...}} or {"error": code, "message": ..., ...}.
--   "prev" is the link (SHA-1 of the body) of the event decided just before the first event here:
--   the journal commits the events only if that is its own last entry (the stale-Redis fence).

local P = ARGV[1]
local NOW = tonumber(ARGV[2])
local DAY = ARGV[3]
local STREAM_MAX = tonumber(ARGV[4])
local IDEM = ARGV[5]
local IDEM_TTL = tonumber(ARGV[6])
local FINGERPRINT = ARGV[7]
local META = KEYS[1]
local EVENTS = {}
local PREV_LINK = nil

local function fail(code, message)
  error({refusal = true, code = code, message = message})
end

local function jget(hash, id)
  local raw = redis.call('HGET', P .. hash, id)
  if raw then return cjson.decode(raw) end
  return nil
end

local function jput(hash, id, value)
  redis.call('HSET', P .. hash, id, cjson.encode(value))
end

-- cjson writes an empty table as {}, which is not a list: leave empty lists out instead.
local function list_or_nil(list)
  if list == nil or #list == 0 then return nil end
  return list
end

local function without(list, item)
  local out = {}
  for _, x in ipairs(list or {}) do
    if x ~= item then out[#out + 1] = x end
  end
  return list_or_nil(out)
end

local function contains(list, item)
  for _, x in ipairs(list or {}) do
    if x == item then return true end
  end
  return false
end

local function split(csv)
  local out = {}
  for item in string.gmatch(csv, '[^,]+') do out[#out + 1] = item end
  return out
end

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

local function next_offset()
  return (tonumber(redis.call('HGET', META, 'offset')) or 0) + 1
end

local function emit(event)
  local offset = redis.call('HINCRBY', META, 'offset', 1)
  event.offset = offset
  event.at = NOW
  local raw = cjson.encode(event)
  local prev = redis.call('HGET', META, 'link') or ''
  if PREV_LINK == nil then PREV_LINK = prev end
  redis.call('HSET', META, 'link', redis.sha1hex(raw))
  -- The idempotency key and the link ride along so that a reconciler can journal an orphaned
  -- command whole, and in order.
  redis.call('XADD', P .. 'events', 'MAXLEN', '~', STREAM_MAX, offset .. '-0', 'e', raw, 'i', IDEM,
             'p', prev)
  EVENTS[#EVENTS + 1] = raw
  return offset
end

local function transition(state, action)
  local moves = TRANSITIONS[state]
  local target = moves and moves[action]
  if not target then fail('illegal_transition', 'a ' .. state .. ' ticket cannot ' .. action) end
  return target
end

local function queue_key(t)
  if t.slot_time then return P .. 'bk:' .. t.doctor end
  if (t.priority or '') ~= '' then return P .. 'wp:' .. t.service end
  return P .. 'wn:' .. t.service
end

local function index_ticket(t)
  redis.call('ZADD', queue_key(t), t.slot_time or t.arrival, t.id)
end

-- The patient's status link (a random capability from the edge) names the ticket publicly.
local function link_ticket(t, link)
  if link == '' then return end
  t.link = link
  redis.call('HSET', P .. 'links', link, t.id)
end

local function unindex_ticket(t)
  redis.call('ZREM', queue_key(t), t.id)
end

-- One ticket is one line on the screens (as model/state.py): a recall, or a call after a
-- transfer, replaces the ticket's line and moves it to the top.
local function push_call(t)
  local key = P .. 'calls'
  for _, raw in ipairs(redis.call('LRANGE', key, 0, -1)) do
    if cjson.decode(raw).ticket == t.id then redis.call('LREM', key, 0, raw) end
  end
  local call = {ticket = t.id, number = t.number, cabinet = t.cabinet or '', at = NOW,
                recall = t.recalls or 0}
  redis.call('LPUSH', key, cjson.encode(call))
  redis.call('LTRIM', key, 0, CALLS_KEPT - 1)
end

local function current_day()
  return redis.call('HGET', META, 'day') or ''
end

-- The day of a slot id ("ivanova.20261126.0815") as "2026-11-26".
local function slot_day(slot)
  local y, m, d = string.match(slot, '^[^.]*%.(%d%d%d%d)(%d%d)(%d%d)%.')
  return (y or '0000') .. '-' .. (m or '00') .. '-' .. (d or '00')
end

-- The bookings of the days before DAY leave the live state (the journal keeps them): Redis,
-- and every snapshot of it, holds the booking window's, not every day's since the clinic opened.
-- The pure model's forget_past_bookings (engine/model/state.py) does the same.
local function forget_past_bookings()
  local res = redis.call('HGETALL', P .. 'res')
  for i = 1, #res, 2 do
    if slot_day(cjson.decode(res[i + 1]).slot) < DAY then redis.call('HDEL', P .. 'res', res[i]) end
  end
  local slots = redis.call('HKEYS', P .. 'slots')
  for _, slot in ipairs(slots) do
    if slot_day(slot) < DAY then redis.call('HDEL', P .. 'slots', slot) end
  end
end

-- The event stream keeps yesterday's and today's events for screens to replay (an older offset
-- gets a snapshot): trimmed at each new day to the first offset of the day before.
local function trim_to_yesterday()
  local yesterday = redis.call('HGET', META, 'day_offset')
  if yesterday then redis.call('XTRIM', P .. 'events', 'MINID', yesterday .. '-0') end
  redis.call('HSET', META, 'day_offset', next_offset()) -- day_opened's own offset
end

-- A new local day: expire open tickets, restart numbering, clear the day's counters.
-- Days only move forward, so a worker whose clock lags past midnight changes nothing.
local function open_day()
  if DAY <= current_day() then return end
  local expired = {}
  for _, raw in ipairs(redis.call('HVALS', P .. 'tickets')) do
    local t = cjson.decode(raw)
    if OPEN[t.state] then
      expired[#expired + 1] = t.id
      if t.state == 'waiting' then unindex_ticket(t) end
    end
  end
  table.sort(expired)
  redis.call('DEL', P .. 'tickets', P .. 'links', P .. 'seq', P .. 'calls', P .. 'stats')
  for _, raw in ipairs(redis.call('HVALS', P .. 'doctors')) do
    local d = cjson.decode(raw)
    jput('doctors', d.id, {id = d.id, status = d.status, cabinet = d.cabinet,
                           services = list_or_nil(d.services), since = d.since,
                           version = d.version})
  end
  forget_past_bookings()
  trim_to_yesterday()
  redis.call('HSET', META, 'day', DAY)
  emit({kind = 'day_opened', day = DAY, expired = list_or_nil(expired)})
end

local function rates(service)
  return {
    served = tonumber(redis.call('HGET', P .. 'stats', service .. ':served')) or 0,
    seconds = tonumber(redis.call('HGET', P .. 'stats', service .. ':seconds')) or 0,
    on_duty = tonumber(redis.call('HGET', P .. 'dutyn', service)) or 0,
  }
end

-- Wrap a script's body: check the clinic is loaded, answer a retried request from its record,
-- run the body, and keep the answer for retries.
local function run(body)
  local epoch = redis.call('HGET', META, 'epoch')
  if not epoch then
    return {'', cjson.encode({error = 'not_loaded', message = 'clinic state is not loaded'})}
  end
  if IDEM ~= '' then
    local previous = redis.call('GET', P .. 'idem:' .. IDEM)
    if previous then
      local bar = string.find(previous, '|', 1, true)
      if string.sub(previous, 1, bar - 1) ~= FINGERPRINT then
        return {epoch, cjson.encode({error = 'idempotency_key_reused',
                message = 'this Idempotency-Key was used for a different request'})}
      end
      return {epoch, string.sub(previous, bar + 1)}
    end
  end
  local ok, result = pcall(body)
  local events = '"prev":' .. cjson.encode(PREV_LINK or '') .. ',"events":['
    .. table.concat(EVENTS, ',') .. ']'
  if not ok then
    if type(result) == 'table' and result.refusal then
      return {epoch, '{"error":' .. cjson.encode(result.code) .. ',"message":'
        .. cjson.encode(result.message) .. ',' .. events .. '}'}
    end
    error(result)
  end
  local answer = '{' .. events .. ',"result":' .. cjson.encode(result or {}) .. '}'
  if IDEM ~= '' then
    redis.call('SET', P .. 'idem:' .. IDEM, FINGERPRINT .. '|' .. answer, 'EX', IDEM_TTL)
  end
  return {epoch, answer}
end
