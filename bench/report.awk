# Turns the RESULT lines of bench/run.sh into the markdown tables and the target
# checks of the results file. Plain POSIX awk (Debian's mawk): no asort.
#   awk -v reps=3 -f bench/report.awk build-bench/bench-run/results.txt

function median(list,    a, n, i, j, t) {
  n = split(list, a, " ")
  if (n == 0)
    return ""
  for (i = 2; i <= n; i++) {
    t = a[i] + 0
    for (j = i - 1; j >= 1 && a[j] + 0 > t; j--)
      a[j + 1] = a[j]
    a[j + 1] = t
  }
  if (n % 2)
    return a[(n + 1) / 2] + 0
  return (a[n / 2] + a[n / 2 + 1]) / 2
}

function minof(list,    a, n, i, m) {
  n = split(list, a, " ")
  m = a[1] + 0
  for (i = 2; i <= n; i++)
    if (a[i] + 0 < m)
      m = a[i] + 0
  return m
}

function maxof(list,    a, n, i, m) {
  n = split(list, a, " ")
  m = a[1] + 0
  for (i = 2; i <= n; i++)
    if (a[i] + 0 > m)
      m = a[i] + 0
  return m
}

function add(key, value) {
  vals[key] = (key in vals) ? vals[key] " " value : value
}

function ms(us) {
  return us == "" ? "–" : sprintf("%.2f", us / 1000)
}

function mb(kb) {
  return kb == "" ? "–" : sprintf("%.1f", kb / 1024)
}

function verdict(ok) {
  return ok ? "**holds**" : "**fails**"
}

/^RESULT/ {
  delete f
  for (i = 2; i <= NF; i++) {
    eq = index($i, "=")
    v = substr($i, eq + 1)
    # Numbers as numbers: substr() gives strings, which awk compares as text.
    f[substr($i, 1, eq - 1)] = (v ~ /^-?[0-9]+(\.[0-9]+)?$/) ? v + 0 : v
  }
  if (f["mode"] == "failed") {
    failed = failed " " f["what"] "(rep " f["rep"] ")"
    next
  }
  if (f["cell"] == "nginx") {
    k = f["mode"] SUBSEP f["body"] SUBSEP f["inflight"]
    if (!((f["body"]) in seen_body)) {
      seen_body[f["body"]] = 1
      body_order[++nbodies] = f["body"]
    }
    if (!((f["inflight"]) in seen_n)) {
      seen_n[f["inflight"]] = 1
      n_order[++nns] = f["inflight"]
    }
    add(k SUBSEP "rps", f["rps"])
    add(k SUBSEP "p50", f["p50_us"])
    add(k SUBSEP "p99", f["p99_us"])
    add(k SUBSEP "rss", f["rss_kb"])
    add(k SUBSEP "conns", f["conns"])
    add(k SUBSEP "errors", f["errors"])
    add(k SUBSEP "cpu", f["cpu_us"])
    if (f["mode"] == "pipeline")
      pool[f["body"] SUBSEP f["inflight"]] = f["pool"]
    per_rep[k SUBSEP f["rep"]] = f["rps"]
    per_rep_p99[k SUBSEP f["rep"]] = f["p99_us"]
    reps_seen[f["rep"]] = 1
  } else if (f["cell"] == "tuning") {
    k = "tuning" SUBSEP f["body"]
    add(k SUBSEP "rps", f["rps"])
    add(k SUBSEP "p50", f["p50_us"])
    add(k SUBSEP "p99", f["p99_us"])
    add(k SUBSEP "cpu", f["cpu_us"])
    add(k SUBSEP "errors", f["errors"])
  } else if (f["cell"] == "batching") {
    if (!((f["body"]) in seen_bbody)) {
      seen_bbody[f["body"]] = 1
      bbody_order[++nbbodies] = f["body"]
    }
    k = "batch" SUBSEP f["body"] SUBSEP f["batching"]
    add(k SUBSEP "rps", f["rps"])
    add(k SUBSEP "p50", f["p50_us"])
    add(k SUBSEP "p99", f["p99_us"])
    add(k SUBSEP "per_req", f["upstream_requests"] > 0 ? f["answered"] / f["upstream_requests"] : 0)
    add(k SUBSEP "conns", f["conns"])
    add(k SUBSEP "errors", f["errors"])
    batch_rep[f["body"] SUBSEP f["batching"] SUBSEP f["rep"]] = f["rps"]
  } else if (f["cell"] == "pileup") {
    pk = f["body"] " " f["batching"]
    pile[pk] = 1
    pile_order[++npile] = pk
    for (x in f)
      pf[pk SUBSEP x] = f[x]
  }
}

END {
  print "## Static upstream (nginx, one worker, loopback): raw libcurl loop vs embedrt"
  print ""
  print "Each request: one input text, POST to nginx answering a static 200 body; both"
  print "clients encode the request with `openai::encode_request` and parse the body with"
  print "`openai::decode_response` (simdjson). embedrt: host API callback form, N callers"
  print "with one request outstanding each, `http_pool.max_connections = N`, 1 worker,"
  print "batching off, rate limiter armed (1e8 rpm, 4e9 tpm), breaker and retries at"
  print "defaults. Ratio = embedrt / raw (median of the per-repetition ratios, [min–max])."
  print "CPU µs/req = the client process's user+system CPU over all its requests (warm-up"
  print "included); CPU ratio = raw / embedrt, i.e. embedrt's efficiency, which other"
  print "tenants' load on the shared cores disturbs much less than req/s."
  print ""
  print "| body | in flight | raw req/s | embedrt req/s | ratio | p50 ms raw / embedrt | p99 ms raw / embedrt | p99 ratio | CPU µs/req raw / embedrt | CPU ratio | peak RSS MB raw / embedrt | conns raw / embedrt (pool) | errors |"
  print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  ratio_ok = 1
  cpu_ok = 1
  ratio_missed = ""
  cpu_missed = ""
  p99_ok = 1
  conns_ok = 1
  for (b = 1; b <= nbodies; b++) {
    for (j = 1; j <= nns; j++) {
      body = body_order[b]
      n = n_order[j]
      kr = "raw" SUBSEP body SUBSEP n
      kp = "pipeline" SUBSEP body SUBSEP n
      if (!((kr SUBSEP "rps") in vals) || !((kp SUBSEP "rps") in vals))
        continue
      ratios = ""
      p99s = ""
      for (r in reps_seen) {
        if ((kr SUBSEP r) in per_rep && (kp SUBSEP r) in per_rep && per_rep[kr SUBSEP r] > 0) {
          ratios = ratios " " per_rep[kp SUBSEP r] / per_rep[kr SUBSEP r]
          if (per_rep_p99[kr SUBSEP r] > 0)
            p99s = p99s " " per_rep_p99[kp SUBSEP r] / per_rep_p99[kr SUBSEP r]
        }
      }
      ratio = median(ratios)
      p99r = median(p99s)
      if (n + 0 >= 16 && ratio < 0.9) {
        ratio_ok = 0
        ratio_missed = ratio_missed sprintf(" %s/%s (%.2f×)", body, n, ratio)
      }
      cpu_extra = median(vals[kp SUBSEP "cpu"]) - median(vals[kr SUBSEP "cpu"])
      if (n + 0 >= 16 && cpu_extra > 10) {
        cpu_ok = 0
        cpu_missed = cpu_missed sprintf(" %s/%s (+%d µs)", body, n, cpu_extra)
      }
      if (n + 0 == 64) {
        p99_seen = 1
        if (p99r > 2)
          p99_ok = 0
      }
      pc = maxof(vals[kp SUBSEP "conns"])
      cpur = median(vals[kp SUBSEP "cpu"])
      cpur = cpur > 0 ? median(vals[kr SUBSEP "cpu"]) / cpur : 0
      if (pc > pool[body SUBSEP n] + 0)
        conns_ok = 0
      printf "| %s | %s | %d | %d | %.2f [%.2f–%.2f] | %s / %s | %s / %s | %.2f | %d / %d | %.2f | %s / %s | %d / %d (%d) | %d / %d |\n", \
        body, n, median(vals[kr SUBSEP "rps"]), median(vals[kp SUBSEP "rps"]), \
        ratio, minof(ratios), maxof(ratios), \
        ms(median(vals[kr SUBSEP "p50"])), ms(median(vals[kp SUBSEP "p50"])), \
        ms(median(vals[kr SUBSEP "p99"])), ms(median(vals[kp SUBSEP "p99"])), p99r, \
        median(vals[kr SUBSEP "cpu"]), median(vals[kp SUBSEP "cpu"]), \
        cpur, \
        mb(median(vals[kr SUBSEP "rss"])), mb(median(vals[kp SUBSEP "rss"])), \
        maxof(vals[kr SUBSEP "conns"]), pc, pool[body SUBSEP n], \
        maxof(vals[kr SUBSEP "errors"]), maxof(vals[kp SUBSEP "errors"])
    }
  }
  print ""
  print "## Batching: 256 callers of single texts against embedrt-mock"
  print ""
  print "Same load with batching on and off: `http_pool.max_connections = 32`, 1 worker;"
  print "every text unique (dedup never merges). Embeddings/s = answered texts per second."
  print "The mock runs on the same 2 cores and computes every vector (1536-d: ~10 µs each)."
  print ""
  print "| vectors | batching | embeddings/s | p50 ms | p99 ms | texts per upstream request | conns | errors |"
  print "|---|---|---:|---:|---:|---:|---:|---:|"
  for (b = 1; b <= nbbodies; b++) {
    body = bbody_order[b]
    for (bo = 1; bo >= 0; bo--) {
      k = "batch" SUBSEP body SUBSEP bo
      if (!((k SUBSEP "rps") in vals))
        continue
      printf "| %s | %s | %d | %s | %s | %.1f | %d | %d |\n", body, bo ? "on" : "off", \
        median(vals[k SUBSEP "rps"]), ms(median(vals[k SUBSEP "p50"])), \
        ms(median(vals[k SUBSEP "p99"])), median(vals[k SUBSEP "per_req"]), \
        maxof(vals[k SUBSEP "conns"]), maxof(vals[k SUBSEP "errors"])
    }
  }
  print ""
  for (b = 1; b <= nbbodies; b++) {
    body = bbody_order[b]
    bratios = ""
    for (r in reps_seen)
      if ((body SUBSEP 1 SUBSEP r) in batch_rep && (body SUBSEP 0 SUBSEP r) in batch_rep \
          && batch_rep[body SUBSEP 0 SUBSEP r] > 0)
        bratios = bratios " " batch_rep[body SUBSEP 1 SUBSEP r] / batch_rep[body SUBSEP 0 SUBSEP r]
    if (bratios == "")
      continue
    bratio[body] = median(bratios)
    printf "- %s: on / off = **%.2f×** [%.2f–%.2f]\n", body, bratio[body], minof(bratios), maxof(bratios)
  }
  if (("tuning" SUBSEP body_order[1] SUBSEP "rps") in vals) {
    print ""
    print "## Tuning probe: embedrt with one CAF scheduler thread (`runtime_options::scheduler_threads = 1`)"
    print ""
    print "64 in flight against nginx, otherwise as the main table (whose default is one"
    print "scheduler thread per core = 2). Not part of the targets."
    print ""
    print "| body | req/s 1 thread | req/s default (table above) | p99 ms 1 thread | CPU µs/req 1 thread / default |"
    print "|---|---:|---:|---:|---:|"
    for (b = 1; b <= nbodies; b++) {
      body = body_order[b]
      k = "tuning" SUBSEP body
      kp = "pipeline" SUBSEP body SUBSEP 64
      if (!((k SUBSEP "rps") in vals))
        continue
      printf "| %s | %d | %d | %s | %d / %d |\n", body, median(vals[k SUBSEP "rps"]), \
        median(vals[kp SUBSEP "rps"]), ms(median(vals[k SUBSEP "p99"])), \
        median(vals[k SUBSEP "cpu"]), median(vals[kp SUBSEP "cpu"])
    }
  }
  print ""
  print "## 10,000 requests in flight (embedrt-mock answering after 100 ms)"
  print ""
  print "10,000 single-text requests sent at once from the host thread, then every answer"
  print "awaited; peak RSS (VmHWM) of the whole process; `http_pool.max_connections = 256`."
  print "10,000 vectors of 1536 float32 are 61 MB by themselves."
  print ""
  print "| vectors | batching | answered ok | errors | send ms | all answered ms | p50 ms | p99 ms | RSS idle MB | peak RSS MB | upstream requests | conns |"
  print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  rss_ok = 1
  for (i = 1; i <= npile; i++) {
    pk = pile_order[i]
    if (pf[pk SUBSEP "rss_kb"] > 64 * 1024)
      rss_ok = 0
    rss_line = rss_line sprintf(" %s/%s %s MB;", pf[pk SUBSEP "body"], \
      pf[pk SUBSEP "batching"] ? "on" : "off", mb(pf[pk SUBSEP "rss_kb"]))
    printf "| %s | %s | %d | %d | %d | %d | %s | %s | %s | %s | %d | %d |\n", \
      pf[pk SUBSEP "body"], pf[pk SUBSEP "batching"] ? "on" : "off", \
      pf[pk SUBSEP "completed"], pf[pk SUBSEP "errors"], pf[pk SUBSEP "send_ms"], \
      pf[pk SUBSEP "drain_ms"], ms(pf[pk SUBSEP "p50_us"]), ms(pf[pk SUBSEP "p99_us"]), \
      mb(pf[pk SUBSEP "rss_idle_kb"]), mb(pf[pk SUBSEP "rss_kb"]), \
      pf[pk SUBSEP "upstream_requests"], pf[pk SUBSEP "conns"]
  }
  print ""
  print "## Targets (this run)"
  print ""
  printf "- full pipeline ≥ 0.9× raw at 16..256 in flight, every body: %s%s\n", verdict(ratio_ok), \
    ratio_ok ? "" : "; below:" ratio_missed
  printf "- CPU per request within 10 µs of raw at 16..256 in flight, every body: %s%s\n", \
    verdict(cpu_ok), cpu_ok ? "" : "; above:" cpu_missed
  printf "- p99 at 64 in flight ≤ 2× raw: %s\n", p99_seen ? verdict(p99_ok) : "not measured"
  printf "- 10,000 requests in flight ≤ 64 MB peak RSS: %s (%s )\n", verdict(rss_ok && npile > 0), rss_line
  printf "- connections opened ≤ pool size: %s\n", verdict(conns_ok)
  for (b = 1; b <= nbbodies; b++)
    printf "- batching on ≥ 4× batching off (embeddings/s), %s: %s\n", bbody_order[b], \
      verdict(bratio[bbody_order[b]] >= 4)
  if (failed != "")
    printf "\nFailed cells:%s\n", failed
}
