-- POST /todos with a random realistic body (see new_todo_body in common.lua).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function request()
  return wrk.format("POST", prefix .. "/todos", json_headers, new_todo_body())
end
