#!/usr/bin/env python3
"""Replication-lag driver (system-agnostic). Copied from the Tomcat anchors' scripts/replag.py;
added --warmup N (trials run first and left out of the figures).

For each trial: write value N through SET_URL (template containing {v}) on node 1, then poll
GET_URL on node 2 as fast as possible (keep-alive connection) until the body (stripped) == N.

Cookies: the first SET response's Set-Cookie headers seed a cookie jar that is sent on every
SET and GET request (so both nodes see the same session). By default the jar is updated from
SET responses only (use --update-from-get to also accept cookies from GET responses).

Reports, per trial, lag measured from (a) the moment the SET request was sent and
(b) the moment the SET response was fully received (write acknowledged), to the moment the
first GET response with the new value was received. Times in ms.

Example (Tomcat):
  replag.py --set 'http://127.0.0.42:8080/myapp/set.jsp?v={v}' --get 'http://127.0.0.43:8080/myapp/get.jsp'
Example (a JSON attribute API that sets by PUT and reads the raw value back):
  replag.py --set 'http://127.0.0.42:8080/myapp/.session/attributes/v' --set-method PUT --set-body '{v}' \
            --get 'http://127.0.0.43:8080/myapp/.session/attributes/v'
Resolution: one GET round trip of this Python client (~1-2 ms); finer lag needs the servers' own
timestamps.
"""
import argparse, http.client, json, random, socket, statistics, sys, time
from urllib.parse import urlsplit

class Conn:
    def __init__(self, url):
        u = urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.c = None
    def get(self, path, cookies, method='GET', body=None):
        hdrs = {'Content-Type': 'application/json'} if body is not None else {}
        if cookies:
            hdrs['Cookie'] = '; '.join(f'{k}={v}' for k, v in cookies.items())
        for attempt in range(2):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection(self.host, self.port, timeout=10)
                    self.c.connect()
                    self.c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.c.request(method, path, body=body, headers=hdrs)
                r = self.c.getresponse()
                body = r.read()
                return r.status, r.getheaders(), body
            except (http.client.HTTPException, ConnectionError, OSError):
                if self.c: self.c.close()
                self.c = None
                if attempt: raise

def pathq(url):
    u = urlsplit(url)
    return u.path + ('?' + u.query if u.query else '')

def absorb(jar, headers):
    for k, v in headers:
        if k.lower() == 'set-cookie':
            nv = v.split(';', 1)[0]
            if '=' in nv:
                n, val = nv.split('=', 1)
                jar[n.strip()] = val.strip()

def pct(xs, p):
    xs = sorted(xs)
    if not xs: return float('nan')
    k = (len(xs) - 1) * p / 100.0
    f = int(k); c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--set', required=True, help='URL template with {v}, e.g. http://A/set.jsp?v={v}')
    ap.add_argument('--get', required=True, help='URL returning the current value as body')
    ap.add_argument('--trials', type=int, default=200)
    ap.add_argument('--warmup', type=int, default=0, help='trials run first and not counted')
    ap.add_argument('--timeout', type=float, default=10.0, help='per-trial give-up (s)')
    ap.add_argument('--pause', type=float, default=0.02, help='sleep between trials (s)')
    ap.add_argument('--update-from-get', action='store_true')
    ap.add_argument('--set-method', default='GET', help='GET (Tomcat JSP) or PUT/POST/PATCH')
    ap.add_argument('--set-body', help='body template with {v}, e.g. {v} for a JSON number')
    ap.add_argument('--json', help='write per-trial raw results here')
    a = ap.parse_args()

    cs, cg = Conn(a.set), Conn(a.get)
    jar = {}
    base = random.randint(10**6, 10**7)
    # init: create the session / state on node 1, then wait until node 2 sees it
    def put(v):
        body = a.set_body.format(v=v).encode() if a.set_body else None
        return cs.get(pathq(a.set.format(v=v)), jar, a.set_method, body)
    st, h, b = put(base); absorb(jar, h)
    t_end = time.time() + 30
    while time.time() < t_end:
        st, h, b = cg.get(pathq(a.get), jar)
        if a.update_from_get: absorb(jar, h)
        if b.decode(errors='replace').strip() == str(base): break
        time.sleep(0.01)
    else:
        print('init value never visible on GET node', file=sys.stderr); sys.exit(2)
    print(f'cookies: {jar}', file=sys.stderr)

    res = []
    for i in range(a.warmup + a.trials):
        v = base + i + 1
        t0 = time.perf_counter()
        st, h, b = put(v)
        t1 = time.perf_counter()
        absorb(jar, h)
        polls, ok = 0, False
        while time.perf_counter() - t0 < a.timeout:
            st, h, b = cg.get(pathq(a.get), jar)
            polls += 1
            if a.update_from_get: absorb(jar, h)
            if b.decode(errors='replace').strip() == str(v):
                ok = True; break
        t2 = time.perf_counter()
        res.append(dict(trial=i, ok=ok, polls=polls, set_rtt_ms=(t1-t0)*1e3,
                        lag_from_send_ms=(t2-t0)*1e3, lag_after_ack_ms=(t2-t1)*1e3))
        time.sleep(a.pause)
    res = res[a.warmup:]
    good = [r for r in res if r['ok']]
    out = {'trials': len(res), 'ok': len(good)}
    for key in ('lag_after_ack_ms', 'lag_from_send_ms', 'set_rtt_ms', 'polls'):
        xs = [r[key] for r in good]
        out[key] = {'p50': round(pct(xs, 50), 3), 'p99': round(pct(xs, 99), 3),
                    'max': round(max(xs), 3) if xs else None, 'mean': round(statistics.mean(xs), 3) if xs else None}
    first_poll_hit = sum(1 for r in good if r['polls'] == 1)
    out['first_poll_already_visible'] = first_poll_hit
    print(json.dumps(out, indent=1))
    if a.json:
        with open(a.json, 'w') as f: json.dump({'summary': out, 'args': vars(a), 'raw': res}, f, indent=1)

if __name__ == '__main__':
    main()
