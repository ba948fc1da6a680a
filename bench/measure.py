#!/usr/bin/env python3
"""One measured load run against a running server, and the side-by-side report (stdlib only).

    measure.py run --name NAME --url URL --pairs FILE --server-pid PID --out FILE [options]
                   [--store-pid PID] [-- LOAD COMMAND ...]
    measure.py report --run NAME=FILE... [--throughput-target 20] [--p99-target 10]

`run`: waits (bounded) for a quiet machine, runs the load client once unmeasured (warm-up), then
once measured, and writes a JSON result. The client is wrk with bench/tokens.lua unless a load
command follows `--` (e.g. the write_load client); `{seconds}` in it becomes the run's duration.
Either way the client prints one `BENCH {json}` line. Measured:
- requests/s, latency percentiles and error counts from the client's `BENCH` line
  (per request, send to end of answer, closed loop);
- server: CPU (utime+stime of the server's process tree from /proc/<pid>/stat, over the measured
  window) and RSS (sum of VmRSS over the tree, sampled every 250 ms; max and end);
- store (--store-pid, e.g. DynamoDB Local): its CPU and RSS the same way, kept apart from the
  server's and from the other load;
- client: its own CPU (utime+stime from wait4's rusage) over the same window;
- other load: whole-machine busy CPU (/proc/stat) minus server, store, client and this script,
  with the busiest other processes by name, to flag runs disturbed by unrelated work.

`report`: runs are named `<server>/<workload>` (`canopy-embedded/read`, `ace/write`, `floor/read`,
...); one table per workload (median over rounds, one column per server) plus each Canopy
column's ratios against the `ace` column and the targets (reads), and its fractions of the
`floor` column (throughput, CPU per request; goal: half the floor's throughput). Exit status 1
if any run had a non-2xx answer (reads: non-200), a document not found as written, or a socket
error.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------------
# /proc

def read_stat(pid):
    """(ppid, utime+stime ticks, comm) of one process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[11]) + int(fields[12]), comm


def all_processes():
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = read_stat(int(name))
            if st:
                out[int(name)] = st
    return out


def tree(root, procs):
    children = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        if pid in procs:
            out.append(pid)
            stack.extend(children.get(pid, []))
    return out


def tree_ticks(root, procs=None):
    procs = procs or all_processes()
    return sum(procs[p][1] for p in tree(root, procs))


def tree_rss_kib(root):
    total = 0
    for pid in tree(root, all_processes()):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def machine_busy_ticks():
    """Busy ticks of all cores, host steal included (a VM's stolen time is lost to it too)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle


def steal_ticks():
    """Ticks the hypervisor gave to other guests while this one wanted to run."""
    with open("/proc/stat") as f:
        return int(f.readline().split()[8])


def self_ticks():
    t = os.times()
    return (t.user + t.system) * CLK_TCK


class Sampler(threading.Thread):
    """Every 250 ms: the server tree's RSS; every 500 ms: every process's CPU ticks, so that
    processes which start and end inside the window (compiler jobs) are still attributed."""

    def __init__(self, pid, procs0, store_pid=None, period=0.25):
        super().__init__(daemon=True)
        self.pid, self.store_pid, self.period, self.samples, self.store_samples = pid, store_pid, period, [], []
        self.last = {p: (ticks, comm) for p, (_, ticks, comm) in procs0.items()}
        self.first = {p: ticks for p, (ticks, _) in self.last.items()}
        self.stop = threading.Event()

    def scan(self):
        for pid, (_, ticks, comm) in all_processes().items():
            self.first.setdefault(pid, 0)  # born inside the window
            self.last[pid] = (ticks, comm)

    def run(self):
        n = 0
        while not self.stop.is_set():
            self.samples.append(tree_rss_kib(self.pid))
            if self.store_pid:
                self.store_samples.append(tree_rss_kib(self.store_pid))
            if n % 2 == 0:
                self.scan()
            n += 1
            self.stop.wait(self.period)

    def cpu_by_process(self):
        return {pid: (ticks - self.first.get(pid, 0), comm) for pid, (ticks, comm) in self.last.items()}


# ------------------------------------------------------------------------------------------------
# run

def wait_for_quiet(server_pids, seconds, max_cores):
    """Waits until a 2 s window has < max_cores of busy CPU outside the servers (idle now) and this
    script; gives up after `seconds`. Answers the last window's other load, in cores."""
    deadline = time.monotonic() + seconds

    def servers():
        procs = all_processes()
        return sum(tree_ticks(pid, procs) for pid in server_pids)

    while True:
        m0, s0, me0, t0 = machine_busy_ticks(), servers(), self_ticks(), time.monotonic()
        time.sleep(2)
        m1, s1, me1, t1 = machine_busy_ticks(), servers(), self_ticks(), time.monotonic()
        other = max(0.0, ((m1 - m0) - (s1 - s0) - (me1 - me0)) / CLK_TCK / (t1 - t0))
        if other < max_cores or time.monotonic() >= deadline:
            return round(other, 2), other < max_cores


def load_command(args, seconds):
    if args.load:
        return [part.replace("{seconds}", str(seconds)) for part in args.load]
    return ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
            "-s", args.lua, args.url]


def parse_bench(output):
    for line in output.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise RuntimeError(f"the load client printed no BENCH line:\n{output[-2000:]}")


def run_load(args, seconds, log):
    env = dict(os.environ, BENCH_PAIRS=args.pairs)
    command = load_command(args, seconds)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    output = proc.stdout.read()
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    log.write(f"$ {' '.join(command)}\n{output}\n")
    log.flush()
    if proc.returncode != 0:
        raise RuntimeError(f"{command[0]} exited with {proc.returncode}:\n{output[-2000:]}")
    return parse_bench(output), rusage, proc.pid


def errors_of(bench):
    sock = bench["socketErrors"]
    return bench["non200"] + sock["connect"] + sock["read"] + sock["write"] + sock["timeout"]


def run(args):
    result = {"name": args.name, "url": args.url, "connections": args.connections, "threads": args.threads,
              "warmupS": args.warmup, "durationS": args.duration, "startedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                            time.gmtime())}
    with open(args.pairs) as f:
        result["tenants"] = sum(1 for line in f if line.strip())
    measured_pids = [args.server_pid] + ([args.store_pid] if args.store_pid else [])
    other_before, quiet = wait_for_quiet(measured_pids, args.quiet_wait, args.quiet_max)
    result["otherCoresBefore"], result["quietBefore"] = other_before, quiet
    result["serverRssMiBIdle"] = round(tree_rss_kib(args.server_pid) / 1024, 1)
    with open(args.log, "a") as log:
        if args.warmup > 0:
            warm, _, _ = run_load(args, args.warmup, log)
            result["warmup"] = {"requests": warm["requests"], "errors": errors_of(warm),
                                "rps": round(warm["requests"] / (warm["durationUs"] / 1e6), 1)}

        procs0 = all_processes()
        sampler = Sampler(args.server_pid, procs0, args.store_pid)
        store0 = tree_ticks(args.store_pid, procs0) if args.store_pid else 0
        server0, machine0, me0, t0 = tree_ticks(args.server_pid, procs0), machine_busy_ticks(), self_ticks(), \
            time.monotonic()
        steal0 = steal_ticks()
        sampler.start()
        bench, rusage, client_pid = run_load(args, args.duration, log)
        t1, machine1, me1, steal1 = time.monotonic(), machine_busy_ticks(), self_ticks(), steal_ticks()
        procs1 = all_processes()
        server1 = tree_ticks(args.server_pid, procs1)
        store1 = tree_ticks(args.store_pid, procs1) if args.store_pid else 0
        sampler.stop.set()
        sampler.join()
        sampler.scan()

    window = t1 - t0
    seconds = bench["durationUs"] / 1e6
    server_cpu = (server1 - server0) / CLK_TCK
    client_cpu = rusage.ru_utime + rusage.ru_stime
    machine_cpu = (machine1 - machine0) / CLK_TCK
    me_cpu = (me1 - me0) / CLK_TCK
    steal_cpu = (steal1 - steal0) / CLK_TCK
    store_cpu = (store1 - store0) / CLK_TCK
    other_cpu = max(0.0, machine_cpu - server_cpu - store_cpu - client_cpu - me_cpu)
    server_pids = set()
    for pid in measured_pids:
        server_pids |= set(tree(pid, procs1)) | set(tree(pid, procs0))
    busiest = sorted(((ticks, comm, pid) for pid, (ticks, comm) in sampler.cpu_by_process().items()
                      if ticks > 0 and pid not in server_pids and pid not in (os.getpid(), client_pid)),
                     reverse=True)
    lat = bench["latencyUs"]
    result.update({
        "requests": bench["requests"],
        "measuredS": round(seconds, 3),
        "rps": round(bench["requests"] / seconds, 1),
        "bytesPerResponse": round(bench["bytes"] / max(1, bench["requests"])),
        "requestBodyBytes": round(bench["requestBodyBytes"] / max(1, bench["requests"]))
        if "requestBodyBytes" in bench else None,
        "verifyFailures": bench.get("verifyFailures", 0),
        "latencyMs": {k: round(v / 1000, 3) for k, v in lat.items()},
        "errors": errors_of(bench),
        "non200": bench["non200"],
        "non200ByStatus": bench["non200ByStatus"],
        "firstError": bench["firstError"],
        "socketErrors": bench["socketErrors"],
        "server": {
            "cpuCores": round(server_cpu / window, 2),
            "cpuMsPerRequest": round(server_cpu * 1000 / max(1, bench["requests"]), 4),
            "rssMiBMax": round(max(sampler.samples or [0]) / 1024, 1),
            "rssMiBEnd": round(tree_rss_kib(args.server_pid) / 1024, 1),
            "rssSamples": len(sampler.samples),
        },
        "store": None if not args.store_pid else {
            "cpuCores": round(store_cpu / window, 2),
            "cpuMsPerRequest": round(store_cpu * 1000 / max(1, bench["requests"]), 4),
            "rssMiBMax": round(max(sampler.store_samples or [0]) / 1024, 1),
        },
        "client": {
            "cpuCores": round(client_cpu / window, 2),
            "cpuMsPerRequest": round(client_cpu * 1000 / max(1, bench["requests"]), 4),
            "maxRssMiB": round(rusage.ru_maxrss / 1024, 1),
        },
        "machine": {
            "busyCores": round(machine_cpu / window, 2),
            "otherCores": round(other_cpu / window, 2),
            "stealCores": round(steal_cpu / window, 2),
            "busiestOther": [f"{comm}[{pid}] {t / CLK_TCK / window:.2f}" for t, comm, pid in busiest[:4]],
        },
    })
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"{args.name}: {result['rps']:.0f} req/s, p50 {result['latencyMs']['p50']} ms, "
          f"p99 {result['latencyMs']['p99']} ms, errors {result['errors']}, server {result['server']['cpuCores']} cores "
          f"/ RSS max {result['server']['rssMiBMax']} MiB, client {result['client']['cpuCores']} cores, "
          f"other load {result['machine']['otherCores']} cores", file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------------------------
# report

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits):
    if v is None:
        return "-"
    return f"{round(v):,}" if digits == 0 else f"{v:,.{digits}f}"


def rows_for(workload):
    body_rows = [("response bytes (incl. headers)", lambda r: r["bytesPerResponse"], 0)] if workload == "read" else [
        ("request body bytes", lambda r: r["requestBodyBytes"], 0),
        ("response body bytes", lambda r: r["bytesPerResponse"], 0),
    ]
    return [
        ("requests/s", lambda r: r["rps"], 0),
        ("successful requests/s", lambda r: max(0, r["requests"] - r["errors"]) / r["measuredS"], 0),
        ("latency p50, ms", lambda r: r["latencyMs"]["p50"], 2),
        ("latency p90, ms", lambda r: r["latencyMs"]["p90"], 2),
        ("latency p99, ms", lambda r: r["latencyMs"]["p99"], 2),
        ("latency p99.9, ms", lambda r: r["latencyMs"]["p999"], 2),
        ("latency max, ms", lambda r: r["latencyMs"]["max"], 1),
        ("requests measured", lambda r: r["requests"], 0),
        ("errors (non-2xx + socket)" if workload == "write" else "errors (non-200 + socket)",
         lambda r: r["errors"], 0),
        *body_rows,
        ("server CPU, cores", lambda r: r["server"]["cpuCores"], 2),
        ("server CPU-ms per request", lambda r: r["server"]["cpuMsPerRequest"], 3),
        ("server RSS idle before, MiB", lambda r: r["serverRssMiBIdle"], 1),
        ("server RSS max during load, MiB", lambda r: r["server"]["rssMiBMax"], 1),
        ("store (DynamoDB Local) CPU, cores", lambda r: (r.get("store") or {}).get("cpuCores"), 2),
        ("store CPU-ms per request", lambda r: (r.get("store") or {}).get("cpuMsPerRequest"), 3),
        ("store RSS max, MiB", lambda r: (r.get("store") or {}).get("rssMiBMax"), 1),
        ("client CPU, cores", lambda r: r["client"]["cpuCores"], 2),
        ("client CPU-ms per request", lambda r: r["client"]["cpuMsPerRequest"], 4),
        ("other load during run, cores", lambda r: r["machine"]["otherCores"], 2),
        ("  of which host steal, cores", lambda r: r["machine"].get("stealCores"), 2),
    ]


def report_workload(workload, runs, args):
    """One table (servers as columns) and the ratios of each Canopy column against `ace`.
    Answers the list of failures."""
    names = list(runs)
    client = "wrk + bench/tokens.lua, GET site config" if workload == "read" else \
        "write_load, PUT (Canopy: site navigation with If-Match; peer: /site-config)"
    rounds = max(len(v) for v in runs.values())
    head = "median of %d rounds" % rounds if rounds > 1 else "one round"
    width = 36
    col = max(16, max(len(n) for n in names) + 2)
    print(f"== {workload} ({client})")
    print(f"{'(' + head + ')':<{width}}" + "".join(f"{n:>{col}}" for n in names))
    print("-" * (width + col * len(names)))
    medians = {}
    for label, get, digits in rows_for(workload):
        values = {n: med([get(r) for r in runs[n]]) for n in names}
        if all(v is None for v in values.values()):
            continue
        medians.update({(n, label): v for n, v in values.items()})
        print(f"{label:<{width}}" + "".join(f"{fmt(values[n], digits):>{col}}" for n in names))
    if rounds > 1:
        print()
        print("per round (req/s, p99 ms, other load cores):")
        for n in names:
            print(f"  {n:<16} " + "; ".join(f"{r['rps']:.0f} req/s, p99 {r['latencyMs']['p99']:.2f}, other "
                                            f"{r['machine']['otherCores']:.2f}" for r in runs[n]))
    failed = [f"{workload} {n} round {i + 1}: {r['errors']} errors (first: {r['firstError'] or r['socketErrors']})"
              for n in names for i, r in enumerate(runs[n]) if r["errors"] or r["requests"] == 0
              or r.get("warmup", {}).get("errors")]
    ours = [n for n in names if n.startswith("canopy")]
    if "ace" in runs and ours:
        print()
        for a in ours:
            # Failed answers are no throughput: the ratio is of successful requests.
            ok_ace = medians[("ace", "successful requests/s")]
            rps = medians[(a, "successful requests/s")] / ok_ace if ok_ace else float("inf")
            p99 = medians[("ace", "latency p99, ms")] / medians[(a, "latency p99, ms")]
            cpu = medians[("ace", "server CPU-ms per request")] / medians[(a, "server CPU-ms per request")]
            if workload == "read":
                print(f"throughput {a}/ace: {rps:7.1f}x   (target >= {args.throughput_target:g}x: "
                      f"{'met' if rps >= args.throughput_target else 'MISSED'})")
                print(f"p99 ace/{a}:        {p99:7.1f}x   (target > {args.p99_target:g}x, i.e. p99 under "
                      f"1/{args.p99_target:g} of the peer's: {'met' if p99 > args.p99_target else 'MISSED'})")
            else:
                print(f"throughput {a}/ace: {rps:7.1f}x   (successful requests; no target for writes)")
                print(f"p99 ace/{a}:        {p99:7.1f}x")
            print(f"server CPU per request ace/{a}: {cpu:7.1f}x"
                  + ("   (the store's own CPU not included; see the store rows)"
                     if medians.get((a, "store CPU-ms per request")) is not None else ""))
    if "floor" in runs and ours:
        print()
        floor_rps = medians[("floor", "successful requests/s")]
        floor_cpu = medians[("floor", "server CPU-ms per request")]
        for a in ours:
            rps = medians[(a, "successful requests/s")] / floor_rps if floor_rps else float("inf")
            cpu = floor_cpu / medians[(a, "server CPU-ms per request")] if floor_cpu else float("inf")
            print(f"throughput {a}/floor:  {rps:7.2f}    (goal >= {args.floor_goal:g} of the floor's: "
                  f"{'met' if rps >= args.floor_goal else 'MISSED'})")
            print(f"server CPU per request floor/{a}: {cpu:7.2f}    ({a} spends {1 / cpu if cpu else float('inf'):.1f}x "
                  "the floor's CPU per read)")
        threads = max(r["threads"] for r in runs["floor"])
        print(f"client (wrk, {threads} thread(s)) CPU-ms per request: "
              + ", ".join(f"{n} {medians[(n, 'client CPU-ms per request')]:.4f}" for n in names)
              + f"; at the floor wrk used {medians[('floor', 'client CPU, cores')]:.2f} cores on {threads} thread(s) "
              "(a thread near 1.00 core is saturated: then the client, not the floor, sets the rate)")
    noisy = [f"{n} round {i + 1} ({r['machine']['otherCores']:.2f} cores, host steal "
             f"{r['machine'].get('stealCores', 0):.2f}; busiest: {', '.join(r['machine']['busiestOther'])})"
             for n in names for i, r in enumerate(runs[n]) if r["machine"]["otherCores"] > args.noisy_cores]
    if noisy:
        print()
        print(f"disturbed (other load > {args.noisy_cores} cores): " + "; ".join(noisy))
    print()
    return failed


def report(args):
    by_workload = {}
    for spec in args.run:
        name, path = spec.split("=", 1)
        server, _, workload = name.partition("/")
        with open(path) as f:
            by_workload.setdefault(workload or "read", {}).setdefault(server, []).append(json.load(f))
    failed = []
    for workload, runs in by_workload.items():
        failed += report_workload(workload, runs, args)
    if args.loadgen:
        with open(args.loadgen) as f:
            lg = json.load(f)
        load = lg["load"]
        print(f"cross-check, the peer with its own Node client (fresh token per request, {load['measuredS']:.0f} s): "
              f"{load['rps']:.0f} req/s, p50 {load['latency']['p50Ms']:.2f} ms, p99 {load['latency']['p99Ms']:.2f} ms, "
              f"server {load['server']['cpuCoresAvg']} cores / {load['server']['cpuMsPerRequest']} CPU-ms per request, "
              f"RSS max {load['server']['rssMiBMaxDuringLoad']} MiB, client {load['client']['cpuCoresAvg']} cores, "
              f"other load {load['machine']['otherCoresAvg']} cores, errors {load['errors']['count']}")
        print()
        if load["errors"]["count"] or lg["setup"]["failures"]:
            failed.append(f"peer loadgen: {load['errors']['count']} errors, {len(lg['setup']['failures'])} setup failures")
    if failed:
        print("FAILED: " + "; ".join(failed))
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("--name", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--pairs", required=True)
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--lua", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "tokens.lua"))
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--duration", type=int, default=20)
    p.add_argument("--quiet-wait", type=float, default=30, help="seconds to wait for a quiet machine")
    p.add_argument("--quiet-max", type=float, default=0.25, help="other load (cores) that counts as quiet")
    p.add_argument("--store-pid", type=int, help="the store's process (DynamoDB Local), measured on its own")
    p.add_argument("load", nargs=argparse.REMAINDER,
                   help="after --: the load command ({seconds} = run length); default wrk with --lua")
    p = sub.add_parser("report")
    p.add_argument("--run", action="append", required=True,
                   help="SERVER/WORKLOAD=result.json, repeatable; the peer's server name is `ace`")
    p.add_argument("--throughput-target", type=float, default=20)
    p.add_argument("--p99-target", type=float, default=10)
    p.add_argument("--floor-goal", type=float, default=0.5, help="Canopy's throughput as a fraction of the floor's")
    p.add_argument("--noisy-cores", type=float, default=0.25)
    p.add_argument("--loadgen", help="result JSON of the peer's own load client, printed as a cross-check")
    args = parser.parse_args()
    if args.command == "run" and args.load[:1] == ["--"]:
        args.load = args.load[1:]
    return run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    sys.exit(main())
