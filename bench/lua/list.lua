-- GET one fixed listing URL: BENCH_PATH (default: the first page,
-- /api/v1/todos?limit=20). bench/run.sh uses it for the first page,
-- search (q=), deep offset (offset=5000) and cursor (cursor=...) scenarios.
-- The request never changes, so wrk sends a pre-built one.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

wrk.method = "GET"
wrk.path = os.getenv("BENCH_PATH") or (prefix .. "/todos?limit=20")
