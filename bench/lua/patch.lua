-- PATCH /todos/{id} of a random own todo, without If-Match:
-- {"completed": <30% true>, "priority": 0-5}.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function request()
  return wrk.format("PATCH", prefix .. "/todos/" .. random_id(), json_headers, patch_body())
end
