-- wrk script: POSTs the JSON submission in $HAINEKO_BENCH_BODY to /submit.
local f = assert(io.open(os.getenv("HAINEKO_BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
