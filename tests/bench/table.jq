# The human table of tests/bench/run, from its results document (jq -r).

def num:
  if . == null then "-"
  elif type != "number" then tostring
  elif . >= 100000 then (. | round | tostring)
  elif . >= 100 then ((. * 10 | round) / 10 | tostring)
  elif . >= 1 then ((. * 100 | round) / 100 | tostring)
  else ((. * 10000 | round) / 10000 | tostring) end;
def pad(n): tostring | if length >= n then . else . + (" " * (n - length)) end;
def lpad(n): tostring | if length >= n then . else (" " * (n - length)) + . end;
def r(name): .results[name];

. as $d
| "moux benchmarks: \(.config.mode) run of \(.config.commit)\(if .config.dirty_tree then " (modified tree)" else "" end), \(.config.items) indicators, finished \(.finished)",
  "machine: \(.machine.cpu), \(.machine.nproc) cores, \(((.machine.mem_kb // 0) / 1048576 * 10 | round) / 10) GiB, \(.machine.work_fs), load at start \(.machine.load_at_start)",
  "machine load when each phase started (shared machine): " + ((.environment // {}) | to_entries
      | map("\(.key) load \(.value.load1) cpu-pressure \(.value.cpu_pressure_pct)% io-pressure \(.value.io_pressure_pct)%") | join("; ")),
  "",
  "BASELINES (median of \(.config.baseline_reps) repetitions)",
  ( [ ["curve_stream_512B", "ZeroMQ CURVE DEALER->ROUTER, 512 B"],
      ["curve_stream_batch", "ZeroMQ CURVE, one 512-item batch frame"],
      ["curve_window8_batch", "ZeroMQ CURVE, batch + receipt, 8 in flight"],
      ["null_stream_512B", "ZeroMQ NULL mechanism, 512 B"],
      ["ed25519_sign_batch", "Ed25519 sign, batch-sized message (v1)"],
      ["ed25519_verify_batch", "Ed25519 verify, batch-sized message (v1)"],
      ["ed25519_sign_64B", "Ed25519 sign, 64 B"],
      ["ed25519_verify_64B", "Ed25519 verify, 64 B"],
      ["aead_encrypt_batch", "XChaCha20-Poly1305 encrypt, batch"],
      ["aead_decrypt_batch", "XChaCha20-Poly1305 decrypt, batch"],
      ["blake2b_batch", "BLAKE2b-256, batch (the batch hash)"],
      ["sha256_batch", "SHA-256, batch (v1's batch hash)"],
      ["sqlite_insert_full_per512", "SQLite insert, FULL, commit per 512"],
      ["sqlite_insert_full_per_row", "SQLite insert, FULL, commit per row"],
      ["sqlite_insert_full_per5000", "SQLite insert, FULL, commit per 5000"],
      ["sqlite_insert_normal_per512", "SQLite insert, NORMAL, commit per 512"],
      ["sqlite_insert_normal_per_row", "SQLite insert, NORMAL, commit per row"],
      ["sqlite_insert_full_per512_v4id", "SQLite insert, FULL, per 512, random UUIDv4 ids (STIX imports)"],
      ["sqlite_insert_full_per512_cache32m", "SQLite insert, FULL, per 512, 32 MB cache"],
      ["sqlite_insert_full_per512_write_bytes", "  disk bytes per row, FULL per 512 (UUIDv7 ids, as the node)"],
      ["sqlite_insert_full_per512_v4id_write_bytes", "  disk bytes per row, FULL per 512 (random v4 ids)"] ]
    | .[] | . as [$k, $lbl]
    | $d.results[$k] as $x | select($x != null)
    | "  \($lbl | pad(46)) \($x.median | num | lpad(12)) \($x.unit)" ),
  "",
  "FIGURES (daemons on 127.0.0.1; median of \(.config.daemon_reps) run(s) where repeated)",
  ( .figures[]
    | "  \(.figure)",
      "      \(.value | num) \(if .p99 then "/ \(.p99 | num) / \(.max | num) " else "" end)\(.unit)"
      + (if .baseline then "   vs \(.baseline): \(.baseline_value | num) \(.baseline_unit)   ratio \(.ratio | num)" else "" end)
      + (if .note then "   (\(.note))" else "" end) ),
  "",
  "DELIVERY (catch-up drain): where the daemons' main threads spend the wall time",
  ( [["sender", "tp_sched_sender_oncpu", "tp_sched_sender_runqueue", "tp_disk_write_sender"],
     ["receiver", "tp_sched_receiver_oncpu", "tp_sched_receiver_runqueue", "tp_disk_write_receiver"]][]
    | . as [$who, $on, $rq, $wb] | select($d.results[$on] != null)
    | ($d.results[$on].median) as $o | ($d.results[$rq].median) as $w
    | "  \($who | pad(9)) on a CPU \($o * 100 | round)%, waiting for a CPU \($w * 100 | round)%, blocked (I/O, or idle in poll) \(((1 - $o - $w) * 100) | round)%; disk writes \($d.results[$wb].median | round) bytes/item" ),
  ( select(.results.tp_delivery_batches) | "  \(.results.tp_delivery_batches.median) batches per run, \(.results.tp_delivery_timeouts.median) retransmission timeouts, \(.results.tp_refusal_events.median) refusal events" ),
  "",
  "PER 512-ITEM BATCH (microseconds)",
  ( .per_batch_us | to_entries[] | select(.value != null and (.value | type) == "number")
    | "  \(.key | pad(36)) \(.value | num | lpad(10))" ),
  ( .per_batch_us.moux_stages // {} | to_entries[] | "    stage \(.key | pad(30)) \(.value | num | lpad(10))" ),
  "",
  "MEMORY (kB resident; idle = VmRSS, peak = VmHWM of the phase)",
  ( .memory_kb // {} | to_entries[] | "  \(.key | pad(36)) \(.value | num | lpad(10))" ),
  "",
  "PROFILE (\(.profile_method)): share of CPU samples by component (callers charged for libc/kernel)",
  ( .profile // {} | to_entries[]
    | "  \(.key | pad(34)) \(.value.samples // .value.instructions) \(if .value.samples then "samples" else "instructions" end): "
      + (.value.shares | to_entries | sort_by(-.value) | map("\(.key) \(.value)%") | join(", "))
      + (if .value.kernel_under_sqlite then "  [kernel under SQLite \(.value.kernel_under_sqlite)%]" else "" end) ),
  "",
  "GOALS (issue 8; benchmark goals, not tests)",
  ( .goals[] | "  [\(if .met == null then "not measured" elif .met then "met" else "NOT met" end)] \(.goal): \(.value | num) \(.unit)\(if .note then " (\(.note))" else "" end)" )
