-- wrk script for workload (b): set attribute x of one session to a small JSON value.
-- Env: BENCH_METHOD (PUT for sessiond's session API, POST for the Tomcat JSP).
-- The cookie comes in with wrk -H "Cookie: ...".
wrk.method = os.getenv("BENCH_METHOD") or "PUT"
wrk.body = '{"user":"alice","cart":[1,2,3],"n":42}'
wrk.headers["Content-Type"] = "application/json"
