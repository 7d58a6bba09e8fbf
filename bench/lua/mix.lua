-- 80% reads, 20% writes, drawn per request:
--   40% GET /todos/{id}          (random own todo)
--   30% GET /todos?limit=20      (first page)
--   10% GET /todos?q=<word>      (search; BENCH_SEARCH_PATH)
--   10% POST /todos
--   10% PATCH /todos/{id}        (random own todo, no If-Match)
-- bench/pgbench/ runs the same mix with -f get.sql@40 -f first_page.sql@30
-- -f search.sql@10 -f create.sql@10 -f patch.sql@10.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local search_path = os.getenv("BENCH_SEARCH_PATH")

function request()
  local r = math.random()
  if r < 0.4 then
    return wrk.format("GET", prefix .. "/todos/" .. random_id(), get_headers)
  elseif r < 0.7 then
    return wrk.format("GET", prefix .. "/todos?limit=20", get_headers)
  elseif r < 0.8 then
    return wrk.format("GET", search_path, get_headers)
  elseif r < 0.9 then
    return wrk.format("POST", prefix .. "/todos", json_headers, new_todo_body())
  end
  return wrk.format("PATCH", prefix .. "/todos/" .. random_id(), json_headers, patch_body())
end
