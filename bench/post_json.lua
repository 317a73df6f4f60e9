-- wrk script: POSTs the JSON in $HAINEKO_BENCH_BODY (to /submit or /v1/messages).
-- With $HAINEKO_BENCH_LIMIT, each wrk thread stops after that many answers and leaves a
-- file in $HAINEKO_BENCH_DONE_DIR; wrk itself runs for its whole -d, so the caller ends
-- it with SIGINT once every thread is done (and wrk then prints its figures).
local f = assert(io.open(os.getenv("HAINEKO_BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local limit = tonumber(os.getenv("HAINEKO_BENCH_LIMIT") or "")
local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("id", threads)
end

-- Defined only with a limit: a response() callback costs wrk time on every answer.
if limit then
   local answered = 0
   function response(status, headers, body)
      answered = answered + 1
      if answered == limit then
         local done = assert(io.open(os.getenv("HAINEKO_BENCH_DONE_DIR") .. "/" .. tostring(id), "w"))
         done:close()
         wrk.thread:stop()
      end
   end
end
