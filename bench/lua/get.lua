-- GET /todos/{id} for a random one of the bench user's todos.
-- wrk -t2 -c32 -d10s -s bench/lua/get.lua http://127.0.0.1:18080
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function request()
  return wrk.format("GET", prefix .. "/todos/" .. random_id(), get_headers)
end
