# Builds the results document of tests/bench/run from its JSON lines
# ($r[0]: every line, in order): the raw figures by name, each moux figure
# with its baseline and ratio, per-batch costs, and the issue-8 goals.

($r | map(select(.name != null))) as $lines
| ($lines | map({(.name): .}) | add) as $res
| def m(n): $res[n].median // null;
  def q(n; k): $res[n][k] // null;
  def ratio(a; b): if (a != null and b != null and b != 0) then a / b else null end;
  def us(rate): if (rate != null and rate != 0) then 1e6 / rate else null end;
  def round(d): if . == null then null else (. * pow(10; d) | round) / pow(10; d) end;
  ($res.config.items // 0) as $items
| {
    finished: $finished,
    machine: ($res.machine // {} | del(.name)),
    config: ($res.config // {} | del(.name)),
    profile_method: ($res.profile_method.method // "none"),
    environment: ($res | to_entries | map(select(.key | startswith("env_")))
                  | map({(.key | ltrimstr("env_")): (.value | del(.name))}) | add),
    # long sample lists (per-batch stages) are summarised, to keep the file small
    results: ($res | del(.machine, .config, .profile_method)
              | with_entries(select(.key | test("^(env_|profile_|callgrind_)") | not))
              | map_values(if (.samples | type) == "array" and (.samples | length) > 15
                           then .samples as $s | ($s | sort) as $o
                             | del(.samples) + {samples_summary: {n: ($o | length), min: $o[0],
                                 p10: $o[($o | length) / 10 | floor], p90: $o[($o | length) * 9 / 10 | floor],
                                 max: $o[-1]}}
                           else . end)),

    # Per 512-item batch, microseconds: the baselines, moux's own stages
    # (bench_batch, no ZeroMQ) and the interval between delivered batches.
    per_batch_us: {
      ed25519_sign_batch: us(m("ed25519_sign_batch")),
      ed25519_verify_batch: us(m("ed25519_verify_batch")),
      aead_encrypt_batch: us(m("aead_encrypt_batch")),
      aead_decrypt_batch: us(m("aead_decrypt_batch")),
      sha256_batch: us(m("sha256_batch")),
      blake2b_batch: us(m("blake2b_batch")),
      ed25519_sign_receipt: us(m("ed25519_sign_receipt")),
      ed25519_verify_receipt: us(m("ed25519_verify_receipt")),
      curve_transfer_batch: us(m("curve_stream_batch")),
      curve_window8_batch_and_receipt: us(m("curve_window8_batch")),
      sqlite_512_rows_full: (if m("sqlite_insert_full_per512") then 512e6 / m("sqlite_insert_full_per512") else null end),
      sqlite_512_rows_normal: (if m("sqlite_insert_normal_per512") then 512e6 / m("sqlite_insert_normal_per512") else null end),
      moux_sender_stages: m("batch_us_sender_total"),
      moux_receiver_stages: m("batch_us_receiver_total"),
      moux_stages: ($res | to_entries | map(select(.key | startswith("batch_us_")))
                    | map({(.key | ltrimstr("batch_us_")): .value.median}) | add),
      delivered_interval: (if m("tp_delivery_rate") then 512e6 / m("tp_delivery_rate") else null end),
      e2e_interval: (if m("tp_e2e_rate") then 512e6 / m("tp_e2e_rate") else null end)
    } | map_values(if type == "number" then round(1) elif type == "object" then map_values(round(1)) else . end),

    figures: [
      { figure: "publish rate (moux publish --file -> control socket -> store), partner stopped",
        value: m("tp_publish_rate"), unit: "items/s",
        baseline: "SQLite insert, node schema, WAL, FULL, 5000 rows per commit",
        baseline_value: m("sqlite_insert_full_per5000"), baseline_unit: "rows/s",
        ratio: ratio(m("tp_publish_rate"); m("sqlite_insert_full_per5000")) },
      { figure: "publish, moux store work only (bench_batch: store_put_local + outbox row, 5000 per transaction)",
        value: us(m("publish_store_us_per_item")), unit: "items/s",
        baseline: "SQLite insert, node schema, WAL, FULL, 5000 rows per commit",
        baseline_value: m("sqlite_insert_full_per5000"), baseline_unit: "rows/s",
        ratio: ratio(us(m("publish_store_us_per_item")); m("sqlite_insert_full_per5000")) },
      { figure: "publish, control-socket JSON round trip only (CLI pack+dump, daemon parse+check+reply)",
        value: m("publish_json_us_per_item"), unit: "us/item",
        baseline: "moux store work per published item", baseline_value: m("publish_store_us_per_item"),
        baseline_unit: "us/item",
        ratio: ratio(m("publish_json_us_per_item"); m("publish_store_us_per_item")) },
      { figure: "publish, control-socket request round trip as moux publish sends it (protobuf Batch; CLI pack, daemon unpack+check, JSON summary reply)",
        value: m("publish_request_us_per_item"), unit: "us/item",
        baseline: "the same with the items as JSON", baseline_value: m("publish_json_us_per_item"),
        baseline_unit: "us/item",
        ratio: ratio(m("publish_request_us_per_item"); m("publish_json_us_per_item")) },
      { figure: "delivery rate (outbox pre-loaded, partner started; stored and receipted)",
        value: m("tp_delivery_rate"), unit: "items/s",
        baseline: "ZeroMQ CURVE DEALER->ROUTER, 512-byte messages",
        baseline_value: m("curve_stream_512B"), baseline_unit: "msg/s",
        ratio: ratio(m("tp_delivery_rate"); m("curve_stream_512B")) },
      { figure: "delivery rate vs moux's receiver stages without ZeroMQ (bench_batch)",
        value: m("tp_delivery_rate"), unit: "items/s",
        baseline: "512 items / receiver stages per batch",
        baseline_value: (if m("batch_us_receiver_total") then 512e6 / m("batch_us_receiver_total") else null end),
        baseline_unit: "items/s",
        ratio: ratio(m("tp_delivery_rate"); (if m("batch_us_receiver_total") then 512e6 / m("batch_us_receiver_total") else null end)) },
      { figure: "delivery rate vs CURVE batch-sized messages with 8 in flight and a receipt each",
        value: m("tp_delivery_rate"), unit: "items/s",
        baseline: "512 items x window-8 batch/receipt exchanges per second",
        baseline_value: (if m("curve_window8_batch") then 512 * m("curve_window8_batch") else null end),
        baseline_unit: "items/s",
        ratio: ratio(m("tp_delivery_rate"); (if m("curve_window8_batch") then 512 * m("curve_window8_batch") else null end)) },
      { figure: "end-to-end throughput (publish with partner up -> stored and receipted)",
        value: m("tp_e2e_rate"), unit: "items/s",
        baseline: "ZeroMQ CURVE DEALER->ROUTER, 512-byte messages",
        baseline_value: m("curve_stream_512B"), baseline_unit: "msg/s",
        ratio: ratio(m("tp_e2e_rate"); m("curve_stream_512B")) },
      { figure: ("catch-up of \($items) items (partner start -> last receipt)"),
        value: m("tp_catchup_s"), unit: "s",
        baseline: "of which link set-up (partner start -> first batch stored)",
        baseline_value: m("tp_linkup_s"), baseline_unit: "s",
        ratio: ratio(m("tp_linkup_s"); m("tp_catchup_s")),
        note: "ratio = share of the catch-up spent before the first batch (reconnect back-off)" },
      { figure: "latency publish->stored p50 / p99 / max (polling observer)",
        value: q("lat_poll_stored"; "p50"), p99: q("lat_poll_stored"; "p99"), max: q("lat_poll_stored"; "max"), unit: "ms",
        baseline: "SQLite commit of one row, WAL, FULL (1 / per-row rate)",
        baseline_value: us(m("sqlite_insert_full_per_row")) | (if . then . / 1000 else null end), baseline_unit: "ms",
        ratio: ratio(q("lat_poll_stored"; "p50"); us(m("sqlite_insert_full_per_row")) | (if . then . / 1000 else null end)) },
      { figure: "latency publish->receipt p50 / p99 / max (polling observer)",
        value: q("lat_poll_receipt"; "p50"), p99: q("lat_poll_receipt"; "p99"), max: q("lat_poll_receipt"; "max"), unit: "ms",
        baseline: "SQLite commit of one row, WAL, FULL",
        baseline_value: us(m("sqlite_insert_full_per_row")) | (if . then . / 1000 else null end), baseline_unit: "ms",
        ratio: ratio(q("lat_poll_receipt"; "p50"); us(m("sqlite_insert_full_per_row")) | (if . then . / 1000 else null end)) },
      { figure: "SQLite commit of one row, FULL: p50 / p99 / max (baseline of the latencies)",
        value: q("sqlite_commit_full_row_latency"; "p50"), p99: q("sqlite_commit_full_row_latency"; "p99"),
        max: q("sqlite_commit_full_row_latency"; "max"), unit: "ms",
        baseline: "moux publish->stored p99 (polling) / this p99", baseline_value: q("lat_poll_stored"; "p99"),
        baseline_unit: "ms", ratio: ratio(q("lat_poll_stored"; "p99"); q("sqlite_commit_full_row_latency"; "p99")) },
      { figure: "latency publish->stored p50 / p99 / max (passive: the daemons' log stamps, µs)",
        value: q("lat_passive_stored"; "p50"), p99: q("lat_passive_stored"; "p99"), max: q("lat_passive_stored"; "max"), unit: "ms" },
      { figure: "latency publish->receipt p50 / p99 / max (passive: the daemons' log stamps, µs)",
        value: q("lat_passive_receipt"; "p50"), p99: q("lat_passive_receipt"; "p99"), max: q("lat_passive_receipt"; "max"), unit: "ms" },
      { figure: "delivery with max_inflight_batches 8 (the default until 2026-11-22), configuration only",
        value: m("knob_512_8_delivery_rate"), unit: "items/s",
        baseline: "same run, batch_max_items 512, window 32 (the defaults)", baseline_value: m("knob_512_32_delivery_rate"),
        baseline_unit: "items/s", ratio: ratio(m("knob_512_8_delivery_rate"); m("knob_512_32_delivery_rate")) },
      { figure: "delivery with batch_max_items 1024 (window 32), configuration only",
        value: m("knob_1024_32_delivery_rate"), unit: "items/s",
        baseline: "same run, batch_max_items 512, window 32 (the defaults)", baseline_value: m("knob_512_32_delivery_rate"),
        baseline_unit: "items/s", ratio: ratio(m("knob_1024_32_delivery_rate"); m("knob_512_32_delivery_rate")) },
      { figure: "STIX 2.1 bundle import (moux publish --stix, N/10 indicators, file to stored and queued)",
        value: m("stix_import_rate"), unit: "items/s",
        baseline: "same run, moux publish --file of plain (type, value) items", baseline_value: m("tp_publish_rate"),
        baseline_unit: "items/s", ratio: ratio(m("stix_import_rate"); m("tp_publish_rate")) },
      { figure: "delivery with the audit log on (the default)",
        value: m("audit_on_delivery_rate"), unit: "items/s",
        baseline: "same run, audit_log = 0, runs alternating", baseline_value: m("audit_off_delivery_rate"),
        baseline_unit: "items/s", ratio: ratio(m("audit_on_delivery_rate"); m("audit_off_delivery_rate")) },
      { figure: "fan-out to 10 partners, deliveries/s (items x partners, publish -> last receipt)",
        value: m("fan10_delivery_rate"), unit: "deliveries/s",
        baseline: "delivery rate to one partner", baseline_value: m("tp_delivery_rate"), baseline_unit: "items/s",
        ratio: ratio(m("fan10_delivery_rate"); m("tp_delivery_rate")) },
      { figure: "fan-out to 30 partners, deliveries/s",
        value: m("fan30_delivery_rate"), unit: "deliveries/s",
        baseline: "delivery rate to one partner", baseline_value: m("tp_delivery_rate"), baseline_unit: "items/s",
        ratio: ratio(m("fan30_delivery_rate"); m("tp_delivery_rate")) }
    ] | map(select(.value != null) | (.value, .baseline_value, .ratio, .p99, .max) |= (if type == "number" then round(3) else . end)),

    memory_kb: ($res | to_entries | map(select(.key | startswith("mem_"))) | map({(.key | ltrimstr("mem_")): .value.median}) | add),

    goals: [
      { goal: "end-to-end throughput >= 100,000 indicators/s, durable and receipted",
        value: m("tp_e2e_rate"), unit: "items/s", met: (m("tp_e2e_rate") != null and m("tp_e2e_rate") >= 100000) },
      { goal: "end-to-end throughput >= 1/4 of raw CURVE 512-byte message throughput (same run)",
        value: ratio(m("tp_e2e_rate"); m("curve_stream_512B")), unit: "ratio",
        met: ((ratio(m("tp_e2e_rate"); m("curve_stream_512B")) // 0) >= 0.25) },
      { goal: "latency p99 < 2 ms at 200/s, publish -> stored",
        value: q("lat_poll_stored"; "p99"), unit: "ms", met: ((q("lat_poll_stored"; "p99") // 1e9) < 2) },
      { goal: "latency p99 < 2 ms at 200/s, publish -> receipt",
        value: q("lat_poll_receipt"; "p99"), unit: "ms", met: ((q("lat_poll_receipt"; "p99") // 1e9) < 2) },
      { goal: "1,000,000-item catch-up < 20 s",
        value: (if $items >= 1000000 then m("tp_catchup_s")
                elif m("tp_delivery_rate") then (m("tp_linkup_s") // 0) + 1e6 / m("tp_delivery_rate") else null end),
        unit: "s", measured: ($items >= 1000000),
        note: (if $items >= 1000000 then "measured" else "extrapolated from \($items) items: link set-up + 1e6 / delivery rate" end),
        met: (if $items >= 1000000 then (m("tp_catchup_s") // 1e9) < 20
              elif m("tp_delivery_rate") then ((m("tp_linkup_s") // 0) + 1e6 / m("tp_delivery_rate")) < 20 else false end) },
      { goal: "each daemon < 64 MB resident during catch-up",
        value: ([m("mem_peak_catchup_sender_kb"), m("mem_peak_catchup_receiver_kb")] | map(select(. != null)) | max // null
                | if . then . / 1024 else null end),
        unit: "MB (highest peak of the two)",
        met: (([m("mem_peak_catchup_sender_kb"), m("mem_peak_catchup_receiver_kb")] | map(select(. != null)) | max // 1e12) < 65536) },
      { goal: "idle daemon < 10 MB resident",
        value: ([m("mem_idle_sender_kb"), m("mem_idle_receiver_kb")] | map(select(. != null)) | max // null
                | if . then . / 1024 else null end),
        unit: "MB (one partner)",
        met: (([m("mem_idle_sender_kb"), m("mem_idle_receiver_kb")] | map(select(. != null)) | max // 1e12) < 10240) }
    ] | map((.value) |= (if type == "number" then round(3) else . end)
            | if .value == null then .met = null else . end),

    profile: ($lines | map(select(.name | test("^(profile_(delivery|publish)|callgrind_)")))
              | map({(.name): (del(.name))}) | add)
  }
