-- scripts/bench.lua - the wrk script of scripts/bench.
--
--   wrk ... -s scripts/bench.lua URL -- MODE RANGE [TOKEN]
--
-- MODE is "send" (POST {"phone": P}, expects 201; with IDFILE the ids of
-- the answers are written there), "check" (POST {"phone": P, "code":
-- "000000"}, expects 200), "checkid" (POST {"id": I, "code": "000000"} for
-- the ids in IDFILE, expects 200) or "ceiling" (the send body, expects 200,
-- for tests/bare_http).
--
--   wrk ... -s scripts/bench.lua URL -- MODE RANGE TOKEN [IDFILE [BLOCK
--       [OFFSET]]]
-- P runs through RANGE numbers of block BLOCK (0-9, default 0):
-- +14155B00000, +14155B00001, ... and wraps, one counter per wrk thread
-- (threads start at different offsets, OFFSET numbers in, default 0: a
-- stage that reuses a block in each round starts where the last left
-- off).  Every request is built here, so
-- the ceiling pays the same client cost as the real runs.
--
-- MODE "spread" is "send" to numbers spread so that no limit of SPEC's
-- defaults trips: +1650 NXX L XXX with the range (the first 8 digits,
-- +1650NXXL: 8,000 of them) turning fastest, each number once per BLOCK
-- (XXX = BLOCK * 100 + the lap).  MODE "spreadip" adds a "client_ip"
-- 10.x.y.z of its own per send (BLOCK in its high bits), so that
-- sends_per_ip counts too.  MODE "spreadfree" is "spread" in +1212
-- (ranges of their own: sends_per_range counts every key's sends), for
-- the same stage without limits.
--
-- done() prints lines starting with "bench:" that scripts/bench reads:
--   bench: requests=N seconds=S rps=R p50_ms=A p99_ms=B errors=E
--   bench: status CODE=COUNT ...        HTTP statuses seen
--   bench: outcome NAME=COUNT ...       the "status" field of the answers
--   bench: sample HTTP_STATUS BODY      the first unexpected answer
-- errors counts unexpected HTTP statuses and socket errors.

local mode, range, token, idfile, block, offset
local counter = 0
local expect
local ids = {}
local nids = 0
local idout = nil

-- Per thread, read back by done() through thread:get().
statuses = {}
outcomes = {}
unexpected = 0
sample = nil

local threads = {}

function setup(thread)
	thread:set("thread_index", #threads)
	table.insert(threads, thread)
end

function init(args)
	mode = args[1] or "send"
	range = tonumber(args[2] or "100000")
	token = args[3] or ""
	idfile = args[4]
	if idfile == "" then idfile = nil end
	block = tonumber(args[5] or "0") or 0
	if block < 0 or block > 9 then block = 0 end
	offset = tonumber(args[6] or "0") or 0
	if offset < 0 then offset = 0 end
	if mode == "send" and idfile then
		idout = io.open(idfile, "w")
	end
	if mode == "checkid" and idfile then
		for l in io.lines(idfile) do
			nids = nids + 1
			ids[nids] = l
		end
	end
	if range < 1 then range = 1 end
	if range > 100000 then range = 100000 end
	if mode == "send" or string.sub(mode, 1, 6) == "spread" then
		expect = 201
	else
		expect = 200
	end
	-- Spread threads over the range so they do not ask for one number.
	counter = (offset + (thread_index or 0) * 7919) % range
	if string.sub(mode, 1, 6) == "spread" then
		counter = offset + (thread_index or 0) * 1000003
	end
end

local function phone()
	local p = string.format("+14155%d%05d", block, counter)
	counter = (counter + 1) % range
	return p
end

local function spread_body(npa, with_ip)
	local r = counter % 8000
	local lap = math.floor(counter / 8000)
	local ip = block * 1048576 + counter % 1048576
	local p = string.format("+1%d%03d%d%03d", npa, 200 + math.floor(r / 10),
	    r % 10, (block * 100 + lap) % 1000)
	counter = counter + 1
	if not with_ip then
		return '{"phone": "' .. p .. '"}'
	end
	return '{"phone": "' .. p .. '", "client_ip": "' ..
	    string.format("10.%d.%d.%d", math.floor(ip / 65536) % 256,
	    math.floor(ip / 256) % 256, ip % 256) .. '"}'
end

function request()
	local body
	if mode == "spreadfree" then
		body = spread_body(212, false)
	elseif mode == "spread" or mode == "spreadip" then
		body = spread_body(650, mode == "spreadip")
	elseif mode == "check" then
		body = '{"phone": "' .. phone() .. '", "code": "000000"}'
	elseif mode == "checkid" and nids > 0 then
		counter = counter % nids + 1
		body = '{"id": "' .. ids[counter] .. '", "code": "000000"}'
	else
		body = '{"phone": "' .. phone() .. '"}'
	end
	local headers = {
		["Content-Type"] = "application/json",
		["Authorization"] = "Bearer " .. token,
	}
	return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
	local k = tostring(status)
	statuses[k] = (statuses[k] or 0) + 1
	if status ~= expect then
		unexpected = unexpected + 1
		if sample == nil then
			sample = k .. " " .. string.sub(body or "", 1, 300)
		end
	end
	local o = body and string.match(body, '"status"%s*:%s*"([^"]*)"')
	if o then
		outcomes[o] = (outcomes[o] or 0) + 1
	end
	if idout and status == 201 then
		local id = string.match(body, '"id"%s*:%s*"([^"]*)"')
		if id then
			idout:write(id, "\n")
			nids = nids + 1
			if nids % 256 == 0 then idout:flush() end
		end
	end
end

local function add_into(total, t)
	for k, v in pairs(t or {}) do
		total[k] = (total[k] or 0) + v
	end
end

local function line(label, t)
	local keys = {}
	for k in pairs(t) do table.insert(keys, k) end
	table.sort(keys)
	local parts = {}
	for _, k in ipairs(keys) do
		table.insert(parts, k .. "=" .. t[k])
	end
	print("bench: " .. label .. " " .. table.concat(parts, " "))
end

function done(summary, latency, requests)
	local st, oc, bad, first = {}, {}, 0, nil
	for _, t in ipairs(threads) do
		add_into(st, t:get("statuses"))
		add_into(oc, t:get("outcomes"))
		bad = bad + (t:get("unexpected") or 0)
		first = first or t:get("sample")
	end
	local e = summary.errors
	local sock = e.connect + e.read + e.write + e.timeout
	local secs = summary.duration / 1e6
	print(string.format(
	    "bench: requests=%d seconds=%.3f rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d",
	    summary.requests, secs, summary.requests / secs,
	    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
	    bad + sock))
	line("status", st)
	line("outcome", oc)
	if sock > 0 then
		print(string.format(
		    "bench: socket connect=%d read=%d write=%d timeout=%d",
		    e.connect, e.read, e.write, e.timeout))
	end
	if first then
		print("bench: sample " .. first)
	end
end
