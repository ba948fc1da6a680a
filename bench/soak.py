#!/usr/bin/env python3
"""The soak of scripts/soak: mixed traffic on a running local server at a steady rate, with the
server's RSS, open file descriptors, p99 latency and errors sampled every 10 s (stdlib only).

    soak.py --base URL --state FILE --server-pid PID --minutes M [--rate R] [--workers W]
            [--capacity-seconds S] [--out FILE]

FILE is the state `bench/setup.py canopy` wrote (the tenants, their sites). The traffic, per 100
operations, in a fixed shuffled order (bench/README.md, "Soak"):
- 85 reads: `GET /api/sites/{id}/config` of a random tenant with its non-admin dev token;
- 8 admin writes: `PUT /api/sites/{id}/navigation` with `If-Match` (one writer per tenant at a
  time, so a 412 is an error), a label changed each time;
- 5 feedback: `POST /api/feedback` about the tenant's site, from a rotating pool of accounts per
  tenant (each account stays far under the feedback rate limits);
- 2 lifecycle: installs of new tenants (`POST /dev/install`) and signed uninstalls of them
  (`POST /lifecycle/uninstalled`, RS256 with the committed dev install key), alternately.

Without --rate it first measures the capacity: every worker in a closed loop of the same mix for
--capacity-seconds (after 3 s unmeasured); the soak then runs at half of it. Every answer other
than the expected one, and every transport error, is an error. Latency is per operation, send to
end of answer (a write's first read of its ETag not included). Exit status 1 when a pass
criterion fails (printed at the end): no errors; the rate held (≥ 90 % of the target in each
window after warm-up); RSS and open descriptors grow at most 10 % after warm-up (a fall is reported, not failed: a leak grows) (the mean of the
last window against the mean of the first window after warm-up); the p99 of each window within
2x of the first window's. The warm-up and the window are the first minute (a third of the run
when it is shorter than 3 minutes).
"""

import argparse
import collections
import itertools
import json
import os
import queue
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402 (the bench's /proc helpers)
import setup as bench  # noqa: E402 (the bench's HTTP, token and tenant helpers)

MIX = {"read": 85, "write": 8, "feedback": 5, "lifecycle": 2}
SAMPLE_SECS = 10
# Dev context tokens live 1 h: minted again well before.
TOKEN_REFRESH_SECS = 45 * 60
DEV_KID = "canopy-dev-install-key"
DEV_KEY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dev", "install-key.pem")
UNINSTALLED_PATH = "/lifecycle/uninstalled"
# Feedback rate limits per account and tenant (shared/src/domain/feedback): 10 a minute, 100 a day.
FEEDBACK_PER_ACCOUNT_MINUTE = 5
FEEDBACK_PER_ACCOUNT_RUN = 80


class Traffic:
    """The operations, their tokens and the state they keep (ETags, lifecycle tenants)."""

    def __init__(self, base, tenants, accounts, run_id):
        self.base, self.tenants, self.accounts, self.run_id = base, tenants, accounts, run_id
        _, descriptor, _ = bench.request(base, "GET", "/atlassian-connect.json")
        self.app_key, self.app_base = descriptor["key"], descriptor["baseUrl"].rstrip("/")
        self.signer = bench.Rs256Signer("openssl", key=DEV_KEY, kid=DEV_KID)
        self.tokens, self.tokens_lock = {}, threading.Lock()
        self.etags = {}
        self.tenant_locks = {t["clientKey"]: threading.Lock() for t in tenants}
        self.counter = itertools.count()
        self.feedback_counter = itertools.count()
        self.lifecycle_lock = threading.Lock()
        self.installed = collections.deque()
        self.lifecycle_next = itertools.count()

    def token(self, client_key, who):
        """`who`: "user" (non-admin), "admin", or an accountId."""
        key = (client_key, who)
        with self.tokens_lock:
            cached = self.tokens.get(key)
        if cached and time.monotonic() - cached[1] < TOKEN_REFRESH_SECS:
            return cached[0]
        body = {"clientKey": client_key}
        body.update({"admin": who == "admin"} if who in ("user", "admin") else {"accountId": who})
        _, minted, _ = bench.request(self.base, "POST", "/dev/token", body=body)
        with self.tokens_lock:
            self.tokens[key] = (minted["contextJwt"], time.monotonic())
        return minted["contextJwt"]

    def timed(self, method, path, token=None, body=None, expect=(200,), headers=None, answer_headers=None):
        t0 = time.perf_counter()
        status, doc, raw = bench.request(self.base, method, path, token, body, expect=None, headers=headers,
                                         answer_headers=answer_headers)
        latency = time.perf_counter() - t0
        if status not in expect:
            raise bench.SetupError(f"{method} {path} answered {status}: {raw[:200]!r}")
        return latency, doc

    def read(self, rng):
        t = rng.choice(self.tenants)
        return self.timed("GET", t["path"], self.token(t["clientKey"], "user"))[0]

    def write(self, rng):
        t = rng.choice(self.tenants)
        admin = self.token(t["clientKey"], "admin")
        with self.tenant_locks[t["clientKey"]]:
            if t["clientKey"] not in self.etags:
                answer = {}
                bench.request(self.base, "GET", t["writePath"], admin, answer_headers=answer)
                self.etags[t["clientKey"]] = answer["etag"]
            body = bench.canopy_navigation(t["clientKey"])
            body["items"][0]["label"] = f"Home {next(self.counter):09d}"
            answer = {}
            latency, _ = self.timed("PUT", t["writePath"], admin, body, headers={"If-Match": self.etags[t["clientKey"]]},
                                    answer_headers=answer)
            self.etags[t["clientKey"]] = answer["etag"]
        return latency

    def feedback(self, rng):
        # Its own count: shared with the writes, the rotation skewed and one account of one tenant
        # reached the per-user limit (10 a minute) in a 10-minute run.
        n = next(self.feedback_counter)
        t = self.tenants[n % len(self.tenants)]
        account = f"557058:soak-{self.run_id}-{(n // len(self.tenants)) % self.accounts}"
        body = {"siteId": t["siteId"], "rating": 1 + n % 5, "text": f"Soak feedback {n}"}
        return self.timed("POST", "/api/feedback", self.token(t["clientKey"], account), body, expect=(201,))[0]

    def lifecycle(self, rng):
        """Installs a new tenant, or uninstalls the oldest one installed here (alternately)."""
        with self.lifecycle_lock:
            install = len(self.installed) < 2 or next(self.lifecycle_next) % 2 == 0
            client_key = f"soak-{self.run_id}-{next(self.counter):07d}" if install else self.installed.popleft()
        if install:
            latency, _ = self.timed("POST", "/dev/install", body={"clientKey": client_key})
            with self.lifecycle_lock:
                self.installed.append(client_key)
            return latency
        now = int(time.time())
        jwt = self.signer.sign({
            "iss": client_key, "sub": "557058:canopy-dev-admin", "aud": [self.app_base],
            "qsh": bench.qsh("POST", UNINSTALLED_PATH), "iat": now, "exp": now + 180,
            "context": {"delivery": f"soak-{next(self.counter)}"}})
        body = {"key": self.app_key, "clientKey": client_key, "eventType": "uninstalled"}
        return self.timed("POST", UNINSTALLED_PATH, jwt, body, expect=(200, 204))[0]


class Recorder:
    """(time, kind, latency s or None for an error, error text) per operation."""

    def __init__(self):
        self.lock, self.records, self.errors = threading.Lock(), [], []

    def add(self, kind, latency, error=None):
        with self.lock:
            self.records.append((time.monotonic(), kind, latency))
            if error is not None and len(self.errors) < 20:
                self.errors.append(f"{kind}: {error}")

    def take(self):
        with self.lock:
            out, self.records = self.records, []
        return out


def kinds(seed):
    pattern = [k for k, n in MIX.items() for _ in range(n)]
    random.Random(seed).shuffle(pattern)
    return itertools.cycle(pattern)


def run_op(traffic, recorder, kind, rng):
    try:
        recorder.add(kind, getattr(traffic, kind)(rng))
    except Exception as e:  # every failure is counted, none stops the soak
        recorder.add(kind, None, f"{type(e).__name__}: {e}")


def capacity(traffic, workers, seconds):
    """Operations/s of the mix with every worker in a closed loop (after 3 s unmeasured)."""
    stop, recorder, order, order_lock = threading.Event(), Recorder(), kinds(1), threading.Lock()

    def loop(i):
        rng = random.Random(1000 + i)
        while not stop.is_set():
            with order_lock:
                kind = next(order)
            run_op(traffic, recorder, kind, rng)

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(workers)]
    for t in threads:
        t.start()
    time.sleep(3)
    recorder.take()
    t0 = time.monotonic()
    time.sleep(seconds)
    done = recorder.take()
    elapsed = time.monotonic() - t0
    stop.set()
    for t in threads:
        t.join()
    errors = [r for r in done if r[2] is None]
    return len(done) / elapsed, len(errors), recorder.errors


def p99(latencies):
    if not latencies:
        return None
    ordered = sorted(latencies)
    return ordered[max(0, -(-len(ordered) * 99 // 100) - 1)] * 1000  # nearest rank, ms


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def soak(traffic, args, rate):
    """Paced traffic at `rate` for args.minutes; answers the samples."""
    total = args.minutes * 60
    tickets, stop, recorder = queue.Queue(), threading.Event(), Recorder()

    def worker(i):
        rng = random.Random(i)
        while True:
            kind = tickets.get()
            if kind is None:
                return
            run_op(traffic, recorder, kind, rng)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.workers)]
    for t in threads:
        t.start()

    def dispatch():
        order, start = kinds(2), time.monotonic()
        for n in itertools.count():
            due = start + n / rate
            if due - start >= total or stop.is_set():
                return
            time.sleep(max(0.0, due - time.monotonic()))
            tickets.put(next(order))

    dispatcher = threading.Thread(target=dispatch, daemon=True)
    samples, t0 = [], time.monotonic()
    ticks0 = (measure.read_stat(args.server_pid) or (0, 0, ""))[1]
    dispatcher.start()
    for n in range(1, int(total // SAMPLE_SECS) + 1):
        time.sleep(max(0.0, t0 + n * SAMPLE_SECS - time.monotonic()))
        records = recorder.take()
        ticks = (measure.read_stat(args.server_pid) or (0, ticks0, ""))[1]
        ok = [r for r in records if r[2] is not None]
        sample = {
            "t": n * SAMPLE_SECS, "ops": len(records), "rate": round(len(records) / SAMPLE_SECS, 1),
            "errors": len(records) - len(ok), "backlog": tickets.qsize(),
            "latencies": {k: [round(r[2] * 1000, 3) for r in ok if r[1] == k] for k in MIX},
            "rssMiB": round(measure.tree_rss_kib(args.server_pid) / 1024, 1), "fds": fd_count(args.server_pid),
            "serverCores": round((ticks - ticks0) / measure.CLK_TCK / SAMPLE_SECS, 2),
        }
        ticks0 = ticks
        all_ms = [v for k in MIX for v in sample["latencies"][k]]
        sample["p99Ms"], sample["readP99Ms"] = p99([v / 1000 for v in all_ms]), p99(
            [v / 1000 for v in sample["latencies"]["read"]])
        samples.append(sample)
        print(f"  {sample['t']:5d} s  {sample['rate']:8.1f} ops/s  p99 {fmt_ms(sample['p99Ms'])} (reads "
              f"{fmt_ms(sample['readP99Ms'])})  errors {sample['errors']}  RSS {sample['rssMiB']:.1f} MiB  "
              f"fds {sample['fds']}  server {sample['serverCores']:.2f} cores  backlog {sample['backlog']}", flush=True)
    stop.set()
    dispatcher.join()
    for _ in threads:
        tickets.put(None)
    for t in threads:
        t.join(timeout=30)
    return samples, recorder.errors


def fmt_ms(v):
    return "-" if v is None else f"{v:7.2f} ms"


def verdict(samples, rate, window_s):
    """The pass criteria over the samples: a list of (criterion, passed, detail)."""
    per_window = max(1, window_s // SAMPLE_SECS)
    windows = [samples[i:i + per_window] for i in range(0, len(samples), per_window)]
    windows = [w for w in windows if len(w) == per_window]
    first, after = windows[0], windows[1:]
    checks = []
    errors = sum(s["errors"] for s in samples)
    checks.append(("no errors", errors == 0, f"{errors} errors in {sum(s['ops'] for s in samples)} operations"))
    if not after:
        checks.append(("a window after warm-up", False, "the run is too short to have one"))
        return checks
    held = [sum(s["ops"] for s in w) / (len(w) * SAMPLE_SECS) for w in after]
    checks.append(("rate held", min(held) >= 0.9 * rate,
                   f"lowest window {min(held):.1f} ops/s against {rate:.1f} (>= 90 %)"))
    for key, label in (("rssMiB", "RSS"), ("fds", "open descriptors")):
        ref = sum(s[key] for s in after[0]) / len(after[0])
        end = sum(s[key] for s in after[-1]) / len(after[-1])
        drift = (end - ref) / ref if ref else float("inf")
        values = [s[key] for w in after for s in w]
        # A leak grows: a fall (pooled connections to DynamoDB Local closing after the capacity
        # run, memory given back) is reported, never a failure.
        checks.append((f"{label} flat (no growth over 10 %)", drift <= 0.10,
                       f"{ref:.1f} after warm-up, {end:.1f} at the end ({drift:+.1%}; growth at most 10 %); "
                       f"range {min(values)}–{max(values)}"))

    def window_p99(w):
        return p99([v / 1000 for s in w for k in MIX for v in s["latencies"][k]])

    ref = window_p99(first)
    worst = max(window_p99(w) for w in after)
    checks.append(("p99 within 2x of the first window", worst <= 2 * ref,
                   f"first {ref:.2f} ms, worst later window {worst:.2f} ms ({worst / ref if ref else float('inf'):.2f}x)"))
    return checks


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, help="operations/s; default half the measured capacity")
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--capacity-seconds", type=int, default=20)
    parser.add_argument("--out", help="JSON of the whole run (samples with every latency)")
    args = parser.parse_args()
    total = int(args.minutes * 60)
    if total < 3 * SAMPLE_SECS or args.workers < 1 or (args.rate is not None and args.rate <= 0):
        parser.error("--minutes must be at least 0.5, --workers and --rate positive")
    window = 60 if total >= 180 else max(SAMPLE_SECS, (total // 3) // SAMPLE_SECS * SAMPLE_SECS)
    with open(args.state) as f:
        state = json.load(f)
    run_id = f"{int(time.time()) % 100000:05d}"

    def accounts_for(rate):
        feedback = rate * MIX["feedback"] / sum(MIX.values())
        need = max(feedback * 60 / FEEDBACK_PER_ACCOUNT_MINUTE, feedback * total / FEEDBACK_PER_ACCOUNT_RUN)
        return max(1, -(-int(need) // len(state["tenants"])) + 1)

    result = {"startedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "minutes": args.minutes,
              "workers": args.workers, "tenants": len(state["tenants"]), "mix": MIX, "windowS": window}
    if args.rate is None:
        probe = Traffic(args.base, state["tenants"], 20, f"{run_id}c")
        cap, cap_errors, first = capacity(probe, args.workers, args.capacity_seconds)
        result["capacity"] = {"opsPerS": round(cap, 1), "seconds": args.capacity_seconds, "errors": cap_errors}
        print(f"capacity: {cap:.1f} ops/s of the mix with {args.workers} workers in a closed loop "
              f"({args.capacity_seconds} s, {cap_errors} errors{': ' + first[0] if first else ''})", flush=True)
        rate = cap / 2
    else:
        rate, cap_errors = args.rate, 0
    result["rate"] = round(rate, 1)
    traffic = Traffic(args.base, state["tenants"], accounts_for(rate), run_id)
    print(f"soak: {rate:.1f} ops/s for {args.minutes:g} min over {len(state['tenants'])} tenants "
          f"({', '.join(f'{n} % {k}' for k, n in MIX.items())}), {args.workers} workers; warm-up and window "
          f"{window} s; a sample every {SAMPLE_SECS} s", flush=True)
    samples, errors = soak(traffic, args, rate)
    checks = verdict(samples, rate, window)
    if cap_errors:
        checks.insert(0, ("no errors while measuring capacity", False, f"{cap_errors} errors"))
    result.update({"samples": samples, "firstErrors": errors,
                   "checks": [{"criterion": c, "passed": p, "detail": d} for c, p, d in checks]})
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f)
    reads = sorted(v for s in samples for v in s["latencies"]["read"])
    print(f"reads: {len(reads)}, p50 {reads[len(reads) // 2] if reads else 0:.2f} ms, p99 "
          f"{p99([v / 1000 for v in reads]) or 0:.2f} ms; lifecycle tenants left installed: {len(traffic.installed)}")
    for line in errors[:5]:
        print(f"  error: {line}")
    for criterion, passed, detail in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {criterion}: {detail}")
    passed = all(p for _, p, _ in checks)
    print("soak: PASSED" if passed else "soak: FAILED")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
