-- wrk script for bench/http: one job per request, users spread over 0..63.
local rounds = os.getenv("HTTP_ROUNDS") or "2000"
math.randomseed(12345)
request = function()
    return wrk.format("GET", "/job?u=" .. math.random(0, 63) .. "&n=" .. rounds)
end
