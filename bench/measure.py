#!/usr/bin/env python3
"""One measured wrk run against a running server, and the side-by-side report (stdlib only).

    measure.py run --name NAME --url URL --pairs FILE --server-pid PID --out FILE [options]
    measure.py report --run NAME=FILE... [--throughput-target 20] [--p99-target 10]

`run`: waits (bounded) for a quiet machine, runs wrk once unmeasured (warm-up), then once
measured, and writes a JSON result:
- requests/s, latency percentiles and error counts from bench/tokens.lua's `BENCH` line
  (wrk's own histogram: per request, send to end of answer, closed loop);
- server: CPU (utime+stime of the server's process tree from /proc/<pid>/stat, over the measured
  window) and RSS (sum of VmRSS over the tree, sampled every 250 ms; max and end);
- client: wrk's own CPU (utime+stime from wait4's rusage) over the same window;
- other load: whole-machine busy CPU (/proc/stat) minus server, client and this script, with the
  busiest other processes by name, to flag runs disturbed by unrelated work.

`report`: one table per target (median over rounds) plus the ratios and the targets. Exit status
1 if any run had a non-200 answer or a socket error.
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

    def __init__(self, pid, procs0, period=0.25):
        super().__init__(daemon=True)
        self.pid, self.period, self.samples = pid, period, []
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
            if n % 2 == 0:
                self.scan()
            n += 1
            self.stop.wait(self.period)

    def cpu_by_process(self):
        return {pid: (ticks - self.first.get(pid, 0), comm) for pid, (ticks, comm) in self.last.items()}


# ------------------------------------------------------------------------------------------------
# run

def wait_for_quiet(server_pid, seconds, max_cores):
    """Waits until a 2 s window has < max_cores of busy CPU outside the server (idle now) and this
    script; gives up after `seconds`. Answers the last window's other load, in cores."""
    deadline = time.monotonic() + seconds
    while True:
        m0, s0, me0, t0 = machine_busy_ticks(), tree_ticks(server_pid), self_ticks(), time.monotonic()
        time.sleep(2)
        m1, s1, me1, t1 = machine_busy_ticks(), tree_ticks(server_pid), self_ticks(), time.monotonic()
        other = max(0.0, ((m1 - m0) - (s1 - s0) - (me1 - me0)) / CLK_TCK / (t1 - t0))
        if other < max_cores or time.monotonic() >= deadline:
            return round(other, 2), other < max_cores


def wrk_command(args, seconds):
    return ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
            "-s", args.lua, args.url]


def parse_bench(output):
    for line in output.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise RuntimeError(f"wrk printed no BENCH line:\n{output[-2000:]}")


def run_wrk(args, seconds, log):
    env = dict(os.environ, BENCH_PAIRS=args.pairs)
    proc = subprocess.Popen(wrk_command(args, seconds), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            text=True)
    output = proc.stdout.read()
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    log.write(f"$ {' '.join(wrk_command(args, seconds))}\n{output}\n")
    log.flush()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited with {proc.returncode}:\n{output[-2000:]}")
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
    other_before, quiet = wait_for_quiet(args.server_pid, args.quiet_wait, args.quiet_max)
    result["otherCoresBefore"], result["quietBefore"] = other_before, quiet
    result["serverRssMiBIdle"] = round(tree_rss_kib(args.server_pid) / 1024, 1)
    with open(args.log, "a") as log:
        if args.warmup > 0:
            warm, _, _ = run_wrk(args, args.warmup, log)
            result["warmup"] = {"requests": warm["requests"], "errors": errors_of(warm),
                                "rps": round(warm["requests"] / (warm["durationUs"] / 1e6), 1)}

        procs0 = all_processes()
        sampler = Sampler(args.server_pid, procs0)
        server0, machine0, me0, t0 = tree_ticks(args.server_pid, procs0), machine_busy_ticks(), self_ticks(), \
            time.monotonic()
        steal0 = steal_ticks()
        sampler.start()
        bench, rusage, wrk_pid = run_wrk(args, args.duration, log)
        t1, machine1, me1, steal1 = time.monotonic(), machine_busy_ticks(), self_ticks(), steal_ticks()
        procs1 = all_processes()
        server1 = tree_ticks(args.server_pid, procs1)
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
    other_cpu = max(0.0, machine_cpu - server_cpu - client_cpu - me_cpu)
    server_pids = set(tree(args.server_pid, procs1)) | set(tree(args.server_pid, procs0))
    busiest = sorted(((ticks, comm, pid) for pid, (ticks, comm) in sampler.cpu_by_process().items()
                      if ticks > 0 and pid not in server_pids and pid not in (os.getpid(), wrk_pid)),
                     reverse=True)
    lat = bench["latencyUs"]
    result.update({
        "requests": bench["requests"],
        "measuredS": round(seconds, 3),
        "rps": round(bench["requests"] / seconds, 1),
        "bytesPerResponse": round(bench["bytes"] / max(1, bench["requests"])),
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
          f"/ RSS max {result['server']['rssMiBMax']} MiB, wrk {result['client']['cpuCores']} cores, "
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


def report(args):
    runs = {}
    for spec in args.run:
        name, path = spec.split("=", 1)
        with open(path) as f:
            runs.setdefault(name, []).append(json.load(f))
    names = list(runs)
    rows = [
        ("requests/s", lambda r: r["rps"], 0),
        ("latency p50, ms", lambda r: r["latencyMs"]["p50"], 2),
        ("latency p90, ms", lambda r: r["latencyMs"]["p90"], 2),
        ("latency p99, ms", lambda r: r["latencyMs"]["p99"], 2),
        ("latency p99.9, ms", lambda r: r["latencyMs"]["p999"], 2),
        ("latency max, ms", lambda r: r["latencyMs"]["max"], 1),
        ("requests measured", lambda r: r["requests"], 0),
        ("errors (non-200 + socket)", lambda r: r["errors"], 0),
        ("response bytes (incl. headers)", lambda r: r["bytesPerResponse"], 0),
        ("server CPU, cores", lambda r: r["server"]["cpuCores"], 2),
        ("server CPU-ms per request", lambda r: r["server"]["cpuMsPerRequest"], 3),
        ("server RSS idle before, MiB", lambda r: r["serverRssMiBIdle"], 1),
        ("server RSS max during load, MiB", lambda r: r["server"]["rssMiBMax"], 1),
        ("client (wrk) CPU, cores", lambda r: r["client"]["cpuCores"], 2),
        ("client (wrk) CPU-ms per request", lambda r: r["client"]["cpuMsPerRequest"], 4),
        ("other load during run, cores", lambda r: r["machine"]["otherCores"], 2),
        ("  of which host steal, cores", lambda r: r["machine"].get("stealCores"), 2),
    ]
    rounds = max(len(v) for v in runs.values())
    head = "median of %d rounds" % rounds if rounds > 1 else "one round"
    width = 34
    print(f"{'(' + head + ')':<{width}}" + "".join(f"{n:>16}" for n in names))
    print("-" * (width + 16 * len(names)))
    medians = {}
    for label, get, digits in rows:
        cells = []
        for n in names:
            value = med([get(r) for r in runs[n]])
            medians[(n, label)] = value
            cells.append(fmt(value, digits))
        print(f"{label:<{width}}" + "".join(f"{c:>16}" for c in cells))
    if rounds > 1:
        print()
        print("per round (req/s, p99 ms, other load cores):")
        for n in names:
            print(f"  {n:<8} " + "; ".join(f"{r['rps']:.0f} req/s, p99 {r['latencyMs']['p99']:.2f}, other "
                                            f"{r['machine']['otherCores']:.2f}" for r in runs[n]))
    failed = [f"{n} round {i + 1}: {r['errors']} errors (first: {r['firstError'] or r['socketErrors']})"
              for n in names for i, r in enumerate(runs[n]) if r["errors"] or r["requests"] == 0
              or r.get("warmup", {}).get("errors")]
    if len(names) == 2:
        a, b = names  # a = ours, b = the peer
        rps_ratio = medians[(a, "requests/s")] / medians[(b, "requests/s")]
        p99_ratio = medians[(b, "latency p99, ms")] / medians[(a, "latency p99, ms")]
        cpu_ratio = medians[(b, "server CPU-ms per request")] / medians[(a, "server CPU-ms per request")]
        print()
        print(f"throughput {a}/{b}:            {rps_ratio:6.1f}x   (target >= {args.throughput_target:g}x: "
              f"{'met' if rps_ratio >= args.throughput_target else 'MISSED'})")
        print(f"p99 {b}/{a}:                   {p99_ratio:6.1f}x   (target > {args.p99_target:g}x, i.e. p99 under "
              f"a {'tenth' if args.p99_target == 10 else '1/%g' % args.p99_target} of the peer's: "
              f"{'met' if p99_ratio > args.p99_target else 'MISSED'})")
        print(f"server CPU per request {b}/{a}: {cpu_ratio:6.1f}x")
    noisy = [f"{n} round {i + 1} ({r['machine']['otherCores']:.2f} cores, host steal {r['machine'].get('stealCores', 0):.2f}; "
             f"busiest: {', '.join(r['machine']['busiestOther'])})"
             for n in names for i, r in enumerate(runs[n]) if r["machine"]["otherCores"] > args.noisy_cores]
    if noisy:
        print()
        print(f"disturbed (other load > {args.noisy_cores} cores): " + "; ".join(noisy))
    if args.loadgen:
        with open(args.loadgen) as f:
            lg = json.load(f)
        load = lg["load"]
        print()
        print(f"cross-check, the peer with its own Node client (fresh token per request, {load['measuredS']:.0f} s): "
              f"{load['rps']:.0f} req/s, p50 {load['latency']['p50Ms']:.2f} ms, p99 {load['latency']['p99Ms']:.2f} ms, "
              f"server {load['server']['cpuCoresAvg']} cores / {load['server']['cpuMsPerRequest']} CPU-ms per request, "
              f"RSS max {load['server']['rssMiBMaxDuringLoad']} MiB, client {load['client']['cpuCoresAvg']} cores, "
              f"other load {load['machine']['otherCoresAvg']} cores, errors {load['errors']['count']}")
        if load["errors"]["count"] or lg["setup"]["failures"]:
            failed.append(f"peer loadgen: {load['errors']['count']} errors, {len(lg['setup']['failures'])} setup failures")
    if failed:
        print()
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
    p = sub.add_parser("report")
    p.add_argument("--run", action="append", required=True, help="NAME=result.json, repeatable; first name = ours")
    p.add_argument("--throughput-target", type=float, default=20)
    p.add_argument("--p99-target", type=float, default=10)
    p.add_argument("--noisy-cores", type=float, default=0.25)
    p.add_argument("--loadgen", help="result JSON of the peer's own load client, printed as a cross-check")
    args = parser.parse_args()
    return run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    sys.exit(main())
